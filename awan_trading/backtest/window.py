"""A backtest on exactly the window a live replay trades: [start, end), warm-up fetched before.

`awan live --mode sim --start S --end E` decides from the first candle close after S on
indicators warmed up by the candles before S; a backtest meant to equal it must see the same
candles and must not trade before S either. So the candles come from the exchange (the sim,
which is deterministic, or a real venue's history) from `warmup_candles` before S to E, the
indicators and signals are computed over all of them, and only the rows from S on are
simulated: the warm-up shapes the indicators and nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import polars as pl

from awan_trading.backtest.config import BacktestConfig
from awan_trading.backtest.run import BacktestResult, RiskExits, backtest_frame
from awan_trading.errors import DataError
from awan_trading.exchange.base import Exchange
from awan_trading.indicators import warmup_candles
from awan_trading.market.timeframes import parse_timeframe
from awan_trading.market.validation import ensure_valid
from awan_trading.signals import SignalContext, populate_signals
from awan_trading.strategies.base import Strategy

if TYPE_CHECKING:
    from awan_trading.config import AwanConfig


def window_candles(
    exchange: Exchange,
    symbols: Sequence[str],
    timeframe: str,
    start: datetime,
    end: datetime,
    warmup: int,
) -> pl.DataFrame:
    """Validated candles of every symbol opening in [start − warmup candles, end)."""
    tf = parse_timeframe(timeframe)
    first = tf.add(tf.ceil(start), -warmup)
    frames = [exchange.fetch_ohlcv(symbol, tf, first, end) for symbol in symbols]
    candles = pl.concat([f for f in frames if f.height]) if any(f.height for f in frames) else None
    if candles is None:
        raise DataError(f"{exchange.name}: no {tf.name} candles in [{first}, {end})")
    return ensure_valid(candles.sort("symbol", "ts"), tf, context=f"{exchange.name} {tf.name}")


def backtest_window(
    exchange: Exchange,
    symbols: Sequence[str],
    timeframe: str,
    start: datetime,
    end: datetime,
    strategy: Strategy,
    config: BacktestConfig,
) -> BacktestResult:
    """Backtest `strategy` on [start, end) with the warm-up before `start` (module docstring)."""
    tf = parse_timeframe(timeframe)
    candles = window_candles(
        exchange, symbols, tf.name, start, end, warmup_candles(strategy.indicator_params())
    )
    populated = populate_signals(candles, strategy).filter(pl.col("ts") >= tf.ceil(start))
    if populated.is_empty():
        raise DataError(f"no {tf.name} candle opens in [{start}, {end})")
    p = strategy.params
    return backtest_frame(
        populated,
        timeframe=tf.name,
        config=config,
        exits=RiskExits(p.stop_loss, p.take_profit, p.trailing_stop),
        signal_ids=SignalContext.of(strategy, tf.name),
    )


def like_live_config(
    config: AwanConfig, exchange: Exchange, symbols: Sequence[str]
) -> BacktestConfig:
    """`BacktestConfig.like_live` from `awan.toml` (risk, sim account) and the venue's markets."""
    markets = exchange.markets()
    quote = symbols[0].split("/")[1]
    return BacktestConfig.like_live(
        config.risk,
        {s: markets[s] for s in symbols},
        initial_cash=float(config.sim.starting_balance.get(quote, 0.0)),
        fee=config.sim.fee_rate,
        slippage=config.sim.slippage_bps / 10_000.0,
    )
