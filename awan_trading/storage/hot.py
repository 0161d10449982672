"""Write-through and read-through between the store and the hot cache.

The order is the invariant: the store is written first and the cache after, so a crash or a
dead Redis between the two loses nothing — the cache just misses and is refilled from the
store on the next read. Reads take the cache only when it holds the whole requested window.
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from awan_trading.market.schema import empty_candles
from awan_trading.market.timeframes import parse_timeframe
from awan_trading.storage.base import Store
from awan_trading.storage.cache import HotCache, RedisCache
from awan_trading.storage.memory_cache import MemoryCache


def open_cache(url: str | None = None, *, prefix: str = "awan") -> HotCache:
    """Redis when a URL is configured (`AWAN_REDIS_URL`), else the in-process cache."""
    if url is None:
        from awan_trading.config import load_settings

        secret = load_settings().redis_url
        url = secret.get_secret_value() if secret is not None else None
    return RedisCache(url, prefix=prefix) if url else MemoryCache()


def write_candles(
    store: Store,
    cache: HotCache,
    exchange: str,
    symbol: str,
    timeframe: str,
    frame: pl.DataFrame,
) -> int:
    """Upsert closed candles into the store, then extend the cached window.

    If the cache has no window (cold, restarted, or a gap was detected) it is rebuilt from
    the store here, so the next read is a hit.
    """
    written = store.upsert_candles(exchange, timeframe, frame)
    candles = frame.filter(pl.col("symbol") == symbol) if "symbol" in frame.columns else frame
    if not cache.append_candles(exchange, symbol, timeframe, candles.sort("ts")):
        _refill(store, cache, exchange, symbol, timeframe, cache.capacity)
    return written


def recent_candles(
    store: Store, cache: HotCache, exchange: str, symbol: str, timeframe: str, n: int
) -> pl.DataFrame:
    """The last `n` candles: from the cache when it has them all, else from the store."""
    cached = cache.get_candles(exchange, symbol, timeframe, n)
    if cached is not None and cached.height >= n:
        return cached
    return _refill(store, cache, exchange, symbol, timeframe, max(n, cache.capacity)).tail(n)


def _refill(
    store: Store, cache: HotCache, exchange: str, symbol: str, timeframe: str, n: int
) -> pl.DataFrame:
    latest = store.latest_candle_ts(exchange, symbol, timeframe)
    if latest is None:
        return empty_candles()
    start = parse_timeframe(timeframe).add(latest, -(n - 1))
    frame = store.read_candles(exchange, symbol, timeframe, start, None).tail(n)
    cache.set_candles(exchange, symbol, timeframe, frame)
    return frame


def warm(
    store: Store,
    cache: HotCache,
    exchange: str,
    symbols: Iterable[str],
    timeframes: Iterable[str],
) -> dict[tuple[str, str], int]:
    """Rebuild the cached windows from the store (`awan cache warm`); rows cached per key."""
    counts = {}
    for timeframe in timeframes:
        for symbol in symbols:
            frame = _refill(store, cache, exchange, symbol, timeframe, cache.capacity)
            counts[(symbol, timeframe)] = frame.height
    return counts
