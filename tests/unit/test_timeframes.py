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
        "12h": 720,
        "1d": 1440,
    }
    assert set(TIMEFRAMES) == set(expected)
    for name, minutes in expected.items():
        assert parse_timeframe(name).ms == minutes * 60_000


@pytest.mark.parametrize("bad", ["", "1w", "2m", "60s", "1H", "h1", "1.5h"])
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
