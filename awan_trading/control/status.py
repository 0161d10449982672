"""`status` and `balance`: is the bot alive, what does it hold, what is it worth.

Everything comes from the store: the heartbeat row, the `started` event the live loop records
at start-up (mode, execution, symbols), the candles, positions, fills and the control and error
events. So `awan status` on a laptop and `/status` from the bot's container agree whenever they
read the same store, and the live loop's own status file (`control.statusfile`) is only
reported on (where it is, how old), never a second source of truth.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from awan_trading.control.context import ControlContext
from awan_trading.control.money import OpenPosition, open_positions, today_pnl
from awan_trading.control.statusfile import status_path
from awan_trading.execution.controls import apply_controls
from awan_trading.market.timeframes import parse_timeframe
from awan_trading.storage.base import ControlRequest

STARTED = "started"  # the event kind the live loop records at start-up (cli/live.py)
# Event kinds that mean something went wrong (executor, manager, reconciliation).
ERROR_KINDS = (
    "reconcile_failed", "observe_failed", "order_abandoned", "order_unknown",
    "protection_failed", "record_failed", "exchange_rejected", "stop_above_market",
    "exit_deferred",
)  # fmt: skip
EVENT_WINDOW = 5000  # recent events searched for the start, the pause flag and the last error


@dataclass(frozen=True)
class CandleAge:
    """The last stored candle of a symbol: when it closed and how long ago."""

    symbol: str
    closed_at: datetime | None
    age_s: float | None


@dataclass(frozen=True)
class LastError:
    ts: datetime
    kind: str
    message: str


@dataclass(frozen=True)
class StatusReport:
    """`/status`: the monitor's one screen (see the README's "Operating from the CLI")."""

    bot: str
    mode: str
    execution: str | None  # None: the loop never recorded a start in this store
    checked_at: datetime
    started_at: datetime | None
    heartbeat_at: datetime | None
    heartbeat_status: str | None
    candles: tuple[CandleAge, ...]
    positions: tuple[OpenPosition, ...]
    today_realized_pnl: float
    paused: bool
    pending_controls: tuple[str, ...]  # requests the loop has not applied yet
    last_error: LastError | None
    status_file: str
    status_file_written_at: datetime | None

    @property
    def uptime_s(self) -> float | None:
        """Seconds since the loop started, while it is running (None after `stopped`)."""
        if self.started_at is None or self.heartbeat_status == "stopped":
            return None
        return (self.checked_at - self.started_at).total_seconds()

    @property
    def heartbeat_age_s(self) -> float | None:
        if self.heartbeat_at is None:
            return None
        return (self.checked_at - self.heartbeat_at).total_seconds()

    @property
    def unrealized_pnl(self) -> float:
        return sum(p.unrealized_pnl or 0.0 for p in self.positions)


def _describe(request: ControlRequest) -> str:
    what = request.action.replace("_", "-")
    if request.action == "force_exit":
        what += f" {request.symbol or 'all'}"
    return f"{what} (by {request.requested_by or '?'})"


def paused_now(ctx: ControlContext, events: Any = None) -> bool:
    """The pause flag as the loop last applied it (the executor's `_restore_pause` rule)."""
    events = ctx.store.events(ctx.bot, limit=EVENT_WINDOW) if events is None else events
    for kind in reversed(events["kind"].to_list()):
        if kind in ("control_pause", "control_resume"):
            return kind == "control_pause"
    return False


def paused_after_pending(ctx: ControlContext) -> tuple[bool, list[ControlRequest]]:
    """The pause flag once the pending requests are applied, and those requests."""
    pending = ctx.store.pending_controls(ctx.bot)
    return apply_controls(paused_now(ctx), pending, ()).paused, pending


def _candle_ages(ctx: ControlContext, symbols: tuple[str, ...], now: datetime) -> list[CandleAge]:
    tf = parse_timeframe(ctx.timeframe)
    ages = []
    for symbol in symbols:
        opened = ctx.store.latest_candle_ts(ctx.venue, symbol, ctx.timeframe)
        closed = None if opened is None else tf.add(opened, 1)
        ages.append(CandleAge(symbol, closed, None if closed is None else
                              (now - closed).total_seconds()))  # fmt: skip
    return ages


def status(ctx: ControlContext) -> StatusReport:
    """The live loop's state as the store records it, checked at `ctx.now()`."""
    now = ctx.now()
    events = ctx.store.events(ctx.bot, limit=EVENT_WINDOW)
    started = None
    last_error = None
    for row in reversed(events.rows(named=True)):
        if started is None and row["kind"] == STARTED:
            started = row
        if last_error is None and row["kind"] in ERROR_KINDS:
            last_error = LastError(row["ts"], row["kind"], row["message"])
        if started is not None and last_error is not None:
            break
    plan = json.loads(started["data"]) if started is not None else {}
    symbols = tuple(plan.get("symbols") or ctx.symbols)
    # The loop's own flags (`awan live --timeframe`) over the config file's.
    ctx = dataclasses.replace(ctx, timeframe=plan.get("timeframe") or ctx.timeframe)
    beat = ctx.store.last_heartbeat(ctx.bot)
    pending = ctx.store.pending_controls(ctx.bot)
    path = status_path(ctx.home, ctx.bot)
    written = datetime.fromtimestamp(path.stat().st_mtime, now.tzinfo) if path.exists() else None
    return StatusReport(
        bot=ctx.bot,
        mode=plan.get("mode", ctx.mode),
        execution=plan.get("execution"),
        checked_at=now,
        started_at=started["ts"] if started is not None else None,
        heartbeat_at=beat[0] if beat else None,
        heartbeat_status=beat[1] if beat else None,
        candles=tuple(_candle_ages(ctx, symbols, now)),
        positions=tuple(open_positions(ctx)),
        today_realized_pnl=today_pnl(ctx),
        paused=paused_now(ctx, events),
        pending_controls=tuple(_describe(r) for r in pending),
        last_error=last_error,
        status_file=str(path),
        status_file_written_at=written,
    )


@dataclass(frozen=True)
class CurrencyBalance:
    currency: str
    free: float
    used: float

    @property
    def total(self) -> float:
        return self.free + self.used


@dataclass(frozen=True)
class BalanceReport:
    """`/balance`: per currency; `source` says whether the venue or the fills were asked."""

    mode: str
    source: str  # "venue" (a live account) or "fills" (sim/paper: start + recorded fills)
    currencies: tuple[CurrencyBalance, ...]


def balance(ctx: ControlContext) -> BalanceReport:
    """A live account asks the exchange; the sim and paper accounts exist only as their
    configured start plus the fills in the store (what the paper connector itself restores)."""
    if ctx.is_live:
        exchange = ctx.exchange()
        assert exchange is not None, "a live context always has an exchange factory"
        fetched = exchange.fetch_balance()
        names = sorted(set(fetched.free) | set(fetched.used))
        rows = [CurrencyBalance(c, fetched.free.get(c, 0.0), fetched.used.get(c, 0.0))
                for c in names]  # fmt: skip
        return BalanceReport(ctx.mode, "venue", tuple(r for r in rows if r.total))
    from awan_trading.exchange.paper import balances_from_fills

    fills = ctx.store.fills(exchange=ctx.account)
    amounts = balances_from_fills(ctx.starting_balance, fills, ctx.account)
    rows = [CurrencyBalance(c, a, 0.0) for c, a in sorted(amounts.items()) if abs(a) > 1e-12]
    return BalanceReport(ctx.mode, "fills", tuple(rows))


def age(seconds: float | None) -> str:
    """`42s`, `5m`, `3h 2m`, `2d 4h`: ages for people, not machines."""
    if seconds is None:
        return "never"
    span = timedelta(seconds=max(0.0, seconds))
    days, rest = span.days, span.seconds
    hours, minutes = rest // 3600, rest % 3600 // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m"
    return f"{rest}s"
