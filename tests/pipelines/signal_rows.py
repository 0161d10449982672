"""Signal rows for the execution tests: real ids, the configured strategy's parameter hash."""

from __future__ import annotations

from datetime import datetime

import polars as pl

from awan_trading.signals import SIGNAL_SCHEMA, SignalContext
from awan_trading.strategies import get_strategy


def context(strategy: str = "boll_stoch", timeframe: str = "1h") -> SignalContext:
    return SignalContext.of(get_strategy(strategy), timeframe)


def signal_frame(
    rows: list[tuple[str, datetime, str, float]], ctx: SignalContext | None = None
) -> pl.DataFrame:
    """(symbol, candle open ts, side, price) rows as a `SIGNAL_SCHEMA` frame."""
    ctx = ctx or context()
    return pl.DataFrame(
        [
            {
                "signal_id": ctx.id(symbol, ts, side),
                "strategy": ctx.strategy,
                "params_hash": ctx.params_hash,
                "symbol": symbol,
                "timeframe": ctx.timeframe,
                "ts": ts,
                "side": side,
                "price": price,
                "score": 0.0,
            }
            for symbol, ts, side, price in rows
        ],
        schema=SIGNAL_SCHEMA,
    )
