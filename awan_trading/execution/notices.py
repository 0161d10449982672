"""What the order path tells people: a fill, a stop hit, a refusal, a bot event, as a `Notice`.

Built on the executor's thread, right after the order is recorded, from what is at hand: the
order (price, amount, fee) and, for a sell, the round trip it closed — one read of that
symbol's fills, the source of truth for PnL (the `positions` row of a closed round trip is
gone by then). An entry's reason is its strategy's entry signal; an exit's is the closed
trade's exit reason (`domain.trades`), so a protective leg's fill reads as the stop, trailing
stop or target it was.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from awan_trading.domain.ids import parse_client_order_id
from awan_trading.domain.orders import Order
from awan_trading.domain.trades import ClosedTrade, closed_trades
from awan_trading.errors import AwanError
from awan_trading.execution.refusals import Refusal
from awan_trading.notify.events import (
    FillFacts,
    Notice,
    error_notice,
    fill_notice,
    lifecycle_notice,
    refusal_notice,
)
from awan_trading.storage.base import Store
from awan_trading.storage.rows import fill_from_row

if TYPE_CHECKING:
    from awan_trading.execution.executor import Executor

# `Executor.event` kinds that mean something went wrong and a person should look.
ERROR_EVENTS = frozenset(
    {
        "reconcile_failed",
        "order_unknown",
        "protection_failed",
        "record_failed",
        "observe_failed",
        "stop_above_market",
        "exit_deferred",
    }
)
# ... and the ones that change what the bot does.
LIFECYCLE_EVENTS = {"control_pause": "paused", "control_resume": "resumed"}


def closed_trade_of(store: Store, exchange: str, order: Order) -> ClosedTrade | None:
    """The round trip `order` closed, from the symbol's fills; None when it closed none."""
    fills = [
        fill_from_row(r) for r in store.fills(symbol=order.symbol, exchange=exchange).iter_rows()
    ]
    try:
        trades = closed_trades(
            fills, exchange=exchange, orders=[order], dust_below=store.sell_minimums(exchange)
        )
    except AwanError:
        return None
    for trade in reversed(trades):
        if order.client_order_id in trade.exit_client_order_ids:
            return trade
    return None


def fill_facts(executor: Executor, order: Order) -> FillFacts:
    """The fill message's facts for an order of `executor` that filled (some of) its amount."""
    strategy = getattr(executor, "strategy_name", None)
    return facts_of(executor.store, executor.exchange.name, strategy, order)


def facts_of(store: Store, exchange: str, strategy: str | None, order: Order) -> FillFacts:
    """The fill message's facts for `order` (of `strategy`), with the store's fills for PnL."""
    strategy = strategy or "strategy"
    facts = FillFacts(
        symbol=order.symbol,
        side=order.side,
        price=order.average or 0.0,
        amount=order.filled,
        fee=order.fee,
        fee_currency=order.fee_currency,
        client_order_id=order.client_order_id,
        reason=f"{strategy} entry signal",
        signal_id=order.signal_id,
    )
    if order.side == "buy":
        return facts
    trade = closed_trade_of(store, exchange, order)
    if trade is None:  # a partial exit: the round trip is still open
        reason = _leg_reason(order.client_order_id, strategy)
        return FillFacts(**{**facts.__dict__, "reason": reason})
    reason = f"{strategy} exit signal" if trade.exit_reason == "exit_signal" else trade.exit_reason
    pct = 100.0 * trade.pnl / trade.stake if trade.stake else None
    return FillFacts(**{**facts.__dict__, "reason": reason, "pnl": trade.pnl, "pnl_pct": pct})


def _leg_reason(client_order_id: str, strategy: str) -> str:
    try:
        leg = parse_client_order_id(client_order_id).leg
    except AwanError:
        return "manual"
    return f"{strategy} exit signal" if leg == "exit" else leg


def fill_notice_for(executor: Executor, order: Order) -> Notice | None:
    """The fill (or stop / target hit) message; None when nothing filled. Never raises: a
    message that cannot be built is not worth an exception in the order path."""
    if order.filled <= 0:
        return None
    try:
        return fill_notice(fill_facts(executor, order))
    except Exception as error:
        return error_notice(f"fill message for {order.client_order_id} not built: {error}",
                            "notify")  # fmt: skip


def refusal_notice_for(refusal: Refusal, signal_id: str | None) -> Notice:
    """An order the executor declined, with its rule and sentence."""
    return refusal_notice(refusal.symbol, refusal.reason, refusal.message, signal_id)


def event_notice(bot: str, kind: str, message: str) -> Notice | None:
    """The message for an `Executor.event` of `kind`; None for events people need not see."""
    if kind in LIFECYCLE_EVENTS:
        return lifecycle_notice(LIFECYCLE_EVENTS[kind], bot, message)
    if kind in ERROR_EVENTS:
        return error_notice(message, kind)
    return None
