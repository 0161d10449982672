"""Technical indicators for awan: TA-Lib on polars columns, per symbol, with live updates.

`add_indicators` adds the twelve standard columns (Bollinger, EMA fast/slow, RSI, Stochastic
RSI, ATR, MACD) to a candle frame; `update_indicators` computes the latest rows from a bounded
window for the live loop; `warmup_candles` says how long that window must be. The single
indicator functions take one symbol's polars Series. Submodules: `params` (validated periods,
warm-up and its tolerance), `core` (TA-Lib kernels, flat-price rules), `frame` (per-symbol
frames, row order, gaps).
"""

from awan_trading.indicators.core import (
    FLAT_RSI_RANGE,
    FLAT_VALUE,
    OUTPUT_COLUMNS,
    atr,
    bollinger,
    ema,
    macd,
    rsi,
    sma,
    stoch_rsi,
)
from awan_trading.indicators.frame import add_indicators, update_indicators
from awan_trading.indicators.params import (
    DEFAULT_PARAMS,
    SEED_WEIGHT,
    IndicatorParams,
    lookbacks,
    warmup_candles,
)

__all__ = [
    "DEFAULT_PARAMS",
    "FLAT_RSI_RANGE",
    "FLAT_VALUE",
    "OUTPUT_COLUMNS",
    "SEED_WEIGHT",
    "IndicatorParams",
    "add_indicators",
    "atr",
    "bollinger",
    "ema",
    "lookbacks",
    "macd",
    "rsi",
    "sma",
    "stoch_rsi",
    "update_indicators",
    "warmup_candles",
]
