"""What time it is for the live loop, and how it waits for the next candle close.

Live and paper trading run on the wall clock. A sim replay (`awan live --mode sim --start S
--end E`) runs on a `ReplayClock` that the loop itself moves from one close to the next; the
sim exchange is built with the same clock, so its idea of "now" (which candles have closed,
where a market order fills) is the loop's. At `speed="max"` moving the clock costs nothing, so
a week of 5m candles replays as fast as the loop can work; at a number N it waits 1/N of the
real interval, for watching a replay in the UI.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Protocol

from awan_trading.errors import ConfigError


class Clock(Protocol):
    """The loop's time source; `wait_until` returns False when `stop` was set meanwhile."""

    def now(self) -> datetime: ...

    def wait_until(self, when: datetime, stop: threading.Event) -> bool: ...


class WallClock:
    """Real UTC time; waits sleep on the stop event, so SIGTERM ends a wait at once."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def wait_until(self, when: datetime, stop: threading.Event) -> bool:
        while not stop.is_set():
            left = (when - self.now()).total_seconds()
            if left <= 0:
                return True
            stop.wait(min(left, 1.0))
        return False


def parse_speed(value: str | float | None) -> float | None:
    """`max` (or None) → None, meaning no waiting; a positive number → that many × real time."""
    if value is None or value == "max":
        return None
    try:
        speed = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"--speed must be 'max' or a positive number, got {value!r}") from None
    if not speed > 0:
        raise ConfigError(f"--speed must be 'max' or a positive number, got {value!r}")
    return speed


class ReplayClock:
    """A clock the replay driver sets; `speed` None jumps, N waits (interval / N) seconds."""

    def __init__(self, start: datetime, speed: float | None = None) -> None:
        self._now = start if start.tzinfo else start.replace(tzinfo=UTC)
        self.speed = speed
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = when

    def wait_until(self, when: datetime, stop: threading.Event) -> bool:
        if stop.is_set():
            return False
        if self.speed is not None:
            seconds = (when - self.now()).total_seconds() / self.speed
            if seconds > 0 and stop.wait(seconds):
                return False
        self.set(max(when, self.now()))
        return not stop.is_set()


def monotonic_ms() -> float:
    """Milliseconds on the monotonic clock, for the loop's own latency figures."""
    return time.perf_counter() * 1000.0
