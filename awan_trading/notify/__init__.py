"""Notifications to people: the Telegram notifier and the text of the messages it sends.

`TelegramNotifier` is imported on first use: python-telegram-bot and httpx take ~0.4 s to
import, which every process that only formats a message (the Dagster code location's run
workers) would otherwise pay.
"""

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
