"""Timeframes and the UTC grid candles sit on.

Every candle's `ts` is its open time and lies on its timeframe's grid, the grid Binance uses
(what ccxt users compare with):

- minutes, hours and days (`1m` … `12h`, `1d`, `3d`): multiples of the timeframe since the Unix
  epoch, so `1d` opens at midnight UTC, `8h` at 00/08/16 UTC and `3d` every third day counted
  from 1970-01-01;
- `1w`: Mondays 00:00 UTC (the epoch was a Thursday, so the grid is shifted by four days);
- `1M`: the first day of each calendar month 00:00 UTC; months have 28–31 days.

A fixed-length grid is integer arithmetic on epoch milliseconds, which keeps resampling and
validation of millions of rows vectorised. Months are the one calendar case; the methods below
(`floor`, `add`, `next_open`, `is_aligned`, `count_between`, and the polars expressions) hide
it, so callers never special-case `1M` — and `ms` refuses to answer for it rather than
returning a length that is wrong for most months.

Timeframe names are case-sensitive: `1M` (month) is not `1m` (minute).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from awan_trading.errors import AwanError

if TYPE_CHECKING:  # imported where used: config loading and `awan --help` need no polars
    import polars as pl

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
WEEK_MS = 7 * DAY_MS
YEAR_MS = 365 * DAY_MS  # crypto trades every day; annualisation counts 365-day years
# 1970-01-01 was a Thursday; the first Monday 00:00 UTC after the epoch anchors the 1w grid.
MONDAY_ANCHOR_MS = 4 * DAY_MS

_UNIT_MS = {"m": MINUTE_MS, "h": HOUR_MS, "d": DAY_MS, "w": WEEK_MS}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
TIMEFRAMES: tuple[str, ...] = (
    "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1M",
)  # fmt: skip


class TimeframeError(AwanError):
    """An unknown timeframe, or two timeframes that cannot be converted into each other."""


@functools.total_ordering
@dataclass(frozen=True, eq=True)
class Timeframe:
    """A candle width such as `1h` or `1M`, with its grid; compares by (typical) length.

    Exactly one of `step_ms` (every candle lasts this long) and `months` (every candle is this
    many calendar months) is non-zero. `anchor_ms` is one open of a fixed grid (0 = the epoch,
    or the first Monday for weeks).
    """

    name: str
    step_ms: int = 0
    months: int = 0
    anchor_ms: int = 0

    # --- lengths ---------------------------------------------------------------------------

    @property
    def is_fixed(self) -> bool:
        """True when every candle has the same length (all but calendar months)."""
        return self.months == 0

    @property
    def ms(self) -> int:
        """The candle length in ms; refused for `1M`, whose candles differ in length."""
        if not self.is_fixed:
            raise TimeframeError(
                f"{self.name} candles have no fixed length (calendar months); use the "
                "timeframe's floor/add/next_open/count_between instead"
            )
        return self.step_ms

    @property
    def delta(self) -> timedelta:
        return timedelta(milliseconds=self.ms)

    @property
    def max_ms(self) -> int:
        """The longest candle (31 days for `1M`): an upper bound for look-backs and lags."""
        return self.step_ms if self.is_fixed else self.months * 31 * DAY_MS

    @property
    def nominal_ms(self) -> int:
        """The average candle length over a 365-day year (a month is 1/12 of it)."""
        return self.step_ms if self.is_fixed else self.months * YEAR_MS // 12

    @property
    def periods_per_year(self) -> float:
        """Candles in a 365-day year: 525,600 for 1m, 1095 for 8h, 365/7 for 1w, 12 for 1M."""
        return YEAR_MS / self.step_ms if self.is_fixed else 12 / self.months

    @property
    def polars_every(self) -> str:
        """The duration string polars uses for `dt.truncate` / `dt.offset_by`."""
        return self.name if self.is_fixed else f"{self.months}mo"

    # --- the grid in epoch milliseconds ------------------------------------------------------

    def index_ms(self, epoch_ms: int) -> int:
        """The number of the candle containing `epoch_ms`, counted on the grid (0 at the
        epoch's candle); consecutive candles have consecutive numbers."""
        if self.is_fixed:
            return (epoch_ms - self.anchor_ms) // self.step_ms
        when = from_epoch_ms(epoch_ms)
        return ((when.year - 1970) * 12 + when.month - 1) // self.months

    def open_ms(self, index: int) -> int:
        """The open time of candle number `index` (the inverse of `index_ms` on the grid)."""
        if self.is_fixed:
            return self.anchor_ms + index * self.step_ms
        year, month0 = divmod(index * self.months, 12)
        return to_epoch_ms(datetime(1970 + year, month0 + 1, 1, tzinfo=UTC))

    def floor_ms(self, epoch_ms: int) -> int:
        """The open time (epoch ms) of the candle that contains `epoch_ms`."""
        if self.is_fixed:  # the hot path of every fetch: no index round trip
            return epoch_ms - (epoch_ms - self.anchor_ms) % self.step_ms
        return self.open_ms(self.index_ms(epoch_ms))

    def ceil_ms(self, epoch_ms: int) -> int:
        """The first open time at or after `epoch_ms`."""
        floor = self.floor_ms(epoch_ms)
        return floor if floor == epoch_ms else self.add_ms(floor, 1)

    def add_ms(self, epoch_ms: int, n: int) -> int:
        """The open `n` candles after (before, for n < 0) the candle containing `epoch_ms`."""
        if self.is_fixed:
            return self.floor_ms(epoch_ms) + n * self.step_ms
        return self.open_ms(self.index_ms(epoch_ms) + n)

    def next_open_ms(self, epoch_ms: int) -> int:
        """The close of the candle containing `epoch_ms`, which is the next candle's open."""
        return self.add_ms(epoch_ms, 1)

    def is_aligned_ms(self, epoch_ms: int) -> bool:
        return self.floor_ms(epoch_ms) == epoch_ms

    def count_ms(self, start_ms: int, end_ms: int) -> int:
        """How many candles open in [start_ms, end_ms)."""
        first, stop = self.ceil_ms(start_ms), self.ceil_ms(end_ms)
        return max(self.index_ms(stop) - self.index_ms(first), 0)

    def opens_ms(self, start_ms: int, end_ms: int) -> list[int]:
        """Every open time in [start_ms, end_ms), in order."""
        first = self.index_ms(self.ceil_ms(start_ms))
        return [self.open_ms(first + i) for i in range(self.count_ms(start_ms, end_ms))]

    # --- the same with datetimes ---------------------------------------------------------------

    def floor(self, when: datetime) -> datetime:
        return from_epoch_ms(self.floor_ms(to_epoch_ms(when)))

    def ceil(self, when: datetime) -> datetime:
        return from_epoch_ms(self.ceil_ms(to_epoch_ms(when)))

    def add(self, when: datetime, n: int) -> datetime:
        return from_epoch_ms(self.add_ms(to_epoch_ms(when), n))

    def next_open(self, when: datetime) -> datetime:
        return from_epoch_ms(self.next_open_ms(to_epoch_ms(when)))

    def is_aligned(self, when: datetime) -> bool:
        return self.is_aligned_ms(to_epoch_ms(when))

    def count_between(self, start: datetime, end: datetime) -> int:
        """How many candles open in [start, end)."""
        return self.count_ms(to_epoch_ms(start), to_epoch_ms(end))

    def opens(self, start: datetime, end: datetime) -> list[datetime]:
        """Every open time in [start, end): the candles a complete feed holds."""
        return [from_epoch_ms(t) for t in self.opens_ms(to_epoch_ms(start), to_epoch_ms(end))]

    # --- vectorised: polars expressions over a Datetime("ms", "UTC") column --------------------

    def floor_expr(self, ts: pl.Expr) -> pl.Expr:
        """Epoch ms (Int64) of the open of the candle containing each `ts`."""
        if self.is_fixed:
            epoch = ts.dt.epoch("ms")
            if self.anchor_ms == 0:
                return epoch - epoch % self.step_ms
            return epoch - (epoch - self.anchor_ms) % self.step_ms  # polars' % floors, as Python's
        return ts.dt.truncate(self.polars_every).dt.epoch("ms")

    def next_open_expr(self, open_ms: pl.Expr) -> pl.Expr:
        """Epoch ms of the close of each candle whose open (epoch ms, on the grid) is given."""
        import polars as pl

        if self.is_fixed:
            return open_ms + self.step_ms
        as_ts = open_ms.cast(pl.Datetime("ms")).dt.replace_time_zone("UTC")
        return as_ts.dt.offset_by(self.polars_every).dt.epoch("ms")

    def misaligned_expr(self, ts: pl.Expr) -> pl.Expr:
        """True where `ts` is not an open time of this grid."""
        if self.is_fixed:
            epoch = ts.dt.epoch("ms")
            if self.anchor_ms == 0:
                return epoch % self.step_ms != 0
            return (epoch - self.anchor_ms) % self.step_ms != 0
        return ts != ts.dt.truncate(self.polars_every)

    def gap_expr(self, prev: pl.Expr, ts: pl.Expr) -> pl.Expr:
        """True where the candle opening at `ts` does not directly follow the one at `prev`."""
        if self.is_fixed:
            # any step longer than one candle, even by less than a whole one (a misaligned row)
            return (ts - prev).dt.total_milliseconds() > self.step_ms
        return self.missing_between_expr(prev, ts) > 0

    def missing_between_expr(self, prev: pl.Expr, ts: pl.Expr) -> pl.Expr:
        """How many candles are missing between the candles opening at `prev` and `ts`."""
        if self.is_fixed:
            return (ts - prev).dt.total_milliseconds() // self.step_ms - 1

        import polars as pl

        def month_number(col: pl.Expr) -> pl.Expr:
            return col.dt.year().cast(pl.Int64) * 12 + col.dt.month().cast(pl.Int64)

        return (month_number(ts) - month_number(prev)) // self.months - 1

    # --- relations ---------------------------------------------------------------------------

    def divides(self, higher: Timeframe) -> bool:
        """True when every `higher` candle is a whole run of `self` candles (exact resampling)."""
        if not self.is_fixed:
            return not higher.is_fixed and higher.months % self.months == 0
        if not higher.is_fixed:
            # months open at midnight: a grid that lands on every midnight divides them
            return DAY_MS % self.step_ms == 0 and self.anchor_ms % self.step_ms == 0
        return (
            higher.step_ms % self.step_ms == 0
            and (higher.anchor_ms - self.anchor_ms) % self.step_ms == 0
        )

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Timeframe):
            return NotImplemented
        return (self.nominal_ms, self.name) < (other.nominal_ms, other.name)

    def __str__(self) -> str:
        return self.name


@functools.cache
def _build(name: str) -> Timeframe:
    if name == "1M":
        return Timeframe(name=name, months=1)
    unit_ms = _UNIT_MS[name[-1]]
    anchor = MONDAY_ANCHOR_MS if name[-1] == "w" else 0
    return Timeframe(name=name, step_ms=int(name[:-1]) * unit_ms, anchor_ms=anchor)


def parse_timeframe(value: str | Timeframe) -> Timeframe:
    """Parse `1m`…`1M`; anything else raises `TimeframeError` listing the supported ones.

    Case matters and is never folded: `1M` is a month, `1m` a minute.
    """
    if isinstance(value, Timeframe):
        return value
    text = str(value).strip()
    if text not in TIMEFRAMES:
        raise TimeframeError(f"unknown timeframe {value!r}; supported: {' '.join(TIMEFRAMES)}")
    return _build(text)


def timeframe_for_spacing(step_ms: int) -> Timeframe | None:
    """The timeframe whose candles are `step_ms` apart, if any.

    Calendar months are 28–31 days apart, so any spacing in that range is `1M`; no fixed
    timeframe lies in it (1w is 7 days).
    """
    for name in TIMEFRAMES:
        tf = parse_timeframe(name)
        if tf.is_fixed and tf.step_ms == step_ms:
            return tf
    if 28 * DAY_MS <= step_ms <= 31 * DAY_MS and step_ms % DAY_MS == 0:
        return parse_timeframe("1M")
    return None


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
