"""The notifier hook of the order path: a protocol, and a call that can never hurt trading.

A notification reports a trade; it is not part of it. Whatever a notifier does — raise, hang
up, refuse a token — the order, its fills and its position are already recorded when it is
called, and `notify` swallows (and logs) every failure, so the order path's outcome is the
same with a working, a broken or no notifier. `awan_trading.notify.telegram.TelegramNotifier`
is one implementation (its `send` already never raises; `notify` guards the others);
`awan_trading.notify.outbox.NotificationOutbox` is the one `awan live` uses: it only queues,
so no call here waits for Telegram.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from awan_trading.logs import get_logger, redact
from awan_trading.notify.events import Notice

log = get_logger(__name__)


@runtime_checkable
class Notifier(Protocol):
    """Anything that delivers a short text to people: True when it was delivered (or queued)."""

    def send(self, text: str, *, html: bool = False) -> bool: ...


@runtime_checkable
class NoticeSink(Protocol):
    """A notifier that takes whole notices (kind and dedup key included): the outbox."""

    def post(self, notice: Notice) -> bool: ...


def notify(notifier: Notifier | None, message: str | Notice | None) -> bool:
    """Send `message` through `notifier`; False (logged) on any failure, never an exception.

    A `Notice` goes to `post` when the notifier takes notices (so the outbox can apply its
    error policy), else its text is sent with its parse mode.
    """
    if notifier is None or message is None:
        return False
    try:
        if isinstance(message, str):
            return bool(notifier.send(message))
        if isinstance(notifier, NoticeSink):
            return bool(notifier.post(message))
        return bool(notifier.send(message.text, html=message.html))
    except Exception as error:  # the promise: a notifier's failure never reaches the order path
        log.error("notification not sent", error=redact(f"{error!r}"))
        return False
