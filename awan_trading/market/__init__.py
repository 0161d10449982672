"""Market data: the candle schema, timeframes, validation and resampling."""

from __future__ import annotations

from awan_trading.market.timeframes import TIMEFRAMES, Timeframe, parse_timeframe

# The schema names are loaded on first use (PEP 562): `schema` imports polars, and modules that
# need only timeframes (config loading, the CLI's help) must not pay for it.
_FROM_SCHEMA = {"CANDLE_COLUMNS", "CANDLE_SCHEMA", "empty_candles", "to_candles"}


def __getattr__(name: str) -> object:
    if name not in _FROM_SCHEMA:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from awan_trading.market import schema

    return getattr(schema, name)


__all__ = [
    "CANDLE_COLUMNS",
    "CANDLE_SCHEMA",
    "TIMEFRAMES",
    "Timeframe",
    "empty_candles",
    "parse_timeframe",
    "to_candles",
]
