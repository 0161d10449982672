"""The sim's orders: their record, their validation, and how resting ones meet closed candles.

`SimExchange` owns balances and the `Exchange` surface; this module owns what an order *is* on
the sim — its record, the fill it books, and the checks a new order must pass, which mirror
what Binance spot refuses (precision, minimums, a stop that would trigger at once, a maker order
that would take, an OCO whose prices are not target > last > trigger ≥ limit). When a resting
order fills is `exchange.sim_matching`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

from awan_trading.domain.ids import signal_id_of
from awan_trading.domain.orders import Fill, Order, OrderStatus, OrderType, Side
from awan_trading.exchange.base import Market
from awan_trading.exchange.errors import DuplicateClientOrderId, InvalidOrder
from awan_trading.exchange.sim_market import SymbolProfile

CLIENT_ORDER_ID_RE = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")  # Binance's documented rule
ORDER_TYPES: tuple[OrderType, ...] = ("market", "limit", "limit_maker", "stop_loss_limit")


@dataclass
class SimOrder:
    """The sim's mutable record of an order; callers only ever see `Order` snapshots."""

    exchange_order_id: str
    client_order_id: str
    symbol: str
    side: Side
    type: OrderType
    amount: float
    price: float | None  # limit price (the stop's limit for stop_loss_limit)
    created_at: datetime
    updated_at: datetime
    stop_price: float | None = None  # trigger of a stop_loss_limit
    list_client_order_id: str | None = None  # the OCO this order is a leg of
    sibling: SimOrder | None = field(default=None, repr=False)  # the OCO's other leg
    triggered: bool = False  # a stop whose trigger was hit but whose limit has not filled
    status: OrderStatus = "accepted"  # resting; the sim never fills partially
    locked: tuple[str, float] | None = None  # (currency, amount) while resting
    next_ms: int = 0  # the open time of the first candle not yet matched against
    fills: list[Fill] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.status == "accepted"

    def close(self, status: OrderStatus, ts: datetime) -> None:
        """End the order without a fill (cancel); its locked funds are released."""
        self.status = status
        self.locked = None
        self.updated_at = ts

    def execute(
        self,
        price: float,
        ts: datetime,
        *,
        fee_rate: float,
        trade_id: str,
        fee_currency: str,
        taker: bool,
    ) -> Fill:
        """Record the whole order filling at `price` and close it; the fee is `fee_rate` of
        what is received in `fee_currency` (the base amount, or the quote notional)."""
        in_base = fee_currency == self.symbol.split("/")[0]
        fill = Fill(
            trade_id=trade_id,
            exchange_order_id=self.exchange_order_id,
            client_order_id=self.client_order_id,
            symbol=self.symbol,
            side=self.side,
            amount=self.amount,
            price=price,
            fee=self.amount * fee_rate if in_base else self.amount * price * fee_rate,
            fee_currency=fee_currency,
            ts=ts,
            taker=taker,
        )
        self.fills.append(fill)
        self.status = "filled"
        self.locked = None
        self.updated_at = ts
        return fill

    def snapshot(self, exchange: str) -> Order:
        filled = sum(f.amount for f in self.fills)
        notional = sum(f.amount * f.price for f in self.fills)
        return Order(
            client_order_id=self.client_order_id,
            exchange_order_id=self.exchange_order_id,
            exchange=exchange,
            symbol=self.symbol,
            side=self.side,
            type=self.type,
            amount=self.amount,
            price=self.price,
            status=self.status,
            filled=filled,
            average=notional / filled if filled else None,
            fee=sum(f.fee for f in self.fills),
            fee_currency=self.fills[0].fee_currency if self.fills else self.symbol.split("/")[1],
            created_at=self.created_at,
            updated_at=self.updated_at,
            stop_price=self.stop_price,
            signal_id=signal_id_of(self.client_order_id),
            trades=tuple(self.fills),
            list_client_order_id=self.list_client_order_id,
        )


# --- validation ----------------------------------------------------------------------------


def to_step(value: float, decimals: int, rounding: str) -> float:
    """Round on the decimal grid of the shortest repr, so 0.00003 stays 0.00003."""
    quantum = Decimal(1).scaleb(-decimals)
    return float(Decimal(repr(value)).quantize(quantum, rounding=rounding))


def check_amount(market: Market, profile: SymbolProfile, amount: float) -> float:
    """`amount` floored to the lot step; refused when not positive or below `min_amount`."""
    symbol = market.symbol
    if not isinstance(amount, int | float) or not math.isfinite(amount) or amount <= 0:
        raise InvalidOrder(f"sim: {symbol}: amount {amount!r} must be a positive number")
    rounded = to_step(float(amount), profile.amount_decimals, ROUND_FLOOR)
    if rounded < market.min_amount:
        raise InvalidOrder(
            f"sim: {symbol}: amount {amount} floors to {rounded} at step "
            f"{market.amount_increment}, below min_amount {market.min_amount}"
        )
    return rounded


def check_price(market: Market, profile: SymbolProfile, what: str, price: float | None) -> float:
    """A price rounded to the tick; refused when missing, not positive or rounding to 0."""
    symbol = market.symbol
    if (
        price is None
        or not isinstance(price, int | float)
        or not math.isfinite(price)
        or price <= 0
    ):
        raise InvalidOrder(f"sim: {symbol}: {what} {price!r} must be a positive number")
    rounded = to_step(float(price), profile.price_decimals, ROUND_HALF_UP)
    if rounded <= 0:
        raise InvalidOrder(
            f"sim: {symbol}: {what} {price} rounds to 0 at tick {market.price_increment}"
        )
    return rounded


def check_order(
    market: Market,
    profile: SymbolProfile,
    side: str,
    type: str,
    amount: float,
    price: float | None,
    stop_price: float | None,
) -> tuple[float, float, float | None]:
    """(amount on the lot step, limit on the tick or 0.0 for market, trigger or None).

    The shape of the order only; whether its prices make sense against the market now
    (a stop that would trigger at once, a maker order that would take) is the caller's check.
    """
    symbol = market.symbol
    if side not in ("buy", "sell"):
        raise InvalidOrder(f"sim: {symbol}: side {side!r} must be 'buy' or 'sell'")
    if type not in ORDER_TYPES:
        raise InvalidOrder(
            f"sim: {symbol}: order type {type!r} must be one of {', '.join(ORDER_TYPES)}"
        )
    if type != "stop_loss_limit" and stop_price is not None:
        raise InvalidOrder(
            f"sim: {symbol}: a {type} order takes no stop_price (got {stop_price}); "
            "only stop_loss_limit has a trigger"
        )
    rounded = check_amount(market, profile, amount)
    if type == "market":
        if price is not None:
            raise InvalidOrder(f"sim: {symbol}: a market order takes no price (got {price})")
        return rounded, 0.0, None
    limit = check_price(market, profile, "limit price", price)
    if type != "stop_loss_limit":
        return rounded, limit, None
    if side != "sell":
        raise InvalidOrder(
            f"sim: {symbol}: stop_loss_limit is supported for sells only "
            "(the protective stop of a long position)"
        )
    trigger = check_price(market, profile, "stop_price", stop_price)
    if limit > trigger:
        raise InvalidOrder(
            f"sim: {symbol}: a sell stop's limit {limit} must be at or below its trigger {trigger}"
        )
    return rounded, limit, trigger


def check_sell_stop_below(symbol: str, trigger: float, last: float) -> None:
    """Refuse a sell stop that would trigger at once (Binance: "would trigger immediately")."""
    if not trigger < last:
        raise InvalidOrder(
            f"sim: {symbol}: sell stop trigger {trigger} must be below the last price {last}; "
            "it would trigger immediately"
        )


def check_client_order_ids(symbol: str, used: Mapping[str, str], *ids: str) -> None:
    """Well-formed (Binance's rule), distinct, and not in `used` (client id → order id)."""
    for client_order_id in ids:
        if not isinstance(client_order_id, str) or not CLIENT_ORDER_ID_RE.match(client_order_id):
            raise InvalidOrder(
                f"sim: {symbol}: client_order_id {client_order_id!r} must be 1-36 chars "
                "of [.A-Z:/a-z0-9_-]"
            )
        if client_order_id in used:
            raise DuplicateClientOrderId(
                f"sim: {symbol}: client_order_id {client_order_id!r} was already used by "
                f"order {used[client_order_id]}; ids are never reused"
            )
    if len(set(ids)) != len(ids):
        raise InvalidOrder(f"sim: {symbol}: client order ids {ids} repeat")


def check_notional(market: Market, side: str, amount: float, price: float) -> None:
    if amount * price < market.min_notional:
        raise InvalidOrder(
            f"sim: {market.symbol}: {side} {amount} at {price} is worth "
            f"{amount * price:.8g} {market.quote}, below min_notional "
            f"{market.min_notional} {market.quote}"
        )


def check_oco_sell(
    market: Market,
    profile: SymbolProfile,
    last: float,
    amount: float,
    target_price: float,
    stop_price: float,
    stop_limit_price: float,
) -> tuple[float, float, float, float]:
    """(amount, target, trigger, limit) on the grid; Binance's rule for an OCO sell is
    target > last price > trigger, the stop's limit at or below its trigger, and each leg
    worth at least `min_notional`."""
    symbol = market.symbol
    amount = check_amount(market, profile, amount)
    target = check_price(market, profile, "target price", target_price)
    trigger = check_price(market, profile, "stop_price", stop_price)
    limit = check_price(market, profile, "stop limit price", stop_limit_price)
    if limit > trigger:
        raise InvalidOrder(
            f"sim: {symbol}: the stop leg's limit {limit} must be at or below its trigger {trigger}"
        )
    if not target > last:
        raise InvalidOrder(
            f"sim: {symbol}: OCO sell target {target} must be above the last price "
            f"{last}; it would match immediately"
        )
    check_sell_stop_below(symbol, trigger, last)
    check_notional(market, "sell", amount, target)
    check_notional(market, "sell", amount, limit)
    return amount, target, trigger, limit


def immediate_price(
    symbol: str,
    side: str,
    type: str,
    limit: float,
    trigger: float | None,
    *,
    market: float,
    last: float,
    bid: float,
    ask: float,
) -> float | None:
    """The price a new order fills at on placement, or None if it rests.

    A market order fills at `market` (the market-order price, `execution.fills`); a limit that
    crosses the bid/ask fills as taker at the better of its limit and `market`. A limit_maker
    that would cross and a sell stop that would trigger at once are refused, as on Binance.
    """
    if type == "market":
        return market
    crosses = limit >= ask if side == "buy" else limit <= bid
    if type == "limit" and crosses:
        return min(limit, market) if side == "buy" else max(limit, market)
    if type == "limit_maker" and crosses:
        raise InvalidOrder(
            f"sim: {symbol}: limit_maker {side} at {limit} would match immediately "
            f"(bid {bid}, ask {ask}); it may only rest"
        )
    if trigger is not None:
        check_sell_stop_below(symbol, trigger, last)
    return None
