"""Decisions are made by the market, not by floating-point rounding noise.

TA-Lib's SMA keeps a running sum, so %K / %D sitting at 0 or 100 (and Bollinger bands, EMAs)
carry residues of ~1e-13. Every strategy compares them within the tolerances of
`awan_trading.tolerance`, so nudging them by less than that changes no decision, a run of
identical values is neither a turn nor a cross, and a market that does not move says nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from awan_trading.indicators import add_indicators
from awan_trading.market.schema import to_candles
from awan_trading.strategies import BollStoch, EmaTrend, get_strategy
from awan_trading.tolerance import OSCILLATOR, OSCILLATOR_ATOL, PRICE, PRICE_RTOL

T0 = datetime(2024, 1, 1, tzinfo=UTC)
T0_MS = int(T0.timestamp() * 1000)
DECISIONS = ("enter_long", "exit_long")


def frame(**cols: list[float]) -> pl.DataFrame:
    n = len(next(iter(cols.values())))
    return pl.DataFrame(
        {"symbol": ["A/USDT"] * n, "ts": [T0 + timedelta(hours=i) for i in range(n)]}
        | {name: pl.Series(values, dtype=pl.Float64) for name, values in cols.items()}
    )


def candles(close: np.ndarray) -> pl.DataFrame:
    """Candles whose open, high and low are the close (only the close drives the indicators)."""
    n = close.size
    return to_candles(
        pl.DataFrame(
            {
                "symbol": ["A/USDT"] * n,
                "ts": pl.Series(T0_MS + np.arange(n) * 60_000, dtype=pl.Int64),
                "open": close,
                "high": close,
                "low": close,
                "close": close,
                "volume": np.ones(n),
            }
        )
    )


# --- the example ---------------------------------------------------------------------


def test_residue_above_residue_is_not_a_cross_or_a_turn() -> None:
    """Raw %K 0 on every bar: %K = 1.9e-13 > %D = 4.6e-14 is noise, not %K crossing %D."""
    out = BollStoch().populate(
        frame(
            close=[99.0, 98.0],
            bb_lower=[100.0, 100.0],
            bb_upper=[120.0, 120.0],
            stochrsi_k=[4.3e-14, 1.9e-13],
            stochrsi_d=[9.5e-14, 4.6e-14],
        )
    )
    assert out.get_column("enter_long").to_list() == [False, False]


def test_a_real_turn_and_a_real_cross_still_count() -> None:
    """Moves bigger than the tolerance decide as before (the rules are not dulled)."""
    step = 10 * OSCILLATOR_ATOL
    out = BollStoch().populate(
        frame(
            close=[99.0] * 3,
            bb_lower=[100.0] * 3,
            bb_upper=[120.0] * 3,
            stochrsi_k=[0.0, step, step],
            stochrsi_d=[0.0, 0.0, 0.0],
        )
    )
    assert out.get_column("enter_long").to_list() == [False, True, False]


# --- flat runs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("level", [0.0, 50.0, 100.0])
def test_flat_oscillator_runs_with_residues_give_nothing(level: float) -> None:
    noise = [0.0, 1.9e-13, -4.6e-14, 2.8e-13, -1.1e-13, 7e-14]
    k = [level + e for e in noise]
    d = [level + e for e in reversed(noise)]
    n = len(k)
    for close in (99.0, 110.0):  # below the lower band, and between the bands
        out = BollStoch().populate(
            frame(
                close=[close] * n,
                bb_lower=[100.0] * n,
                bb_upper=[120.0] * n,
                stochrsi_k=k,
                stochrsi_d=d,
            )
        )
        assert not out.get_column("enter_long").any()
        assert not out.get_column("exit_long").any()
        trend = EmaTrend().populate(
            frame(
                close=[105.0] * n,
                ema_fast=[102.0] * n,
                ema_slow=[100.0] * n,
                bb_upper=[200.0] * n,
                stochrsi_k=[min(level, 30.0) + e for e in noise],
                stochrsi_d=[min(level, 30.0) + e for e in reversed(noise)],
            )
        )
        assert not trend.get_column("enter_long").any()


@pytest.mark.parametrize("name", ["boll_stoch", "ema_trend"])
@pytest.mark.parametrize("price", [0.1, 0.5, 3.0, 27_123.45])
@pytest.mark.parametrize("wobble", [0.0, 3e-15], ids=["exact", "ulps"])
def test_a_market_that_does_not_move_gives_no_signal(
    name: str, price: float, wobble: float
) -> None:
    """Constant closes, or closes that differ only by rounding: no entry and no exit.

    (Bands collapse onto the close, RSI and raw %K are the flat value 50, EMAs equal the close.)
    """
    close = np.tile([price, price * (1 + wobble)], 60)
    out = get_strategy(name).populate(add_indicators(candles(close)))
    assert not out.get_column("enter_long").any()
    assert not out.get_column("exit_long").any()


# --- a strictly falling run never "turns up" -------------------------------------------------


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 2**32 - 1),
    start=st.floats(1.0, 50_000.0),
    drift=st.floats(0.0005, 0.005),
    vol=st.floats(0.001, 0.01),
    n_fall=st.integers(3, 25),
)
def test_no_boll_stoch_entry_inside_a_strictly_falling_run(
    seed: int, start: float, drift: float, vol: float, n_fall: int
) -> None:
    """60 closes rising on balance (a noisy up-trend), then `n_fall` strictly falling ones.

    RSI falls on every bar of the fall. From the bar `f` where it makes a new low of the
    stochastic window, raw %K is 0 on every bar, so %K (the mean of the last 3 raw values) never
    rises from bar `f - 1` on, and from `f + 1` on %D (the mean of the last 3 %K) is never below
    %K: mathematically no turn and no cross. (Until then %K and %D still average values from the
    rise and can turn or cross for real: at `f` a flat %K may cross a %D that still falls.) On
    TA-Lib's residues alone the old exact comparisons entered in a few percent of such markets.
    """
    rng = np.random.default_rng(seed)
    rise = start * np.exp(np.cumsum(rng.normal(drift, vol, 60)))
    fall = rise[-1] * np.exp(-np.cumsum(rng.uniform(0.0005, 0.01, n_fall)))
    out = BollStoch().populate(add_indicators(candles(np.concatenate([rise, fall]))))
    rsi = out.get_column("rsi").to_numpy()
    assert (np.diff(rsi[59:]) < 0).all()
    window = BollStoch().params.stoch_period - 1
    lows = [t for t in range(60, rsi.size) if rsi[t] < rsi[t - window : t].min()]
    if lows:
        assert not out.get_column("enter_long")[lows[0] + 1 :].any()


# --- perturbations below the tolerance change nothing on real candles ------------------------


def perturbed(
    populated: pl.DataFrame, columns: tuple[str, ...], pattern: str, size: float
) -> pl.DataFrame:
    """The indicator columns nudged by `size` (absolute for oscillators, relative for prices)."""
    rng = np.random.default_rng(7)
    n = populated.height
    out = []
    for i, column in enumerate(columns):
        if pattern == "random":
            signs = rng.choice([-1.0, 1.0], n)
        else:
            sign = 1.0 if pattern == "up" else -1.0
            signs = np.full(n, sign if i % 2 == 0 else -sign)  # k up with d down, and vice versa
        nudge = pl.Series(signs * size)
        if column.startswith("stochrsi"):
            out.append((pl.col(column) + nudge).alias(column))
        else:
            out.append((pl.col(column) * (1.0 + nudge)).alias(column))
    return populated.with_columns(out)


@pytest.mark.parametrize("data", ["xrp_1m", "xrp_5m", "btc_30m"])
@pytest.mark.parametrize("name", ["boll_stoch", "ema_trend"])
def test_oscillators_nudged_by_1e_12_change_no_decision(
    request: pytest.FixtureRequest, data: str, name: str
) -> None:
    strategy = get_strategy(name)
    base = add_indicators(to_candles(request.getfixturevalue(data)), strategy.indicator_params())
    expected = strategy.populate(base).select(DECISIONS)
    assert expected.get_column("enter_long").sum() > 0
    for pattern in ("up", "down", "random"):
        nudged = perturbed(base, ("stochrsi_k", "stochrsi_d"), pattern, 1e-12)
        assert strategy.populate(nudged).select(DECISIONS).equals(expected), pattern


@pytest.mark.parametrize("data", ["xrp_1m", "xrp_5m", "btc_30m"])
@pytest.mark.parametrize("name", ["boll_stoch", "ema_trend"])
def test_prices_nudged_by_1e_13_relative_change_no_decision(
    request: pytest.FixtureRequest, data: str, name: str
) -> None:
    strategy = get_strategy(name)
    base = add_indicators(to_candles(request.getfixturevalue(data)), strategy.indicator_params())
    expected = strategy.populate(base).select(DECISIONS)
    levels = ("bb_lower", "bb_upper", "ema_fast", "ema_slow")
    for pattern in ("up", "down", "random"):
        nudged = perturbed(base, levels, pattern, 1e-13)
        assert strategy.populate(nudged).select(DECISIONS).equals(expected), pattern


def test_a_close_on_the_band_up_to_rounding_is_at_the_band() -> None:
    """Band levels come from running sums: a close equal to the band but for 1e-13 touches it."""
    below, above = 100.0 * (1 - 1e-13), 100.0 * (1 + 1e-13)
    for lower in (below, above):
        out = BollStoch().populate(
            frame(close=[101.0, 100.0], bb_lower=[lower] * 2, bb_upper=[120.0] * 2,
                  stochrsi_k=[10.0, 15.0], stochrsi_d=[12.0, 12.0])
        )  # fmt: skip
        assert out.get_column("enter_long").to_list() == [False, True], lower
    for upper in (100.0 * (1 - 1e-13), 100.0 * (1 + 1e-13)):
        out = BollStoch().populate(
            frame(close=[90.0, 100.0], bb_lower=[80.0] * 2, bb_upper=[upper] * 2,
                  stochrsi_k=[50.0, 50.0], stochrsi_d=[50.0, 50.0])
        )  # fmt: skip
        assert out.get_column("exit_long").to_list() == [False, True], upper


# --- the comparison helpers themselves -------------------------------------------------------


def test_comparisons_mean_beyond_the_tolerance() -> None:
    a, b = pl.lit(50.0 + OSCILLATOR_ATOL / 2), pl.lit(50.0)
    row = pl.select(
        gt=OSCILLATOR.gt(a, b), ge=OSCILLATOR.ge(a, b), lt=OSCILLATOR.lt(b, a), le=OSCILLATOR.le(a, b),
        gt_far=OSCILLATOR.gt(pl.lit(50.0 + 2 * OSCILLATOR_ATOL), b),
        le_far=OSCILLATOR.le(pl.lit(50.0 + 2 * OSCILLATOR_ATOL), b),
        p_le=PRICE.le(pl.lit(100.0 * (1 + PRICE_RTOL / 2)), pl.lit(100.0)),
        p_lt=PRICE.lt(pl.lit(100.0 * (1 - PRICE_RTOL / 2)), pl.lit(100.0)),
        p_gt=PRICE.gt(pl.lit(100.0 * (1 + 2 * PRICE_RTOL)), pl.lit(100.0)),
    ).row(0, named=True)  # fmt: skip
    assert row == {
        "gt": False, "ge": True, "lt": False, "le": True, "gt_far": True, "le_far": False,
        "p_le": True, "p_lt": False, "p_gt": True,
    }  # fmt: skip
    # the scalar forms (stops and targets) agree with the expressions
    assert PRICE.le_scalar(100.0 * (1 + PRICE_RTOL / 2), 100.0)
    assert not PRICE.le_scalar(100.0 * (1 + 2 * PRICE_RTOL), 100.0)
    assert PRICE.ge_scalar(100.0 * (1 - PRICE_RTOL / 2), 100.0)
    assert not PRICE.ge_scalar(100.0 * (1 - 2 * PRICE_RTOL), 100.0)
