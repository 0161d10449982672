from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from awan_trading.errors import CandleValidationError, DataError
from awan_trading.market.schema import to_candles
from awan_trading.market.validation import RULES, ensure_valid, findings_frame, validate_candles

T0 = datetime(2024, 3, 1, tzinfo=UTC)


def good(n: int = 10, symbol: str = "ETH/USDT") -> pl.DataFrame:
    return to_candles(
        pl.DataFrame(
            {
                "symbol": [symbol] * n,
                "ts": [T0 + timedelta(minutes=i) for i in range(n)],
                "open": [100.0 + i for i in range(n)],
                "high": [102.0 + i for i in range(n)],
                "low": [99.0 + i for i in range(n)],
                "close": [101.0 + i for i in range(n)],
                "volume": [5.0] * n,
            }
        )
    )


def with_value(frame: pl.DataFrame, row: int, **values: float | datetime | None) -> pl.DataFrame:
    columns = {}
    for name, value in values.items():
        series = frame[name].to_list()
        series[row] = value
        columns[name] = pl.Series(name, series, dtype=frame.schema[name])
    return frame.with_columns(**columns)


def rules_at(frame: pl.DataFrame, timeframe: str = "1m") -> set[tuple[str, datetime]]:
    return {(f.rule, f.ts) for f in validate_candles(frame, timeframe)}


def test_clean_candles_have_no_findings():
    assert validate_candles(good(), "1m") == []


CRAFTED = [
    ("duplicate_ts", lambda f: pl.concat([f, f.slice(3, 1)]), 3),
    ("out_of_order", lambda f: pl.concat([f.slice(0, 5), f.slice(6, 4), f.slice(5, 1)]), 5),
    ("misaligned_ts", lambda f: with_value(f, 4, ts=T0 + timedelta(minutes=4, seconds=30)), 4),
    ("gap", lambda f: f.filter(pl.col("ts") != T0 + timedelta(minutes=6)), 7),
    ("non_finite", lambda f: with_value(f, 2, close=float("nan")), 2),
    ("non_finite", lambda f: with_value(f, 2, volume=None), 2),
    ("non_finite", lambda f: with_value(f, 2, high=float("inf")), 2),
    ("non_positive_price", lambda f: with_value(f, 1, open=0.0, low=-1.0), 1),
    ("negative_volume", lambda f: with_value(f, 8, volume=-3.0), 8),
    ("high_below_open_close", lambda f: with_value(f, 6, high=106.5), 6),
    ("low_above_open_close", lambda f: with_value(f, 6, low=106.5), 6),
    (
        "high_below_low",
        lambda f: with_value(f, 6, high=104.0, low=105.0, open=104.5, close=104.5),
        6,
    ),
]


@pytest.mark.parametrize(("rule", "damage", "minute"), CRAFTED, ids=[c[0] for c in CRAFTED])
def test_each_rule_is_found_with_symbol_time_and_severity(rule, damage, minute):
    findings = validate_candles(damage(good()), "1m")
    hits = [f for f in findings if f.rule == rule]
    assert hits, f"{rule} not reported: {findings}"
    ts = T0 + timedelta(minutes=minute)
    if rule == "misaligned_ts":
        ts += timedelta(seconds=30)
    assert any(f.ts == ts and f.symbol == "ETH/USDT" for f in hits), hits
    assert all(f.severity == RULES[rule] for f in hits)
    assert all(f.detail for f in hits)


def test_all_rules_are_covered_by_crafted_frames():
    assert {c[0] for c in CRAFTED} == set(RULES)
    assert RULES["gap"] == "warning"
    assert all(sev == "error" for rule, sev in RULES.items() if rule != "gap")


def test_every_violation_is_returned_not_just_the_first():
    frame = with_value(good(), 2, close=float("nan"))
    frame = with_value(frame, 5, volume=-1.0)
    frame = pl.concat([frame, frame.slice(7, 1)])
    assert {f.rule for f in validate_candles(frame, "1m")} == {
        "non_finite",
        "negative_volume",
        "duplicate_ts",
        "out_of_order",
    }


def test_symbols_are_checked_independently():
    frame = pl.concat([good(symbol="A/USDT"), good(symbol="B/USDT")])
    assert validate_candles(frame, "1m") == []
    bad = pl.concat([good(symbol="A/USDT"), with_value(good(symbol="B/USDT"), 3, volume=-1.0)])
    assert [(f.symbol, f.rule) for f in validate_candles(bad, "1m")] == [
        ("B/USDT", "negative_volume")
    ]


def test_gap_detail_counts_missing_candles():
    frame = good(20).filter(
        ~pl.col("ts").is_between(T0 + timedelta(minutes=5), T0 + timedelta(minutes=8))
    )
    (gap,) = validate_candles(frame, "1m")
    assert gap.ts == T0 + timedelta(minutes=9)
    assert "missing 4 1m candle(s)" in gap.detail


def test_real_data_is_clean_except_its_real_gaps(xrp_1m, xrp_5m, btc_30m):
    f1 = findings_frame(xrp_1m, "1m")
    assert set(f1["rule"]) == {"gap"} and f1.height == 676  # the README's 676 gaps
    missing = f1["detail"].str.extract(r"missing (\d+)").cast(pl.Int64).sum()
    assert missing == 1091
    assert findings_frame(xrp_5m, "5m").height == 6
    assert findings_frame(btc_30m, "30m").is_empty()


def test_real_data_checked_with_the_wrong_timeframe_is_misaligned(xrp_5m):
    assert set(findings_frame(xrp_5m, "1h")["rule"]) >= {"misaligned_ts"}


def test_ensure_valid_raises_with_every_error_and_lets_gaps_pass(xrp_1m):
    assert ensure_valid(xrp_1m, "1m").height == xrp_1m.height
    bad = with_value(with_value(good(), 2, close=float("nan")), 4, volume=-2.0)
    with pytest.raises(CandleValidationError) as caught:
        ensure_valid(bad, "1m", context="sim ETH/USDT 1m")
    assert len(caught.value.findings) == 2
    assert "sim ETH/USDT 1m: 2 validation error(s)" in str(caught.value)
    assert "ETH/USDT 2024-03-01T00:02:00+00:00 non_finite" in str(caught.value)


def test_wrong_columns_are_a_data_error():
    with pytest.raises(DataError, match="missing candle column"):
        validate_candles(good().drop("volume"), "1m")
    with pytest.raises(DataError, match="'open' has type String"):
        validate_candles(good().with_columns(pl.col("open").cast(pl.String)), "1m")


def test_interleaved_symbols_use_each_symbols_own_previous_row():
    a, b = good(symbol="A/USDT"), good(symbol="B/USDT")
    interleaved = pl.concat([a, b]).sort("ts", "symbol")
    assert validate_candles(interleaved, "1m") == []
    damaged = pl.concat([interleaved, b.slice(4, 1)])  # a duplicate that is also out of order
    assert [(f.symbol, f.rule) for f in validate_candles(damaged, "1m")] == [
        ("B/USDT", "duplicate_ts"),
        ("B/USDT", "out_of_order"),
    ]
    gap = interleaved.filter(
        ~((pl.col("symbol") == "A/USDT") & (pl.col("ts") == T0 + timedelta(minutes=3)))
    )
    assert [(f.symbol, f.rule, f.ts.minute) for f in validate_candles(gap, "1m")] == [
        ("A/USDT", "gap", 4)
    ]


# --- calendar months and weeks ---------------------------------------------------------------


def at(times: list[datetime]) -> pl.DataFrame:
    """Valid candles at the given open times."""
    frame = good(len(times))
    return frame.with_columns(ts=pl.Series("ts", times, dtype=frame.schema["ts"]))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_months_of_different_lengths_follow_each_other_without_a_gap():
    months = [utc(2023, 12, 1), utc(2024, 1, 1), utc(2024, 2, 1), utc(2024, 3, 1), utc(2024, 4, 1)]
    assert validate_candles(at(months), "1M") == []


def test_a_month_that_does_not_open_on_the_first_is_misaligned():
    findings = rules_at(at([utc(2024, 1, 1), utc(2024, 2, 2), utc(2024, 3, 1)]), "1M")
    assert findings == {("misaligned_ts", utc(2024, 2, 2))}
    # Midnight matters too: a month opens at 00:00 UTC.
    assert rules_at(at([utc(2024, 1, 1, 1)]), "1M") == {("misaligned_ts", utc(2024, 1, 1, 1))}


def test_a_missing_month_is_a_gap_naming_how_many():
    (gap,) = validate_candles(at([utc(2023, 11, 1), utc(2024, 2, 1)]), "1M")
    assert (gap.rule, gap.ts, gap.severity) == ("gap", utc(2024, 2, 1), "warning")
    assert "missing 2 1M candle(s) after 2023-11-01T00:00:00Z" in gap.detail


def test_weeks_open_on_mondays_and_a_missing_week_is_a_gap():
    mondays = [utc(2024, 1, 1), utc(2024, 1, 8), utc(2024, 1, 22)]
    (gap,) = validate_candles(at(mondays), "1w")
    assert (gap.rule, gap.ts) == ("gap", utc(2024, 1, 22))
    assert "missing 1 1w candle(s)" in gap.detail
    # A Thursday is on the epoch's 7-day grid but not on Binance's Monday grid.
    assert rules_at(at([utc(2024, 1, 4)]), "1w") == {("misaligned_ts", utc(2024, 1, 4))}


def test_month_rules_hold_across_symbols_and_unsorted_rows():
    a = at([utc(2024, 3, 1), utc(2024, 1, 1), utc(2024, 2, 1)])
    b = at([utc(2024, 1, 1), utc(2024, 3, 1)]).with_columns(symbol=pl.lit("BTC/USDT"))
    found = {(f.symbol, f.rule, f.ts) for f in validate_candles(pl.concat([a, b]), "1M")}
    assert found == {
        ("ETH/USDT", "out_of_order", utc(2024, 1, 1)),
        ("BTC/USDT", "gap", utc(2024, 3, 1)),
    }
