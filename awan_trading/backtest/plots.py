"""Small PNGs of a backtest: the equity curve and price with entries and exits.

They go to files (CLI) and into Dagster metadata (UI), so they use modest sizes and decimated
lines: a year of 1m candles is 525,600 points, far more than the ~700 pixel columns a line is
drawn on, and matplotlib would spend most of a second laying out points nobody can see. Each
line keeps, per bucket of at most one pixel column, the bucket's lowest and highest point
(`minmax_decimate`) — unlike taking every k-th point, this keeps a one-candle spike or a
flash crash visible, and the drawn envelope is the one the full series would draw.

matplotlib is imported on first draw (it costs most of a second) and used through `Figure`
objects, not pyplot: no global figure registry, nothing to close, safe in Dagster's threads.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# Buckets per line: at least the pixel columns of the widest axis drawn here (9 in × 80 dpi),
# so no bucket spans two columns; a line draws at most 2 points per bucket plus its two ends.
MAX_COLUMNS = 1_000
MAX_SYMBOLS = 4


def minmax_decimate(
    x: np.ndarray, y: np.ndarray, columns: int = MAX_COLUMNS
) -> tuple[np.ndarray, np.ndarray]:
    """The points of (x, y) that are the minimum or maximum of their bucket, in order.

    The series is cut into `columns` runs of equal length; each run contributes its lowest and
    highest point (one point when they coincide), and the first and last points are kept, so
    the result spans the same range. Series of up to 2 × `columns` points are returned whole.
    """
    n = y.size
    if n <= 2 * columns:
        return x, y
    size = -(-n // columns)
    count = -(-n // size)
    # Pad the last, shorter run with its own last value, so every run is a row of `size`.
    padded = np.concatenate([y, np.full(count * size - n, y[-1])]).reshape(count, size)
    starts = np.arange(count) * size
    low = np.minimum(padded.argmin(axis=1) + starts, n - 1)
    high = np.minimum(padded.argmax(axis=1) + starts, n - 1)
    keep = np.unique(np.concatenate([low, high, [0, n - 1]]))
    return x[keep], y[keep]


def _figure(height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(9, height), dpi=80)


def _save(fig: Figure, path: Path) -> Path:
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path)  # a canvas-less Figure renders PNG with Agg
    return path


def equity_figure(equity: pl.DataFrame) -> Figure:
    """Equity (top) and drawdown from the running peak (bottom)."""
    ts = equity.get_column("ts").to_numpy()
    eq = equity.get_column("equity").to_numpy()
    drawdown = (eq / np.maximum.accumulate(eq) - 1.0) * 100 if eq.size else eq
    fig = _figure(4.5)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 1))
    top.plot(*minmax_decimate(ts, eq), color="tab:blue", linewidth=1)
    top.set_ylabel("equity")
    top.grid(alpha=0.3)
    dd_ts, dd = minmax_decimate(ts, drawdown)
    bottom.fill_between(dd_ts, dd, 0, color="tab:red", alpha=0.4)
    bottom.set_ylabel("drawdown %")
    bottom.grid(alpha=0.3)
    return fig


def trades_figure(frame: pl.DataFrame, trades: pl.DataFrame) -> Figure:
    """Close price per symbol (up to four, most-traded first) with entry ▲ and exit ▼ markers."""
    counts = trades.group_by("symbol").len().sort("len", "symbol", descending=[True, False])
    symbols = counts.get_column("symbol").to_list()
    symbols += [
        s
        for s in frame.get_column("symbol").unique(maintain_order=True).to_list()
        if s not in symbols
    ]
    symbols = symbols[:MAX_SYMBOLS]
    fig = _figure(2.6 * len(symbols))
    axes = fig.subplots(len(symbols), 1, squeeze=False)
    for ax, symbol in zip(axes[:, 0], symbols, strict=True):
        prices = frame.filter(pl.col("symbol") == symbol)
        ts, close = minmax_decimate(
            prices.get_column("ts").to_numpy(), prices.get_column("close").to_numpy()
        )
        ax.plot(ts, close, color="0.3", linewidth=0.8)
        mine = trades.filter(pl.col("symbol") == symbol)
        for when, price, marker, color, label in (
            ("entry_ts", "entry_price", "^", "tab:green", "entry"),
            ("exit_ts", "exit_price", "v", "tab:red", "exit"),
        ):
            ax.scatter(
                mine.get_column(when).to_numpy(),
                mine.get_column(price).to_numpy(),
                marker=marker,
                color=color,
                s=24,
                label=label,
                zorder=3,
            )
        ax.set_title(f"{symbol}: {mine.height} trades", fontsize=9)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(loc="upper left", fontsize=8)
    return fig


def plot_equity(equity: pl.DataFrame, path: Path) -> Path:
    """Write `equity_figure` as a PNG at `path`."""
    return _save(equity_figure(equity), path)


def plot_trades(frame: pl.DataFrame, trades: pl.DataFrame, path: Path) -> Path:
    """Write `trades_figure` as a PNG at `path`."""
    return _save(trades_figure(frame, trades), path)
