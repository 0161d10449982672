"""No look-ahead: rewriting the candles after t never changes a signal, fill or equity point up to t."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from awan_trading.backtest import BacktestConfig, run_backtest
from awan_trading.signals import generate_signals
from awan_trading.strategies import get_strategy

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def walk(rng: np.random.Generator, n: int, start: float, vol: float) -> np.ndarray:
    """n candles (open, high, low, close) of a random walk; 1/5 of closes repeat (flat bars)."""
    steps = rng.normal(0, vol, n) * (rng.random(n) > 0.2)
    close = start * np.exp(np.cumsum(steps))
    open_ = np.concatenate(([start], close[:-1]))
    spread = np.abs(rng.normal(0, vol, n)) * close
    return np.column_stack(
        [open_, np.maximum(open_, close) + spread, np.minimum(open_, close) - spread, close]
    )


def market(seed: int, n: int, n_symbols: int, gap_rate: float) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    for s in range(n_symbols):
        ohlc = walk(rng, n, 100.0 * (s + 1), 0.01)
        keep = rng.random(n) >= gap_rate
        keep[:2] = True
        frames.append(
            pl.DataFrame(
                {
                    "symbol": f"S{s}/USDT",
                    "ts": [T0 + timedelta(minutes=i) for i in range(n)],
                    "open": ohlc[:, 0], "high": ohlc[:, 1], "low": ohlc[:, 2], "close": ohlc[:, 3],
                    "volume": 1.0,
                }
            ).filter(pl.Series(keep))
        )  # fmt: skip
    return pl.concat(frames).with_columns(pl.col("ts").dt.cast_time_unit("ms"))


def rewrite_after(candles: pl.DataFrame, cut: datetime, seed: int) -> pl.DataFrame:
    """Same timestamps, entirely different prices after `cut` (a crash, a rally, anything)."""
    later = candles.filter(pl.col("ts") > cut)
    ohlc = walk(np.random.default_rng(seed), later.height, 50.0, 0.05)
    later = later.with_columns(
        **{c: pl.Series(ohlc[:, i]) for i, c in enumerate(("open", "high", "low", "close"))}
    )
    return pl.concat([candles.filter(pl.col("ts") <= cut), later])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31),
    n=st.integers(60, 300),
    n_symbols=st.integers(1, 3),
    gap_rate=st.sampled_from([0.0, 0.1]),
    cut_fraction=st.floats(0.2, 0.95),
    strategy_name=st.sampled_from(["boll_stoch", "ema_trend"]),
    trailing=st.sampled_from(["none", "0.01"]),
)
def test_future_candles_never_change_the_past(
    seed: int,
    n: int,
    n_symbols: int,
    gap_rate: float,
    cut_fraction: float,
    strategy_name: str,
    trailing: str,
) -> None:
    strategy = get_strategy(
        strategy_name, {"trailing_stop": trailing, "stop_loss": "0.01", "take_profit": "0.02"}
    )
    config = BacktestConfig(max_open_positions=2)
    original = market(seed, n, n_symbols, gap_rate)
    cut = T0 + timedelta(minutes=int(n * cut_fraction))
    changed = rewrite_after(original, cut, seed + 1)

    def signals_until(candles: pl.DataFrame) -> pl.DataFrame:
        return generate_signals(candles, strategy, "1m").filter(pl.col("ts") <= cut)

    assert signals_until(original).equals(signals_until(changed))

    a = run_backtest(original, strategy, config, timeframe="1m")
    b = run_backtest(changed, strategy, config, timeframe="1m")
    entry_cols = ["symbol", "entry_ts", "entry_price", "amount", "stake", "signal_id"]
    exit_cols = ["symbol", "entry_ts", "exit_ts", "exit_price", "exit_reason", "pnl"]
    for cols, ts_col in ((entry_cols, "entry_ts"), (exit_cols, "exit_ts")):
        assert (
            a.trades.filter(pl.col(ts_col) <= cut)
            .select(cols)
            .equals(b.trades.filter(pl.col(ts_col) <= cut).select(cols))
        )
    assert a.equity.filter(pl.col("ts") <= cut).equals(b.equity.filter(pl.col("ts") <= cut))
