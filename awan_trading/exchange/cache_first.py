"""Cache-first candle fetch: ask the exchange only for what the store does not hold yet.

Exchanges ration requests, and a backfill or a live loop that re-downloads months of candles it
already stored wastes that ration (and time). Stored candles are closed candles that passed
validation, so they never need fetching again: only the range before the first stored candle
(the head, when the request reaches further back) and after the last one (the tail) is
requested. Holes *between* stored candles are left alone — they are real exchange gaps, which
is exactly why they are holes.

The store is taken through a two-method interface (`CandleStore`), which both `Store` backends
satisfy, so this module does not depend on storage and is trivially faked.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

import polars as pl

from awan_trading.exchange.base import Exchange
from awan_trading.logs import get_logger
from awan_trading.market.timeframes import Timeframe, parse_timeframe

log = get_logger(__name__)


class CandleStore(Protocol):
    """The part of `awan_trading.storage.Store` that cache-first fetching needs."""

    def read_candles(
        self,
        exchange: str,
        symbols: str | list[str],
        timeframe: str,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> pl.DataFrame: ...

    def upsert_candles(self, exchange: str, timeframe: str, frame: pl.DataFrame) -> int: ...


def missing_ranges(
    stored: pl.DataFrame, start: datetime, end: datetime, timeframe: Timeframe
) -> list[tuple[datetime, datetime]]:
    """The [from, to) ranges of [start, end) not covered by `stored`: head and tail only."""
    first = timeframe.ceil(start)
    if stored.is_empty():
        return [(first, end)] if first < end else []
    ranges = []
    lo, hi = stored["ts"].min(), stored["ts"].max()
    if first < lo:
        ranges.append((first, lo))
    tail = timeframe.next_open(hi)
    if tail < end:
        ranges.append((tail, end))
    return ranges


def fetch_cache_first(
    exchange: Exchange,
    store: CandleStore,
    symbol: str,
    timeframe: Timeframe | str,
    start: datetime,
    end: datetime,
    *,
    venue: str | None = None,
) -> pl.DataFrame:
    """Candles in [start, end): stored ones as they are, missing head/tail fetched and stored.

    `venue` is the exchange key in the store (default `exchange.name`). The result is sorted
    by `ts` and equals what the store holds for the range afterwards.
    """
    tf = parse_timeframe(timeframe)
    key = venue or exchange.name
    stored = store.read_candles(key, symbol, tf.name, start, end)
    fetched = []
    for lo, hi in missing_ranges(stored, start, end, tf):
        fresh = exchange.fetch_ohlcv(symbol, tf, lo, hi)
        if not fresh.is_empty():
            store.upsert_candles(key, tf.name, fresh)
            fetched.append(fresh)
    log.debug(
        "cache-first fetch",
        venue=key,
        symbol=symbol,
        timeframe=tf.name,
        stored=stored.height,
        fetched=sum(f.height for f in fetched),
    )
    if not fetched:
        return stored
    return pl.concat([stored, *fetched]).sort("ts")
