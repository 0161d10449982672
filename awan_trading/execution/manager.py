"""The position manager: what happens to open positions after each strategy candle close.

`on_candle_close(executor, symbol, candle)` (called as `Executor.on_candle_close`), in order:

1. **Observe the venue.** Stops and targets fill *on the exchange* (the protective list rests
   there), so the manager reads the venue's open orders of `symbol` and looks up, by client
   order id, every order that may still change and is no longer resting as recorded; it
   records what it finds: a filled stop becomes exit fills, the OCO sibling's cancel is
   recorded, and the positions are rebuilt from the fills — the `positions` table always
   equals the fills.
2. **Apply control requests** from the store's control table (`execution.controls`): pause and
   resume flip the entry gate (stops keep working: they rest on the venue), force-exit closes
   the position (cancel the list, confirmed, then sell at market). Each handled request is a
   `bot_events` row and is marked handled, so it never applies twice.
3. **Trail.** The candle's high raises the high-water mark (`ExitLevels.after_candle`, the
   backtest's rule: check, then trail); when the resulting stop order's trigger moves up by at
   least a tick, the list is replaced: cancel (confirmed) → `canceled` fault point → place
   with n + 1. A stop that filled before the cancel arrived is recorded as the exit it was.
4. **Ensure protection.** An open position without a resting list gets one (the gap after a
   crash between cancel and place is at most this one candle).

`candle` is any mapping with `high` (a polars row as a dict, for instance). The live loop runs
steps 1–2 before it decides (`observe` over every managed symbol at once, then the controls)
and steps 3–4 (`guard`) after the orders of the close were acknowledged: a decision depends on
which positions are still open, never on where their stop rests.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from awan_trading.domain.ids import client_order_id
from awan_trading.exchange.errors import InvalidOrder
from awan_trading.execution import protection
from awan_trading.execution.controls import apply_controls
from awan_trading.execution.faults import fault_point
from awan_trading.execution.notices import fill_notice_for
from awan_trading.execution.notifier import notify
from awan_trading.execution.reconciling import sync_orders
from awan_trading.tolerance import PRICE

if TYPE_CHECKING:
    from awan_trading.domain.orders import Order
    from awan_trading.execution.executor import ExecutionResult, Executor
    from awan_trading.storage.base import ControlRequest


def on_candle_close(
    executor: Executor, symbol: str, candle: Mapping[str, Any]
) -> list[ExecutionResult]:
    results = observe(executor, [symbol])
    results.extend(apply_control_requests(executor))
    results.extend(guard(executor, symbol, float(candle["high"])))
    return results


def observe(
    executor: Executor,
    symbols: Iterable[str],
    open_orders: Mapping[str, list[Order]] | None = None,
) -> list[ExecutionResult]:
    """Record what the venue did to the orders of `symbols`; the protective fills as results.

    One pass over all the symbols (`sync_orders`): the local orders are read once, and the
    venue is asked for each symbol's open orders (unless `open_orders` holds them already),
    plus a lookup of each order that left them or changed. Positions are rebuilt only when a
    fill was recorded.
    """
    from awan_trading.execution.executor import ExecutionResult

    wanted = sorted(set(symbols))
    report = sync_orders(executor, wanted, open_orders=open_orders)
    if report.problems:
        executor.event("observe_failed", "; ".join(report.problems), {"symbols": wanted})
    results = []
    for order in report.filled:
        if order.side == "sell":  # a stop or target hit on the venue
            results.append(ExecutionResult(order.signal_id, order.client_order_id, "filled", order))
            if executor.notifier is not None:
                notify(executor.notifier, fill_notice_for(executor, order))
    return results


def guard(executor: Executor, symbol: str, high: float) -> list[ExecutionResult]:
    """Steps 3 and 4 (trail, ensure protection): the live loop runs them after the orders of
    the close were acknowledged, since no decision depends on them."""
    if not executor.reconciled:
        return []
    results = trail(executor, symbol, high)
    executor.ensure_protection(symbol)
    return results


def apply_control_requests(
    executor: Executor, requests: list[ControlRequest] | None = None
) -> list[ExecutionResult]:
    """Pause / resume / force-exit from the control table, each applied once and logged.

    `requests`: the table's pending requests, already read (the live loop reads them while
    the close's candles are in flight); None reads them now."""
    if requests is None:
        requests = executor.store.pending_controls(executor.bot)
    if not requests:
        return []
    held = list(executor.positions())
    outcome = apply_controls(executor.paused, requests, held)
    results = []
    if outcome.paused != executor.paused:
        executor.paused = outcome.paused
        kind = "control_pause" if outcome.paused else "control_resume"
        executor.event(kind, "trading paused (stops keep working)" if outcome.paused
                       else "trading resumed")  # fmt: skip
    by_symbol = {}
    for request in sorted(requests, key=lambda r: r.id):
        if request.action == "force_exit":
            for symbol in held if request.symbol is None else [request.symbol]:
                by_symbol.setdefault(symbol, request.id)
    for symbol in outcome.force_exits:
        result = executor.force_exit(symbol, by_symbol[symbol])
        executor.event("control_force_exit", f"{symbol}: force exit → {result.outcome}",
                       {"symbol": symbol, "client_order_id": result.client_order_id})  # fmt: skip
        results.append(result)
    for request_id in outcome.handled:
        executor.store.mark_control_handled(request_id)
    return results


def trail(executor: Executor, symbol: str, high: float) -> list[ExecutionResult]:
    """Raise the high-water mark; replace the stop when its trigger moves up.

    Returns the exit a replacement turned into (a stop already above the market), if any.
    """
    position = executor.positions().get(symbol)
    if position is None or not executor.params.trailing_stop:
        return []
    levels = protection.levels_of(position, executor.params)
    raised = levels.after_candle(high)
    if raised.high_water == position.high_water:
        return []
    market = executor.exchange.markets()[symbol]
    old = levels.stop_order(tick=market.price_increment, limit_offset=executor.stop_limit_offset)
    new = raised.stop_order(tick=market.price_increment, limit_offset=executor.stop_limit_offset)
    position.high_water = raised.high_water
    executor.store.save_position(position)
    if new is None or (old is not None and not PRICE.gt_scalar(new[0], old[0])):
        return []
    ids = protection.leg_ids_of(position)
    if ids is not None:
        legs = protection.cancel(executor.exchange, symbol, ids)
        executor._record_legs(legs)
        executor.sync_positions()
        fault_point("canceled")
        if any(leg.filled > 0 for leg in legs):
            return []  # the stop or target filled first: that was the exit
    n = protection.current_n(position)
    try:
        executor.ensure_protection(symbol, n=0 if n is None else n + 1)
    except InvalidOrder as error:
        # The raised stop is already above the market (it would trigger at once, which the
        # venue refuses): the backtest exits at the next open, so exit at market now.
        executor.event("stop_above_market", f"{symbol}: {error}; exiting at market")
        cid = client_order_id(position.signal_id or "", "risk_exit", 0 if n is None else n + 1)
        amount = executor._position_amount(symbol)
        return [executor._place(position.signal_id, cid, symbol, "sell", amount)]
    return []
