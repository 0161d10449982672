"""Pacing calls to one exchange account: a shared token bucket, ban back-off and retries.

Exchanges count requests per account (and per IP), not per object: two ccxt instances in one
process — the live loop and a Dagster backfill — that each throttle themselves still add up to
twice the allowed rate and earn a 429, then a 418 ban. So the bucket is shared by key
(exchange, endpoint, account) through `shared_limiter`, and a 429/418 pauses *every* caller of
that account until the exchange's `Retry-After` has passed, instead of letting the other
threads keep hammering a server that already said stop.

The bucket is GCRA (the "virtual scheduling" form of a token bucket): one timestamp per bucket
and a few float operations under a lock, so a caller that must wait sleeps *outside* the lock
on a slot it already reserved — waiting callers are served in arrival order and the overhead
of an uncontended call is a lock and a clock read.

`RetryPolicy` wraps tenacity for the read path: transient errors (`TransientExchangeError`)
are retried with exponential back-off and full jitter, permanent ones never; a rate limit whose
`Retry-After` exceeds what the caller is willing to wait is raised at once rather than slept on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from awan_trading.exchange.errors import RateLimited, TransientExchangeError
from awan_trading.logs import get_logger

T = TypeVar("T")
log = get_logger(__name__)


class TokenBucket:
    """A thread-safe token bucket: `rate` cost units per second, bursts up to `capacity`.

    `acquire(cost)` blocks until the call may go. `pause(seconds)` makes every later
    `acquire` wait until the pause is over (a 429/418 with `Retry-After`); a caller that is not
    willing to wait that long (`max_wait`) gets `RateLimited` instead of sleeping, without
    consuming a slot.
    """

    def __init__(
        self,
        rate: float,
        capacity: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not rate > 0 or not capacity > 0:
            raise ValueError(f"rate and capacity must be > 0, got {rate!r}, {capacity!r}")
        self.rate = float(rate)
        self.capacity = float(capacity)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tat = clock()  # theoretical arrival time: when the bucket is full again
        self._paused_until = 0.0
        self.calls = 0
        self.waited = 0.0  # total seconds callers slept here
        self.pauses: list[tuple[str, float]] = []  # (reason, seconds), for logs and tests

    def _reserve(self, cost: float, max_wait: float | None) -> float:
        with self._lock:
            now = self._clock()
            pause = self._paused_until - now
            if max_wait is not None and pause > max_wait:
                raise RateLimited(
                    f"rate limit: calls paused for another {pause:.1f}s by the exchange",
                    retry_after=pause,
                )
            start = max(now, self._paused_until)
            tat = max(self._tat, start)
            allowed_at = max(tat + cost / self.rate - self.capacity / self.rate, start)
            self._tat = tat + cost / self.rate
            self.calls += 1
            return allowed_at - now

    def acquire(self, cost: float = 1.0, *, max_wait: float | None = None) -> float:
        """Wait for a slot for a call of `cost` units; return the seconds waited."""
        delay = self._reserve(max(float(cost), 0.0), max_wait)
        if delay > 0:
            self._sleep(delay)
            with self._lock:
                self.waited += delay
            return delay
        return 0.0

    def pause(self, seconds: float, reason: str) -> None:
        """Hold every caller for `seconds` from now (never shortens an existing pause)."""
        with self._lock:
            until = self._clock() + max(seconds, 0.0)
            if until > self._paused_until:
                self._paused_until = until
            self.pauses.append((reason, seconds))
        log.warning("exchange asked to back off", reason=reason, seconds=round(seconds, 3))

    def paused_for(self) -> float:
        """Seconds left of the current pause (0 when none)."""
        with self._lock:
            return max(self._paused_until - self._clock(), 0.0)


_registry: dict[tuple[str, ...], TokenBucket] = {}
_registry_lock = threading.Lock()


def shared_limiter(key: tuple[str, ...], rate: float, capacity: float = 1.0) -> TokenBucket:
    """The one bucket for `key` in this process, created with `rate`/`capacity` on first use.

    `key` must not contain a secret: callers pass a digest of the API key, not the key.
    """
    with _registry_lock:
        bucket = _registry.get(key)
        if bucket is None:
            bucket = _registry[key] = TokenBucket(rate, capacity)
        return bucket


@dataclass(frozen=True)
class RetryPolicy:
    """How long to keep trying a read that failed transiently.

    `max_retry_after` caps how long a 429/418 `Retry-After` may hold this caller: a ban of an
    hour must surface as `RateLimited` (the caller decides), not as a thread asleep for an hour.
    """

    attempts: int = 5
    base_delay: float = 0.25  # seconds; the exponential back-off's multiplier
    max_delay: float = 8.0
    max_retry_after: float = 60.0

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, RateLimited):
            # The shared bucket already holds every caller until Retry-After has passed.
            return 0.0
        return wait_random_exponential(multiplier=self.base_delay, max=self.max_delay)(state)

    def _stop(self, state: RetryCallState) -> bool:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, RateLimited) and (error.retry_after or 0.0) > self.max_retry_after:
            return True
        return stop_after_attempt(self.attempts)(state)

    def call(self, fn: Callable[[], T], *, what: str) -> T:
        """`fn()`, retried on `TransientExchangeError`; the last error is re-raised."""

        def before_sleep(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            log.info(
                "retrying exchange call",
                call=what,
                attempt=state.attempt_number,
                error=type(error).__name__,
                detail=str(error),
            )

        retrying = Retrying(
            retry=retry_if_exception_type(TransientExchangeError),
            wait=self._wait,
            stop=self._stop,
            before_sleep=before_sleep,
            reraise=True,
        )
        return retrying(fn)
