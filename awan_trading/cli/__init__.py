"""The `awan` command: one typer app, one module per family of commands."""

from awan_trading.cli import backtest, db, emulator, indicators, market  # noqa: F401  (registers commands)
from awan_trading.cli.app import app

__all__ = ["app"]
