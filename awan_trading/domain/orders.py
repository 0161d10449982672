"""Orders, fills and the order state machine.

Why a state machine: an order's life is reported to us out of order, twice, or not at all
(a lost reply, a re-delivered trade, a fill that lands after our cancel). If every layer
updated order fields by hand, each would need its own idea of which updates are plausible.
Instead every change is an *event* applied by `apply`, which looks the move up in one
explicit table, `TRANSITIONS`, and refuses anything else with a specific error — so an
impossible sequence is caught where it happens, not discovered as a wrong position later.

The table includes the real-world moves a naive model forgets: a fill after a cancel
(`canceled → filled`: the order filled before the cancel reached the matching engine) and
the `unknown` status of an order whose submission or cancel got no reply, which only a
lookup at the exchange can resolve. A fill is applied at most once, keyed by its trade id,
and never past the order's amount.

`Order` is immutable: `apply` returns a new snapshot, so a refused event leaves the caller's
order untouched. Amounts and prices are floats in the venue's units; comparisons allow a
relative `AMOUNT_TOLERANCE` for the rounding of summed fills.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal, get_args

from awan_trading.domain.ids import ExchangeOrderId, TradeId
from awan_trading.domain.signals import OrderIntent
from awan_trading.errors import (
    DuplicateFillError,
    FillMismatchError,
    IllegalTransitionError,
    OverfillError,
)

Side = Literal["buy", "sell"]
# `limit_maker`: a post-only limit (Binance LIMIT_MAKER), the target leg of a protective OCO.
OrderType = Literal["market", "limit", "stop_loss_limit", "limit_maker"]
OrderStatus = Literal[
    "intent",  # decided and recorded; not yet sent
    "submitted",  # sent; no answer yet
    "accepted",  # on the exchange's book (has an exchange order id), nothing filled
    "partially_filled",
    "filled",
    "canceled",  # possibly after a partial fill
    "rejected",
    "expired",
    "unknown",  # a request got no reply: look it up at the exchange
]
ORDER_STATUSES: tuple[OrderStatus, ...] = get_args(OrderStatus)
TERMINAL_STATUSES: frozenset[OrderStatus] = frozenset({"filled", "canceled", "rejected", "expired"})
RESTING_STATUSES: frozenset[OrderStatus] = frozenset({"accepted", "partially_filled"})

EventKind = Literal[
    "submit", "accept", "reject", "partial_fill", "fill", "cancel", "expire", "timeout"
]
AMOUNT_TOLERANCE = 1e-9  # relative; summed float fills may miss the amount by an ulp or two

# (status, event) → new status. Anything absent is illegal. Late fills on a canceled or
# expired order are real: a full one means it filled before the cancel took effect
# (→ filled); a partial one leaves it canceled/expired with more filled.
TRANSITIONS: dict[tuple[OrderStatus, EventKind], OrderStatus] = {
    ("intent", "submit"): "submitted",
    ("intent", "reject"): "rejected",  # refused before it was sent (risk check, precision)
    ("submitted", "accept"): "accepted",
    ("submitted", "reject"): "rejected",
    ("submitted", "partial_fill"): "partially_filled",  # the reply already carried fills
    ("submitted", "fill"): "filled",
    ("submitted", "cancel"): "canceled",
    ("submitted", "expire"): "expired",  # IOC / FOK with nothing filled
    ("submitted", "timeout"): "unknown",
    ("accepted", "partial_fill"): "partially_filled",
    ("accepted", "fill"): "filled",
    ("accepted", "cancel"): "canceled",
    ("accepted", "expire"): "expired",
    ("accepted", "timeout"): "unknown",  # a cancel request got no reply
    ("partially_filled", "partial_fill"): "partially_filled",
    ("partially_filled", "fill"): "filled",
    ("partially_filled", "cancel"): "canceled",
    ("partially_filled", "expire"): "expired",
    ("partially_filled", "timeout"): "unknown",
    ("unknown", "accept"): "accepted",  # partially_filled if it already has fills
    ("unknown", "reject"): "rejected",  # the lookup found no such order: it was never placed
    ("unknown", "partial_fill"): "partially_filled",
    ("unknown", "fill"): "filled",
    ("unknown", "cancel"): "canceled",
    ("unknown", "expire"): "expired",
    ("unknown", "timeout"): "unknown",
    ("canceled", "partial_fill"): "canceled",
    ("canceled", "fill"): "filled",
    ("expired", "partial_fill"): "expired",
    ("expired", "fill"): "filled",
}


@dataclass(frozen=True)
class Fill:
    """One execution of (part of) an order, as the exchange reported it."""

    trade_id: TradeId | str
    exchange_order_id: ExchangeOrderId | str
    client_order_id: str
    symbol: str
    side: Side
    amount: float  # base currency
    price: float
    fee: float  # in `fee_currency`
    fee_currency: str
    ts: datetime
    taker: bool


@dataclass(frozen=True)
class Order:
    """One order's state: a snapshot from the exchange, or our record moved by `apply`."""

    client_order_id: str
    exchange_order_id: ExchangeOrderId | str | None  # None until the exchange acknowledged it
    exchange: str
    symbol: str
    side: Side
    type: OrderType
    amount: float
    price: float | None  # limit price; None for market orders
    status: OrderStatus
    filled: float
    average: float | None  # average fill price; None before the first fill
    fee: float  # the sum of the fills charged in `fee_currency`
    fee_currency: str
    created_at: datetime
    updated_at: datetime
    stop_price: float | None = None  # trigger of a stop_loss_limit order
    signal_id: str | None = None
    trades: tuple[Fill, ...] = ()  # the fills applied, oldest first
    # The OCO order list this order is a leg of (Binance `listClientOrderId`); None otherwise.
    list_client_order_id: str | None = None

    @classmethod
    def from_intent(cls, intent: OrderIntent) -> Order:
        """The order in status `intent`: what the executor records before calling the venue."""
        return cls(
            client_order_id=intent.client_order_id,
            exchange_order_id=None,
            exchange=intent.exchange,
            symbol=intent.symbol,
            side=intent.side,  # type: ignore[arg-type]
            type=intent.type,  # type: ignore[arg-type]
            amount=intent.amount,
            price=intent.price,
            status="intent",
            filled=0.0,
            average=None,
            fee=0.0,
            fee_currency="",
            created_at=intent.created_at,
            updated_at=intent.created_at,
            stop_price=intent.stop_price,
            signal_id=intent.signal_id,
        )

    @property
    def remaining(self) -> float:
        return max(self.amount - self.filled, 0.0)

    @property
    def is_terminal(self) -> bool:
        """Nothing more will happen except, for canceled/expired, a late fill."""
        return self.status in TERMINAL_STATUSES

    @property
    def is_resting(self) -> bool:
        """On the exchange's book and able to fill."""
        return self.status in RESTING_STATUSES

    @property
    def trade_ids(self) -> frozenset[str]:
        return frozenset(f.trade_id for f in self.trades)


# --- events -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Submitted:
    ts: datetime


@dataclass(frozen=True)
class Accepted:
    ts: datetime
    exchange_order_id: ExchangeOrderId | str


@dataclass(frozen=True)
class Rejected:
    ts: datetime
    reason: str


@dataclass(frozen=True)
class Traded:
    """A fill; it is a `fill` event when it completes the order, else a `partial_fill`."""

    fill: Fill


@dataclass(frozen=True)
class Canceled:
    ts: datetime


@dataclass(frozen=True)
class Expired:
    ts: datetime


@dataclass(frozen=True)
class TimedOut:
    """A submit or cancel request got no reply in time: the outcome is unknown."""

    ts: datetime


OrderEvent = Submitted | Accepted | Rejected | Traded | Canceled | Expired | TimedOut
_KIND: dict[type, EventKind] = {
    Submitted: "submit",
    Accepted: "accept",
    Rejected: "reject",
    Canceled: "cancel",
    Expired: "expire",
    TimedOut: "timeout",
}


def completes(order: Order, filled: float) -> bool:
    """Whether `filled` counts as the whole order (within `AMOUNT_TOLERANCE`)."""
    return filled >= order.amount * (1.0 - AMOUNT_TOLERANCE)


def event_kind(order: Order, event: OrderEvent) -> EventKind:
    """The table key of `event` for `order` (a fill's kind depends on what it completes)."""
    if isinstance(event, Traded):
        return "fill" if completes(order, order.filled + event.fill.amount) else "partial_fill"
    return _KIND[type(event)]


def _target(order: Order, kind: EventKind) -> OrderStatus:
    target = TRANSITIONS.get((order.status, kind))
    if target is None:
        raise IllegalTransitionError(
            f"order {order.client_order_id} ({order.symbol}): a {kind} event is not allowed "
            f"in status {order.status}"
        )
    return target


def _check_fill(order: Order, fill: Fill) -> None:
    where = f"order {order.client_order_id} ({order.symbol})"
    if fill.trade_id in order.trade_ids:
        raise DuplicateFillError(f"{where}: trade {fill.trade_id} was already applied")
    if fill.client_order_id and fill.client_order_id != order.client_order_id:
        raise FillMismatchError(
            f"{where}: trade {fill.trade_id} belongs to order {fill.client_order_id}"
        )
    if order.exchange_order_id and fill.exchange_order_id != order.exchange_order_id:
        raise FillMismatchError(
            f"{where}: trade {fill.trade_id} belongs to exchange order {fill.exchange_order_id}, "
            f"not {order.exchange_order_id}"
        )
    if fill.symbol != order.symbol or fill.side != order.side:
        raise FillMismatchError(
            f"{where}: trade {fill.trade_id} is a {fill.side} of {fill.symbol}, "
            f"the order a {order.side} of {order.symbol}"
        )
    if not (fill.amount > 0.0 and fill.price > 0.0 and fill.fee >= 0.0):
        raise FillMismatchError(
            f"{where}: trade {fill.trade_id} has amount {fill.amount}, price {fill.price}, "
            f"fee {fill.fee}; amount and price must be > 0, fee >= 0"
        )
    if order.filled + fill.amount > order.amount * (1.0 + AMOUNT_TOLERANCE):
        raise OverfillError(
            f"{where}: trade {fill.trade_id} of {fill.amount} would fill "
            f"{order.filled + fill.amount:.12g} of {order.amount}"
        )


def _apply_fill(order: Order, fill: Fill, status: OrderStatus) -> Order:
    filled = order.filled + fill.amount
    notional = (order.average or 0.0) * order.filled + fill.price * fill.amount
    fee_currency = order.fee_currency or fill.fee_currency
    # A fee in another currency (say BNB) cannot be summed; the fill itself keeps it.
    fee = order.fee + (fill.fee if fill.fee_currency == fee_currency else 0.0)
    return replace(
        order,
        status=status,
        exchange_order_id=order.exchange_order_id or fill.exchange_order_id,
        filled=min(filled, order.amount) if completes(order, filled) else filled,
        average=notional / filled,
        fee=fee,
        fee_currency=fee_currency,
        updated_at=max(order.updated_at, fill.ts),
        trades=(*order.trades, fill),
    )


def apply(order: Order, event: OrderEvent) -> Order:
    """The order after `event`, or a refusal that leaves `order` as it was.

    Raises `IllegalTransitionError` (move not in `TRANSITIONS`), `DuplicateFillError` (trade
    id already applied; checked first, because a re-delivered trade is the common, harmless
    case), `OverfillError`, or `FillMismatchError` (a fill or id of another order).
    """
    if isinstance(event, Traded):
        _check_fill(order, event.fill)
        return _apply_fill(order, event.fill, _target(order, event_kind(order, event)))
    status = _target(order, event_kind(order, event))
    if isinstance(event, Accepted):
        if order.exchange_order_id and order.exchange_order_id != event.exchange_order_id:
            raise FillMismatchError(
                f"order {order.client_order_id} ({order.symbol}) is exchange order "
                f"{order.exchange_order_id}, not {event.exchange_order_id}"
            )
        if status == "accepted" and order.filled > 0.0:
            status = "partially_filled"  # re-acknowledged after a timeout, with fills kept
        return replace(
            order,
            status=status,
            exchange_order_id=event.exchange_order_id,
            updated_at=max(order.updated_at, event.ts),
        )
    return replace(order, status=status, updated_at=max(order.updated_at, event.ts))


def apply_all(order: Order, events: list[OrderEvent]) -> Order:
    """`apply` each event in turn (all or nothing: the first refusal raises)."""
    for event in events:
        order = apply(order, event)
    return order
