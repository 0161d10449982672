"""The `awan` command: one typer app, one module per family of commands."""

import awan_trading.cli.db  # noqa: F401  (registers `awan db` and `awan cache`)
from awan_trading.cli import backtest, demo, indicators, market  # noqa: F401  (registers commands)
from awan_trading.cli import emulator  # noqa: F401  (registers `awan emulator`)
from awan_trading.cli.app import app

__all__ = ["app"]
