"""The command surface: what a trader asks the running bot, as plain functions over the store.

Each command is one function that takes a `ControlContext` and returns a small frozen
dataclass; the CLI (`cli/control.py`) prints it and the Telegram bot (`notify/bot.py`)
formats it (`notify/replies.py`), so the two can never disagree. State changes (pause, resume,
force-exit) are rows in the store's control table that the live loop obeys.
"""

from awan_trading.control.actions import (
    ControlAck,
    Refusal,
    force_exit,
    help_commands,
    parse_exit_target,
    pause,
    reload_config,
    resume,
)
from awan_trading.control.context import ControlContext, ControlError, Mark, open_context
from awan_trading.control.money import (
    DailyReport,
    OpenPosition,
    PerformanceReport,
    ProfitReport,
    TradesReport,
    daily,
    last_trades,
    open_positions,
    performance,
    profit,
)
from awan_trading.control.status import BalanceReport, StatusReport, balance, status

__all__ = [
    "BalanceReport", "ControlAck", "ControlContext", "ControlError", "DailyReport", "Mark",
    "OpenPosition", "PerformanceReport", "ProfitReport", "Refusal", "StatusReport",
    "TradesReport", "balance", "daily", "force_exit", "help_commands", "last_trades",
    "open_context", "open_positions", "parse_exit_target", "pause", "performance", "profit",
    "reload_config", "resume", "status",
]  # fmt: skip
