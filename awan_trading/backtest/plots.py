"""Small PNGs of a backtest: the equity curve and price with entries and exits.

They go to files (CLI) and into Dagster metadata (UI), so they use the non-interactive Agg
backend, modest sizes and downsampled lines — a 1M-candle run must not produce a 1M-point plot.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

if TYPE_CHECKING:
    from matplotlib import pyplot

MAX_POINTS = 4_000
MAX_SYMBOLS = 4


def _pyplot() -> pyplot:
    """matplotlib on the Agg backend, imported on first use: it costs seconds, and most
    processes that import this module (Dagster run workers, the CLI) never draw."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _stride(n: int) -> int:
    return max(1, n // MAX_POINTS)


def plot_equity(equity: pl.DataFrame, path: Path) -> Path:
    """Equity (top) and drawdown from the running peak (bottom)."""
    step = _stride(equity.height)
    ts = equity.get_column("ts").to_numpy()
    eq = equity.get_column("equity").to_numpy()
    drawdown = eq / np.maximum.accumulate(eq) - 1.0 if eq.size else eq
    plt = _pyplot()
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(9, 4.5), dpi=80, sharex=True, height_ratios=(3, 1)
    )
    top.plot(ts[::step], eq[::step], color="tab:blue", linewidth=1)
    top.set_ylabel("equity")
    top.grid(alpha=0.3)
    bottom.fill_between(ts[::step], drawdown[::step] * 100, 0, color="tab:red", alpha=0.4)
    bottom.set_ylabel("drawdown %")
    bottom.grid(alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_trades(frame: pl.DataFrame, trades: pl.DataFrame, path: Path) -> Path:
    """Close price per symbol (up to four, most-traded first) with entry ▲ and exit ▼ markers."""
    counts = trades.group_by("symbol").len().sort("len", "symbol", descending=[True, False])
    symbols = counts.get_column("symbol").to_list()
    symbols += [
        s
        for s in frame.get_column("symbol").unique(maintain_order=True).to_list()
        if s not in symbols
    ]
    symbols = symbols[:MAX_SYMBOLS]
    plt = _pyplot()
    fig, axes = plt.subplots(
        len(symbols), 1, figsize=(9, 2.6 * len(symbols)), dpi=80, squeeze=False
    )
    for ax, symbol in zip(axes[:, 0], symbols, strict=True):
        prices = frame.filter(pl.col("symbol") == symbol)
        step = _stride(prices.height)
        ax.plot(
            prices.get_column("ts").to_numpy()[::step],
            prices.get_column("close").to_numpy()[::step],
            color="0.3",
            linewidth=0.8,
        )
        mine = trades.filter(pl.col("symbol") == symbol)
        ax.scatter(
            mine.get_column("entry_ts").to_numpy(),
            mine.get_column("entry_price").to_numpy(),
            marker="^",
            color="tab:green",
            s=24,
            label="entry",
            zorder=3,
        )
        ax.scatter(
            mine.get_column("exit_ts").to_numpy(),
            mine.get_column("exit_price").to_numpy(),
            marker="v",
            color="tab:red",
            s=24,
            label="exit",
            zorder=3,
        )
        ax.set_title(f"{symbol}: {mine.height} trades", fontsize=9)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(loc="upper left", fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
