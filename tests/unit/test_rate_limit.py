"""The shared token bucket and the retry policy, on a fake clock (no real waiting)."""

from __future__ import annotations

import threading

import pytest

from awan_trading.exchange.errors import (
    ExchangeUnavailable,
    InvalidOrder,
    RateLimited,
)
from awan_trading.exchange.rate_limit import RetryPolicy, TokenBucket, shared_limiter


class FakeTime:
    """A clock that only moves when someone sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def bucket(rate: float = 10.0, capacity: float = 2.0) -> tuple[TokenBucket, FakeTime]:
    fake = FakeTime()
    return TokenBucket(rate, capacity, clock=fake.clock, sleep=fake.sleep), fake


def test_burst_up_to_capacity_then_spaced_by_cost_over_rate() -> None:
    limiter, _fake = bucket(rate=10.0, capacity=2.0)
    waits = [limiter.acquire(1.0) for _ in range(5)]
    assert waits[:2] == [0.0, 0.0]
    assert waits[2:] == pytest.approx([0.1, 0.1, 0.1])
    assert limiter.calls == 5
    assert limiter.waited == pytest.approx(0.3)


def test_costs_are_weights() -> None:
    limiter, _ = bucket(rate=10.0, capacity=1.0)
    assert limiter.acquire(1.0) == 0.0
    assert limiter.acquire(4.0) == pytest.approx(0.4)  # a heavy endpoint waits longer
    assert limiter.acquire(0.2) == pytest.approx(0.02)  # the heavy call emptied the bucket


def test_idle_time_refills_but_never_beyond_capacity() -> None:
    limiter, fake = bucket(rate=10.0, capacity=2.0)
    fake.now += 3600.0
    waits = [limiter.acquire(1.0) for _ in range(3)]
    assert waits == pytest.approx([0.0, 0.0, 0.1])


def test_pause_holds_every_caller_until_retry_after() -> None:
    limiter, _fake = bucket()
    limiter.pause(5.0, "HTTP 429")
    assert limiter.paused_for() == pytest.approx(5.0)
    assert limiter.acquire(1.0) == pytest.approx(5.0)
    assert limiter.paused_for() == 0.0
    assert limiter.pauses[-1] == ("HTTP 429", 5.0)


def test_a_shorter_pause_never_shortens_a_longer_one() -> None:
    limiter, _ = bucket()
    limiter.pause(10.0, "HTTP 418")
    limiter.pause(1.0, "HTTP 429")
    assert limiter.paused_for() == pytest.approx(10.0)


def test_caller_unwilling_to_wait_out_a_ban_gets_rate_limited_without_a_slot() -> None:
    limiter, fake = bucket()
    limiter.pause(600.0, "HTTP 418")
    with pytest.raises(RateLimited) as info:
        limiter.acquire(1.0, max_wait=60.0)
    assert info.value.retry_after == pytest.approx(600.0)
    assert limiter.calls == 0 and fake.slept == []


def test_shared_limiter_is_one_object_per_key() -> None:
    a = shared_limiter(("test-x", "host", "acct-1"), rate=5.0)
    b = shared_limiter(("test-x", "host", "acct-1"), rate=99.0)
    c = shared_limiter(("test-x", "host", "acct-2"), rate=5.0)
    assert a is b and a is not c
    assert b.rate == 5.0  # the first creation wins


def test_concurrent_callers_each_get_one_slot() -> None:
    limiter = TokenBucket(1e9, 1.0)
    threads = [
        threading.Thread(target=lambda: [limiter.acquire(1.0) for _ in range(200)])
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert limiter.calls == 1600


def test_concurrent_reservations_are_spaced_like_sequential_ones() -> None:
    fake = FakeTime()
    lock = threading.Lock()
    reserved: list[float] = []

    def sleep(seconds: float) -> None:  # record, don't advance: all callers arrive "at once"
        with lock:
            reserved.append(seconds)

    limiter = TokenBucket(10.0, 1.0, clock=fake.clock, sleep=sleep)
    threads = [threading.Thread(target=limiter.acquire, args=(1.0,)) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(reserved) == pytest.approx([0.1 * i for i in range(1, 10)])


class Flaky:
    def __init__(self, errors: list[Exception]) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


FAST = RetryPolicy(attempts=4, base_delay=0.001, max_delay=0.002, max_retry_after=5.0)


def test_transient_errors_are_retried_until_success() -> None:
    fn = Flaky([ExchangeUnavailable("502"), RateLimited("429", retry_after=0.0)])
    assert FAST.call(fn, what="test") == "ok"
    assert fn.calls == 3


def test_permanent_errors_are_never_retried() -> None:
    fn = Flaky([InvalidOrder("below min notional")])
    with pytest.raises(InvalidOrder):
        FAST.call(fn, what="test")
    assert fn.calls == 1


def test_retries_stop_after_the_attempt_budget() -> None:
    fn = Flaky([ExchangeUnavailable(str(i)) for i in range(10)])
    with pytest.raises(ExchangeUnavailable, match="3"):
        FAST.call(fn, what="test")
    assert fn.calls == 4


def test_a_ban_longer_than_max_retry_after_is_raised_at_once() -> None:
    fn = Flaky([RateLimited("418", retry_after=3600.0)])
    with pytest.raises(RateLimited):
        FAST.call(fn, what="test")
    assert fn.calls == 1
