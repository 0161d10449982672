"""Indicators over candle frames: per symbol, in one pass, plus the bounded-window live update.

A frame may hold many symbols. Instead of a polars group-by (whose per-group overhead
dominates with 100 symbols × 10k candles), the frame is checked to hold each symbol as one
contiguous, time-ordered run; the runs' offsets slice the numpy views of the price columns,
TA-Lib runs on each slice, and the results land in one preallocated array per output column,
which becomes a polars column in a single `with_columns`.

Row order: a frame whose symbols already form contiguous runs in non-decreasing `ts` keeps its
row order (no copy); any other frame is returned sorted by (symbol, ts), stably. Indicators run
over rows, not over a time grid: a gap (an exchange emits no candle for a minute without
trades) is simply not a row, exactly as TA-Lib, freqtrade and exchange charts treat it.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import polars as pl

from awan_trading.errors import DataError
from awan_trading.indicators.core import OUTPUT_COLUMNS, as_array, compute_all
from awan_trading.indicators.params import DEFAULT_PARAMS, IndicatorParams, warmup_candles

REQUIRED_COLUMNS: tuple[str, ...] = ("symbol", "ts", "high", "low", "close")


def _check_columns(frame: pl.DataFrame) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(
            f"indicators need column(s) {', '.join(missing)} (got {', '.join(frame.columns)})"
        )
    for col in ("symbol", "ts"):
        if frame[col].null_count():
            raise DataError(f"column '{col}' has {frame[col].null_count()} null value(s)")


def _run_starts(symbol: pl.Series) -> np.ndarray:
    """Offsets where the symbol changes, with 0 first and len(frame) appended."""
    starts = symbol.ne_missing(symbol.shift(1)).arg_true().to_numpy()
    return np.append(starts, len(symbol)).astype(np.int64)


def _is_grouped(frame: pl.DataFrame, bounds: np.ndarray) -> bool:
    """True when each symbol is one run and `ts` never decreases inside a run."""
    runs = len(bounds) - 1
    if runs > 1 and frame["symbol"].gather(bounds[:-1]).n_unique() != runs:
        return False
    ts = frame["ts"]
    if runs <= 1 and ts.flags["SORTED_ASC"]:
        return True
    ticks = ts.to_physical().to_numpy()
    backwards = np.flatnonzero(ticks[1:] < ticks[:-1]) + 1
    return bool(np.isin(backwards, bounds[:-1]).all())


def grouped(frame: pl.DataFrame) -> tuple[pl.DataFrame, np.ndarray]:
    """The frame with each symbol in one time-ordered run, and the run bounds.

    Sorting happens only when needed, so already-ordered frames keep their row order.
    """
    _check_columns(frame)
    if frame.height == 0:
        return frame, np.zeros(1, dtype=np.int64)
    bounds = _run_starts(frame["symbol"])
    if not _is_grouped(frame, bounds):
        frame = frame.sort("symbol", "ts", maintain_order=True)
        bounds = _run_starts(frame["symbol"])
    return frame, bounds


def _price_arrays(frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    try:
        return as_array(frame["close"]), as_array(frame["high"]), as_array(frame["low"])
    except DataError as exc:
        raise DataError(f"indicators: {exc}; {_first_bad_row(frame)}") from None


def _first_bad_row(frame: pl.DataFrame) -> str:
    """Name the symbol and time of the first null/NaN price, for the error message."""
    bad = pl.any_horizontal(
        pl.col(c).cast(pl.Float64).is_null() | pl.col(c).cast(pl.Float64).is_nan()
        for c in ("high", "low", "close")
    )
    row = frame.filter(bad).row(0, named=True)
    return f"first at symbol {row['symbol']} ts {row['ts']}"


def _with_outputs(frame: pl.DataFrame, outputs: list[np.ndarray]) -> pl.DataFrame:
    """Attach output arrays as columns, TA-Lib's NaN (not yet defined) becoming null."""
    return frame.with_columns(
        pl.Series(name, values, dtype=pl.Float64, nan_to_null=True)
        for name, values in zip(OUTPUT_COLUMNS, outputs, strict=True)
    )


def add_indicators(frame: pl.DataFrame, params: IndicatorParams | None = None) -> pl.DataFrame:
    """The frame's columns plus the twelve indicator columns, computed per symbol by TA-Lib.

    Each symbol's values equal TA-Lib on that symbol alone (the flat-price cases aside, see
    `awan_trading.indicators.core`); null before each indicator's look-back. Existing columns
    with an output name are replaced. Row order: see the module doc.
    """
    p = params or DEFAULT_PARAMS
    frame, bounds = grouped(frame)
    close, high, low = _price_arrays(frame)
    if len(bounds) <= 2:
        return _with_outputs(frame, compute_all(close, high, low, p))
    outputs = [np.empty(frame.height) for _ in OUTPUT_COLUMNS]
    for start, stop in pairwise(bounds.tolist()):
        parts = compute_all(close[start:stop], high[start:stop], low[start:stop], p)
        for out, part in zip(outputs, parts, strict=True):
            out[start:stop] = part
    return _with_outputs(frame, outputs)


def update_indicators(
    window: pl.DataFrame, params: IndicatorParams | None = None, *, rows: int = 1
) -> pl.DataFrame:
    """The last `rows` rows of each symbol with indicators, from a bounded tail only.

    For the live loop: each symbol's computation sees only its last
    `warmup_candles(params) + rows - 1` rows, so a tick costs the same however long the
    history is, and the result equals `add_indicators` over the full history to the tolerance
    documented in `awan_trading.indicators.params` (exactly, when the window holds the whole
    history). Rows come back grouped by symbol, in time order.
    """
    if rows < 1:
        raise DataError(f"rows must be >= 1 (got {rows})")
    p = params or DEFAULT_PARAMS
    frame, bounds = grouped(window)
    close, high, low = _price_arrays(frame)
    need = warmup_candles(p) + rows - 1
    keep: list[np.ndarray] = []
    parts: list[list[np.ndarray]] = []
    for start, stop in pairwise(bounds.tolist()):
        first = max(start, stop - need)
        computed = compute_all(close[first:stop], high[first:stop], low[first:stop], p)
        take = min(rows, stop - start)
        keep.append(np.arange(stop - take, stop))
        parts.append([values[-take:] for values in computed])
    index = np.concatenate(keep) if keep else np.zeros(0, dtype=np.int64)
    outputs = [
        np.concatenate([part[i] for part in parts]) if parts else np.empty(0)
        for i in range(len(OUTPUT_COLUMNS))
    ]
    return _with_outputs(frame[index], outputs)
