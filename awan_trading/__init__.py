"""awan's trading library: market data, strategies, backtests, execution and storage.

Plain Python + polars so that everything a trader needs without Dagster (a backtest, a
strategy, the live loop) is usable and testable on its own; awan_pipelines only adapts it.
"""

__version__ = "0.1.0"
