"""The `awan` command: one typer app, one module per family of commands."""

from awan_trading.cli import demo, market  # noqa: F401  (registers commands)
from awan_trading.cli import indicators  # noqa: F401  (registers commands)
from awan_trading.cli import backtest  # noqa: F401  (registers commands)
from awan_trading.cli.app import app

__all__ = ["app"]
