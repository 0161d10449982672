"""A clock the test moves by hand: the sim's, the emulator's and the executor's "now"."""

from __future__ import annotations

from datetime import datetime, timedelta


class ManualClock:
    """Callable like `datetime.now(UTC)`; time passes only when a test sets or advances it."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)
