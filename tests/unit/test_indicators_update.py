"""The bounded-window live update equals a full recomputation, to the documented tolerance."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from awan_trading.errors import DataError
from awan_trading.indicators import (
    OUTPUT_COLUMNS,
    SEED_WEIGHT,
    IndicatorParams,
    add_indicators,
    update_indicators,
    warmup_candles,
)
from awan_trading.market.schema import to_candles

PRICE_COLUMNS = ("bb_lower", "bb_mid", "bb_upper", "ema_fast", "ema_slow", "atr")
MACD_COLUMNS = ("macd", "macd_signal", "macd_hist")


def assert_close_to_full(got: pl.DataFrame, full: pl.DataFrame, history: pl.DataFrame) -> None:
    """Within the `params` module's bound: SEED_WEIGHT × input spread plus a few ulps.

    Price-type columns: 10 × SEED_WEIGHT × the price range, plus 1e-13 of the price level
    (running-sum rounding of TA-Lib's SMA). RSI: 1e-8 points. Stochastic RSI: the RSI bound
    amplified by 100 / (RSI range over its window), as documented.
    """
    assert got.select("symbol", "ts").equals(full.select("symbol", "ts"))
    close = history["close"]
    level = float(close.abs().max())
    span = float(close.max() - close.min())
    for col in OUTPUT_COLUMNS:
        a, b = got[col].to_numpy(), full[col].to_numpy()
        assert np.array_equal(np.isnan(a), np.isnan(b)), col
        if col in PRICE_COLUMNS or col in MACD_COLUMNS:
            tol = 10 * SEED_WEIGHT * span + 1e-13 * level
        elif col == "rsi":
            tol = 1e-8
        else:
            tol = 1e-6
        np.testing.assert_allclose(a, b, rtol=0, atol=tol, err_msg=col)


@pytest.mark.parametrize("fixture", ["xrp_1m", "xrp_5m", "btc_30m"])
def test_update_equals_full_on_real_data(fixture: str, request: pytest.FixtureRequest) -> None:
    candles = to_candles(request.getfixturevalue(fixture))
    full = add_indicators(candles)
    for end in range(warmup_candles() + 1, candles.height + 1, 37):
        got = update_indicators(candles.head(end), rows=3)
        assert got.height == 3
        assert_close_to_full(got, full.slice(end - 3, 3), candles.head(end))


def test_update_sees_only_its_window(btc_30m: pl.DataFrame) -> None:
    """Poisoning every row older than the window must not change the result."""
    candles = to_candles(btc_30m)
    need = warmup_candles()
    clean = update_indicators(candles)
    old = pl.int_range(pl.len()) < candles.height - need
    poisoned = candles.with_columns(
        *[pl.when(old).then(pl.col(c) * 7.0).otherwise(pl.col(c)) for c in ("high", "low", "close")]
    )
    assert update_indicators(poisoned).equals(clean)
    # ...and the row just inside the window does matter
    inside = pl.int_range(pl.len()) == candles.height - need
    touched = candles.with_columns(
        pl.when(inside).then(pl.col("close") * 1.01).otherwise(pl.col("close")).alias("close")
    )
    assert not update_indicators(touched).equals(clean)


def test_short_history_is_the_full_history(xrp_5m: pl.DataFrame) -> None:
    candles = to_candles(xrp_5m).head(100)
    assert update_indicators(candles, rows=100).equals(add_indicators(candles))


def test_rows_must_be_positive(xrp_5m: pl.DataFrame) -> None:
    with pytest.raises(DataError, match="rows"):
        update_indicators(to_candles(xrp_5m), rows=0)


@st.composite
def long_frames(draw: st.DrawFn) -> pl.DataFrame:
    """Several symbols, each longer than the warm-up, random walks with flat stretches, gaps."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    flat = draw(st.floats(0.0, 0.6))
    parts = []
    for s in range(draw(st.integers(1, 3))):
        n = int(rng.integers(warmup_candles(), warmup_candles() + 400))
        moves = rng.normal(0, 1, n) * (rng.random(n) > flat)
        close = draw(st.sampled_from([1e-4, 1.0, 5e4])) * np.exp(np.cumsum(moves) * 1e-3)
        wick = close * rng.random(n) * 1e-3
        ts = np.cumsum(rng.integers(1, 5, n)) * 60_000
        parts.append(
            pl.DataFrame(
                {
                    "symbol": f"S{s}/USDT",
                    "ts": ts,
                    "open": close,
                    "high": close + wick,
                    "low": close - wick,
                    "close": close,
                    "volume": 1.0,
                }
            )
        )
    return to_candles(pl.concat(parts))


@settings(max_examples=25, deadline=None)
@given(frame=long_frames(), rows=st.integers(1, 5))
def test_update_equals_full_on_generated_symbols(frame: pl.DataFrame, rows: int) -> None:
    full = add_indicators(frame)
    got = update_indicators(frame, rows=rows)
    expected = full.group_by("symbol", maintain_order=True).tail(rows)
    assert_close_to_full(got, expected, frame)


def test_custom_params_use_their_own_warmup(btc_30m: pl.DataFrame) -> None:
    params = IndicatorParams(ema_slow=60, macd_slow=40, rsi_period=7)
    candles = to_candles(btc_30m)
    full = add_indicators(candles, params)
    got = update_indicators(candles, params, rows=2)
    assert_close_to_full(got, full.tail(2), candles)
