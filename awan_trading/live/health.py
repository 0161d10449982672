"""Liveness: the heartbeat row the deployment's health check reads, and the stop flag.

The loop writes `heartbeats(bot)` at every wake-up with the wall-clock time (also in a
replay, whose own clock is in the past), so "is the daemon alive" is one query:
`awan heartbeat --max-age S` exits non-zero when the last beat is older than S seconds, which
is what the compose `live` service's health check runs. SIGTERM and SIGINT only set a flag:
the loop finishes the order in flight, writes a last heartbeat (`stopped`) and exits 0.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from types import FrameType

from awan_trading.logs import get_logger
from awan_trading.storage.base import Store

log = get_logger(__name__)


def beat(store: Store, bot: str, status: str) -> None:
    """Record that `bot` is alive now (wall clock) and what it is doing."""
    store.heartbeat(bot, status, datetime.now(UTC))


def heartbeat_age(store: Store, bot: str, now: datetime | None = None) -> timedelta | None:
    """How long ago `bot` last beat; None when it never did."""
    last = store.last_heartbeat(bot)
    if last is None:
        return None
    return (now or datetime.now(UTC)) - last[0]


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[threading.Event]:
    """SIGTERM / SIGINT set `stop` inside the block; the previous handlers come back after.

    Only the main thread can own signal handlers; elsewhere the caller owns stopping.
    """
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handle(signum: int, _frame: FrameType | None) -> None:
        log.info(
            "stop requested; finishing the order in flight", signal=signal.Signals(signum).name
        )
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
