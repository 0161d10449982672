"""Strategy rules on hand-made indicator frames, and the registry's user-facing errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from awan_trading.indicators import IndicatorParams
from awan_trading.strategies import (
    STRATEGIES,
    BollStoch,
    EmaTrend,
    Strategy,
    StrategyError,
    get_strategy,
    parse_overrides,
)

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def frame(symbol: str = "A/USDT", **cols: list[float]) -> pl.DataFrame:
    n = len(next(iter(cols.values())))
    return pl.DataFrame(
        {"symbol": [symbol] * n, "ts": [T0 + timedelta(hours=i) for i in range(n)]}
        | {name: pl.Series(values, dtype=pl.Float64) for name, values in cols.items()}
    )


def boll(
    close: list[float], k: list[float], d: list[float], lower: float = 100.0, upper: float = 120.0
) -> pl.DataFrame:
    n = len(close)
    return frame(
        close=close, bb_lower=[lower] * n, bb_upper=[upper] * n, stochrsi_k=k, stochrsi_d=d
    )


def test_boll_stoch_enters_at_lower_band_when_k_turns_up_from_oversold() -> None:
    out = BollStoch().populate(
        boll(close=[101, 99, 99, 99, 99], k=[15, 18, 25, 22, 10], d=[20, 20, 20, 24, 12])
    )
    # row1: k rises from 15 (<20) and close <= lower; row2: k_prev 18 < 20 rising; row3: k_prev 25 not oversold
    # row4: k falls from 22, not oversold before → no entry
    assert out.get_column("enter_long").to_list() == [False, True, True, False, False]


def test_boll_stoch_entry_by_crossing_d_while_k_is_flat() -> None:
    out = BollStoch().populate(boll(close=[99, 99], k=[10, 10], d=[12, 9]))
    assert out.get_column("enter_long").to_list() == [False, True]


def test_boll_stoch_needs_the_price_at_the_band() -> None:
    out = BollStoch().populate(boll(close=[101, 100.5], k=[10, 15], d=[12, 12]))
    assert not out.get_column("enter_long").any()


def test_boll_stoch_exits_at_upper_band_or_when_k_turns_down_from_overbought() -> None:
    out = BollStoch().populate(
        boll(close=[110, 121, 110, 110, 110], k=[50, 60, 85, 79, 70], d=[50, 50, 80, 84, 75])
    )
    assert out.get_column("exit_long").to_list() == [False, True, False, True, False]


def test_entry_and_exit_on_one_candle_cancel_the_entry() -> None:
    out = BollStoch().populate(boll(close=[99, 99], k=[85, 15], d=[80, 20], lower=100, upper=90))
    assert out.row(1, named=True)["exit_long"] is True
    assert out.get_column("enter_long").to_list() == [False, False]


def test_previous_row_never_leaks_across_symbols() -> None:
    a = boll(close=[99], k=[10], d=[12])
    b = boll(close=[99], k=[15], d=[12]).with_columns(symbol=pl.lit("B/USDT"))
    out = BollStoch().populate(pl.concat([a, b]))
    assert not out.get_column("enter_long").any()


def test_warm_up_nulls_read_as_no_signal_and_score_is_never_null() -> None:
    out = BollStoch().populate(
        frame(
            close=[99.0, 99.0],
            bb_lower=[None, 100.0],
            bb_upper=[None, 120.0],
            stochrsi_k=[None, 10.0],
            stochrsi_d=[None, 5.0],
        )
    )
    assert out.get_column("enter_long").to_list() == [False, False]
    assert out.get_column("exit_long").null_count() == 0
    assert out.get_column("score").null_count() == 0


def test_score_prefers_the_more_stretched_pair() -> None:
    deep = boll(close=[95, 95], k=[5, 10], d=[8, 8])
    shallow = boll(close=[99.5, 99.5], k=[18, 19], d=[19, 18]).with_columns(symbol=pl.lit("B/USDT"))
    out = BollStoch().populate(pl.concat([deep, shallow])).filter(pl.col("enter_long"))
    scores = dict(zip(out.get_column("symbol"), out.get_column("score"), strict=True))
    assert scores["A/USDT"] > scores["B/USDT"]


def ema(
    close: list[float], fast: list[float], slow: list[float], k: list[float], d: list[float]
) -> pl.DataFrame:
    return frame(
        close=close,
        ema_fast=fast,
        ema_slow=slow,
        stochrsi_k=k,
        stochrsi_d=d,
        bb_upper=[200.0] * len(close),
    )


def test_ema_trend_enters_on_stoch_hook_in_uptrend_and_exits_on_trend_loss() -> None:
    out = EmaTrend().populate(
        ema(
            close=[105, 106, 107, 108, 97, 105],
            fast=[102, 103, 104, 105, 99, 103],
            slow=[100, 100, 100, 100, 100, 100],
            k=[30, 40, 45, 60, 40, 55],
            d=[35, 38, 50, 62, 50, 50],
        )
    )
    # row 1 hooks up in the uptrend; row 3 stays below %D; row 4 loses the trend; row 5 re-enters
    assert out.get_column("enter_long").to_list() == [False, True, False, False, False, True]
    assert out.get_column("exit_long").to_list() == [False, False, False, False, True, False]


def test_ema_trend_skips_hooks_from_high_k_or_above_the_upper_band() -> None:
    high_k = EmaTrend().populate(ema([105, 106], [102, 103], [100, 100], [60, 70], [65, 65]))
    assert not high_k.get_column("enter_long").any()
    stretched = EmaTrend().populate(ema([105, 206], [102, 103], [100, 100], [30, 40], [35, 38]))
    assert not stretched.get_column("enter_long").any()


def test_registry_builds_validated_strategies() -> None:
    assert set(STRATEGIES) == {"boll_stoch", "ema_trend"}
    strategy = get_strategy(
        "boll_stoch", parse_overrides(["bb_period=30", "stop_loss=0.03", "trailing_stop=none"])
    )
    assert isinstance(strategy, Strategy)
    assert strategy.params.bb_period == 30 and strategy.params.stop_loss == 0.03
    assert strategy.params.trailing_stop is None
    assert strategy.indicator_params() == IndicatorParams(bb_period=30)
    assert get_strategy("ema_trend", {"ema_fast": "5"}).indicator_params().ema_fast == 5


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("nope", {}, "unknown strategy 'nope'; available: boll_stoch, ema_trend"),
        (
            "boll_stoch",
            {"bb_perod": "3"},
            "unknown parameter 'bb_perod' for strategy 'boll_stoch'; valid: stop_loss",
        ),
        ("boll_stoch", {"stop_loss": "abc"}, "stop_loss='abc'"),
        ("ema_trend", {"stop_loss": "1.5"}, "stop_loss='1.5'"),
    ],
)
def test_registry_errors_name_the_problem(name: str, params: dict, message: str) -> None:
    with pytest.raises(StrategyError) as err:
        get_strategy(name, params)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_overrides_need_key_value() -> None:
    with pytest.raises(StrategyError, match="key=value"):
        parse_overrides(["stop_loss"])


def test_params_hash_is_stable_and_sensitive() -> None:
    a = get_strategy("boll_stoch", {"stop_loss": "0.03", "bb_period": "30"}).params
    b = get_strategy("boll_stoch", {"bb_period": 30, "stop_loss": 0.03}).params
    assert a.params_hash() == b.params_hash()
    assert len(a.params_hash()) == 16
    assert a.params_hash() != get_strategy("boll_stoch").params.params_hash()
    assert a.canonical_json().startswith('{"bb_period":30,"bb_std":2.0')
