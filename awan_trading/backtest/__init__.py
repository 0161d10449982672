"""The backtester: the strategy code that trades, run over history, fast and without look-ahead.

`run_backtest(candles, strategy)` computes indicators and signals vectorized (polars + TA-Lib),
then runs the path-dependent part — fills, stops, sizing, the portfolio — in one numba-compiled
loop (`engine.simulate`, whose docstring is the execution convention). `backtest_frame` runs a
frame that already carries `enter_long` / `exit_long`, e.g. signals from elsewhere.

The names below are loaded on first use (PEP 562): the live loop imports `backtest.config`
(and with it this package) for `BacktestConfig` alone, and must not pay for numba, which
`engine` and `metrics` import.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import polars as pl

from awan_trading.backtest.config import BacktestConfig

if TYPE_CHECKING:
    from awan_trading.backtest.engine import EXIT_REASONS
    from awan_trading.backtest.metrics import METRIC_KEYS, compute_metrics
    from awan_trading.backtest.run import (
        EQUITY_SCHEMA,
        TRADE_SCHEMA,
        BacktestResult,
        RiskExits,
        backtest_frame,
        build_grid,
    )
    from awan_trading.strategies.base import Strategy

_LAZY = {
    "EXIT_REASONS": "engine",
    "METRIC_KEYS": "metrics",
    "compute_metrics": "metrics",
    "EQUITY_SCHEMA": "run",
    "TRADE_SCHEMA": "run",
    "BacktestResult": "run",
    "RiskExits": "run",
    "backtest_frame": "run",
    "build_grid": "run",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def risk_exits(strategy: Strategy) -> RiskExits:
    """The strategy's own stop-loss / take-profit / trailing stop."""
    from awan_trading.backtest.run import RiskExits

    p = strategy.params
    return RiskExits(p.stop_loss, p.take_profit, p.trailing_stop)


def run_backtest(
    candles: pl.DataFrame,
    strategy: Strategy,
    config: BacktestConfig | None = None,
    timeframe: str | None = None,
) -> BacktestResult:
    """Indicators → signals → portfolio simulation for every symbol in `candles`."""
    from awan_trading.backtest.run import backtest_frame
    from awan_trading.signals import SignalContext, infer_timeframe, populate_signals

    timeframe = timeframe or infer_timeframe(candles)
    frame = populate_signals(candles, strategy)
    return backtest_frame(
        frame,
        timeframe=timeframe,
        config=config,
        exits=risk_exits(strategy),
        signal_ids=SignalContext.of(strategy, timeframe),
    )


__all__ = [
    "EQUITY_SCHEMA",
    "EXIT_REASONS",
    "METRIC_KEYS",
    "TRADE_SCHEMA",
    "BacktestConfig",
    "BacktestResult",
    "RiskExits",
    "backtest_frame",
    "build_grid",
    "compute_metrics",
    "risk_exits",
    "run_backtest",
]
