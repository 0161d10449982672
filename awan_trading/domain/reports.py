"""Venue report → order events: what reconciliation applies to bring our order up to date.

An exchange answers a lookup with a snapshot (an `Order` as `Exchange.fetch_order` returns
it: status, cumulative filled, average, and the fills it chose to list). Our record moves
only by events, so the snapshot is turned into the events that lead from our order to it —
"the exchange says 0.3 of 1.0 filled" becomes a partial-fill event — and `apply` then checks
each move against the table like any other. Pure: no I/O, no clock.

Some venues report a cumulative filled amount without listing the trades (Binance's order
lookup does). The difference becomes one *inferred* fill whose trade id starts with
`INFERRED_PREFIX` and is derived from the cumulative amount, so the same report always
yields the same id and is never applied twice. Whoever later fetches the real trades of
such an order must rebuild the order from them rather than add them on top.
"""

from __future__ import annotations

from awan_trading.domain.orders import (
    AMOUNT_TOLERANCE,
    Accepted,
    Canceled,
    Expired,
    Fill,
    Order,
    OrderEvent,
    Rejected,
    Submitted,
    Traded,
    completes,
)
from awan_trading.errors import FillMismatchError

INFERRED_PREFIX = "inferred:"


def is_inferred(fill: Fill) -> bool:
    return str(fill.trade_id).startswith(INFERRED_PREFIX)


def _check_same_order(order: Order, report: Order) -> None:
    if report.client_order_id and report.client_order_id != order.client_order_id:
        raise FillMismatchError(
            f"order {order.client_order_id}: the report is for order {report.client_order_id}"
        )
    if report.symbol != order.symbol or report.side != order.side:
        raise FillMismatchError(
            f"order {order.client_order_id}: the report is a {report.side} of {report.symbol}, "
            f"the order a {order.side} of {order.symbol}"
        )
    if order.exchange_order_id and report.exchange_order_id not in (None, order.exchange_order_id):
        raise FillMismatchError(
            f"order {order.client_order_id} is exchange order {order.exchange_order_id}, "
            f"the report is for {report.exchange_order_id}"
        )


def _new_fills(order: Order, report: Order) -> list[Fill]:
    """The report's fills not yet applied, oldest first, tagged with our client order id."""
    seen = order.trade_ids
    fresh = [f for f in report.trades if f.trade_id not in seen]
    fresh.sort(key=lambda f: (f.ts, str(f.trade_id)))
    out = []
    for f in fresh:
        if not f.client_order_id:
            f = Fill(**{**f.__dict__, "client_order_id": order.client_order_id})
        out.append(f)
    return out


def _inferred_fill(order: Order, report: Order, listed: list[Fill]) -> Fill | None:
    """The fill the report's cumulative amount implies beyond our fills and its listed ones."""
    known = order.filled + sum(f.amount for f in listed)
    missing = report.filled - known
    if missing <= max(report.amount, 1.0) * AMOUNT_TOLERANCE:
        return None
    listed_notional = sum(f.amount * f.price for f in listed)
    notional = (report.average or 0.0) * report.filled
    price = (notional - (order.average or 0.0) * order.filled - listed_notional) / missing
    if not price > 0.0:  # an average the venue rounded, or none: the best estimate left
        price = report.average or report.price or order.average or 0.0
    fees = order.fee + sum(f.fee for f in listed if f.fee_currency == report.fee_currency)
    return Fill(
        trade_id=f"{INFERRED_PREFIX}{report.exchange_order_id}:{report.filled!r}",
        exchange_order_id=report.exchange_order_id or order.exchange_order_id or "",
        client_order_id=order.client_order_id,
        symbol=order.symbol,
        side=order.side,
        amount=missing,
        price=price,
        fee=max(report.fee - fees, 0.0) if report.fee_currency == order.fee_currency else 0.0,
        fee_currency=report.fee_currency,
        ts=report.updated_at,
        taker=report.type == "market",
    )


def report_events(order: Order, report: Order) -> list[OrderEvent]:
    """The events that move `order` (our record) to the venue's snapshot `report`.

    Order of events: `Submitted` (our record still says intent: the report proves it was
    sent), `Accepted` (first acknowledgement, or confirmation after a timeout), the fills,
    then `Canceled` / `Expired` / `Rejected` if the venue says so and the fills did not
    complete the order. An empty list means our record already agrees. Raises
    `FillMismatchError` for a report about another order.
    """
    _check_same_order(order, report)
    events: list[OrderEvent] = []
    if order.status == "intent":
        events.append(Submitted(report.created_at))
    if report.status == "rejected":
        if order.status in ("intent", "submitted", "unknown"):
            events.append(Rejected(report.updated_at, "rejected by the exchange"))
        return events
    if order.status in ("intent", "submitted", "unknown") and report.exchange_order_id:
        events.append(Accepted(report.created_at, report.exchange_order_id))
    listed = _new_fills(order, report)
    events.extend(Traded(f) for f in listed)
    inferred = _inferred_fill(order, report, listed)
    if inferred is not None:
        listed.append(inferred)
        events.append(Traded(inferred))
    filled = order.filled + sum(f.amount for f in listed)
    ended = report.status in ("canceled", "expired") and order.status != report.status
    if ended and not completes(order, filled):
        events.append((Canceled if report.status == "canceled" else Expired)(report.updated_at))
    return events
