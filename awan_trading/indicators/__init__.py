"""Technical indicators for awan: TA-Lib on polars columns, per symbol, with live updates.

`add_indicators` adds the twelve standard columns (Bollinger, EMA fast/slow, RSI, Stochastic
RSI, ATR, MACD) to a candle frame; `update_indicators` computes the latest rows from a bounded
window for the live loop; `warmup_candles` says how long that window must be. The single
indicator functions take one symbol's polars Series. Submodules: `params` (validated periods,
warm-up and its tolerance), `core` (TA-Lib kernels, flat-price rules), `frame` (per-symbol
frames, row order, gaps).
"""

from __future__ import annotations

import importlib

from awan_trading.indicators.params import (
    DEFAULT_PARAMS,
    SEED_WEIGHT,
    IndicatorParams,
    lookbacks,
    warmup_candles,
)

# `core` and `frame` import TA-Lib (and, through it, pandas where installed); they load on first
# use (PEP 562) so that `IndicatorParams` alone — the CLI's option defaults, config checks —
# stays cheap to import.
_CORE = ("FLAT_RSI_RANGE", "FLAT_VALUE", "OUTPUT_COLUMNS", "atr", "bollinger", "ema", "macd")
_LAZY = {
    **dict.fromkeys((*_CORE, "rsi", "sma", "stoch_rsi"), "core"),
    "add_indicators": "frame",
    "update_indicators": "frame",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


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
