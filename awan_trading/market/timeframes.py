"""Timeframes and the UTC grid candles sit on.

Every candle's `ts` is its open time and lies on its timeframe's grid (multiples of the
timeframe since the Unix epoch, which for 1d is midnight UTC); that is what lets resampling,
gap detection and partitioning be exact integer arithmetic instead of calendar logic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from awan_trading.errors import AwanError

_UNIT_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
TIMEFRAMES: tuple[str, ...] = ("1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "12h", "1d")


class TimeframeError(AwanError):
    """An unknown timeframe, or two timeframes that cannot be converted into each other."""


@dataclass(frozen=True, order=True)
class Timeframe:
    """A candle width such as `1h`; compares by duration."""

    ms: int
    name: str

    @property
    def delta(self) -> timedelta:
        return timedelta(milliseconds=self.ms)

    @property
    def polars_every(self) -> str:
        """The duration string polars uses for `dt.truncate` / `group_by_dynamic`."""
        return self.name

    def floor_ms(self, epoch_ms: int) -> int:
        """The open time (epoch ms) of the candle that contains `epoch_ms`."""
        return epoch_ms - epoch_ms % self.ms

    def floor(self, when: datetime) -> datetime:
        return from_epoch_ms(self.floor_ms(to_epoch_ms(when)))

    def is_aligned(self, when: datetime) -> bool:
        return to_epoch_ms(when) % self.ms == 0

    def divides(self, higher: Timeframe) -> bool:
        return higher.ms % self.ms == 0 and higher.ms >= self.ms

    def __str__(self) -> str:
        return self.name


def parse_timeframe(value: str | Timeframe) -> Timeframe:
    """Parse `1m`…`1d`; anything else raises `TimeframeError` listing the supported ones."""
    if isinstance(value, Timeframe):
        return value
    text = str(value).strip()
    if text not in TIMEFRAMES:
        raise TimeframeError(f"unknown timeframe {value!r}; supported: {' '.join(TIMEFRAMES)}")
    return Timeframe(ms=int(text[:-1]) * _UNIT_MS[text[-1]], name=text)


def to_epoch_ms(when: datetime) -> int:
    """Epoch milliseconds of an aware datetime; naive datetimes are taken as UTC."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (when - EPOCH) // timedelta(milliseconds=1)


def from_epoch_ms(epoch_ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=epoch_ms)


def parse_utc(value: str | datetime, *, what: str = "time") -> datetime:
    """Parse `2024-01-01`, `2024-01-01T12:00` or a full ISO 8601 string as UTC."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        raise AwanError(
            f"invalid {what} {value!r}; expected an ISO date such as 2024-01-01 or 2024-01-01T12:00"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
