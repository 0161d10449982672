"""The protective order list that rests on the venue while a long position is open.

While the bot is down — or slow — the venue itself must close a position that hits its stop
or target. So for each open position exactly one protective list rests on the exchange:
- a stop and a target: an OCO sell (a LIMIT_MAKER target leg above, a STOP_LOSS_LIMIT leg
  below; one filling or being canceled cancels the other);
- only a stop: a plain STOP_LOSS_LIMIT sell;  only a target: a plain limit sell.
Prices come from `execution.exits` (`ExitLevels.stop_order`: trigger rounded up to the tick,
limit = trigger × (1 − stop_limit_offset) rounded down; the target rounded up to the tick).

Ids: stop leg `client_order_id(entry_signal_id, "stop", n)`, target leg `("take_profit", n)`,
the list `("bracket", n)`; `n` counts replacements (a trailing stop moves by cancel, confirmed,
then place with n + 1), so every list has fresh ids and a venue never sees one twice. Each leg
gets an intent and an order row before the venue is called (the same rule as any order), so a
crash between placing and recording is found again by client order id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from awan_trading.domain.ids import client_order_id, parse_client_order_id
from awan_trading.domain.orders import Order
from awan_trading.domain.positions import Position
from awan_trading.domain.signals import OrderIntent
from awan_trading.exchange.base import Exchange, Market
from awan_trading.exchange.errors import OrderNotFound
from awan_trading.execution import ledger
from awan_trading.execution.exits import ExitLevels, ExitParams
from awan_trading.execution.sizing import MarketRules, round_price, sellable_amount
from awan_trading.storage.base import Store


@dataclass(frozen=True)
class ProtectiveList:
    """The prices and ids of one protective list; a price of None means that leg is absent."""

    symbol: str
    signal_id: str  # the entry signal
    n: int
    amount: float
    stop_trigger: float | None
    stop_limit: float | None
    target_price: float | None

    @property
    def stop_id(self) -> str:
        return client_order_id(self.signal_id, "stop", self.n)

    @property
    def target_id(self) -> str:
        return client_order_id(self.signal_id, "take_profit", self.n)

    @property
    def list_id(self) -> str:
        return client_order_id(self.signal_id, "bracket", self.n)

    def leg_ids(self) -> tuple[str, ...]:
        ids = []
        if self.stop_trigger is not None:
            ids.append(self.stop_id)
        if self.target_price is not None:
            ids.append(self.target_id)
        return tuple(ids)


def expects_protection(params: ExitParams) -> bool:
    return bool(params.stop_loss or params.take_profit or params.trailing_stop)


def levels_of(position: Position, params: ExitParams) -> ExitLevels:
    return ExitLevels(
        stop_price=position.stop_price,
        target_price=position.target_price,
        high_water=position.high_water,
        trailing_stop=params.trailing_stop,
    )


def design(
    position: Position, params: ExitParams, market: Market, *, n: int, limit_offset: float
) -> ProtectiveList | None:
    """The list guarding `position` now; None when the strategy has no stop and no target, or
    when the position is dust: less than the market's minimum amount (the remainder an exit
    leaves when the buy's fee was taken in the base asset), which no venue would accept a
    sell of, so there is nothing to protect."""
    if position.signal_id is None:
        return None
    amount = sellable_amount(position.amount, MarketRules.of(market))
    if amount <= 0.0:
        return None
    levels = levels_of(position, params)
    stop = levels.stop_order(tick=market.price_increment, limit_offset=limit_offset)
    target = (
        round_price(position.target_price, market.price_increment, "sell")
        if position.target_price != float("inf")
        else None
    )
    if stop is None and target is None:
        return None
    return ProtectiveList(
        symbol=position.symbol,
        signal_id=position.signal_id,
        n=n,
        amount=amount,
        stop_trigger=stop[0] if stop else None,
        stop_limit=stop[1] if stop else None,
        target_price=target,
    )


def current_n(position: Position) -> int | None:
    """The replacement count of the list the position points at; None if it has none."""
    if not position.stop_client_order_id:
        return None
    return parse_client_order_id(position.stop_client_order_id).n


def leg_ids_of(position: Position) -> tuple[str, str] | None:
    """(stop id, target id) of the position's current list (either may not exist)."""
    n = current_n(position)
    if n is None or position.signal_id is None:
        return None
    return (
        client_order_id(position.signal_id, "stop", n),
        client_order_id(position.signal_id, "take_profit", n),
    )


def _intent(plan: ProtectiveList, exchange: str, cid: str, now: datetime) -> OrderIntent:
    is_stop = cid == plan.stop_id
    return OrderIntent(
        client_order_id=cid,
        signal_id=plan.signal_id,
        exchange=exchange,
        symbol=plan.symbol,
        side="sell",
        type="stop_loss_limit" if is_stop else "limit_maker",
        amount=plan.amount,
        price=plan.stop_limit if is_stop else plan.target_price,
        created_at=now,
        stop_price=plan.stop_trigger if is_stop else None,
    )


def place(exchange: Exchange, store: Store, plan: ProtectiveList) -> list[Order]:
    """Place `plan` once: record the legs' intents, adopt legs the venue already has, place.

    Idempotent per (signal, n): a leg whose intent exists is looked up first and adopted when
    the venue has it, so a restart after a crash anywhere here never places a second list.
    """
    now = exchange.now()
    existing: list[Order] = []
    for cid in plan.leg_ids():
        intent = _intent(plan, exchange.name, cid, now)
        if store.record_order_intent(intent, Order.from_intent(intent)):
            continue
        try:
            existing.append(exchange.fetch_order(plan.symbol, client_order_id=cid))
        except OrderNotFound:
            if ledger.load_order(store, exchange.name, cid) is None:
                store.record_order(Order.from_intent(intent))
    if existing:
        placed = existing  # the venue has this list already (both legs of an OCO go together)
    elif plan.stop_trigger is not None and plan.target_price is not None:
        placed = list(
            exchange.create_oco_sell(  # type: ignore[attr-defined]
                plan.symbol,
                plan.amount,
                target_price=plan.target_price,
                stop_price=plan.stop_trigger,
                stop_limit_price=plan.stop_limit,
                list_client_order_id=plan.list_id,
                target_client_order_id=plan.target_id,
                stop_client_order_id=plan.stop_id,
            )
        )
    elif plan.stop_trigger is not None:
        placed = [
            exchange.create_order(  # type: ignore[call-arg]
                plan.symbol,
                "sell",
                "stop_loss_limit",
                plan.amount,
                plan.stop_limit,
                client_order_id=plan.stop_id,
                stop_price=plan.stop_trigger,
            )
        ]
    else:
        placed = [
            exchange.create_order(
                plan.symbol, "sell", "limit_maker", plan.amount, plan.target_price,
                client_order_id=plan.target_id,
            )
        ]  # fmt: skip
    return placed


@dataclass(frozen=True)
class CanceledList:
    """What `cancel_list` did: the list's leg ids (for `final_states`) and whether this call
    canceled a leg. When none was canceled, every leg answered "not found": the list had
    ended already — possibly *filled*, the position closed (or reduced) by the venue."""

    leg_ids: tuple[str, ...]
    canceled: bool
    # The canceled leg's reply reported a fill: the leg was partly filled while it rested
    # (a triggered stop-limit or a target met by part of the book), so the position is
    # smaller than the book says until the legs are looked up and recorded.
    partly_filled: bool = False


def cancel(exchange: Exchange, symbol: str, leg_ids: tuple[str, ...]) -> list[Order]:
    """Cancel a list and return each leg's confirmed final state (`cancel_list`, then
    `final_states`)."""
    return final_states(exchange, symbol, cancel_list(exchange, symbol, leg_ids).leg_ids)


def cancel_list(exchange: Exchange, symbol: str, leg_ids: tuple[str, ...]) -> CanceledList:
    """Cancel a list, confirmed; return its leg ids for `final_states`, and whether a leg
    was canceled by this call.

    Canceling one leg of an OCO cancels the other, so the first leg the venue cancels ends
    the list: an exit waits for one round trip here, not one per leg. A leg that already
    filled or was canceled answers `OrderNotFound`, and the next leg is tried.
    """
    for cid in leg_ids:
        try:
            report = exchange.cancel_order(symbol, client_order_id=cid)
        except OrderNotFound:
            continue  # filled, already canceled (an OCO sibling), or never placed
        return CanceledList(leg_ids, canceled=True, partly_filled=report.filled > 0.0)
    return CanceledList(leg_ids, canceled=False)


def final_states(exchange: Exchange, symbol: str, leg_ids: tuple[str, ...]) -> list[Order]:
    """Each leg's final state, looked up after `cancel_list`, so the caller sees what really
    happened (a stop that filled first is an exit, not a cancel). A leg still resting (a venue
    that did not cancel the sibling with its list) is canceled now."""
    legs = []
    for cid in leg_ids:
        try:
            leg = exchange.fetch_order(symbol, client_order_id=cid)
            if leg.is_resting:
                exchange.cancel_order(symbol, client_order_id=cid)
                leg = exchange.fetch_order(symbol, client_order_id=cid)
        except OrderNotFound:
            continue
        legs.append(leg)
    return legs
