"""The I/O around `execution.reconcile`: gather the venue's reports, apply the pure plans.

`run_reconcile(executor)` is what `Executor.reconcile()` runs at start-up and every N minutes
(the live loop decides N), and `sync_orders(executor, symbols)` is its first pass alone, which
the position manager runs after each candle close to observe protective fills. The decisions
are all in `execution.reconcile`; this module only fetches and writes.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from awan_trading.domain.orders import Order
from awan_trading.errors import OrderStateError
from awan_trading.exchange.errors import ExchangeError, OrderNotFound, TransientExchangeError
from awan_trading.execution import ledger
from awan_trading.execution.protection import current_n, expects_protection
from awan_trading.execution.reconcile import (
    Abandon,
    CancelOrder,
    PlaceProtection,
    Record,
    Resend,
    check_balances,
    plan_orders,
    plan_protection,
)

if TYPE_CHECKING:
    from awan_trading.execution.executor import Executor


@dataclass
class ReconcileReport:
    """What a reconciliation did, and the problems that keep trading refused (if any)."""

    recorded: int = 0
    resent: int = 0
    abandoned: int = 0
    protections_placed: int = 0
    canceled: int = 0
    problems: list[str] = field(default_factory=list)
    filled: list[Order] = field(default_factory=list)  # orders that gained fills, as recorded

    @property
    def ok(self) -> bool:
        return not self.problems

    def describe(self) -> str:
        counts = (
            f"{self.recorded} recorded, {self.resent} resent, {self.abandoned} abandoned, "
            f"{self.protections_placed} protective lists placed, {self.canceled} canceled"
        )
        if self.ok:
            return f"reconciled: {counts}"
        return f"reconciliation failed ({'; '.join(self.problems)}); {counts}"


def _lookup(
    executor: Executor, orders: Iterable[Order], resting: Mapping[str, Order]
) -> dict[str, Order | None]:
    """The venue's snapshot of each order by client order id; None = definitely not found.

    An order the venue lists among its open orders (`resting`) with the fills we recorded is
    its own snapshot: nothing happened to it, and looking it up again would cost a request
    per order at every candle close. Anything else is looked up by client order id.
    """
    reports: dict[str, Order | None] = {}
    for order in orders:
        snapshot = resting.get(order.client_order_id)
        if snapshot is not None and snapshot.filled == order.filled and order.status != "intent":
            reports[order.client_order_id] = snapshot
            continue
        try:
            reports[order.client_order_id] = executor.exchange.fetch_order(
                order.symbol, client_order_id=order.client_order_id
            )
        except OrderNotFound:
            reports[order.client_order_id] = None
        except TransientExchangeError:
            continue  # absent from the reports: plan_orders reports it as a problem
    return reports


def _open_orders(
    executor: Executor, symbols: Iterable[str], fetched: Mapping[str, list[Order]] | None = None
) -> list[Order]:
    """The venue's open orders of `symbols`; those in `fetched` were asked for already."""
    out: list[Order] = []
    for symbol in sorted(set(symbols)):
        if fetched is not None and symbol in fetched:
            out.extend(fetched[symbol])
        else:
            out.extend(executor.exchange.fetch_open_orders(symbol))
    return out


def sync_orders(
    executor: Executor,
    symbols: Iterable[str] | None = None,
    report: ReconcileReport | None = None,
    open_orders: Mapping[str, list[Order]] | None = None,
) -> ReconcileReport:
    """Pass 1 over the local orders that may still change (of `symbols`, or all).

    `open_orders`: the venue's open orders of some symbols, fetched already (the live loop
    asks for them at the close, while the candles are in flight)."""
    report = report or ReconcileReport()
    store = executor.store
    wanted = None if symbols is None else set(symbols)
    known: Collection[str]
    if wanted is None:  # a reconciliation: everything on record, read from the store
        loaded = ledger.load_orders_marking_stale(store, executor.exchange.name)
        local, known = ledger.may_change(loaded), loaded[0]
    else:  # a candle close: the executor's book knows what may still change (no history scan)
        book = executor.book
        local = [o for o in book.open_orders.values() if o.symbol in wanted]
        known = book.known
    recorded = {o.client_order_id: o for o in local}
    venue_symbols = {o.symbol for o in local} | set(executor.positions()) | set(executor.symbols)
    if wanted is not None:
        venue_symbols &= wanted
    venue_open = _open_orders(executor, venue_symbols, open_orders)
    resting = {o.client_order_id: o for o in venue_open}
    plan = plan_orders(
        local,
        _lookup(executor, local, resting),
        venue_open,
        known=known,
        now=executor.now(),
        resend_within=executor.resend_within,
    )
    report.problems.extend(plan.problems)
    changed = False
    if plan.actions:
        executor.stale()  # orders in flight or fills change: the book reloads
    for action in plan.actions:
        if isinstance(action, Record):
            before = recorded.get(action.order.client_order_id)
            ledger.record(store, action.order, known=before.trade_ids if before else ())
            if action.order.filled > (before.filled if before else 0.0):
                changed = True
                report.filled.append(action.order)
            report.recorded += 1
        elif isinstance(action, Abandon):
            ledger.reject(store, action.order, action.reason, executor.now())
            executor.event("order_abandoned", f"{action.order.client_order_id}: {action.reason}")
            report.abandoned += 1
        elif isinstance(action, Resend):
            result = executor._send(action.order.signal_id, action.order)
            if result.order is not None and result.order.filled > 0:
                changed = True
                report.filled.append(result.order)
            report.resent += 1
    if changed:
        executor.sync_positions()
    return report


def run_reconcile(executor: Executor) -> ReconcileReport:
    """All three passes; a venue that does not answer is a problem, never an exception."""
    report = ReconcileReport()
    try:
        sync_orders(executor, report=report)
        positions = executor.sync_positions()
        exiting = {
            o.symbol
            for o in ledger.to_reconcile(executor.store, executor.exchange.name)
            if o.side == "sell" and o.type == "market" and not o.is_terminal
        }
        open_orders = _open_orders(executor, set(positions) | set(executor.symbols))
        for action in plan_protection(
            positions,
            open_orders,
            protected=expects_protection(executor.params),
            exiting=exiting,
        ):
            if isinstance(action, PlaceProtection):
                executor.ensure_protection(action.symbol, n=_next_n(executor, action.symbol))
                report.protections_placed += 1
            elif isinstance(action, CancelOrder):
                _cancel(executor, action)
                report.canceled += 1
        balance = executor.exchange.fetch_balance()
        totals = {c: balance.total(c) for c in set(balance.free) | set(balance.used)}
        report.problems.extend(check_balances(executor.positions(), totals))
    except (ExchangeError, OrderStateError) as error:
        report.problems.append(f"{type(error).__name__}: {error}")
    return report


def _next_n(executor: Executor, symbol: str) -> int:
    """A replacement count no list of this position used: one past the current one.

    Pass 1 already settled the current list's legs (adopted, or abandoned when the venue
    never had them), so a fresh n is always safe; ids are cheap (36**2 per position).
    """
    current = current_n(executor.positions()[symbol])
    return 0 if current is None else current + 1


def _cancel(executor: Executor, action: CancelOrder) -> None:
    try:
        canceled = executor.exchange.cancel_order(
            action.symbol, client_order_id=action.client_order_id
        )
    except OrderNotFound:
        return
    before = ledger.load_order(executor.store, executor.exchange.name, action.client_order_id)
    if before is None:
        ledger.record(executor.store, canceled)
    else:
        executor._settle(before, canceled)
    executor.event("order_canceled", f"{action.client_order_id}: {action.reason}")
