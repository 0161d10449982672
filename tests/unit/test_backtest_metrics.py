"""Metrics on curves and trade lists whose answers are known by hand."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from awan_trading.backtest import METRIC_KEYS, compute_metrics


def curve(values: list[float], exposure: list[float] | None = None) -> pl.DataFrame:
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    return pl.DataFrame(
        {
            "ts": [t0 + timedelta(days=i) for i in range(len(values))],
            "equity": values,
            "cash": values,
            "exposure": exposure or [0.0] * len(values),
        }
    )


def trades(pnl: list[float], stake: float = 100.0) -> pl.DataFrame:
    return pl.DataFrame({"pnl": pnl, "return": [p / stake for p in pnl]})


def test_hand_computed_metrics() -> None:
    eq = [100.0, 110.0, 99.0, 121.0]
    m = compute_metrics(curve(eq, [0.0, 0.5, 0.2, 0.0]), trades([10.0, -5.0, 5.0]), 100.0, "1d")
    assert set(METRIC_KEYS) <= set(m)
    assert m["total_return"] == pytest.approx(0.21)
    assert m["max_drawdown"] == pytest.approx(0.1)
    assert m["win_rate"] == pytest.approx(2 / 3)
    assert m["profit_factor"] == pytest.approx(3.0)
    assert m["avg_trade"] == pytest.approx(10 / 300)
    assert m["exposure"] == pytest.approx(0.5)
    assert m["trades"] == 3
    rets = np.array([0.0, 0.1, -0.1, 22 / 99])
    assert m["sharpe"] == pytest.approx(rets.mean() / rets.std(ddof=1) * math.sqrt(365))
    downside = math.sqrt(np.mean(np.minimum(rets, 0) ** 2))
    assert m["sortino"] == pytest.approx(rets.mean() / downside * math.sqrt(365))
    assert m["cagr"] == pytest.approx(1.21 ** (365 / 4) - 1)


def test_undefined_ratios_are_none_not_infinite() -> None:
    m = compute_metrics(curve([100.0, 100.0, 100.0]), trades([1.0, 2.0]), 100.0, "1d")
    assert m["profit_factor"] is None
    assert m["sharpe"] is None and m["sortino"] is None
    assert m["max_drawdown"] == 0.0


def test_no_trades() -> None:
    m = compute_metrics(curve([100.0, 100.0]), trades([]), 100.0, "1d")
    assert (m["trades"], m["win_rate"], m["avg_trade"], m["total_return"]) == (0, 0.0, 0.0, 0.0)


@pytest.mark.parametrize(
    ("timeframe", "per_year"),
    [("1d", 365), ("8h", 1095), ("3d", 365 / 3), ("1w", 365 / 7), ("1M", 12)],
)
def test_ratios_are_annualised_by_the_timeframes_bars_per_year(timeframe, per_year) -> None:
    eq = [100.0, 110.0, 99.0, 121.0]
    daily = compute_metrics(curve(eq), trades([]), 100.0, "1d")
    m = compute_metrics(curve(eq), trades([]), 100.0, timeframe)
    # Same per-bar returns, different bars per year: the ratios scale by sqrt(bars per year).
    assert m["sharpe"] == pytest.approx(daily["sharpe"] * math.sqrt(per_year / 365))
    assert m["sortino"] == pytest.approx(daily["sortino"] * math.sqrt(per_year / 365))


def test_monthly_cagr_counts_calendar_months_to_the_last_close() -> None:
    months = [datetime(2023, m, 1, tzinfo=UTC) for m in range(1, 13)]  # Jan … Dec 2023
    curve_1m = pl.DataFrame(
        {"ts": months, "equity": [100.0] * 11 + [121.0], "cash": [0.0] * 12, "exposure": [0.0] * 12}
    )
    m = compute_metrics(curve_1m, trades([]), 100.0, "1M")
    # First open 2023-01-01, last close 2024-01-01: exactly one 365-day year.
    assert m["cagr"] == pytest.approx(0.21)
