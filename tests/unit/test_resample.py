from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from awan_trading.market.resample import resample_candles
from awan_trading.market.schema import CANDLE_COLUMNS, to_candles
from awan_trading.market.timeframes import TimeframeError, parse_timeframe

START = datetime(2024, 1, 1, tzinfo=UTC)
DAY3 = timedelta(days=3)


def candles(minutes: list[int], symbol: str = "BTC/USDT", base: float = 100.0) -> pl.DataFrame:
    """1m candles at the given minute offsets with distinct, valid OHLCV values."""
    rows = []
    for i, m in enumerate(minutes):
        o = base + i
        c = o + (0.5 if i % 2 else -0.5)
        rows.append(
            {
                "symbol": symbol,
                "ts": START + timedelta(minutes=m),
                "open": o,
                "high": max(o, c) + 1,
                "low": min(o, c) - 1,
                "close": c,
                "volume": float(i + 1),
            }
        )
    return to_candles(pl.DataFrame(rows))


def test_real_1m_resampled_to_5m_reproduces_the_exchange_5m_file(xrp_1m, xrp_5m):
    result = resample_candles(xrp_1m, "1m", "5m")
    assert result.height == 706
    assert result.equals(to_candles(xrp_5m))


def test_real_30m_resampled_to_4h_and_1d_are_consistent(btc_30m):
    h4 = resample_candles(btc_30m, "30m", "4h")
    d1_direct = resample_candles(btc_30m, "30m", "1d")
    d1_via_4h = resample_candles(
        h4, "4h", "1d", data_end=btc_30m["ts"].max() + timedelta(minutes=30)
    )
    # Volumes are sums of sums in a different order: equal up to float rounding.
    assert d1_direct.drop("volume").equals(d1_via_4h.drop("volume"))
    assert d1_direct["volume"].to_list() == pytest.approx(d1_via_4h["volume"].to_list(), rel=1e-12)
    assert (h4["ts"].dt.epoch("ms") % parse_timeframe("4h").ms == 0).all()


def test_still_forming_last_bucket_is_dropped_but_inner_holes_are_not():
    # 0..59 has holes at 10-19 (no trades), 60..89 is the forming second hour.
    minutes = [m for m in range(90) if not 10 <= m < 20]
    result = resample_candles(candles(minutes), "1m", "1h")
    assert result["ts"].to_list() == [START]
    assert result["volume"][0] == sum(range(1, 51))
    # An explicit end of data says the hour is over even if its last minutes had no trades.
    sparse = resample_candles(
        candles(list(range(0, 45))), "1m", "1h", data_end=START + timedelta(hours=1)
    )
    assert sparse.height == 1


def test_symbols_are_resampled_independently():
    frame = pl.concat(
        [candles(list(range(120)), "A/USDT"), candles(list(range(60)), "B/USDT", 50.0)]
    )
    result = resample_candles(frame, "1m", "1h")
    assert result.group_by("symbol").len().sort("symbol")["len"].to_list() == [2, 1]


def test_non_multiple_target_is_refused():
    with pytest.raises(TimeframeError, match="not a whole multiple"):
        resample_candles(candles([0, 1, 2]), "3m", "5m")


@st.composite
def sparse_series(draw):
    present = draw(st.lists(st.booleans(), min_size=1, max_size=400))
    minutes = [i for i, keep in enumerate(present) if keep] or [0]
    return candles(minutes)


@settings(max_examples=60, deadline=None)
@given(sparse_series(), st.sampled_from(["5m", "15m", "1h"]))
def test_resampling_invariants(frame, target):
    tf = parse_timeframe(target)
    result = resample_candles(frame, "1m", target)
    data_end = frame["ts"].max() + timedelta(minutes=1)
    assert result.columns == CANDLE_COLUMNS
    # Every bucket is on the grid, complete, and internally consistent.
    assert (result["ts"].dt.epoch("ms") % tf.ms == 0).all()
    assert (result["ts"] + tf.delta <= data_end).all()
    consistent = (pl.col("high") >= pl.max_horizontal("open", "close")) & (
        pl.col("low") <= pl.min_horizontal("open", "close")
    )
    assert result.select(consistent.all()).item() in (True, None)
    # Volume is conserved over the complete buckets.
    covered_end = result["ts"].max() + tf.delta if result.height else START
    assert result["volume"].sum() == frame.filter(pl.col("ts") < covered_end)["volume"].sum()
    # Resampling in two steps equals resampling in one.
    via_5m = resample_candles(resample_candles(frame, "1m", "5m"), "5m", target, data_end=data_end)
    assert via_5m.equals(result)


# --- 8h, 3d, 1w and 1M ---------------------------------------------------------------------


def daily(first: datetime, days: int, symbol: str = "BTC/USDT") -> pl.DataFrame:
    """`days` consecutive 1d candles from `first` with distinct, valid values."""
    frame = candles([i * 1440 for i in range(days)], symbol)
    return frame.with_columns(ts=pl.col("ts") - START + first)


def by_hand(frame: pl.DataFrame, key: pl.Expr) -> pl.DataFrame:
    """OHLCV aggregated per `key` (a ts expression), written without the timeframe grid."""
    return (
        frame.sort("ts")
        .group_by(key.alias("ts"), maintain_order=True)
        .agg(
            pl.col("open").first(),
            pl.col("high").max(),
            pl.col("low").min(),
            pl.col("close").last(),
            pl.col("volume").sum(),
            pl.col("symbol").first(),
        )
        .select(CANDLE_COLUMNS)
    )


@pytest.fixture(scope="module")
def winter_minutes() -> pl.DataFrame:
    """Sim 1m candles from 2024-01-01 to 2024-03-20: January, a leap February, part of March."""
    from awan_trading.exchange.sim_market import SimMarket

    return SimMarket(3).candles("BTC/USDT", "1m", START, datetime(2024, 3, 20, tzinfo=UTC))


def test_1m_to_1M_equals_an_aggregation_by_calendar_month(winter_minutes):
    result = resample_candles(winter_minutes, "1m", "1M")
    month = pl.datetime(pl.col("ts").dt.year(), pl.col("ts").dt.month(), 1, time_zone="UTC")
    expected = by_hand(winter_minutes, month.dt.cast_time_unit("ms"))
    # March is still forming (data ends on the 20th): only January and February are emitted.
    assert result["ts"].to_list() == [START, datetime(2024, 2, 1, tzinfo=UTC)]
    assert_frame_equal(result, expected.head(2), check_exact=False, rel_tol=1e-12)
    # February has 29 days of minutes in it, January 31.
    days = winter_minutes.group_by(pl.col("ts").dt.month()).len().sort("ts")["len"].to_list()
    assert days[:2] == [31 * 1440, 29 * 1440]
    # Once the data is said to cover March, March is complete even without its last minutes.
    covered = resample_candles(
        winter_minutes, "1m", "1M", data_end=datetime(2024, 4, 1, tzinfo=UTC)
    )
    assert covered["ts"].to_list()[-1] == datetime(2024, 3, 1, tzinfo=UTC)


def test_1h_to_8h_equals_1m_to_8h(winter_minutes):
    hours = resample_candles(winter_minutes, "1m", "1h")
    via_hours = resample_candles(hours, "1h", "8h")
    direct = resample_candles(winter_minutes, "1m", "8h")
    assert direct.height == via_hours.height == (31 + 29 + 19) * 3
    assert_frame_equal(via_hours, direct, check_exact=False, rel_tol=1e-12)
    assert set(direct["ts"].dt.hour().to_list()) == {0, 8, 16}


def test_1d_to_3d_uses_the_epoch_grid_and_1d_to_1w_mondays():
    days = daily(datetime(2024, 1, 1, tzinfo=UTC), 70)  # 2024-01-01 … 2024-03-10
    d3 = resample_candles(days, "1d", "3d")
    epoch_day = pl.col("ts").dt.epoch("d")
    assert (d3.select(epoch_day % 3 == 0).to_series()).all()
    # 2024-01-01 is epoch day 19723 = 3·6574 + 1, so its 3d candle opened on 2023-12-31.
    assert d3["ts"][0] == datetime(2023, 12, 31, tzinfo=UTC)
    three_day = (pl.col("ts") - pl.duration(days=(epoch_day % 3))).dt.cast_time_unit("ms")
    assert_frame_equal(d3, by_hand(days, three_day).filter(pl.col("ts") < d3["ts"][-1] + DAY3))
    weeks = resample_candles(days, "1d", "1w")
    assert set(weeks["ts"].dt.weekday().to_list()) == {1}  # polars: Monday is 1
    monday = pl.col("ts").dt.truncate("1w")
    assert weeks["ts"].to_list()[-1] == datetime(2024, 3, 4, tzinfo=UTC)  # week to the 10th
    assert_frame_equal(weeks, by_hand(days, monday))


@pytest.mark.parametrize(("source", "target"), [("3d", "1w"), ("1w", "1M"), ("3d", "1M")])
def test_grids_that_do_not_nest_are_refused(source, target):
    with pytest.raises(TimeframeError, match="not a whole multiple"):
        resample_candles(daily(datetime(2024, 1, 1, tzinfo=UTC), 3), source, target)
