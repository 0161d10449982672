"""SimMarket: a pure function of (seed, symbol, minute), exact aggregation, sane and lively prices."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from awan_trading.errors import DataError
from awan_trading.exchange.sim_market import SimMarket
from awan_trading.market.resample import resample_candles
from awan_trading.market.schema import CANDLE_SCHEMA
from awan_trading.market.timeframes import parse_timeframe, to_epoch_ms
from awan_trading.market.validation import validate_candles

MIN = 60_000
DAY = 1440 * MIN
START = to_epoch_ms(datetime(2024, 1, 1, tzinfo=UTC))
WEEK = 7 * DAY


@pytest.fixture(scope="module")
def market() -> SimMarket:
    return SimMarket(seed=42)


@pytest.fixture(scope="module")
def week(market: SimMarket) -> pl.DataFrame:
    return market.candles_1m("BTC/USDT", START, START + WEEK)


def _bytes(frame: pl.DataFrame) -> bytes:
    """The frame's values as bytes, so 'equal' means byte-identical (-0.0 and 0.0 differ)."""
    numbers = frame.select(pl.col("ts").dt.epoch("ms").cast(pl.Float64), pl.exclude("symbol", "ts"))
    return "|".join(frame["symbol"]).encode() + numbers.to_numpy().tobytes()


def _chunked(market: SimMarket, symbol: str, edges: list[int]) -> pl.DataFrame:
    parts = [market.candles_1m(symbol, a, b) for a, b in itertools.pairwise(edges)]
    return pl.concat(parts)


# --- determinism ------------------------------------------------------------------------


def test_week_has_every_minute_in_the_candle_schema(week: pl.DataFrame) -> None:
    assert week.schema == pl.Schema(CANDLE_SCHEMA)
    assert week.height == 7 * 1440
    ts = week["ts"].dt.epoch("ms").to_numpy()
    assert ts[0] == START
    assert (np.diff(ts) == MIN).all()
    assert (week["symbol"] == "BTC/USDT").all()


def test_week_in_one_call_equals_week_in_day_chunks(market: SimMarket, week: pl.DataFrame) -> None:
    days = _chunked(market, "BTC/USDT", [START + d * DAY for d in range(8)])
    assert days.equals(week)
    assert _bytes(days) == _bytes(week)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cuts=st.lists(st.integers(min_value=1, max_value=7 * 1440 - 1), max_size=25, unique=True))
def test_week_in_random_chunks_is_byte_identical(
    market: SimMarket, week: pl.DataFrame, cuts: list[int]
) -> None:
    edges = [START, *(START + c * MIN for c in sorted(cuts)), START + WEEK]
    chunked = _chunked(market, "BTC/USDT", edges)
    assert _bytes(chunked) == _bytes(week)


def test_a_fresh_instance_gives_the_same_candles(week: pl.DataFrame) -> None:
    assert SimMarket(seed=42).candles_1m("BTC/USDT", START, START + WEEK).equals(week)


def test_candles_do_not_depend_on_the_process_hash_seed(week: pl.DataFrame) -> None:
    """Python salts `hash()` per process; the sim must not use it anywhere."""
    code = (
        "from awan_trading.exchange.sim_market import SimMarket;"
        f"f = SimMarket(42).candles_1m('BTC/USDT', {START}, {START + DAY});"
        "print(f['close'].sum(), f['volume'].sum(), f['high'].max())"
    )
    outputs = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        result = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        outputs.add(result.stdout)
    day = week.head(1440)
    assert outputs == {f"{day['close'].sum()} {day['volume'].sum()} {day['high'].max()}\n"}


def test_seeds_and_symbols_give_different_markets(week: pl.DataFrame) -> None:
    other_seed = SimMarket(seed=43).candles_1m("BTC/USDT", START, START + WEEK)
    assert not np.array_equal(other_seed["close"].to_numpy(), week["close"].to_numpy())
    eth = SimMarket(seed=42).candles_1m("ETH/USDT", START, START + WEEK)
    r_btc = np.diff(np.log(week["close"].to_numpy()))
    r_eth = np.diff(np.log(eth["close"].to_numpy()))
    assert abs(np.corrcoef(r_btc, r_eth)[0, 1]) < 0.1  # independent minute to minute


def test_unaligned_range_covers_minutes_whose_open_lies_in_it(market: SimMarket) -> None:
    frame = market.candles_1m("BTC/USDT", START + 30_000, START + 5 * MIN + 1)
    ts = frame["ts"].dt.epoch("ms").to_list()
    assert ts == [START + m * MIN for m in range(1, 6)]
    assert market.candles_1m("BTC/USDT", START + 10, START + 20).is_empty()


def test_price_at_is_the_open_of_the_containing_minute(
    market: SimMarket, week: pl.DataFrame
) -> None:
    for minute in (0, 1, 777, 2048, 7 * 1440 - 1):
        when = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=minute, seconds=59)
        assert market.price_at("BTC/USDT", when) == week["open"][minute]


# --- higher timeframes ------------------------------------------------------------------


@pytest.mark.parametrize("timeframe", ["5m", "1h", "4h", "1d"])
def test_higher_timeframes_are_the_1m_candles_aggregated(
    market: SimMarket, week: pl.DataFrame, timeframe: str
) -> None:
    direct = market.candles("BTC/USDT", timeframe, START, START + WEEK)
    expected = resample_candles(week, "1m", timeframe)
    assert direct.height == expected.height > 0
    assert direct.equals(expected)


@pytest.mark.parametrize(
    ("timeframe", "start", "end", "opens"),
    [
        ("8h", datetime(2024, 2, 28, 5), datetime(2024, 3, 1, 9), 7),  # over the leap day
        ("3d", datetime(2024, 1, 1), datetime(2024, 1, 20), 6),  # epoch grid: Jan 3 … Jan 18
        ("1w", datetime(2024, 1, 2), datetime(2024, 2, 6), 5),  # Mondays Jan 8 … Feb 5
        ("1M", datetime(2024, 1, 15), datetime(2024, 4, 2), 3),  # Feb, Mar, Apr (leap Feb)
    ],
)
def test_long_timeframes_are_exact_deterministic_and_random_access(
    market: SimMarket, timeframe: str, start: datetime, end: datetime, opens: int
) -> None:
    tf = parse_timeframe(timeframe)
    lo, hi = start.replace(tzinfo=UTC), end.replace(tzinfo=UTC)
    got = market.candles("SOL/USDT", timeframe, lo, hi)
    assert got["ts"].to_list() == tf.opens(lo, hi) and got.height == opens
    # Each candle is its own minutes aggregated, whole (the last one runs past `end`).
    first, stop = tf.ceil_ms(to_epoch_ms(lo)), tf.ceil_ms(to_epoch_ms(hi))
    minutes = market.candles_1m("SOL/USDT", first, stop)
    assert got.equals(resample_candles(minutes, "1m", timeframe))
    assert minutes.height == (stop - first) // MIN
    # Random access: a fresh market asked candle by candle gives the same bytes.
    fresh = SimMarket(seed=42)
    one_by_one = pl.concat(
        [fresh.candles("SOL/USDT", timeframe, t, tf.next_open(t)) for t in tf.opens(lo, hi)]
    )
    assert _bytes(one_by_one) == _bytes(got)
    assert validate_candles(got, timeframe) == []


def test_higher_timeframe_window_snaps_to_the_grid(market: SimMarket) -> None:
    start = datetime(2024, 1, 1, 0, 30, tzinfo=UTC)
    end = datetime(2024, 1, 1, 5, 30, tzinfo=UTC)
    hours = market.candles("ETH/USDT", "1h", start, end)
    assert [t.hour for t in hours["ts"].to_list()] == [1, 2, 3, 4, 5]
    fifth = market.candles_1m("ETH/USDT", START + 5 * 60 * MIN, START + 6 * 60 * MIN)
    assert hours["open"][-1] == fifth["open"][0]
    assert hours["close"][-1] == fifth["close"][-1]
    assert hours["volume"][-1] == pytest.approx(fifth["volume"].sum(), rel=1e-12)


# --- invariants -------------------------------------------------------------------------


@pytest.mark.parametrize("symbol", ["BTC/USDT", "XRP/USDT", "ETH/BTC", "ZZTOP/EUR", "USDC/USDT"])
def test_ohlc_invariants_over_100_days(symbol: str) -> None:
    market = SimMarket(seed=7)
    frame = market.candles_1m(symbol, START, START + 100 * DAY)
    o, h, lo, c, v = (frame[k].to_numpy() for k in ("open", "high", "low", "close", "volume"))
    assert np.isfinite(frame.select(pl.exclude("symbol", "ts")).to_numpy()).all()
    assert (lo > 0).all()
    assert (h >= np.maximum(o, c)).all()
    assert (lo <= np.minimum(o, c)).all()
    assert (v >= 0).all()
    assert (o[1:] == c[:-1]).all()  # every open is the previous close
    decimals = market.profile(symbol).price_decimals
    ticks = h * 10**decimals
    assert np.allclose(ticks, np.round(ticks), rtol=0, atol=1e-6)  # prices sit on the tick
    assert validate_candles(frame, "1m") == []


def test_prices_stay_in_a_sane_range_for_years() -> None:
    market = SimMarket(seed=3)
    p0 = market.profile("BTC/USDT").p0
    years = market.candles("BTC/USDT", "1d", START, START + 2 * 365 * DAY)
    assert years.height == 2 * 365
    assert years["low"].min() > p0 / 4
    assert years["high"].max() < p0 * 4


# --- realism ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def month() -> pl.DataFrame:
    return SimMarket(seed=42).candles_1m("BTC/USDT", START, START + 30 * DAY)


def test_minute_returns_have_a_realistic_size(month: pl.DataFrame) -> None:
    returns = np.diff(np.log(month["close"].to_numpy()))
    assert 0.0003 < returns.std() < 0.003
    assert abs(np.corrcoef(returns[:-1], returns[1:])[0, 1]) < 0.05  # no free lunch


def test_volatility_clusters(month: pl.DataFrame) -> None:
    size = np.abs(np.diff(np.log(month["close"].to_numpy())))
    for lag in (1, 5, 15, 30, 60):
        assert np.corrcoef(size[:-lag], size[lag:])[0, 1] > 0.05, lag


def test_daily_ranges_are_a_few_percent(month: pl.DataFrame) -> None:
    days = resample_candles(month, "1m", "1d")
    ranges = ((days["high"] - days["low"]) / days["open"]).to_numpy()
    assert 0.01 < np.median(ranges) < 0.10
    assert ranges.max() < 0.30


def _ema(values: np.ndarray, span: int) -> np.ndarray:
    alpha = 2.0 / (span + 1.0)
    out = np.empty_like(values)
    out[0] = values[0]
    for i in range(1, len(values)):
        out[i] = alpha * values[i] + (1 - alpha) * out[i - 1]
    return out


def test_a_month_has_trends_that_an_ema_cross_strategy_can_trade(month: pl.DataFrame) -> None:
    closes = resample_candles(month, "1m", "1h")["close"].to_numpy()
    above = _ema(closes, 9) > _ema(closes, 21)
    crosses = int(np.count_nonzero(above[21:] != above[20:-1]))
    assert 4 <= crosses <= 150
    assert (closes.max() - closes.min()) / closes[0] > 0.05


def test_volume_follows_volatility(month: pl.DataFrame) -> None:
    size = np.abs(np.diff(np.log(month["close"].to_numpy())))
    volume = month["volume"].to_numpy()[1:]
    assert np.corrcoef(size, volume)[0, 1] > 0.1


# --- symbols and precision --------------------------------------------------------------


@pytest.mark.parametrize(
    ("symbol", "low", "high", "tick", "step"),
    [
        ("BTC/USDT", 25_000, 90_000, 0.01, 0.00001),
        ("ETH/USDT", 1_200, 5_000, 0.01, 0.0001),
        ("SOL/USDT", 50, 200, 0.01, 0.001),
        ("XRP/USDT", 0.25, 1.2, 0.00001, 1.0),
    ],
)
def test_well_known_symbols_trade_near_familiar_prices(
    market: SimMarket, symbol: str, low: float, high: float, tick: float, step: float
) -> None:
    profile = market.profile(symbol)
    assert profile.tick == pytest.approx(tick)
    assert profile.step == pytest.approx(step)
    assert profile.min_notional == 5.0
    closes = market.candles(symbol, "1d", START, START + 60 * DAY)["close"]
    assert low < closes.min() and closes.max() < high


def test_any_well_formed_symbol_exists_with_a_stable_hashed_price(market: SimMarket) -> None:
    first = market.price_at("FOO/USDT", START)
    assert first > 0
    assert SimMarket(seed=1).profile("FOO/USDT") == market.profile("FOO/USDT")
    assert market.profile("FOO/USDT").p0 != market.profile("BAR/USDT").p0


@pytest.mark.parametrize("symbol", ["btc/usdt", "BTCUSDT", "", "BTC/", "BTC/USDT/X", "BT C/USDT"])
def test_malformed_symbols_are_refused_by_name(market: SimMarket, symbol: str) -> None:
    with pytest.raises(DataError, match="invalid symbol") as info:
        market.candles_1m(symbol, START, START + MIN)
    assert repr(symbol) in str(info.value)


@pytest.mark.parametrize("timeframe", ["1m", "5m", "1h"])
@pytest.mark.parametrize(("start", "end"), [(0, 1), (7, 130), (60, 60), (59, 61)])
def test_candle_rows_are_the_candles_as_tuples(market: SimMarket, timeframe, start, end) -> None:
    # the emulator's klines are built from these rows; unaligned bounds round as `candles` does
    lo, hi = START + start * 60_000 + 17, START + end * 60_000 + 5
    frame = market.candles("BTC/USDT", timeframe, lo, hi)
    expected = list(
        zip(frame["ts"].dt.epoch("ms").to_list(),
            *(frame[c].to_list() for c in ("open", "high", "low", "close", "volume")),
            strict=True)
    )  # fmt: skip
    assert market.candle_rows("BTC/USDT", timeframe, lo, hi) == expected
