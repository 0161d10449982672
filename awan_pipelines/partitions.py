"""Daily × symbol partitions: the unit of ingest, recompute and backfill.

A day of one symbol is small enough to re-fetch and replace atomically and large enough that a
year is a few hundred partitions per symbol. Symbols are static, from `awan.toml`: the universe
changes with a deploy, so partitions need no instance state. `end_offset=1` makes today's
partition exist while the day is running, so the incremental schedule can keep it current.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import dagster as dg

from awan_trading.config import AwanConfig

DATE = "date"
SYMBOL = "symbol"
DAY = timedelta(days=1)


def build_partitions(config: AwanConfig) -> dg.MultiPartitionsDefinition:
    return dg.MultiPartitionsDefinition(
        {
            DATE: dg.DailyPartitionsDefinition(
                start_date=config.universe.history_start.isoformat(), timezone="UTC", end_offset=1
            ),
            SYMBOL: dg.StaticPartitionsDefinition(list(config.universe.symbols)),
        }
    )


def partition_key(day: str, symbol: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({DATE: day, SYMBOL: symbol})


def windows_by_symbol(
    keys: list[dg.MultiPartitionKey] | list[str],
) -> dict[str, list[tuple[datetime, datetime]]]:
    """Group partition keys into per-symbol, merged [start, end) UTC windows.

    Dagster hands IO managers and assets unsorted keys, possibly spanning several symbols and
    non-contiguous dates (a range is a rectangle); each contiguous run becomes one window so the
    store does one atomic replace per run instead of one per day.
    """
    days: dict[str, list[datetime]] = defaultdict(list)
    for key in keys:
        dims = dimensions(key)
        days[dims[SYMBOL]].append(datetime.fromisoformat(dims[DATE]).replace(tzinfo=UTC))
    windows: dict[str, list[tuple[datetime, datetime]]] = {}
    for symbol, starts in days.items():
        merged: list[tuple[datetime, datetime]] = []
        for start in sorted(set(starts)):
            if merged and merged[-1][1] == start:
                merged[-1] = (merged[-1][0], start + DAY)
            else:
                merged.append((start, start + DAY))
        windows[symbol] = merged
    return dict(sorted(windows.items()))


def partition_dates(keys: list[dg.MultiPartitionKey] | list[str]) -> set[str]:
    """The `YYYY-MM-DD` dates that a list of day × symbol keys covers."""
    return {dimensions(k)[DATE] for k in keys}


def dimensions(key: dg.MultiPartitionKey | str) -> dict[str, str]:
    """`{"date": "YYYY-MM-DD", "symbol": "BTC/USDT"}` of a key or its `date|symbol` string."""
    if isinstance(key, dg.MultiPartitionKey):
        return dict(key.keys_by_dimension)
    day, symbol = key.split("|", 1)
    return {DATE: day, SYMBOL: symbol}
