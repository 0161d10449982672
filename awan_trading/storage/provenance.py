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
LOOKUP = (
    f"SELECT {_COLUMNS} FROM candle_writes WHERE {_SERIES} AND start_ts <= %s AND end_ts > %s "
    "ORDER BY id DESC LIMIT 1"
)


_INSERT_ROWS = 1000


def _marks(n: int) -> str:
    return ", ".join(["%s"] * n)


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

    A series' latest row is extended when it has the same writer and its window touches or
    overlaps the new one (so no newer write can lie inside the union); otherwise a row is
    added. Three statements whatever the number of symbols: the live loop writes every
    symbol's new candle at each close, and a statement per symbol cost DuckDB tens of
    milliseconds per close.
    """
    if not windows:
        return
    who = provenance or UNATTRIBUTED
    now = utcnow()
    symbols = sorted({symbol for symbol, _, _ in windows})
    marks = _marks(len(symbols))
    latest = {
        row[1]: row
        for row in execute(
            "SELECT id, symbol, start_ts, end_ts, writer, run_id, partition_key "
            "FROM candle_writes WHERE id IN (SELECT max(id) FROM candle_writes "
            f"WHERE exchange = %s AND timeframe = %s AND symbol IN ({marks}) GROUP BY symbol)",
            (exchange, timeframe, *symbols),
        )
    }
    extended: dict[int, tuple[datetime, datetime]] = {}
    added: list[tuple] = []
    for symbol, start, end in windows:
        start, end = as_utc(start), as_utc(end)
        row = latest.get(symbol)
        if row is not None and (row[4], row[5], row[6]) == (
            who.writer,
            who.run_id,
            who.partition_key,
        ):
            lo, hi = extended.get(row[0], (as_utc(row[2]), as_utc(row[3])))
            if start <= hi and end >= lo:
                extended[row[0]] = (min(lo, start), max(hi, end))
                continue
        added.append((exchange, symbol, timeframe, start, end, who.writer, who.run_id,
                      who.partition_key, now, now))  # fmt: skip
        latest.pop(symbol, None)  # a second window of the symbol must not extend an older row
    if extended:
        values = ", ".join(["(%s, %s, %s)"] * len(extended))
        execute(
            "UPDATE candle_writes SET start_ts = v.start_ts, end_ts = v.end_ts, "
            f"last_written_at = %s FROM (VALUES {values}) AS v(id, start_ts, end_ts) "
            "WHERE candle_writes.id = v.id",
            (now, *(x for row_id, (lo, hi) in extended.items() for x in (row_id, lo, hi))),
        )
    # Chunks keep an upsert of a gappy venue history (a window per run of candles) under
    # PostgreSQL's 65,535 parameters per statement.
    for first in range(0, len(added), _INSERT_ROWS):
        chunk = added[first : first + _INSERT_ROWS]
        execute(
            f"INSERT INTO candle_writes ({_COLUMNS}) VALUES "
            + ", ".join([f"({_marks(10)})"] * len(chunk)),
            tuple(x for row in chunk for x in row),
        )


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
