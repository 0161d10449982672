"""The `awan` command: one typer app, one module per family of commands."""

from awan_trading.cli import (  # noqa: F401  (registers commands)
    backtest,
    control,
    db,
    emulator,
    indicators,
    live,
    market,
    telegram,
    trading,
)
from awan_trading.cli.app import app

__all__ = ["app"]
