"""Profit, daily, performance and the last trades: folds over the closed trades.

Closed trades are derived from the fills (`domain.trades.closed_trades`) every time they are
asked for, never stored, so no reply can disagree with the order records. Unrealized PnL marks
each open position (`ControlContext.mark`); a position without any price is counted in
`unpriced` rather than valued at zero, so a total never looks better than it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from awan_trading.control.context import ControlContext, ControlError, Mark
from awan_trading.domain.positions import Position, epoch_ms
from awan_trading.domain.trades import ClosedTrade

NO_STRATEGY = "-"  # a trade whose entry signal is unknown (a manual order)


def load_trades(
    store: Any, symbol: str | None = None, exchange: str | None = None
) -> list[ClosedTrade]:
    """Every closed trade in the store, per exchange, with strategies and orders attached."""
    from awan_trading.domain.trades import closed_trades
    from awan_trading.execution.ledger import order_from_row
    from awan_trading.storage.rows import fill_from_row

    fills = store.fills(symbol=symbol, exchange=exchange)
    if fills.is_empty():
        return []
    signals = store.signals_after(0, limit=10_000_000).select("signal_id", "strategy")
    strategies = dict(signals.iter_rows())
    orders = [order_from_row(r) for r in store.orders().iter_rows(named=True)]
    trades = []
    for venue in sorted(fills["exchange"].unique().to_list()):
        rows = fills.filter(fills["exchange"] == venue)
        trades += closed_trades(
            [fill_from_row(r) for r in rows.iter_rows()],
            exchange=venue,
            orders=[o for o in orders if o.exchange == venue],
            strategies=strategies,
            dust_below=store.sell_minimums(venue),
        )
    return sorted(trades, key=lambda t: (t.exit_ts, t.symbol))


@dataclass(frozen=True)
class OpenPosition:
    """One open position valued at its mark (`unrealized_pnl` None: no price known)."""

    symbol: str
    strategy: str
    amount: float
    entry_price: float
    stake: float
    entry_ts: datetime
    stop_price: float | None
    target_price: float | None
    mark: Mark | None

    @property
    def unrealized_pnl(self) -> float | None:
        """Quote value at the mark minus the stake (entry fees included; exit fees not yet)."""
        return None if self.mark is None else self.amount * self.mark.price - self.stake

    @property
    def unrealized_pct(self) -> float | None:
        pnl = self.unrealized_pnl
        return None if pnl is None or self.stake <= 0 else pnl / self.stake


def _strategies(ctx: ControlContext) -> dict[str, str]:
    signals = ctx.store.signals_after(0, limit=10_000_000).select("signal_id", "strategy")
    return dict(signals.iter_rows())


def open_positions(ctx: ControlContext) -> list[OpenPosition]:
    """The venue's open positions, marked, in symbol order."""
    held: list[Position] = sorted(
        (p for p in ctx.store.positions(ctx.account) if p.is_open), key=lambda p: p.symbol
    )
    names = _strategies(ctx) if held else {}
    return [
        OpenPosition(
            symbol=p.symbol,
            strategy=names.get(p.signal_id or "", NO_STRATEGY),
            amount=p.amount,
            entry_price=p.entry_price,
            stake=p.stake,
            entry_ts=datetime.fromtimestamp(p.entry_ts / 1000, UTC),
            stop_price=p.stop_price or None,
            target_price=None if p.target_price == float("inf") else p.target_price,
            mark=ctx.mark(p.symbol),
        )
        for p in held
    ]


@dataclass(frozen=True)
class StrategyProfit:
    """Realized and unrealized PnL of one strategy (or of all: `strategy` "total")."""

    strategy: str
    trades: int
    wins: int
    realized_pnl: float
    fees: float
    open_positions: int
    unrealized_pnl: float
    unpriced: int  # open positions without any price: not in `unrealized_pnl`

    @property
    def win_rate(self) -> float | None:
        return None if self.trades == 0 else self.wins / self.trades


@dataclass(frozen=True)
class ProfitReport:
    """`/profit`: per strategy and total, realized over trades exited since `since`."""

    since: datetime | None
    strategies: tuple[StrategyProfit, ...]
    total: StrategyProfit


def _sum_profit(name: str, trades: list[ClosedTrade], held: list[OpenPosition]) -> StrategyProfit:
    priced = [p.unrealized_pnl for p in held if p.unrealized_pnl is not None]
    return StrategyProfit(
        strategy=name,
        trades=len(trades),
        wins=sum(1 for t in trades if t.pnl > 0),
        realized_pnl=sum(t.pnl for t in trades),
        fees=sum(t.fee for t in trades),
        open_positions=len(held),
        unrealized_pnl=sum(priced),
        unpriced=len(held) - len(priced),
    )


def profit(ctx: ControlContext, since: datetime | None = None) -> ProfitReport:
    """Realized PnL of the trades that exited at or after `since` (all when None), and the
    unrealized PnL of the positions open now, per strategy and in total."""
    trades = load_trades(ctx.store, exchange=ctx.account)
    if since is not None:
        trades = [t for t in trades if t.exit_ts >= epoch_ms(since)]
    held = open_positions(ctx)
    names = sorted({t.strategy or NO_STRATEGY for t in trades} | {p.strategy for p in held})
    rows = tuple(
        _sum_profit(
            name,
            [t for t in trades if (t.strategy or NO_STRATEGY) == name],
            [p for p in held if p.strategy == name],
        )
        for name in names
    )
    return ProfitReport(since, rows, _sum_profit("total", trades, held))


@dataclass(frozen=True)
class DayProfit:
    day: date
    trades: int
    realized_pnl: float
    fees: float


@dataclass(frozen=True)
class DailyReport:
    """`/daily`: realized PnL per UTC day, the last `days` days, newest first (today included)."""

    days: tuple[DayProfit, ...]

    @property
    def total(self) -> float:
        return sum(d.realized_pnl for d in self.days)


MAX_DAYS = 366


def check_count(value: int, what: str, limit: int) -> int:
    """A count a user typed: 1..limit, else one line naming the option."""
    if not 1 <= value <= limit:
        raise ControlError(f"{what} must be between 1 and {limit}, got {value}")
    return value


def daily(ctx: ControlContext, days: int = 7) -> DailyReport:
    check_count(days, "days", MAX_DAYS)
    today = ctx.now().astimezone(UTC).date()
    wanted = [today - timedelta(days=i) for i in range(days)]
    by_day: dict[date, list[ClosedTrade]] = {d: [] for d in wanted}
    for trade in load_trades(ctx.store, exchange=ctx.account):
        day = datetime.fromtimestamp(trade.exit_ts / 1000, UTC).date()
        if day in by_day:
            by_day[day].append(trade)
    return DailyReport(
        tuple(
            DayProfit(d, len(ts), sum(t.pnl for t in ts), sum(t.fee for t in ts))
            for d, ts in by_day.items()
        )
    )


@dataclass(frozen=True)
class PairPerformance:
    symbol: str
    trades: int
    wins: int
    realized_pnl: float
    pnl_pct: float  # realized PnL over the stakes of those trades


@dataclass(frozen=True)
class PerformanceReport:
    """`/performance`: realized PnL per pair, best first."""

    pairs: tuple[PairPerformance, ...]


def performance(ctx: ControlContext) -> PerformanceReport:
    by_symbol: dict[str, list[ClosedTrade]] = {}
    for trade in load_trades(ctx.store, exchange=ctx.account):
        by_symbol.setdefault(trade.symbol, []).append(trade)
    pairs = [
        PairPerformance(
            symbol,
            len(ts),
            sum(1 for t in ts if t.pnl > 0),
            sum(t.pnl for t in ts),
            sum(t.pnl for t in ts) / stake if (stake := sum(t.stake for t in ts)) > 0 else 0.0,
        )
        for symbol, ts in by_symbol.items()
    ]
    return PerformanceReport(tuple(sorted(pairs, key=lambda p: (-p.realized_pnl, p.symbol))))


@dataclass(frozen=True)
class TradesReport:
    """`/trades`: the last `limit` closed trades, newest first, and how many there are."""

    trades: tuple[ClosedTrade, ...]
    total: int


MAX_TRADES = 50


def last_trades(ctx: ControlContext, limit: int = 10) -> TradesReport:
    check_count(limit, "the number of trades", MAX_TRADES)
    trades = load_trades(ctx.store, exchange=ctx.account)
    return TradesReport(tuple(reversed(trades[-limit:])), len(trades))


def today_pnl(ctx: ControlContext) -> float:
    """Realized PnL of the trades that exited today (UTC)."""
    now = ctx.now().astimezone(UTC)
    start = epoch_ms(datetime(now.year, now.month, now.day, tzinfo=UTC))
    return sum(t.pnl for t in load_trades(ctx.store, exchange=ctx.account) if t.exit_ts >= start)
