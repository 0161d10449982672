"""Notifications to people: the Telegram notifier and the text of the messages it sends."""

from awan_trading.notify.messages import format_fill, format_run_failure, format_signal
from awan_trading.notify.telegram import TelegramNotifier

__all__ = ["TelegramNotifier", "format_fill", "format_run_failure", "format_signal"]
