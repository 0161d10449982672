"""`ensure_valid`'s one-query "no error" answer must never disagree with the findings.

`ensure_valid` builds the findings frame only when `_error_free` says something is wrong, so
a fast path that calls bad data clean would let it into the store. Every case here compares
it with the full path: the findings frame's error rows, raised the way `ensure_valid` always
raised them.
"""

from __future__ import annotations

import random
from datetime import timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from awan_trading.errors import CandleValidationError
from awan_trading.market.schema import to_candles
from awan_trading.market.timeframes import parse_timeframe
from awan_trading.market.validation import (
    RULES,
    Finding,
    _error_free,
    ensure_valid,
    findings_frame,
)
from tests.unit.test_validation import T0, with_value
from tests.unit.test_validation import good as clean_candles

ERROR_RULES = [rule for rule, severity in RULES.items() if severity == "error"]


def good(n: int = 6, symbol: str = "ETH/USDT") -> pl.DataFrame:
    return clean_candles(n, symbol)


def full_path_error(frame: pl.DataFrame, context: str) -> CandleValidationError | None:
    """What `ensure_valid` raised before it had a fast path: the findings frame's errors."""
    errors = findings_frame(frame, "1m").filter(pl.col("severity") == "error")
    if errors.is_empty():
        return None
    return CandleValidationError(
        [Finding(**r) for r in errors.iter_rows(named=True)], context=context
    )


def interleave(*frames: pl.DataFrame) -> pl.DataFrame:
    """Rows taken from each frame in turn, each frame's own order kept."""
    numbered = [f.with_row_index("i") for f in frames]
    return pl.concat(numbered).sort("i", maintain_order=True).drop("i")


def assert_same_as_full_path(frame: pl.DataFrame) -> None:
    expected = full_path_error(frame, "ctx")
    assert _error_free(to_candles(frame), parse_timeframe("1m")) is (expected is None)
    if expected is None:
        assert_frame_equal(ensure_valid(frame, "1m", context="ctx"), to_candles(frame))
        return
    with pytest.raises(CandleValidationError) as caught:
        ensure_valid(frame, "1m", context="ctx")
    assert str(caught.value) == str(expected)
    assert caught.value.findings == expected.findings


# One bad candle per error rule, at the row `damage` breaks.
ONE_BAD = {
    "duplicate_ts": lambda f: with_value(f, 3, ts=T0 + timedelta(minutes=2)),
    "out_of_order": lambda f: pl.concat([f.slice(0, 2), f.slice(3, 1), f.slice(2, 1), f.slice(4)]),
    "misaligned_ts": lambda f: with_value(f, 3, ts=T0 + timedelta(minutes=3, seconds=30)),
    "non_finite": lambda f: with_value(f, 3, volume=None),
    "non_positive_price": lambda f: with_value(f, 3, low=0.0),
    "negative_volume": lambda f: with_value(f, 3, volume=-0.5),
    "high_below_open_close": lambda f: with_value(f, 3, high=103.5),
    "low_above_open_close": lambda f: with_value(f, 3, low=103.5),
    "high_below_low": lambda f: with_value(f, 3, high=102.0, low=102.5, open=102.2, close=102.2),
}


def test_every_error_rule_has_a_one_bad_candle_case():
    assert set(ONE_BAD) == set(ERROR_RULES)


@pytest.mark.parametrize("rule", ERROR_RULES)
@pytest.mark.parametrize("layout", ["alone", "grouped", "interleaved", "last"])
def test_one_bad_candle_raises_the_full_paths_error(rule, layout):
    bad = ONE_BAD[rule](good())
    other = good(symbol="BTC/USDT")
    frame = {
        "alone": bad,
        "grouped": pl.concat([other, bad]),
        "interleaved": interleave(other, bad),
        "last": pl.concat([bad.slice(3, 1), other]),  # the bad row alone, first symbol
    }[layout]
    expected = full_path_error(frame, "ctx")
    if layout == "last" and rule in ("duplicate_ts", "out_of_order"):
        assert expected is None  # one row of a symbol has no neighbour to clash with
    else:
        assert expected is not None and rule in {f.rule for f in expected.findings}
    assert_same_as_full_path(frame)


@pytest.mark.parametrize(
    "frame",
    [
        good(1),
        good(),
        good().filter(pl.col("ts") != T0 + timedelta(minutes=2)),  # a gap is only a warning
        pl.concat([good(symbol="A/USDT"), good(symbol="B/USDT")]),
        interleave(good(symbol="A/USDT"), good(symbol="B/USDT")),
        pl.concat([good(symbol="B/USDT"), good(symbol="A/USDT")]),  # grouped, not sorted
        good().with_columns(pl.col("ts").dt.replace_time_zone(None)),  # coerced first
        good().with_columns(pl.col("ts").dt.epoch("ms")),
        good().with_columns(pl.col("symbol").cast(pl.Categorical)),
    ],
    ids=["one", "six", "gap", "grouped", "interleaved", "unsorted_groups", "naive", "epoch", "cat"],
)
def test_clean_frames_come_back_exactly_as_the_full_path_returns_them(frame):
    assert full_path_error(frame, "ctx") is None
    assert_same_as_full_path(frame)


def test_a_frame_already_in_the_schema_is_returned_as_it_is():
    frame = good()
    assert ensure_valid(frame, "1m") is frame
    assert to_candles(frame) is frame


def test_a_symbol_split_in_two_runs_is_judged_by_its_own_previous_row():
    a, b = good(symbol="A/USDT"), good(symbol="B/USDT")
    split = pl.concat([a.head(3), b, a.tail(3)])  # not grouped: A's rows are in two runs
    assert_same_as_full_path(split)
    # The same layout where A steps back in time across the split.
    assert_same_as_full_path(pl.concat([a.tail(3), b, a.head(3)]))
    assert_same_as_full_path(pl.concat([a.head(3), b, a.slice(2, 4)]))  # a duplicate across


def test_nan_rows_do_not_hide_or_invent_other_errors():
    nan_row = with_value(good(), 2, open=float("nan"), high=1.0, low=-5.0)
    assert_same_as_full_path(nan_row)
    assert_same_as_full_path(with_value(good(), 2, high=float("inf")))
    assert_same_as_full_path(with_value(good(), 2, close=None, volume=-1.0))


def test_random_damage_agrees_with_the_full_path():
    rng = random.Random(20241130)
    damages = [
        lambda f, i: with_value(f, i, ts=f["ts"][rng.randrange(f.height)]),
        lambda f, i: with_value(f, i, ts=f["ts"][i] + timedelta(seconds=rng.choice([1, 59]))),
        lambda f, i: with_value(f, i, ts=f["ts"][i] + timedelta(minutes=rng.choice([2, 30]))),
        lambda f, i: with_value(
            f,
            i,
            **{
                rng.choice(["open", "high", "low", "close", "volume"]): rng.choice(
                    [None, float("nan"), float("inf"), -1.0, 0.0, 1e6, 50.0]
                )
            },
        ),
        lambda f, i: f.filter(pl.int_range(pl.len()) != i),
    ]
    for _ in range(150):
        frames = [good(rng.randint(1, 5), symbol=s) for s in rng.sample(["A", "B", "C"], 2)]
        frame = pl.concat(frames)
        for _ in range(rng.randint(0, 2)):
            frame = rng.choice(damages)(frame, rng.randrange(frame.height))
            if frame.is_empty():
                frame = good(2)
        if rng.random() < 0.3:
            frame = frame.sample(fraction=1.0, shuffle=True, seed=rng.randrange(1 << 30))
        assert_same_as_full_path(frame)
