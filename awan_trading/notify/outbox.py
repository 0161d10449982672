"""The notification outbox: a bounded queue drained by one daemon thread.

Sending to Telegram takes a round trip per chat at best and, with flood control or a dead
network, tens of seconds of retries. The order path cannot wait for that, so it only posts:
`post` (and `send`, the `Notifier` protocol the executor calls) puts the notice on a bounded
queue and returns at once, and one daemon thread sends what is queued through the notifier
(`TelegramNotifier`, to every allowed chat, with its retries). A slow or dead Telegram then
costs messages, never an order's time.

Policies, and why these numbers (`OutboxLimits`):

- **Rate limit (every message).** Telegram allows a bot about 30 messages per second overall,
  about one per second in one chat, and 20 per minute in a group. Every notice goes to every
  allowed chat, so the chat limits are the binding ones: a token bucket of 5 messages, refilled
  at one per 3 s (20 per minute), keeps each chat within the group limit after a short burst
  (a close that fills several orders), and N chats at 20 per minute stay far under 30 per
  second. A message over the rate waits in the queue; it is not dropped.
- **Errors: deduplication and their own rate.** An error that repeats (an exchange down for an
  hour fails every tick) must not bury the fills. The same error text (its first line and
  where it came from) is sent once per 10 minutes, and error messages have a bucket of their
  own — 3, then one a minute — beyond which they are counted, not queued; the next error
  that is sent says how many were left out. A flood of 1,000 error events therefore sends 3.
- **Overflow.** The queue holds 100 notices (at one per 3 s that is 5 minutes of backlog);
  a notice posted to a full queue is dropped with one log line.
- **Undeliverable.** A notice the notifier gave up on (after its own retries: 429 with
  `retry_after`, network errors and 5xx with backoff) is dropped with one log line.
- **Shutdown.** `close(timeout)` stops taking notices and lets the thread send what is queued
  until the deadline; what is left then is dropped, one log line each, and `close` returns
  even when a send is still hanging (the thread is a daemon).

Log lines name the notice's kind and headline, never the chat's token: the text carries none
(the notifier redacts secrets from it before sending, and every log record is redacted).
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

from awan_trading.logs import get_logger
from awan_trading.notify.events import Notice, error_notice

log = get_logger(__name__)

_TAG = re.compile(r"<[^>]+>")


class _Sender(Protocol):
    def send(self, text: str, *, html: bool = False) -> bool: ...


@dataclass(frozen=True)
class OutboxLimits:
    """The outbox's numbers (module docstring says why these)."""

    capacity: int = 100
    rate: float = 1 / 3  # messages per second, sustained
    burst: int = 5
    error_rate: float = 1 / 60  # error messages per second, sustained
    error_burst: int = 3
    dedup_window: float = 600.0  # seconds an identical error stays "already sent"


class TokenBucket:
    """`burst` tokens, refilled at `rate` per second; not thread-safe (callers hold a lock or
    own it)."""

    def __init__(self, rate: float, burst: int, now: float) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"rate must be > 0 and burst >= 1, got {rate!r}, {burst!r}")
        self.rate, self.burst = rate, float(burst)
        self.tokens, self._at = float(burst), now

    def _refill(self, now: float) -> None:
        self.tokens = min(self.burst, self.tokens + max(0.0, now - self._at) * self.rate)
        self._at = now

    def take(self, now: float) -> bool:
        """Spend one token if there is one."""
        self._refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def wait(self, now: float) -> float:
        """Seconds until a token is available (0 when one is)."""
        self._refill(now)
        return max(0.0, (1.0 - self.tokens) / self.rate)


def headline(notice: Notice) -> str:
    """The first line of a notice without its HTML tags (what log lines name)."""
    first = notice.text.split("\n", 1)[0]
    return _TAG.sub("", first) if notice.html else first


class NotificationOutbox:
    """Posting never blocks; one daemon thread sends (module docstring for the policies).

    `notifier` is anything with `send(text, *, html) -> bool` (a `TelegramNotifier`); it is
    called from the outbox's thread only. `clock` is monotonic seconds (tests pass their own).
    """

    def __init__(
        self,
        notifier: _Sender,
        limits: OutboxLimits | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        name: str = "notify-outbox",
    ) -> None:
        self.notifier = notifier
        self.limits = limits or OutboxLimits()
        self._clock = clock
        self._queue: queue.Queue[Notice] = queue.Queue(maxsize=self.limits.capacity)
        self._lock = threading.Lock()
        now = clock()
        self._send_bucket = TokenBucket(self.limits.rate, self.limits.burst, now)
        self._error_bucket = TokenBucket(self.limits.error_rate, self.limits.error_burst, now)
        self._seen: dict[str, float] = {}  # error key → when it was last let through
        self._unsent_errors = 0
        self._closing = threading.Event()
        self._deadline = float("inf")
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.sent = 0
        self.dropped = 0
        self.suppressed = 0  # errors left out by deduplication or their rate limit

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> NotificationOutbox:
        if not self._thread.is_alive() and not self._closing.is_set():
            self._thread.start()
        return self

    def __enter__(self) -> NotificationOutbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self, timeout: float = 5.0) -> None:
        """Stop taking notices; send what is queued until `timeout` s from now, drop the rest."""
        if self._closing.is_set():
            return
        self._deadline = self._clock() + timeout
        self._closing.set()
        if self._thread.is_alive():
            self._thread.join(timeout + 0.5)
        while True:  # the thread is done or stuck in a send: what is left will not go
            try:
                self._drop(self._queue.get_nowait(), "shutdown deadline passed")
            except queue.Empty:
                break

    def join(self, timeout: float) -> bool:
        """Wait up to `timeout` s for the sender thread to end (after `close`); True if it did."""
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def pending(self) -> int:
        """Notices queued, not yet handed to the notifier."""
        return self._queue.qsize()

    # --- posting (any thread, never blocks) -----------------------------------------------

    def send(self, text: str, *, html: bool = False) -> bool:
        """The `Notifier` protocol: queue `text`; True when it was queued (not yet delivered)."""
        return self.post(Notice("message", text, html=html))

    def post(self, notice: Notice) -> bool:
        """Queue `notice`; False when it was left out (duplicate or rate-limited error, a full
        queue, a closed outbox)."""
        if self._closing.is_set():
            self._drop(notice, "outbox closed")
            return False
        if notice.kind == "error":
            admitted = self._admit_error(notice)
            if admitted is None:
                return False
            notice = admitted
        try:
            self._queue.put_nowait(notice)
        except queue.Full:
            self._drop(notice, f"queue full ({self.limits.capacity})")
            return False
        return True

    def post_error(self, text: str, source: str | None = None) -> bool:
        """Shorthand for `post(error_notice(text, source))`."""
        return self.post(error_notice(text, source))

    def _admit_error(self, notice: Notice) -> Notice | None:
        """The error as it is to be queued, or None when deduplication or the rate drops it."""
        key = notice.key or notice.text
        with self._lock:
            now = self._clock()
            last = self._seen.get(key)
            if last is not None and now - last < self.limits.dedup_window:
                self._count_unsent()
                return None
            if not self._error_bucket.take(now):
                self._count_unsent()
                return None
            self._seen[key] = now
            if len(self._seen) > 4 * self.limits.capacity:  # forget errors past the window
                window = self.limits.dedup_window
                self._seen = {k: t for k, t in self._seen.items() if now - t < window}
            unsent, self._unsent_errors = self._unsent_errors, 0
        if unsent:
            line = f"left out: {unsent} more error(s) (duplicates or over the error rate)"
            notice = replace(notice, text=f"{notice.text}\n{line}")
        return notice

    def _count_unsent(self) -> None:
        self._unsent_errors += 1
        self.suppressed += 1

    # --- the sender thread ----------------------------------------------------------------

    def _run(self) -> None:
        while True:
            if self._closing.is_set() and self._clock() >= self._deadline:
                return
            try:
                notice = self._queue.get(timeout=0.1)
            except queue.Empty:
                if self._closing.is_set():
                    return  # everything queued was handled
                continue
            if not self._await_token():
                self._drop(notice, "shutdown deadline passed")
                continue
            self._deliver(notice)

    def _await_token(self) -> bool:
        """Wait for the send rate to allow one message; False when the shutdown deadline
        comes first."""
        while True:
            now = self._clock()
            with self._lock:
                if self._send_bucket.take(now):
                    return True
                wait = self._send_bucket.wait(now)
            if self._closing.is_set():
                if now + wait > self._deadline:
                    return False
                time.sleep(min(wait, 0.1))
            else:
                self._closing.wait(min(wait, 1.0))

    def _deliver(self, notice: Notice) -> None:
        try:
            delivered = bool(self.notifier.send(notice.text, html=notice.html))
        except Exception as error:  # a notifier must not kill the thread that serves the rest
            log.error("notifier raised", error=f"{type(error).__name__}: {error}")
            delivered = False
        if delivered:
            self.sent += 1
        else:
            self._drop(notice, "not delivered after retries")

    def _drop(self, notice: Notice, why: str) -> None:
        self.dropped += 1
        log.warning("notification dropped", why=why, kind=notice.kind, headline=headline(notice))


class ErrorForwarder(logging.Handler):
    """Sends awan's ERROR log records to the outbox as error notices (deduplicated there).

    Records of the notification path itself (this package, PTB, httpx) are not forwarded: a
    Telegram that fails would otherwise report its own failure through itself, forever.
    """

    _SKIP = ("awan_trading.notify", "telegram", "httpx", "httpcore")

    def __init__(self, outbox: NotificationOutbox) -> None:
        super().__init__(level=logging.ERROR)
        self.outbox = outbox

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(self._SKIP):
            return
        try:
            event = record.msg
            if isinstance(event, dict):  # structlog's event dict
                text = str(event.get("event", ""))
                detail = event.get("error")
                text = f"{text}: {detail}" if detail else text
            else:
                text = record.getMessage()
            self.outbox.post_error(text, record.name)
        except Exception:  # a log handler must never raise into the code that logged
            self.handleError(record)
