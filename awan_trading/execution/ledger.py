"""What the order path reads from and writes to the store, with fills as the source of truth.

The order in which the writes happen is the safety argument:

1. **Fills with the order row,** in one transaction (`Store.record_order(order, fills)`); a
   row written alone (a status change) never claims fills the store does not have. Loading an
   order still *replays its recorded fills* onto the row (`load_order`): the order row, like
   the `positions` table, is a projection that can be recomputed.
2. **The intent and the order row in status `intent`,** in one transaction
   (`Store.record_order_intent(intent, order)`), before the exchange is called: the intent
   row is the guard (one per client order id), the order row is what reconciliation lists as
   "not terminal yet". A store written by an older version may hold an intent without an
   order row; re-executing the signal finds the intent and resolves it (the executor never
   places when the intent already existed).
3. **Positions are rebuilt from fills** (`Store.rebuild_positions`) after every recorded fill,
   so the projection always equals the fills.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime

from awan_trading.domain.orders import (
    TERMINAL_STATUSES,
    Canceled,
    Expired,
    Fill,
    Order,
    Rejected,
    Traded,
    apply,
    apply_all,
)
from awan_trading.domain.positions import Position
from awan_trading.storage.base import Store
from awan_trading.storage.rows import fill_from_row
from awan_trading.storage.schema import as_utc

NON_TERMINAL = ("intent", "submitted", "accepted", "partially_filled", "unknown")


def order_from_row(row: dict) -> Order:
    """An `ORDERS_SCHEMA` row as an `Order` without trades (see `load_order`)."""
    return Order(
        client_order_id=row["client_order_id"],
        exchange_order_id=row["exchange_order_id"],
        exchange=row["exchange"],
        symbol=row["symbol"],
        side=row["side"],
        type=row["type"],
        amount=row["amount"],
        price=row["price"],
        status=row["status"],
        filled=row["filled"] or 0.0,
        average=row["average"],
        fee=row["fee"] or 0.0,
        fee_currency=row["fee_currency"] or "",
        created_at=as_utc(row["created_at"]),
        updated_at=as_utc(row["updated_at"]),
        stop_price=row["stop_price"],
        signal_id=row["signal_id"],
    )


def replay_fills(row: Order, fills: Iterable[Fill]) -> Order:
    """The order its recorded fills add up to: the row's identity, the fills' amounts.

    A row without fills is returned as is. With fills, the state is rebuilt from an accepted
    order (a fill proves the exchange had it), then the row's own end (canceled / expired) is
    re-applied when the fills did not complete it.
    """
    ordered = sorted(fills, key=lambda f: (f.ts, str(f.trade_id)))
    if not ordered:
        return replace(row, trades=())
    base = replace(
        row,
        status="accepted",
        exchange_order_id=row.exchange_order_id or ordered[0].exchange_order_id,
        filled=0.0,
        average=None,
        fee=0.0,
        fee_currency="",
        trades=(),
    )
    order = apply_all(base, [Traded(f) for f in ordered])
    if row.status == "canceled" and not order.is_terminal:
        order = apply(order, Canceled(row.updated_at))
    elif row.status == "expired" and not order.is_terminal:
        order = apply(order, Expired(row.updated_at))
    return order


def fills_by_order(store: Store, exchange: str) -> dict[str, list[Fill]]:
    out: dict[str, list[Fill]] = {}
    for row in store.fills(exchange=exchange).iter_rows():
        fill = fill_from_row(row)
        out.setdefault(fill.client_order_id, []).append(fill)
    return out


def load_orders(
    store: Store,
    exchange: str,
    *,
    stale: set[str] | None = None,
    fills: Mapping[str, list[Fill]] | None = None,
) -> dict[str, Order]:
    """The exchange's recorded orders by client order id, each replayed from its fills.

    `stale`, when given, receives the ids whose row is not terminal (one read serves both);
    `fills` are the exchange's fills by order when the caller has read them already.
    """
    frame = store.orders()
    fills = fills_by_order(store, exchange) if fills is None else fills
    out: dict[str, Order] = {}
    for row in frame.iter_rows(named=True):
        if row["exchange"] == exchange:
            cid = row["client_order_id"]
            out[cid] = replay_fills(order_from_row(row), fills.get(cid, []))
            if stale is not None and row["status"] in NON_TERMINAL:
                stale.add(cid)
    return out


def load_order(store: Store, exchange: str, client_order_id: str) -> Order | None:
    """One recorded order replayed from its fills: two point reads, whatever the history."""
    for row in store.orders(client_order_id=client_order_id).iter_rows(named=True):
        if row["exchange"] == exchange:
            fills = store.fills(exchange=exchange, client_order_id=client_order_id)
            return replay_fills(order_from_row(row), [fill_from_row(r) for r in fills.iter_rows()])
    return None


def to_reconcile(store: Store, exchange: str) -> list[Order]:
    """Orders that may still change: non-terminal by their row, or made so by their fills."""
    return may_change(load_orders_marking_stale(store, exchange))


def load_orders_marking_stale(
    store: Store, exchange: str, fills: Mapping[str, list[Fill]] | None = None
) -> tuple[dict[str, Order], set[str]]:
    """`load_orders` and the ids whose row is not terminal."""
    stale: set[str] = set()
    return load_orders(store, exchange, stale=stale, fills=fills), stale


def may_change(loaded: tuple[dict[str, Order], set[str]]) -> list[Order]:
    """Of `load_orders_marking_stale`'s answer: the orders that may still change."""
    orders, stale = loaded
    return [o for cid, o in orders.items() if o.status not in TERMINAL_STATUSES or cid in stale]


def record(store: Store, order: Order, *, known: Iterable[str] = ()) -> list[Fill]:
    """Fills (once each) and the order row, in one transaction; returns the fills that were
    new."""
    seen = set(known)
    return store.record_order(order, [f for f in order.trades if f.trade_id not in seen])


def reject(store: Store, order: Order, reason: str, ts: datetime) -> Order:
    """Record that the exchange does not have `order`: never placed (rejected), or an order it
    once acknowledged and no longer knows (expired)."""
    if order.is_terminal:
        return order
    event = Expired(ts) if order.is_resting else Rejected(ts, reason)
    ended = apply(order, event)
    store.record_order(ended)
    return ended


def rebuild_positions(
    store: Store, exchange: str, sell_minimums: Mapping[str, float] | None = None
) -> dict[str, Position]:
    return {p.symbol: p for p in store.rebuild_positions(exchange, sell_minimums)}
