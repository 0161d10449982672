"""Signals: the rows that leave a strategy, each with an id that makes orders idempotent.

A signal is emitted at a candle's close and is keyed by that candle's open time, so the same
candle always yields the same `signal_id`, whether it is produced by a backtest, a Dagster
backfill or the live loop, and however often. The executor derives the client order id from it,
which is how "an order is placed at most once per signal" survives retries and restarts. Signals
are stateless (a `sell` row means "exit if you hold it"): position state lives in the executor.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

import polars as pl

from awan_trading.errors import DataError
from awan_trading.indicators import add_indicators
from awan_trading.market.schema import TS_DTYPE
from awan_trading.market.timeframes import (
    TIMEFRAMES,
    parse_timeframe,
    timeframe_for_spacing,
    to_epoch_ms,
)
from awan_trading.strategies.base import Strategy

SIGNAL_SCHEMA: dict[str, pl.DataType] = {
    "signal_id": pl.String(),
    "strategy": pl.String(),
    "params_hash": pl.String(),
    "symbol": pl.String(),
    "timeframe": pl.String(),
    "ts": TS_DTYPE,
    "side": pl.String(),
    "price": pl.Float64(),
    "score": pl.Float64(),
}


def signal_id(
    strategy: str, params_hash: str, symbol: str, timeframe: str, ts: datetime | int, side: str
) -> str:
    """32 lowercase hex chars (blake2b-128) of the signal's identity.

    Hex keeps it inside Binance's client-order-id alphabet `[A-Za-z0-9_-]` with room to spare
    (≤ 36 chars), and 128 bits make collisions irrelevant at any trading volume.
    """
    ts_ms = ts if isinstance(ts, int) else to_epoch_ms(ts)
    key = f"{strategy}|{params_hash}|{symbol}|{timeframe}|{ts_ms}|{side}"
    return hashlib.blake2b(key.encode(), digest_size=16).hexdigest()


@dataclass(frozen=True)
class SignalContext:
    """Who emitted a signal: strategy name, parameter hash and timeframe (the id's prefix)."""

    strategy: str
    params_hash: str
    timeframe: str

    @classmethod
    def of(cls, strategy: Strategy, timeframe: str) -> SignalContext:
        return cls(strategy.name, strategy.params.params_hash(), parse_timeframe(timeframe).name)

    def id(self, symbol: str, ts: datetime | int, side: str) -> str:
        return signal_id(self.strategy, self.params_hash, symbol, self.timeframe, ts, side)


def infer_timeframe(frame: pl.DataFrame) -> str:
    """The timeframe of a candle frame: its `timeframe` column, else the smallest ts step.

    The smallest step (not the most common) is used because sparse exchanges (XRP/ETH 1m in the
    shared data) skip candles without trades, which only ever widens steps. A monthly series
    is spaced 28–31 days and is `1M` when every ts opens a calendar month.
    """
    if "timeframe" in frame.columns:
        values = frame.get_column("timeframe").unique().drop_nulls().to_list()
        if len(values) == 1:
            return parse_timeframe(values[0]).name
        if len(values) > 1:
            raise DataError(
                f"candles mix timeframes {sorted(values)}; backtest one timeframe at a time"
            )
    steps = (
        frame.sort("symbol", "ts")
        .select((pl.col("ts").diff().over("symbol").dt.total_milliseconds()).alias("step"))
        .filter(pl.col("step") > 0)
        .get_column("step")
    )
    if steps.is_empty():
        raise DataError(
            "cannot infer the timeframe from fewer than two candles per symbol; pass it"
        )
    step = int(steps.min())
    tf = timeframe_for_spacing(step)
    # Months are 28–31 days apart, so a spacing alone cannot tell 1M from a sparse daily series
    # that happens to skip ~a month: 1M also needs every ts on a month's first day.
    if tf is not None and (
        tf.is_fixed or not frame.select(tf.misaligned_expr(pl.col("ts")).any()).item()
    ):
        return tf.name
    raise DataError(
        f"candle spacing of {step} ms is not a supported timeframe ({' '.join(TIMEFRAMES)})"
    )


def populate_signals(candles: pl.DataFrame, strategy: Strategy) -> pl.DataFrame:
    """Candles → indicators → `enter_long` / `exit_long` / `score`, sorted by (symbol, ts)."""
    frame = candles.sort("symbol", "ts")
    frame = add_indicators(frame, strategy.indicator_params())
    return strategy.populate(frame)


def signals_from_frame(frame: pl.DataFrame, context: SignalContext) -> pl.DataFrame:
    """The signal rows of a populated frame: one `buy` per entry, one `sell` per exit candle."""
    rows = pl.concat(
        [
            frame.filter(pl.col("enter_long")).select(
                "symbol", "ts", "close", "score", side=pl.lit("buy")
            ),
            frame.filter(pl.col("exit_long")).select(
                "symbol", "ts", "close", "score", side=pl.lit("sell")
            ),
        ]
    ).sort("symbol", "ts", "side")
    ids = [
        context.id(symbol, ts_ms, side)
        for symbol, ts_ms, side in zip(
            rows.get_column("symbol").to_list(),
            rows.get_column("ts").dt.epoch("ms").to_list(),
            rows.get_column("side").to_list(),
            strict=True,
        )
    ]
    return rows.select(
        pl.Series("signal_id", ids, dtype=pl.String),
        strategy=pl.lit(context.strategy, dtype=pl.String),
        params_hash=pl.lit(context.params_hash, dtype=pl.String),
        symbol=pl.col("symbol"),
        timeframe=pl.lit(context.timeframe, dtype=pl.String),
        ts=pl.col("ts"),
        side=pl.col("side"),
        price=pl.col("close"),
        score=pl.col("score"),
    ).cast(SIGNAL_SCHEMA)  # type: ignore[arg-type]


def generate_signals(
    candles: pl.DataFrame, strategy: Strategy, timeframe: str | None = None
) -> pl.DataFrame:
    """All signals a strategy emits over `candles` (the frame the `signals` asset stores)."""
    timeframe = timeframe or infer_timeframe(candles)
    return signals_from_frame(
        populate_signals(candles, strategy), SignalContext.of(strategy, timeframe)
    )
