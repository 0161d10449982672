"""Where awan keeps everything: `open_store(url)` picks the backend from the URL.

`duckdb:///path` (the default, embedded) or `postgresql://…` (production, TimescaleDB when
available). Callers hold a `Store` and never branch on the backend.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from awan_trading.storage.base import (
    UNATTRIBUTED,
    BotEvent,
    CandleProvenance,
    CandleWrite,
    ControlRequest,
    EquitySnapshot,
    Store,
    StoreError,
    StoreUnavailableError,
    StoreWindowError,
    mask_url,
)

DEFAULT_STORE_URL = "duckdb:///.awan/awan.duckdb"


def open_store(url: str | None = None, *, migrate: bool = False) -> Store:
    """The store for `url` (default: `AWAN_STORE_URL`, else `.awan/awan.duckdb`).

    `migrate=True` applies pending migrations first, which is what CLI writes and tests want;
    long-running services call `awan db migrate` at deploy time instead.
    """
    if url is None:
        from awan_trading.config import load_settings

        url = load_settings().resolved_store_url()
    store: Store
    if url.startswith(("postgresql://", "postgres://")):
        from awan_trading.storage.postgres import PostgresStore

        store = PostgresStore(url)
    elif url.startswith("duckdb://"):
        from awan_trading.storage.duckdb_store import DuckDBStore, path_from_url, settings_from_url

        store = DuckDBStore(path_from_url(url), settings=settings_from_url(url))
    else:
        raise StoreError(
            f"unsupported store URL {mask_url(url)!r}; use duckdb:///path or postgresql://…"
        )
    if migrate:
        store.migrate()
    return store


def write_candles_to_store(
    store: Store,
    exchange: str,
    timeframe: str,
    frame: pl.DataFrame,
    start: datetime | None = None,
    end: datetime | None = None,
) -> int:
    """Write fetched candles: replace [start, end) per symbol when given, else upsert.

    With a window, a re-fetch that now returns fewer candles (a delisted hour, a corrected
    feed) leaves no stale rows behind; without one, only the fetched keys are touched.
    Returns the number of rows written; bad candles raise before anything is written.
    """
    if start is None or end is None:
        return store.upsert_candles(exchange, timeframe, frame)
    if "symbol" not in frame.columns:
        raise StoreError("write_candles_to_store: frame has no symbol column")
    written = 0
    for symbol in frame["symbol"].unique(maintain_order=True).to_list():
        part = frame.filter(pl.col("symbol") == symbol)
        written += store.replace_candles(exchange, symbol, timeframe, start, end, part)
    return written


__all__ = [
    "DEFAULT_STORE_URL",
    "UNATTRIBUTED",
    "BotEvent",
    "CandleProvenance",
    "CandleWrite",
    "ControlRequest",
    "EquitySnapshot",
    "Store",
    "StoreError",
    "StoreUnavailableError",
    "StoreWindowError",
    "mask_url",
    "open_store",
    "write_candles_to_store",
]
