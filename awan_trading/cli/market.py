"""Market-data commands: fetch, validate, resample."""

from awan_trading.cli.app import app  # noqa: F401
