"""The notification outbox: posting never waits, errors are deduplicated and rate-limited,
the send rate is kept, and whatever is dropped is one log line.

The notifier here is an in-memory recorder that can be made to block, fail or raise; the
outbox over the real python-telegram-bot client is `tests/integration/test_notify_outbox.py`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

import pytest

from awan_trading.logs import configure_logging, get_logger
from awan_trading.notify.events import Notice, error_notice
from awan_trading.notify.outbox import ErrorForwarder, NotificationOutbox, OutboxLimits

FAST = OutboxLimits(capacity=100, rate=1000.0, burst=1000, error_rate=1000.0, error_burst=1000)


class Recorder:
    """A notifier that records texts; `gate` (when set up) holds every send until opened."""

    def __init__(self, result: bool = True, raises: bool = False) -> None:
        self.texts: list[str] = []
        self.times: list[float] = []
        self.result, self.raises = result, raises
        self.gate: threading.Event | None = None
        self.entered = threading.Event()

    def send(self, text: str, *, html: bool = False) -> bool:
        self.entered.set()
        if self.gate is not None:
            self.gate.wait()
        if self.raises:
            raise RuntimeError("notifier broke")
        self.texts.append(text)
        self.times.append(time.monotonic())
        return self.result


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def logs(capsys) -> Iterator[pytest.CaptureFixture[str]]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    configure_logging(level="INFO", fmt="console")
    yield capsys
    root.handlers, root.level = handlers, level


def fill(i: int) -> Notice:
    return Notice("fill", f"<b>awan: entry filled BTC/USDT</b>\norder: e{i}")


def wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def test_posting_never_waits_for_a_blocked_sender_and_overflow_is_dropped_one_line_each(logs):
    notifier = Recorder()
    notifier.gate = threading.Event()
    outbox = NotificationOutbox(notifier, OutboxLimits(capacity=3, rate=1000.0, burst=1000)).start()
    assert outbox.post(fill(0))
    assert notifier.entered.wait(5)  # the sender holds notice 0 and is stuck in `send`
    results: list[bool] = []
    poster = threading.Thread(
        target=lambda: results.extend(outbox.post(fill(i)) for i in range(1, 6))
    )
    poster.start()
    poster.join(timeout=10)
    assert not poster.is_alive()  # five posts returned while the sender was still blocked
    assert results == [True, True, True, False, False]
    err = logs.readouterr().err
    assert err.count("notification dropped") == 2 and err.count("queue full (3)") == 2
    notifier.gate.set()
    outbox.close(timeout=5)
    assert [t.splitlines()[1] for t in notifier.texts] == ["order: e0", "order: e1", "order: e2",
                                                         "order: e3"]  # fmt: skip
    assert outbox.sent == 4 and outbox.dropped == 2


def test_identical_errors_are_sent_once_per_window_and_the_next_one_says_how_many_were_left_out():
    clock = FakeClock()
    outbox = NotificationOutbox(Recorder(), FAST, clock=clock)  # not started: inspect the queue
    posted = [
        outbox.post(error_notice("exchange down: 503", "awan_trading.live")) for _ in range(1000)
    ]
    assert posted.count(True) == 1 and outbox.suppressed == 999 and outbox.pending == 1
    clock.now += FAST.dedup_window - 1
    assert not outbox.post(
        error_notice("exchange down: 503\nanother traceback", "awan_trading.live")
    )
    assert outbox.post(error_notice("exchange down: 503", "awan_trading.store"))  # elsewhere
    clock.now += 2  # the first one's window is over
    assert outbox.post(error_notice("exchange down: 503", "awan_trading.live"))
    notifier = outbox.notifier
    outbox.start()
    outbox.close(timeout=5)
    assert len(notifier.texts) == 3
    assert "left out" not in notifier.texts[0]
    assert notifier.texts[1].endswith(
        "left out: 1000 more error(s) (duplicates or over the error rate)"
    )


def test_a_flood_of_distinct_errors_sends_the_error_burst_then_one_a_minute():
    clock = FakeClock()
    limits = OutboxLimits()  # the production numbers
    outbox = NotificationOutbox(Recorder(), limits, clock=clock)
    sent = sum(
        outbox.post(error_notice(f"order {i} failed", "awan_trading.execution"))
        for i in range(1000)
    )
    assert sent == limits.error_burst == 3 and outbox.suppressed == 997
    clock.now += 30  # half of a token
    assert not outbox.post(error_notice("yet another", "x"))
    clock.now += 30
    assert outbox.post(error_notice("a minute later", "x"))
    # Fills are never held back by the error policy.
    assert all(outbox.post(fill(i)) for i in range(10))


def test_the_send_rate_is_kept_after_the_burst():
    notifier = Recorder()
    limits = OutboxLimits(rate=5.0, burst=2)
    with NotificationOutbox(notifier, limits) as outbox:
        for i in range(6):
            outbox.post(fill(i))
        wait_for(lambda: len(notifier.times) == 6)
    gaps = notifier.times[-1] - notifier.times[0]
    # Two go at once, the other four one per 0.2 s: at least 0.8 s in all (never sooner).
    assert gaps >= (6 - limits.burst) / limits.rate * 0.9


def test_undeliverable_and_raising_notifiers_drop_with_one_line_each_and_the_thread_goes_on(logs):
    for notifier, count in ((Recorder(result=False), 3), (Recorder(raises=True), 3)):
        with NotificationOutbox(notifier, FAST) as outbox:
            for i in range(count):
                outbox.post(fill(i))
        assert outbox.dropped == count and outbox.sent == 0
    err = logs.readouterr().err
    assert err.count("not delivered after retries") == 6
    assert err.count("notifier raised") == 3


def test_close_flushes_until_the_deadline_then_drops_and_returns_even_if_a_send_hangs(logs):
    notifier = Recorder()
    notifier.gate = threading.Event()  # never opened: Telegram hangs for good
    outbox = NotificationOutbox(notifier, FAST).start()
    for i in range(4):
        outbox.post(fill(i))
    assert notifier.entered.wait(5)
    started = time.monotonic()
    outbox.close(timeout=0.2)
    assert time.monotonic() - started < 10  # bounded by the deadline, not by the hang
    assert outbox.dropped == 3 and outbox.pending == 0
    assert logs.readouterr().err.count("shutdown deadline passed") == 3
    assert not outbox.post(fill(9))  # closed: nothing more is taken
    notifier.gate.set()


def test_close_sends_what_is_queued_when_there_is_time():
    notifier = Recorder()
    outbox = NotificationOutbox(notifier, FAST)
    for i in range(20):
        outbox.post(fill(i))
    outbox.start().close(timeout=10)
    assert len(notifier.texts) == 20 and outbox.dropped == 0


def test_error_log_records_become_error_notices_but_not_the_notifiers_own(logs):
    outbox = NotificationOutbox(Recorder(), FAST)
    forwarder = ErrorForwarder(outbox)
    logger = logging.getLogger("awan_trading")
    logger.addHandler(forwarder)
    try:
        get_logger("awan_trading.live.loop").error("step failed", error="exchange <down>")
        get_logger("awan_trading.live.loop").warning("only a warning")
        get_logger("awan_trading.notify.telegram").error("telegram message not sent")
    finally:
        logger.removeHandler(forwarder)
    assert outbox.pending == 1
    outbox.start().close(timeout=5)
    [text] = outbox.notifier.texts
    assert "where: awan_trading.live.loop" in text
    assert "error: step failed: exchange &lt;down&gt;" in text
