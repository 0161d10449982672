"""Turn a populated candle frame into a portfolio backtest: grid it, run the engine, label it.

Everything around the compiled loop is vectorized: the (symbol, ts) rows are scattered into a
(timestamp × symbol) grid with numpy fancy indexing (NaN where a symbol has no candle, so sparse
exchanges and symbols with different histories share one clock), and the engine's integer
results are turned back into timestamped, symbol-named tables in one pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from awan_trading.backtest.config import BacktestConfig
from awan_trading.backtest.engine import EXIT_REASONS, simulate
from awan_trading.backtest.metrics import compute_metrics
from awan_trading.errors import DataError
from awan_trading.execution.risk import DAY_MS
from awan_trading.market.schema import TS_DTYPE
from awan_trading.market.timeframes import parse_timeframe
from awan_trading.tolerance import PRICE_RTOL

TRADE_SCHEMA: dict[str, pl.DataType] = {
    "symbol": pl.String(),
    "entry_ts": TS_DTYPE,
    "entry_price": pl.Float64(),
    "exit_ts": TS_DTYPE,
    "exit_price": pl.Float64(),
    "amount": pl.Float64(),
    "stake": pl.Float64(),
    "pnl": pl.Float64(),
    "return": pl.Float64(),
    "exit_reason": pl.String(),
    "signal_ts": TS_DTYPE,
    "signal_id": pl.String(),
}
EQUITY_SCHEMA: dict[str, pl.DataType] = {
    "ts": TS_DTYPE,
    "equity": pl.Float64(),
    "cash": pl.Float64(),
    "exposure": pl.Float64(),
}
REQUIRED = ("symbol", "ts", "open", "high", "low", "close", "enter_long", "exit_long")


@dataclass(frozen=True)
class RiskExits:
    """Stop-loss, take-profit and trailing stop as fractions of the entry price; None = off."""

    stop_loss: float | None = 0.02
    take_profit: float | None = 0.04
    trailing_stop: float | None = None


@dataclass
class BacktestResult:
    """Trades, equity curve and metrics of one run (plus the populated frame, for charts)."""

    trades: pl.DataFrame
    equity: pl.DataFrame
    metrics: dict
    frame: pl.DataFrame = field(repr=False)


@dataclass(frozen=True)
class Grid:
    """Candles scattered onto one clock: `timeline[t]`, `symbols[s]`, arrays shaped (T, S)."""

    timeline: np.ndarray
    symbols: list[str]
    arrays: dict[str, np.ndarray]


def build_grid(frame: pl.DataFrame) -> Grid:
    """Scatter a (symbol, ts)-sorted frame onto the union timeline of its timestamps."""
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise DataError(f"backtest input lacks column(s) {', '.join(missing)}")
    if frame.is_empty():
        raise DataError("backtest input has no candles")
    has_score = "score" in frame.columns
    frame = frame.select(*REQUIRED, *(["score"] if has_score else []))
    sym = frame.get_column("symbol")
    single = bool((sym == sym[0]).all())
    if not (single and frame.get_column("ts").is_sorted()):
        frame = frame.sort("symbol", "ts")  # only the needed columns: the sort is the costly part
        sym = frame.get_column("symbol")
    ts = frame.get_column("ts").dt.epoch("ms").to_numpy()
    symbols = [sym[0]] if single else sym.unique(maintain_order=True).to_list()
    columns = {
        "open": frame.get_column("open"),
        "high": frame.get_column("high"),
        "low": frame.get_column("low"),
        "close": frame.get_column("close"),
        "enter_long": frame.get_column("enter_long").fill_null(False),
        "exit_long": frame.get_column("exit_long").fill_null(False),
        "score": frame.get_column("score").fill_null(0.0).fill_nan(0.0)
        if has_score
        else pl.Series(np.zeros(frame.height)),
    }
    if len(symbols) == 1:  # one symbol: its own timestamps are the clock, columns are the grid
        if np.any(np.diff(ts) <= 0):
            raise DataError(f"{symbols[0]}: duplicate candle timestamps")
        arrays = {k: np.ascontiguousarray(v.to_numpy()).reshape(-1, 1) for k, v in columns.items()}
        return Grid(timeline=ts, symbols=symbols, arrays=arrays)
    timeline = np.unique(ts)
    t_idx = np.searchsorted(timeline, ts)
    s_idx = sym.rle_id().to_numpy().astype(np.int64)
    if np.any((np.diff(t_idx) <= 0) & (np.diff(s_idx) == 0)):
        raise DataError("duplicate (symbol, ts) candles")
    shape = (timeline.size, len(symbols))
    arrays = {}
    for name, values in columns.items():
        is_flag = name in ("enter_long", "exit_long")
        grid = (
            np.zeros(shape, dtype=np.bool_)
            if is_flag
            else np.full(shape, np.nan if name != "score" else 0.0)
        )
        grid[t_idx, s_idx] = values.to_numpy()
        arrays[name] = grid
    return Grid(timeline=timeline, symbols=symbols, arrays=arrays)


def backtest_frame(
    frame: pl.DataFrame,
    *,
    timeframe: str,
    config: BacktestConfig | None = None,
    exits: RiskExits | None = None,
    signal_ids: object | None = None,
) -> BacktestResult:
    """Backtest a frame that already has `enter_long` / `exit_long` (and optionally `score`).

    `signal_ids` is a `SignalContext` (anything with `.id(symbol, ts_ms, side)`) used to label
    each trade with the id of the `buy` signal that opened it; without it the column is null.
    """
    config = config or BacktestConfig()
    exits = exits or RiskExits()
    tf = parse_timeframe(timeframe)  # an unknown timeframe fails before the simulation runs
    grid = build_grid(frame)
    a = grid.arrays
    rules = [config.rules_for(symbol) for symbol in grid.symbols]
    tr_i, tr_f, equity, cash, exposure = simulate(
        a["open"], a["high"], a["low"], a["close"], a["enter_long"], a["exit_long"], a["score"],
        float(config.initial_cash), float(config.fee), float(config.slippage),
        float(exits.stop_loss or 0.0), float(exits.take_profit or 0.0), float(exits.trailing_stop or 0.0),
        float(config.effective_stake_fraction), float(config.stake_amount or 0.0),
        int(config.max_open_positions),
        int(a["enter_long"].sum()) + 1,
        grid.timeline // DAY_MS, float(config.max_position_quote or 0.0), float(config.max_daily_loss or 0.0),
        np.array([r.amount_increment for r in rules], dtype=np.float64),
        np.array([r.min_amount for r in rules], dtype=np.float64),
        np.array([r.min_notional for r in rules], dtype=np.float64),
        np.array([r.price_increment for r in rules], dtype=np.float64),
        PRICE_RTOL,
    )  # fmt: skip
    trades = _trades_table(grid, tr_i, tr_f, signal_ids)
    curve = pl.DataFrame(
        {"ts": grid.timeline, "equity": equity, "cash": cash, "exposure": exposure}
    ).with_columns(pl.col("ts").cast(pl.Datetime("ms")).dt.replace_time_zone("UTC"))
    metrics = compute_metrics(curve, trades, config.initial_cash, tf)
    return BacktestResult(
        trades=trades, equity=curve.cast(EQUITY_SCHEMA), metrics=metrics, frame=frame
    )  # type: ignore[arg-type]


def _to_ts(values: np.ndarray) -> pl.Series:
    return pl.Series(values, dtype=pl.Int64).cast(pl.Datetime("ms")).dt.replace_time_zone("UTC")


def _trades_table(
    grid: Grid, tr_i: np.ndarray, tr_f: np.ndarray, signal_ids: object | None
) -> pl.DataFrame:
    symbols = (
        np.array(grid.symbols, dtype=object)[tr_i[:, 0]]
        if tr_i.size
        else np.array([], dtype=object)
    )
    signal_ms = grid.timeline[tr_i[:, 1]]
    stake, proceeds = tr_f[:, 3], tr_f[:, 4]
    ids = (
        [signal_ids.id(s, int(ms), "buy") for s, ms in zip(symbols, signal_ms, strict=True)]  # type: ignore[attr-defined]
        if signal_ids is not None
        else [None] * len(symbols)
    )
    trades = pl.DataFrame(
        {
            "symbol": pl.Series(symbols.tolist(), dtype=pl.String),
            "entry_ts": _to_ts(grid.timeline[tr_i[:, 2]]),
            "entry_price": tr_f[:, 0],
            "exit_ts": _to_ts(grid.timeline[tr_i[:, 3]]),
            "exit_price": tr_f[:, 1],
            "amount": tr_f[:, 2],
            "stake": stake,
            "pnl": proceeds - stake,
            "return": (proceeds - stake) / stake if stake.size else stake,
            "exit_reason": pl.Series([EXIT_REASONS[r] for r in tr_i[:, 4]], dtype=pl.String),
            "signal_ts": _to_ts(signal_ms),
            "signal_id": pl.Series(ids, dtype=pl.String),
        }
    )
    return trades.cast(TRADE_SCHEMA).sort("entry_ts", "symbol")  # type: ignore[arg-type]
