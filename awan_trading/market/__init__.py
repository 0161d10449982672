"""Market data: the candle schema, timeframes, validation and resampling."""

from awan_trading.market.schema import CANDLE_COLUMNS, CANDLE_SCHEMA, empty_candles, to_candles
from awan_trading.market.timeframes import TIMEFRAMES, Timeframe, parse_timeframe

__all__ = [
    "CANDLE_COLUMNS",
    "CANDLE_SCHEMA",
    "TIMEFRAMES",
    "Timeframe",
    "empty_candles",
    "parse_timeframe",
    "to_candles",
]
