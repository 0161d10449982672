"""Pre-trade checks: pure functions over a `RiskState` snapshot → None (go) or a `Refusal`.

The executor builds a `RiskState` from the store (positions, orders in flight, today's closed
trades, the equity snapshot at 00:00 UTC, the control table's pause flag) and asks
`check_entry` before sizing an entry and `check_exit` before closing a position. Nothing here
reads a clock or a database, so every rule is unit-tested with plain values.

Entries are checked in this order, and the first rule that fails is the refusal reported:
`live_not_confirmed`, `paused`, `position_open`, `max_open_positions`, `max_daily_loss`.
Exits are refused only for a symbol with nothing to sell: pausing, the daily loss limit and the
position limits never trap an open position, and stops keep running while paused.

**max_daily_loss counts realized PnL only** (closed trades whose exit falls on the current UTC
day, fees included), compared with the equity at the day's start: once
`-realized_today ≥ max_daily_loss × day_start_equity`, no new entry is allowed until 00:00 UTC.
Realized, not realized + unrealized, because (1) it is what the backtest can reproduce exactly —
an unrealized mark depends on tick prices a candle backtest never sees, and the parity
requirement is trade-for-trade; (2) it cannot flicker: a loss that has happened stays
happened, whereas an unrealized loss would block and unblock entries as prices move; (3) open
positions' downside is already bounded by their own stops. The backtest engine applies the same
`daily_loss_reached` when `BacktestConfig.max_daily_loss` is set; `backtest/engine.py` registers
it with numba there, so that the commands reading trades and positions through this module
(`awan trades`, `awan positions`) do not load numba.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

from awan_trading.config import RiskConfig
from awan_trading.execution.refusals import Refusal
from awan_trading.jitable import jitable

DAY_MS = 86_400_000


@jitable
def daily_loss_reached(
    realized_today: float, day_start_equity: float, max_daily_loss: float
) -> bool:
    """True once today's realized loss is at least `max_daily_loss` of the day's start equity
    (`max_daily_loss` of 0 disables the rule)."""
    return max_daily_loss > 0.0 and -realized_today >= max_daily_loss * day_start_equity


def utc_day(ts: datetime | int) -> date:
    """The UTC calendar day of an aware datetime or an epoch-milliseconds timestamp."""
    if isinstance(ts, int):
        return datetime.fromtimestamp(ts // DAY_MS * 86_400, tz=UTC).date()
    if ts.tzinfo is None:
        raise ValueError(f"utc_day needs an aware datetime, got naive {ts.isoformat()}")
    return ts.astimezone(UTC).date()


@dataclass(frozen=True)
class RiskState:
    """What the pre-trade checks need to know, as of one moment.

    `open_positions` are symbols holding a position; `pending_entries` are symbols with an entry
    order placed but not yet filled (not counting the entry being checked). `realized_pnl_today`
    and `day_start_equity` belong to the UTC `day`; `roll` starts a new day.
    """

    limits: RiskConfig
    day: date
    day_start_equity: float
    realized_pnl_today: float = 0.0
    open_positions: frozenset[str] = frozenset()
    pending_entries: frozenset[str] = frozenset()
    paused: bool = False
    exchange: str = "sim"
    live_confirmed: bool = False

    def roll(self, now: datetime | int, equity: float) -> RiskState:
        """The state for `now`: unchanged within the same UTC day; on a new day, realized PnL
        restarts at 0 and `equity` (marked at 00:00 UTC) becomes the day's start equity."""
        day = utc_day(now)
        if day == self.day:
            return self
        return replace(self, day=day, day_start_equity=equity, realized_pnl_today=0.0)

    def with_realized(self, pnl: float) -> RiskState:
        """After a trade closed today with `pnl` (proceeds − stake, fees included)."""
        return replace(self, realized_pnl_today=self.realized_pnl_today + pnl)

    @property
    def daily_loss_limit(self) -> float:
        """The realized loss (a positive quote amount) that stops entries for the day."""
        return self.limits.max_daily_loss * self.day_start_equity


def check_entry(symbol: str, state: RiskState) -> Refusal | None:
    """None if a new long in `symbol` may be opened now, else the first rule it breaks."""
    limits = state.limits
    if state.exchange.startswith("live:") and not state.live_confirmed:
        return Refusal(
            "live_not_confirmed",
            symbol,
            f"{symbol}: exchange {state.exchange} places real orders and live_confirmed is "
            "not set; entry refused",
            {"exchange": state.exchange},
        )
    if state.paused:
        return Refusal(
            "paused",
            symbol,
            f"{symbol}: trading is paused; new entries are refused until resume "
            "(exits and stops still run)",
        )
    if symbol in state.open_positions or symbol in state.pending_entries:
        held = "holds a position" if symbol in state.open_positions else "has an entry in flight"
        return Refusal(
            "position_open",
            symbol,
            f"{symbol}: already {held}; one position per symbol",
        )
    in_use = len(state.open_positions | state.pending_entries)
    if in_use >= limits.max_open_positions:
        return Refusal(
            "max_open_positions",
            symbol,
            f"{symbol}: {in_use} positions open or entering, max_open_positions is "
            f"{limits.max_open_positions}",
            {"in_use": in_use, "max_open_positions": limits.max_open_positions},
        )
    if daily_loss_reached(state.realized_pnl_today, state.day_start_equity, limits.max_daily_loss):
        return Refusal(
            "max_daily_loss",
            symbol,
            f"{symbol}: realized PnL today ({state.day.isoformat()} UTC) is "
            f"{state.realized_pnl_today:.10g}, at or beyond the max_daily_loss limit of "
            f"-{state.daily_loss_limit:.10g} ({limits.max_daily_loss:.4g} × day-start equity "
            f"{state.day_start_equity:.10g}); no new entries until 00:00 UTC",
            {
                "day": state.day.isoformat(),
                "realized_pnl_today": state.realized_pnl_today,
                "day_start_equity": state.day_start_equity,
                "max_daily_loss": limits.max_daily_loss,
            },
        )
    return None


def check_exit(symbol: str, state: RiskState) -> Refusal | None:
    """None if `symbol` holds a position to close; exits are allowed while paused or after the
    daily loss limit, because refusing them would only trap risk."""
    if symbol in state.open_positions:
        return None
    return Refusal("no_position", symbol, f"{symbol}: no open position to exit")
