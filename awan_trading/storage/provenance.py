"""Candle provenance: which write put a stored candle there (`candle_writes`).

Both backends record a write inside the transaction that writes the candles, through the
portable SQL here (`%s` placeholders; DuckDB's store turns them into `?`), so a candle and
the record of who wrote it commit or roll back together. A lookup takes the newest row whose
window holds the candle: a later write of the same candle always has a newer row.

A writer that keeps extending its own latest window — the live loop appends the candle that
just closed, symbol by symbol, at every close — extends that row instead of adding one, so
the table grows with the number of writes of different writers, not with the candles.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import polars as pl

from awan_trading.market.timeframes import from_epoch_ms, parse_timeframe
from awan_trading.storage.base import UNATTRIBUTED, CandleProvenance, CandleWrite, utcnow
from awan_trading.storage.schema import as_utc

# Runs one statement in the caller's open transaction; returns its rows ([] when none).
Execute = Callable[[str, Sequence[Any]], list[tuple]]
Window = tuple[str, datetime, datetime]  # symbol, start, end

_COLUMNS = (
    "exchange, symbol, timeframe, start_ts, end_ts, writer, run_id, partition_key, "
    "first_written_at, last_written_at"
)
_SERIES = "exchange = %s AND symbol = %s AND timeframe = %s"
_LATEST = (
    f"SELECT id, start_ts, end_ts, writer, run_id, partition_key FROM candle_writes "
    f"WHERE {_SERIES} ORDER BY id DESC LIMIT 1"
)
_EXTEND = "UPDATE candle_writes SET start_ts = %s, end_ts = %s, last_written_at = %s WHERE id = %s"
_INSERT = f"INSERT INTO candle_writes ({_COLUMNS}) VALUES ({', '.join(['%s'] * 10)})"
LOOKUP = (
    f"SELECT {_COLUMNS} FROM candle_writes WHERE {_SERIES} AND start_ts <= %s AND end_ts > %s "
    "ORDER BY id DESC LIMIT 1"
)


def upsert_windows(candles: pl.DataFrame, timeframe: str) -> list[Window]:
    """Each symbol's runs of consecutive candles as [first open, last close) windows.

    An upsert touches only the candles it carries, so a gap inside the frame must not be
    claimed: a candle stored there earlier keeps its own writer.
    """
    if candles.is_empty():
        return []
    tf = parse_timeframe(timeframe)
    ordered = candles.select("symbol", "ts").sort("symbol", "ts")
    previous = pl.col("ts").shift(1).over("symbol")
    starts = previous.is_null() | tf.gap_expr(previous, pl.col("ts")).fill_null(True)
    runs = (
        ordered.with_columns(run=starts.cast(pl.Int64).cum_sum())
        .group_by("symbol", "run", maintain_order=True)
        .agg(pl.col("ts").min().alias("first"), pl.col("ts").max().alias("last"))
        .with_columns(end=tf.next_open_expr(pl.col("last").dt.epoch("ms")))
    )
    return [
        (symbol, as_utc(first), from_epoch_ms(end))
        for symbol, first, end in runs.select("symbol", "first", "end").iter_rows()
    ]


def record_writes(
    execute: Execute,
    exchange: str,
    timeframe: str,
    windows: Sequence[Window],
    provenance: CandleProvenance | None,
) -> None:
    """Record `windows` as written by `provenance`, in the caller's transaction.

    The series' latest row is extended when it has the same writer and its window touches or
    overlaps the new one (so no newer write can lie inside the union); otherwise a row is
    added.
    """
    who = provenance or UNATTRIBUTED
    now = utcnow()
    for symbol, start, end in windows:
        start, end = as_utc(start), as_utc(end)
        latest = execute(_LATEST, (exchange, symbol, timeframe))
        if latest:
            row_id, lo, hi, writer, run_id, partition_key = latest[0]
            lo, hi = as_utc(lo), as_utc(hi)
            same = (writer, run_id, partition_key) == (who.writer, who.run_id, who.partition_key)
            if same and start <= hi and end >= lo:
                execute(_EXTEND, (min(lo, start), max(hi, end), now, row_id))
                continue
        execute(
            _INSERT,
            (exchange, symbol, timeframe, start, end, who.writer, who.run_id,
             who.partition_key, now, now),
        )  # fmt: skip


def candle_write_from_row(row: tuple) -> CandleWrite:
    """A `LOOKUP` row as the record."""
    exchange, symbol, timeframe, start, end, writer, run_id, partition_key, first, last = row
    return CandleWrite(
        exchange, symbol, timeframe, as_utc(start), as_utc(end), writer, run_id,
        partition_key, as_utc(first), as_utc(last),
    )  # fmt: skip


def lookup_params(exchange: str, symbol: str, timeframe: str, ts: datetime) -> tuple:
    """`LOOKUP`'s parameters for the candle opening at `ts`."""
    when = as_utc(ts)
    return (exchange, symbol, timeframe, when, when)
