"""The notifier hook of the order path: a protocol, and a call that can never hurt trading.

A notification reports a trade; it is not part of it. Whatever a notifier does — raise, hang
up, refuse a token — the order, its fills and its position are already recorded when it is
called, and `notify` swallows (and logs) every failure, so the order path's outcome is the
same with a working, a broken or no notifier. `awan_trading.notify.telegram.TelegramNotifier`
is one implementation (its `send` already never raises; `notify` guards the others).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from awan_trading.logs import get_logger, redact

log = get_logger(__name__)


@runtime_checkable
class Notifier(Protocol):
    """Anything that delivers a short text to people: True when it was delivered."""

    def send(self, text: str, *, html: bool = False) -> bool: ...


def notify(notifier: Notifier | None, text: str) -> bool:
    """Send `text` through `notifier`; False (logged) on any failure, never an exception."""
    if notifier is None:
        return False
    try:
        return bool(notifier.send(text))
    except Exception as error:  # the promise: a notifier's failure never reaches the order path
        log.error("notification not sent", error=redact(f"{error!r}"))
        return False
