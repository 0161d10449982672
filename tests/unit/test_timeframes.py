import itertools
from datetime import UTC, datetime, timedelta

import pytest

from awan_trading.errors import AwanError
from awan_trading.market.timeframes import (
    TIMEFRAMES,
    TimeframeError,
    from_epoch_ms,
    parse_timeframe,
    parse_utc,
    to_epoch_ms,
)


def test_every_supported_timeframe_parses_to_its_duration():
    expected = {
        "1m": 1,
        "3m": 3,
        "5m": 5,
        "15m": 15,
        "30m": 30,
        "1h": 60,
        "2h": 120,
        "4h": 240,
        "6h": 360,
        "8h": 480,
        "12h": 720,
        "1d": 1440,
        "3d": 3 * 1440,
        "1w": 7 * 1440,
    }
    assert set(TIMEFRAMES) == set(expected) | {"1M"}
    for name, minutes in expected.items():
        assert parse_timeframe(name).ms == minutes * 60_000
    assert parse_timeframe("1M").max_ms == 31 * 1440 * 60_000


@pytest.mark.parametrize("bad", ["", "2w", "2m", "60s", "1H", "h1", "1.5h", "1W", "1mo", "1Mo"])
def test_unknown_timeframe_is_refused_with_the_supported_list(bad):
    with pytest.raises(TimeframeError, match="supported: 1m 3m"):
        parse_timeframe(bad)


def test_floor_and_alignment_use_the_utc_grid():
    h4 = parse_timeframe("4h")
    when = datetime(2024, 1, 1, 5, 59, 59, 999000, tzinfo=UTC)
    assert h4.floor(when) == datetime(2024, 1, 1, 4, tzinfo=UTC)
    assert h4.is_aligned(datetime(2024, 1, 1, 8, tzinfo=UTC))
    assert not h4.is_aligned(datetime(2024, 1, 1, 9, tzinfo=UTC))
    assert parse_timeframe("1d").floor(when) == datetime(2024, 1, 1, tzinfo=UTC)


def test_divides_only_whole_multiples():
    assert parse_timeframe("1m").divides(parse_timeframe("1h"))
    assert parse_timeframe("15m").divides(parse_timeframe("1h"))
    assert not parse_timeframe("3m").divides(parse_timeframe("5m"))
    assert not parse_timeframe("1h").divides(parse_timeframe("30m"))


def test_epoch_round_trip_is_exact_to_the_millisecond():
    when = datetime(2031, 7, 3, 12, 34, 56, 789000, tzinfo=UTC)
    assert from_epoch_ms(to_epoch_ms(when)) == when
    assert to_epoch_ms(datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=1)) == 1


def test_parse_utc_accepts_dates_and_offsets_and_names_bad_input():
    assert parse_utc("2024-01-01") == datetime(2024, 1, 1, tzinfo=UTC)
    assert parse_utc("2024-01-01T02:00+02:00") == datetime(2024, 1, 1, tzinfo=UTC)
    assert parse_utc("2024-01-01T00:00:00Z") == datetime(2024, 1, 1, tzinfo=UTC)
    with pytest.raises(AwanError, match="invalid --start 'yesterday'"):
        parse_utc("yesterday", what="--start")


# --- 8h, 3d, 1w and 1M: Binance's grids ---------------------------------------------------


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_month_and_minute_are_different_timeframes():
    month, minute = parse_timeframe("1M"), parse_timeframe("1m")
    assert month != minute and month.name == "1M" and minute.name == "1m"
    assert minute < parse_timeframe("1w") < month
    with pytest.raises(TimeframeError, match="no fixed length"):
        _ = month.ms


def test_8h_opens_at_0_8_and_16_utc():
    h8 = parse_timeframe("8h")
    assert h8.floor(utc(2024, 5, 7, 15, 59)) == utc(2024, 5, 7, 8)
    assert h8.next_open(utc(2024, 5, 7, 16)) == utc(2024, 5, 8)
    assert [t.hour for t in h8.opens(utc(2024, 5, 7), utc(2024, 5, 8))] == [0, 8, 16]
    assert not h8.is_aligned(utc(2024, 5, 7, 4))


def test_3d_counts_three_days_from_the_unix_epoch():
    d3 = parse_timeframe("3d")
    assert d3.is_aligned(utc(1970, 1, 1)) and d3.is_aligned(utc(1970, 1, 4))
    # 2024-01-01 is day 19723 since the epoch, 19723 = 3 * 6574 + 1: the candle opened a day before
    assert d3.floor(utc(2024, 1, 1, 12)) == utc(2023, 12, 31)
    assert d3.next_open(utc(2024, 1, 1, 12)) == utc(2024, 1, 3)
    assert d3.count_between(utc(2024, 1, 1), utc(2024, 2, 1)) == 10


def test_1w_opens_on_mondays():
    w = parse_timeframe("1w")
    assert w.floor(utc(2024, 1, 7, 23, 59)) == utc(2024, 1, 1)  # Sunday → that week's Monday
    assert w.floor(utc(1970, 1, 3)) == utc(1969, 12, 29)  # before the first Monday of the epoch
    opens = w.opens(utc(2024, 1, 1), utc(2025, 1, 1))
    assert len(opens) == 53 and {t.weekday() for t in opens} == {0}
    assert w.is_aligned(utc(2024, 12, 30)) and not w.is_aligned(utc(2024, 12, 31))


@pytest.mark.parametrize(
    ("when", "floor", "next_open"),
    [
        (utc(2024, 1, 31, 23, 59, 59), utc(2024, 1, 1), utc(2024, 2, 1)),
        (utc(2024, 2, 29, 12), utc(2024, 2, 1), utc(2024, 3, 1)),  # leap day
        (utc(2023, 2, 28, 23), utc(2023, 2, 1), utc(2023, 3, 1)),
        (utc(2024, 12, 31, 23), utc(2024, 12, 1), utc(2025, 1, 1)),  # year end
        (utc(2024, 4, 1), utc(2024, 4, 1), utc(2024, 5, 1)),
    ],
)
def test_1m_month_floor_and_next_open_follow_the_calendar(when, floor, next_open):
    month = parse_timeframe("1M")
    assert month.floor(when) == floor
    assert month.next_open(when) == next_open
    assert month.is_aligned(floor) and (month.is_aligned(when) == (when == floor))


def test_month_arithmetic_counts_and_lists_calendar_months():
    month = parse_timeframe("1M")
    assert month.add(utc(2024, 1, 1), 13) == utc(2025, 2, 1)
    assert month.add(utc(2024, 3, 15), -3) == utc(2023, 12, 1)
    assert month.ceil(utc(2024, 2, 1, 0, 0, 1)) == utc(2024, 3, 1)
    assert month.count_between(utc(2024, 1, 1), utc(2025, 1, 1)) == 12
    assert month.count_between(utc(2024, 1, 2), utc(2024, 3, 1)) == 1  # only Feb opens inside
    assert month.count_between(utc(2024, 3, 1), utc(2024, 1, 1)) == 0
    assert month.opens(utc(2024, 11, 1), utc(2025, 3, 1)) == [
        utc(2024, 11, 1), utc(2024, 12, 1), utc(2025, 1, 1), utc(2025, 2, 1)
    ]  # fmt: skip
    lengths = [
        (b - a).days for a, b in itertools.pairwise(month.opens(utc(2024, 1, 1), utc(2025, 2, 1)))
    ]
    assert lengths == [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]


def test_divides_respects_grids_not_just_lengths():
    tf = parse_timeframe
    assert tf("1h").divides(tf("8h")) and tf("8h").divides(tf("1d"))
    assert tf("1d").divides(tf("3d")) and tf("1d").divides(tf("1w"))
    assert tf("1m").divides(tf("1M")) and tf("1d").divides(tf("1M"))
    assert not tf("3d").divides(tf("1w"))
    assert not tf("1w").divides(tf("1M")) and not tf("3d").divides(tf("1M"))
    assert not tf("1M").divides(tf("1w"))


def test_periods_per_year_use_365_day_years():
    per_year = {name: parse_timeframe(name).periods_per_year for name in TIMEFRAMES}
    assert per_year["1m"] == 525_600
    assert per_year["8h"] == 1095
    assert per_year["1d"] == 365
    assert per_year["3d"] == pytest.approx(365 / 3)
    assert per_year["1w"] == pytest.approx(365 / 7)
    assert per_year["1M"] == 12
