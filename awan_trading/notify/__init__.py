"""Notifications to people: the Telegram notifier and the text of the messages it sends.

`TelegramNotifier` is loaded on first use (PEP 562): the executor imports `notify.messages` (and
with it this package) to word its fills, and a live loop without a bot token must not pay for
python-telegram-bot and httpx.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from awan_trading.notify.messages import format_fill, format_run_failure, format_signal

if TYPE_CHECKING:
    from awan_trading.notify.telegram import TelegramNotifier


def __getattr__(name: str) -> Any:
    if name == "TelegramNotifier":
        from awan_trading.notify.telegram import TelegramNotifier

        return TelegramNotifier
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["TelegramNotifier", "format_fill", "format_run_failure", "format_signal"]
