"""Backtest plots draw a decimated line that keeps every bucket's extremes, spikes included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from awan_trading.backtest.plots import (
    MAX_COLUMNS,
    equity_figure,
    minmax_decimate,
    plot_equity,
    plot_trades,
    trades_figure,
)

YEAR_1M = 525_600
MAX_DRAWN = 2 * MAX_COLUMNS + 2  # a low and a high per bucket, plus both ends


def _minutes(n: int) -> np.ndarray:
    start = np.datetime64("2023-01-01T00:00", "ms")
    return start + np.arange(n) * np.timedelta64(60_000, "ms")


def test_a_one_bar_spike_and_dip_survive_a_year_of_1m() -> None:
    x = _minutes(YEAR_1M)
    y = 100.0 + np.sin(np.arange(YEAR_1M) / 5_000.0)
    y[123_457] = 250.0  # one candle's wick
    y[400_001] = 10.0  # one flash crash
    dx, dy = minmax_decimate(x, y)
    assert dy.size <= MAX_DRAWN
    assert (dx[dy == 250.0] == x[123_457]).all() and (dy == 250.0).sum() == 1
    assert (dx[dy == 10.0] == x[400_001]).all() and (dy == 10.0).sum() == 1
    assert dx[0] == x[0] and dx[-1] == x[-1]
    assert (np.diff(dx) > np.timedelta64(0, "ms")).all()  # in order, no point twice


@pytest.mark.parametrize("n", [10_007, 20_000, 2 * 100 + 1])
def test_every_bucket_keeps_its_min_and_max(n: int) -> None:
    """The kept points of each bucket have exactly the bucket's extremes: the envelope the
    full series draws in that pixel column."""
    rng = np.random.default_rng(n)
    y = rng.normal(size=n).cumsum()
    x = np.arange(n)
    columns = 100
    dx, dy = minmax_decimate(x, y, columns=columns)
    assert dy.size <= 2 * columns + 2
    size = -(-n // columns)
    for start in range(0, n, size):
        kept = dy[(dx >= start) & (dx < start + size)]
        assert kept.min() == y[start : start + size].min()
        assert kept.max() == y[start : start + size].max()
    np.testing.assert_array_equal(y[dx], dy)  # real points, not averages


def test_short_series_are_drawn_whole() -> None:
    x, y = np.arange(2 * MAX_COLUMNS), np.arange(2 * MAX_COLUMNS, dtype=float)
    dx, dy = minmax_decimate(x, y)
    assert dx is x and dy is y


@pytest.fixture(scope="module")
def year_frame() -> pl.DataFrame:
    n = YEAR_1M
    ts = pl.datetime_range(
        datetime(2023, 1, 1, tzinfo=UTC),
        datetime(2023, 1, 1, tzinfo=UTC) + timedelta(minutes=n - 1),
        "1m",
        time_unit="ms",
        eager=True,
    )
    close = 100.0 + np.sin(np.arange(n) / 3_000.0)
    close[77_777] = 180.0
    return pl.DataFrame({"symbol": "BTC/USDT", "ts": ts, "close": close, "equity": close * 100})


def test_a_year_of_1m_draws_a_few_thousand_points_per_line(year_frame: pl.DataFrame) -> None:
    trades = pl.DataFrame(
        {
            "symbol": ["BTC/USDT"],
            "entry_ts": [year_frame["ts"][10]],
            "entry_price": [100.0],
            "exit_ts": [year_frame["ts"][500]],
            "exit_price": [101.0],
        }
    )
    chart = trades_figure(year_frame, trades)
    (price,) = chart.axes[0].lines
    assert len(price.get_ydata()) <= MAX_DRAWN
    assert max(price.get_ydata()) == 180.0  # the spike is drawn
    equity = equity_figure(year_frame.select("ts", "equity"))
    (curve,) = equity.axes[0].lines
    assert len(curve.get_ydata()) <= MAX_DRAWN
    assert max(curve.get_ydata()) == 18_000.0
    (drawdown,) = equity.axes[1].collections
    assert len(drawdown.get_paths()[0].vertices) <= 2 * MAX_DRAWN + 3


def test_plots_write_pngs(tmp_path: Path, year_frame: pl.DataFrame) -> None:
    small = year_frame.head(5_000)
    no_trades = pl.DataFrame(
        schema={"symbol": pl.String, "entry_ts": small["ts"].dtype, "entry_price": pl.Float64,
                "exit_ts": small["ts"].dtype, "exit_price": pl.Float64}
    )  # fmt: skip
    for path in (
        plot_equity(small.select("ts", "equity"), tmp_path / "equity.png"),
        plot_trades(small, no_trades, tmp_path / "chart.png"),
    ):
        assert path.read_bytes().startswith(b"\x89PNG")
