"""Performance metrics from the equity curve and the trade list.

Annualisation: crypto trades every day of the year, so a year is 365 days of bars of the
backtest's timeframe (`bars_per_year = 365 * 24 h / timeframe`; 525,600 for 1m, 1095 for 8h,
365/3 for 3d, 365/7 for 1w, and 12 for calendar months). Sharpe and
Sortino use per-step simple returns of the equity curve, zero risk-free rate, scaled by
`sqrt(bars_per_year)`. CAGR uses wall-clock span (first open to last close). When several symbols
with gaps share a curve, a step is one timestamp of the union timeline, which for gap-free data
is one bar; sparse data makes the scaling approximate, as it does in every bar-based tool.
Undefined ratios (no losing trade for profit factor, zero variance, a CAGR beyond float range
from annualising a few lucky days) are `None`, which JSON
can carry, rather than infinities it cannot.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
from numba import njit

from awan_trading import jit_cache
from awan_trading.market.timeframes import YEAR_MS, Timeframe, parse_timeframe

jit_cache.install()  # before any cache=True function is decorated

METRIC_KEYS: tuple[str, ...] = (
    "total_return",
    "cagr",
    "sharpe",
    "sortino",
    "max_drawdown",
    "win_rate",
    "profit_factor",
    "avg_trade",
    "exposure",
    "trades",
)


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


@njit(cache=True)
def _curve_stats(
    equity: np.ndarray, exposure: np.ndarray, initial: float
) -> tuple[float, float, float, float, float]:
    """One pass over the curve: mean, sample std and downside deviation of per-step returns,
    max drawdown and time in market — a 1M-bar curve costs a few ms instead of a dozen numpy
    temporaries."""
    n = equity.size
    prev, peak, worst, total, downside, in_market = initial, initial, 0.0, 0.0, 0.0, 0
    for i in range(n):
        r = equity[i] / prev - 1.0
        total += r
        if r < 0.0:
            downside += r * r
        prev = equity[i]
        peak = max(peak, equity[i])
        worst = max(worst, 1.0 - equity[i] / peak)
        in_market += exposure[i] > 0.0
    mean = total / n
    prev, sq = initial, 0.0
    for i in range(n):
        r = equity[i] / prev - 1.0
        sq += (r - mean) * (r - mean)
        prev = equity[i]
    std = math.sqrt(sq / (n - 1)) if n > 1 else 0.0
    return mean, std, math.sqrt(downside / n), worst, in_market / n


def _cagr(growth: float, years: float) -> float | None:
    """Compound annual growth; None when a short, lucky run would annualise past a float."""
    if growth <= 0:
        return -1.0
    exponent = math.log(growth) / years
    return math.expm1(exponent) if exponent < 700 else None


def compute_metrics(
    equity: pl.DataFrame,
    trades: pl.DataFrame,
    initial_cash: float,
    timeframe: Timeframe | str,
) -> dict:
    """The metric dict (`METRIC_KEYS`) plus `final_equity`; fractions, not percentages.

    `max_drawdown` is positive (0.12 = the curve fell 12 % below its running peak); `exposure`
    is the share of timestamps with at least one open position (backtesting.py's exposure time);
    `avg_trade` is the mean per-trade return after fees. `timeframe` is the bars' timeframe,
    which sets `bars_per_year` and where the last bar closes.
    """
    tf = parse_timeframe(timeframe)
    eq = equity.get_column("equity").to_numpy()
    out: dict = dict.fromkeys(METRIC_KEYS)
    out["trades"] = trades.height
    out["final_equity"] = float(eq[-1]) if eq.size else initial_cash
    out["total_return"] = out["final_equity"] / initial_cash - 1.0
    if eq.size:
        ts = equity.get_column("ts").dt.epoch("ms").to_numpy()
        years = (tf.next_open_ms(int(ts[-1])) - int(ts[0])) / YEAR_MS
        growth = out["final_equity"] / initial_cash
        out["cagr"] = _cagr(growth, years)
        exposure = equity.get_column("exposure").to_numpy()
        mean, std, downside, drawdown, in_market = _curve_stats(eq, exposure, float(initial_cash))
        scale = math.sqrt(tf.periods_per_year)
        out["sharpe"] = _finite(mean / std * scale) if std > 0 else None
        out["sortino"] = _finite(mean / downside * scale) if downside > 0 else None
        out["max_drawdown"] = drawdown
        out["exposure"] = in_market
    if trades.height:
        pnl = trades.get_column("pnl").to_numpy()
        out["win_rate"] = float(np.mean(pnl > 0))
        gains, losses = pnl[pnl > 0].sum(), -pnl[pnl < 0].sum()
        out["profit_factor"] = float(gains / losses) if losses > 0 else None
        out["avg_trade"] = float(trades.get_column("return").mean())
    else:
        out["win_rate"] = out["avg_trade"] = 0.0
    return out
