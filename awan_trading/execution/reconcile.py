"""Reconciliation as pure functions: our records and the venue's reports in, actions out.

No I/O and no clock: the executor gathers the inputs (its non-terminal orders, the venue's
answer to a lookup of each by client order id, open orders, balances, positions), calls these
functions, and applies the actions they return. Every case is unit-tested with sim reports.
Three passes, each on the result of the one before:

1. **Orders** (`plan_orders`). For each local order that may still change:
   - the venue has it → `Record` the order moved by `domain.reports.report_events` (fills,
     acceptance, cancel), checked by the state machine;
   - the venue says "not found" and we never heard back from it (status `intent`): the
     process died between recording the intent and the venue's reply, and the venue never
     received the order. It is **resent under the same client order id** (`Resend`) when the
     intent is younger than `resend_within` — the decision is still current and the same id
     makes a second copy impossible (the venue refuses a reused id) — otherwise **abandoned**
     (`Abandon`: recorded as rejected with the reason, logged): a market order minutes late
     is a different trade than the one the strategy decided;
   - "not found" for an order the venue acknowledged or that timed out (`unknown`): it never
     existed or is gone → `Abandon` (never re-sent blind);
   - a report the state machine refuses → a `problem`: trading stays refused.
   Open awan orders on the venue that we have no record of at all are adopted (`Record`).
2. **Protection** (`plan_protection`), after pass 1's fills rebuilt the positions: every open
   position must have exactly one protective list resting. None → `PlaceProtection`; several
   → `CancelOrder` all but the newest (highest n); protective legs of a symbol with no open
   position → `CancelOrder`.
3. **Balances** (`check_balances`): every open position's base amount must be on the account;
   less is a problem (the position was closed or moved outside awan) and refuses trading.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from awan_trading.domain.ids import parse_client_order_id
from awan_trading.domain.orders import AMOUNT_TOLERANCE, Order, apply_all
from awan_trading.domain.positions import Position
from awan_trading.domain.reports import report_events
from awan_trading.errors import ClientOrderIdError, OrderStateError

PROTECTIVE_LEGS = frozenset({"stop", "take_profit"})


@dataclass(frozen=True)
class Record:
    """Write this order (and its fills not yet recorded) to the store."""

    order: Order


@dataclass(frozen=True)
class Resend:
    """Place this never-received order again, under its own client order id."""

    order: Order


@dataclass(frozen=True)
class Abandon:
    """Record this order as rejected: the venue never had it and it will not be sent."""

    order: Order
    reason: str


@dataclass(frozen=True)
class PlaceProtection:
    """Place the protective list of the open position in `symbol`."""

    symbol: str


@dataclass(frozen=True)
class CancelOrder:
    """Cancel a resting order (a duplicate or orphaned protective leg)."""

    symbol: str
    client_order_id: str
    reason: str


Action = Record | Resend | Abandon | PlaceProtection | CancelOrder


@dataclass(frozen=True)
class OrderPlan:
    actions: tuple[Action, ...]
    problems: tuple[str, ...]


def _is_awan(client_order_id: str) -> bool:
    try:
        parse_client_order_id(client_order_id)
    except ClientOrderIdError:
        return False
    return True


def plan_orders(
    local: Iterable[Order],
    reports: Mapping[str, Order | None],
    open_orders: Iterable[Order],
    *,
    known: Iterable[str],
    now: datetime,
    resend_within: timedelta,
) -> OrderPlan:
    """Pass 1: what to record, resend or abandon for each local order (module docstring).

    `reports` maps a local client order id to the venue's snapshot, or None for a definite
    "not found"; an id absent from `reports` (the lookup failed transiently) is left alone
    and makes the plan a problem, so trading waits for a lookup that answered. `known` is
    every client order id the store has (terminal ones included).
    """
    actions: list[Action] = []
    problems: list[str] = []
    for order in local:
        cid = order.client_order_id
        if cid not in reports:
            problems.append(f"order {cid} ({order.symbol}): the venue did not answer a lookup")
            continue
        report = reports[cid]
        if report is None:
            actions.append(_not_found(order, now, resend_within))
            continue
        try:
            moved = apply_all(order, report_events(order, report))
        except OrderStateError as error:
            problems.append(f"order {cid} ({order.symbol}): {error}")
            continue
        if moved != order or order.status == "intent":
            actions.append(Record(moved))
    seen = set(known)
    for report in open_orders:
        cid = report.client_order_id
        if cid not in seen and _is_awan(cid):
            actions.append(Record(report))  # placed by awan; our record was lost in a crash
    return OrderPlan(tuple(actions), tuple(problems))


def _not_found(order: Order, now: datetime, resend_within: timedelta) -> Action:
    if _protective_key(order) is not None:
        # A protective list is never resent leg by leg: pass 2 places a whole new one.
        return Abandon(order, "protective leg never reached the exchange; a new list replaces it")
    if order.status == "intent":
        age = now - order.created_at
        if age <= resend_within:
            return Resend(order)
        return Abandon(
            order,
            f"never reached the exchange; intent is {age.total_seconds():.0f}s old, older "
            f"than resend_within {resend_within.total_seconds():.0f}s",
        )
    return Abandon(order, f"the exchange has no order {order.client_order_id} (was {order.status})")


def _protective_key(order: Order) -> tuple[str, int] | None:
    """(entry signal id, n) of a protective leg; None for other orders."""
    try:
        parsed = parse_client_order_id(order.client_order_id)
    except ClientOrderIdError:
        return None
    return (parsed.signal_id, parsed.n) if parsed.leg in PROTECTIVE_LEGS else None


def plan_protection(
    positions: Mapping[str, Position],
    open_orders: Iterable[Order],
    *,
    protected: bool,
    exiting: Iterable[str] = (),
) -> tuple[Action, ...]:
    """Pass 2: one protective list per open position, none for anything else.

    `protected` is whether the strategy has any stop or target (no list is expected without
    one). `exiting` are symbols whose exit is in flight: their list is the exit's business.
    """
    by_symbol: dict[str, dict[tuple[str, int], list[Order]]] = {}
    for order in open_orders:
        key = _protective_key(order)
        if key is not None:
            by_symbol.setdefault(order.symbol, {}).setdefault(key, []).append(order)
    skip = set(exiting)
    actions: list[Action] = []
    for symbol in sorted(set(positions) | set(by_symbol)):
        if symbol in skip:
            continue
        lists = by_symbol.get(symbol, {})
        position = positions.get(symbol)
        keep: tuple[str, int] | None = None
        if position is not None and position.is_open and protected:
            own = [k for k in lists if k[0] == position.signal_id]
            keep = max(own, key=lambda k: k[1]) if own else None
            if keep is None:
                actions.append(PlaceProtection(symbol))
        for key in sorted(lists):
            if key == keep:
                continue
            if position is None or not position.is_open:
                why = "protective leg without an open position"
            elif key[0] != position.signal_id:
                why = "protective leg of an earlier round trip"
            else:
                why = "duplicate protective list"
            actions.extend(CancelOrder(symbol, o.client_order_id, why) for o in lists[key])
    return tuple(actions)


def check_balances(
    positions: Mapping[str, Position], free_and_used: Mapping[str, float]
) -> tuple[str, ...]:
    """Pass 3: each open position's base currency must be on the account (total, base units)."""
    problems = []
    for symbol, position in sorted(positions.items()):
        if not position.is_open:
            continue
        base = symbol.split("/")[0]
        held = free_and_used.get(base, 0.0)
        if held < position.amount * (1.0 - 1e-6) - AMOUNT_TOLERANCE:
            problems.append(
                f"{symbol}: the store holds a position of {position.amount:.10g} {base}, the "
                f"account only {held:.10g} {base}"
            )
    return tuple(problems)
