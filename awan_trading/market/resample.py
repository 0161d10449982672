"""Exact resampling of candles from a lower timeframe to a higher one.

A higher-timeframe candle is only worth anything if it is the one the exchange would publish,
so resampling is exact aggregation on the UTC grid (first open, max high, min low, last close,
sum volume) and the still-forming last bucket is dropped rather than emitted half-built. A
bucket with missing minutes inside it is still complete: exchanges skip minutes with no trades.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from awan_trading.market.schema import CANDLE_COLUMNS, to_candles
from awan_trading.market.timeframes import Timeframe, TimeframeError, parse_timeframe, to_epoch_ms


def resample_candles(
    frame: pl.DataFrame,
    source: Timeframe | str,
    target: Timeframe | str,
    *,
    data_end: datetime | None = None,
) -> pl.DataFrame:
    """Aggregate `frame` (timeframe `source`, any number of symbols) to `target`.

    `data_end` is the exclusive end of the period the data covers (e.g. a fetch's `end`). Without
    it, each symbol's data is taken to end where its last candle closes. A bucket is emitted only
    when its whole span lies before that end. Rows must be on the `source` grid; the result is
    sorted by symbol and ts.
    """
    src, dst = parse_timeframe(source), parse_timeframe(target)
    if not src.divides(dst):
        raise TimeframeError(
            f"cannot resample {src} to {dst}: {dst} is not a whole multiple of {src}"
        )
    candles = to_candles(frame, source="resample input")
    if candles.is_empty():
        return candles
    # Buckets and ends come from the timeframes' own grid expressions: integer arithmetic for
    # fixed lengths (the fast path), calendar truncation for months.
    bucket = dst.floor_expr(pl.col("ts")).alias("bucket")
    if data_end is not None:
        end_expr = pl.lit(to_epoch_ms(data_end), dtype=pl.Int64)
    else:
        end_expr = src.next_open_expr(pl.col("ts").dt.epoch("ms").max().over("symbol"))
    aggregated = (
        candles.sort("symbol", "ts")
        .with_columns(bucket, end_expr.alias("data_end"))
        .group_by("symbol", "bucket", maintain_order=True)
        .agg(
            pl.col("open").first(),
            pl.col("high").max(),
            pl.col("low").min(),
            pl.col("close").last(),
            pl.col("volume").sum(),
            pl.col("data_end").first(),
        )
        .filter(dst.next_open_expr(pl.col("bucket")) <= pl.col("data_end"))
        .with_columns(
            pl.col("bucket").cast(pl.Datetime("ms")).dt.replace_time_zone("UTC").alias("ts")
        )
    )
    return aggregated.select(CANDLE_COLUMNS)
