"""Indicators equal TA-Lib on each symbol alone, with the documented flat-price values."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import polars as pl
import pydantic
import pytest
import talib
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.lib.stride_tricks import sliding_window_view

from awan_trading.errors import DataError
from awan_trading.indicators import (
    DEFAULT_PARAMS,
    FLAT_RSI_RANGE,
    FLAT_VALUE,
    OUTPUT_COLUMNS,
    IndicatorParams,
    add_indicators,
    atr,
    bollinger,
    ema,
    lookbacks,
    macd,
    rsi,
    sma,
    stoch_rsi,
    warmup_candles,
)
from awan_trading.market.schema import to_candles
from awan_trading.tolerance import PRICE_RTOL

# --- an independent reference: plain TA-Lib calls on one symbol's arrays ----------------------


def reference_rsi(close: np.ndarray, period: int) -> np.ndarray:
    """TA-Lib RSI, with the flat rule applied by brute force (no close moved yet → 50)."""
    out = talib.RSI(close, period)
    for i in range(1, len(close)):
        if not math.isclose(close[i], close[0], rel_tol=PRICE_RTOL, abs_tol=0.0):
            break
        if i >= period:
            out[i] = FLAT_VALUE
    return out


def reference_stoch(r: np.ndarray, p: IndicatorParams) -> tuple[np.ndarray, np.ndarray]:
    """TA-Lib STOCH on RSI; where some window is flat, STOCHF's %K with 50 there, SMA'd."""
    valid = r[~np.isnan(r)]
    flat = np.zeros(len(r), dtype=bool)
    if len(valid) >= p.stoch_period:
        spans = np.ptp(sliding_window_view(r, p.stoch_period), axis=1)
        flat[p.stoch_period - 1 :] = spans <= FLAT_RSI_RANGE
    if not flat.any() and p.stoch_period > 1:
        return talib.STOCH(r, r, r, p.stoch_period, p.stoch_k, 0, p.stoch_d, 0)
    raw = talib.STOCHF(r, r, r, p.stoch_period, 1, 0)[0] if p.stoch_period > 1 else r * np.nan
    raw[flat] = FLAT_VALUE
    k = raw if p.stoch_k == 1 else talib.SMA(raw, p.stoch_k)
    d = k.copy() if p.stoch_d == 1 else talib.SMA(k, p.stoch_d)
    k = k.copy()
    k[np.isnan(d)] = np.nan
    return k, d


def reference(frame: pl.DataFrame, p: IndicatorParams) -> dict[str, np.ndarray]:
    c, h, lo = (frame[name].to_numpy() for name in ("close", "high", "low"))
    upper, mid, lower = talib.BBANDS(c, p.bb_period, p.bb_std, p.bb_std, 0)
    r = reference_rsi(c, p.rsi_period)
    k, d = reference_stoch(r, p)
    line, signal, hist = talib.MACD(c, p.macd_fast, p.macd_slow, p.macd_signal)
    values = [
        lower,
        mid,
        upper,
        talib.EMA(c, p.ema_fast),
        talib.EMA(c, p.ema_slow),
        r,
        k,
        d,
        talib.ATR(h, lo, c, p.atr_period),
        line,
        signal,
        hist,
    ]
    return dict(zip(OUTPUT_COLUMNS, values, strict=True))


def assert_matches_reference(result: pl.DataFrame, p: IndicatorParams) -> None:
    """Per symbol: bit-identical floats, null exactly where the reference has NaN."""
    for (symbol,), part in result.group_by("symbol"):
        expected = reference(part, p)
        for col in OUTPUT_COLUMNS:
            got = part[col]
            assert not got.is_nan().any(), (symbol, col)
            want = expected[col]
            np.testing.assert_array_equal(
                got.is_null().to_numpy(), np.isnan(want), err_msg=f"{symbol} {col} nulls"
            )
            np.testing.assert_array_equal(
                got.to_numpy()[~np.isnan(want)], want[~np.isnan(want)], err_msg=f"{symbol} {col}"
            )


# --- real data ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", ["xrp_1m", "xrp_5m", "btc_30m"])
def test_real_data_equals_talib(fixture: str, request: pytest.FixtureRequest) -> None:
    candles = to_candles(request.getfixturevalue(fixture))
    result = add_indicators(candles)
    assert result.columns == [*candles.columns, *OUTPUT_COLUMNS]
    assert result.select(candles.columns).equals(candles)
    assert_matches_reference(result, DEFAULT_PARAMS)
    # the shared data has no flat RSI window, so this is TA-Lib's STOCH itself, unmodified
    r = talib.RSI(candles["close"].to_numpy(), 14)
    k, d = talib.STOCH(r, r, r, 14, 3, 0, 3, 0)
    np.testing.assert_array_equal(result["stochrsi_k"].fill_null(np.nan).to_numpy(), k)
    np.testing.assert_array_equal(result["stochrsi_d"].fill_null(np.nan).to_numpy(), d)


def test_three_real_symbols_in_one_interleaved_frame(
    xrp_1m: pl.DataFrame, xrp_5m: pl.DataFrame, btc_30m: pl.DataFrame
) -> None:
    one = to_candles(xrp_1m)
    five = to_candles(xrp_5m).with_columns(pl.lit("XRP/ETH-5m").alias("symbol"))
    thirty = to_candles(btc_30m)
    mixed = pl.concat([one, five, thirty]).sort("ts")  # interleaved by time
    result = add_indicators(mixed)
    assert result.select("symbol", "ts").equals(
        mixed.sort("symbol", "ts", maintain_order=True).select("symbol", "ts")
    )
    assert_matches_reference(result, DEFAULT_PARAMS)
    alone = add_indicators(five)
    assert result.filter(pl.col("symbol") == "XRP/ETH-5m").equals(alone)


# --- hypothesis: gaps, several symbols, flat stretches ----------------------------------------


@st.composite
def candle_frames(draw: st.DrawFn) -> pl.DataFrame:
    """Several symbols, gapped timestamps, random walks with flat stretches, maybe shuffled."""
    n_symbols = draw(st.integers(1, 4))
    parts = []
    for s in range(n_symbols):
        n = draw(st.integers(0, 120))
        steps = draw(st.lists(st.sampled_from([0, 0, 0, 1, -1, 3, -3]), min_size=n, max_size=n))
        if draw(st.booleans()):  # a flat opening stretch (RSI's 0/0 case)
            head = draw(st.integers(0, n))
            steps = [0] * head + steps[head:]
        base = draw(st.sampled_from([1e-4, 1.0, 3e4]))
        close = base * (1 + 0.001 * np.cumsum(np.asarray(steps, dtype=float)))
        wick = base * 0.0005 * np.asarray(draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)))
        gaps = np.asarray(draw(st.lists(st.integers(1, 10), min_size=n, max_size=n)), dtype=int)
        ts = np.cumsum(gaps) * 60_000 if n else np.zeros(0, dtype=int)
        parts.append(
            pl.DataFrame(
                {
                    "symbol": pl.Series([f"S{s}/USDT"] * n, dtype=pl.String),
                    "ts": pl.Series(ts, dtype=pl.Int64),
                    "open": close,
                    "high": close + wick,
                    "low": close - wick,
                    "close": close,
                    "volume": np.ones(n),
                }
            )
        )
    frame = to_candles(pl.concat(parts))
    if draw(st.booleans()):
        frame = frame.sample(fraction=1.0, shuffle=True, seed=draw(st.integers(0, 1000)))
    return frame


small_params = st.builds(
    IndicatorParams,
    bb_period=st.integers(2, 30),
    bb_std=st.floats(0.5, 3.0),
    ema_fast=st.integers(2, 10),
    ema_slow=st.integers(11, 30),
    rsi_period=st.integers(2, 20),
    stoch_period=st.integers(1, 20),
    stoch_k=st.integers(1, 5),
    stoch_d=st.integers(1, 5),
    atr_period=st.integers(1, 20),
    macd_fast=st.integers(2, 12),
    macd_slow=st.integers(13, 30),
    macd_signal=st.integers(1, 10),
)


@settings(max_examples=150, deadline=None)
@given(frame=candle_frames(), params=small_params | st.just(DEFAULT_PARAMS))
def test_generated_frames_equal_talib_per_symbol(
    frame: pl.DataFrame, params: IndicatorParams
) -> None:
    result = add_indicators(frame, params)
    assert result.height == frame.height
    assert sorted(result.select(frame.columns).rows()) == sorted(frame.rows())
    assert_matches_reference(result, params)


@settings(max_examples=60, deadline=None)
@given(frame=candle_frames())
def test_grouped_frames_keep_their_row_order(frame: pl.DataFrame) -> None:
    grouped = frame.sort("ts").sort("symbol", descending=True, maintain_order=True)
    result = add_indicators(grouped)
    assert result.select(grouped.columns).equals(grouped)


# --- flat prices --------------------------------------------------------------------------------


def _frame(close: np.ndarray, symbol: str = "FLAT/USDT") -> pl.DataFrame:
    n = len(close)
    return to_candles(
        pl.DataFrame(
            {
                "symbol": pl.Series([symbol] * n, dtype=pl.String),
                "ts": pl.Series(np.arange(n) * 60_000, dtype=pl.Int64),
                "open": close,
                "high": close,
                "low": close,
                "close": close,
                "volume": np.ones(n),
            }
        )
    )


def test_flat_series_is_neutral_where_talib_says_oversold() -> None:
    close = np.full(80, 0.5)
    result = add_indicators(_frame(close))
    look = lookbacks(DEFAULT_PARAMS)
    assert talib.RSI(close, 14)[14] == 0.0  # what TA-Lib itself returns
    assert (result["rsi"][look["rsi"] :] == FLAT_VALUE).all()
    assert (result["stochrsi_k"][look["stochrsi_k"] :] == FLAT_VALUE).all()
    assert (result["stochrsi_d"][look["stochrsi_d"] :] == FLAT_VALUE).all()
    bands = result[look["bb_mid"] :]
    assert (bands["bb_upper"] == 0.5).all() and (bands["bb_lower"] == 0.5).all()
    assert (result["atr"][look["atr"] :] == 0.0).all()


def test_flat_after_a_rise_keeps_rsi_100_and_stoch_neutral() -> None:
    close = np.concatenate([np.linspace(1.0, 2.0, 30), np.full(60, 2.0)])
    result = add_indicators(_frame(close))
    assert (result["rsi"][30:] == 100.0).all()  # Wilder: no loss ever, as in TA-Lib
    r = talib.RSI(close, 14)
    assert talib.STOCH(r, r, r, 14, 3, 0, 3, 0)[0][-1] == 0.0  # TA-Lib: "oversold"
    assert (result["stochrsi_k"][-40:] == FLAT_VALUE).all()
    assert (result["stochrsi_d"][-40:] == FLAT_VALUE).all()


@pytest.mark.parametrize(
    "close",
    [np.array([0.3, 0.1 + 0.2] * 40), np.array([27_123.45, 27_123.45 * (1 + 3e-15)] * 40)],
    ids=["0.3-vs-0.1+0.2", "btc-level-ulps"],
)
def test_a_series_flat_up_to_rounding_is_flat(close: np.ndarray) -> None:
    """Closes that differ only by rounding are a flat market: TA-Lib's RSI swings 49.5–53.6 on
    them (and its STOCH 0–100); the flat rule uses the price tolerance, so both are 50."""
    assert np.unique(close).size == 2 and talib.RSI(close, 14)[15] > 53
    result = add_indicators(_frame(close))
    look = lookbacks(DEFAULT_PARAMS)
    assert (result["rsi"][look["rsi"] :] == FLAT_VALUE).all()
    assert (result["stochrsi_k"][look["stochrsi_k"] :] == FLAT_VALUE).all()


def test_flat_opening_then_move() -> None:
    close = np.concatenate([np.full(40, 3.0), [3.1, 3.0, 2.9]])
    result = add_indicators(_frame(close))
    assert (result["rsi"][14:40] == FLAT_VALUE).all()
    assert result["rsi"][40] == 100.0
    assert result["rsi"][42] < 50.0


# --- warm-up, errors, single-indicator functions ---------------------------------------------


def test_nulls_exactly_before_each_lookback(btc_30m: pl.DataFrame) -> None:
    result = add_indicators(to_candles(btc_30m))
    for col, look in lookbacks(DEFAULT_PARAMS).items():
        assert result[col].null_count() == look, col
        assert result[col][look] is not None


def test_short_and_empty_symbols_are_all_null() -> None:
    short = _frame(np.linspace(1, 2, 10), "SHORT/USDT")
    empty = _frame(np.zeros(0), "EMPTY/USDT")
    assert add_indicators(empty).height == 0
    result = add_indicators(short)
    assert result["macd"].null_count() == 10 and result["stochrsi_k"].null_count() == 10


def test_warmup_candles_grows_with_periods() -> None:
    assert warmup_candles() == warmup_candles(DEFAULT_PARAMS) == 518
    longer = IndicatorParams(macd_slow=50)
    assert warmup_candles(longer) > warmup_candles()
    assert warmup_candles() > max(lookbacks(DEFAULT_PARAMS).values())


@pytest.mark.parametrize(
    "bad",
    [
        {"bb_std": 0.0},
        {"bb_std": float("nan")},
        {"bb_period": 1},
        {"ema_fast": 21, "ema_slow": 21},
        {"macd_fast": 30},
        {"rsi_period": 1},
        {"stoch_k": 0},
        {"atr_period": -3},
        {"ema_fsat": 5},
    ],
)
def test_invalid_params_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(pydantic.ValidationError):
        IndicatorParams(**bad)


def test_bad_frames_name_the_problem() -> None:
    frame = _frame(np.linspace(1, 2, 30))
    with pytest.raises(DataError, match="high"):
        add_indicators(frame.drop("high"))
    broken = frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 7).then(None).otherwise(pl.col("close")).alias("close")
    )
    with pytest.raises(DataError, match=r"null.*FLAT/USDT.*1970-01-01 00:07"):
        add_indicators(broken)
    nan = frame.with_columns(pl.col("low").fill_nan(0) / 0.0 * pl.col("low").is_nan())
    with pytest.raises(DataError, match="NaN"):
        add_indicators(nan)


def test_single_indicator_functions(btc_30m: pl.DataFrame) -> None:
    c = btc_30m["close"]
    a = c.to_numpy()
    h, lo = btc_30m["high"].to_numpy(), btc_30m["low"].to_numpy()

    def same(series: pl.Series, want: np.ndarray) -> None:
        np.testing.assert_array_equal(series.fill_null(np.nan).to_numpy(), want)
        assert series.null_count() == np.isnan(want).sum()

    same(sma(c, 7), talib.SMA(a, 7))
    same(ema(c, 7), talib.EMA(a, 7))
    same(rsi(c, 9), talib.RSI(a, 9))
    same(atr(btc_30m["high"], btc_30m["low"], c, 5), talib.ATR(h, lo, a, 5))
    upper, mid, lower = talib.BBANDS(a, 10, 1.5, 1.5, 0)
    bands = bollinger(c, 10, 1.5)
    same(bands["bb_lower"], lower)
    same(bands["bb_mid"], mid)
    same(bands["bb_upper"], upper)
    r = talib.RSI(a, 14)
    k, d = talib.STOCH(r, r, r, 14, 3, 0, 3, 0)
    stoch = stoch_rsi(c)
    same(stoch["stochrsi_k"], k)
    same(stoch["stochrsi_d"], d)
    line, signal, hist = talib.MACD(a, 12, 26, 9)
    m = macd(c)
    same(m["macd"], line)
    same(m["macd_signal"], signal)
    same(m["macd_hist"], hist)
    full = add_indicators(to_candles(btc_30m))
    assert full["ema_fast"].equals(ema(c, 9).alias("ema_fast"))


def test_times_are_not_a_grid() -> None:
    """A gap is not a row: the same closes give the same values whatever the timestamps."""
    close = np.sin(np.arange(200) / 7) + 5
    dense = _frame(close)
    gappy = dense.with_columns(
        (pl.col("ts") + pl.duration(minutes=pl.int_range(pl.len()) ** 2)).alias("ts")
    )
    a = add_indicators(dense).select(OUTPUT_COLUMNS)
    b = add_indicators(gappy).select(OUTPUT_COLUMNS)
    assert a.equals(b)
    assert gappy["ts"][1] - gappy["ts"][0] != dense["ts"][1] - dense["ts"][0]
    assert gappy["ts"][0] == datetime(1970, 1, 1, tzinfo=UTC)
