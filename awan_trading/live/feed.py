"""The candle pipeline of one candle close: window, missing tail, validation, store, cache, indicators.

At each close the feed takes each symbol's window from the hot cache (the store when the cache
misses or Redis is down), asks the exchange only for the candles after the window's last one
(symbols that lack the same candles in one call, when the exchange offers it: the sim),
validates them together with the window's tail (so a duplicate, a step back in time or a broken
candle is refused before anything is written), writes the store first and the cache second
(`storage.hot`: a crash or a dead Redis between the two loses nothing), and updates the
indicators from a bounded window (`indicators.update_indicators`). The store gets the new
candles' indicator values too, so a signal's lineage can show exactly what it saw.

The window is `warmup_candles(params) + rows - 1` candles: enough for the last `rows` indicator
rows (the strategy's look-back) to equal a full-history computation. A cold start, or a gap
longer than the window, fetches the whole window once.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import polars as pl

from awan_trading.exchange.base import BatchCandles, Exchange
from awan_trading.indicators import IndicatorParams, update_indicators, warmup_candles
from awan_trading.logs import get_logger
from awan_trading.market.schema import CANDLE_COLUMNS, empty_candles
from awan_trading.market.timeframes import from_epoch_ms, parse_timeframe, to_epoch_ms
from awan_trading.market.validation import ensure_valid
from awan_trading.storage.base import CandleProvenance, Store
from awan_trading.storage.cache import HotCache
from awan_trading.storage.hot import recent_candles

log = get_logger(__name__)

INDICATOR_STORE_COLUMNS = (
    "bb_lower", "bb_mid", "bb_upper", "ema_fast", "ema_slow", "rsi", "stochrsi_k",
    "stochrsi_d", "atr", "macd", "macd_signal", "macd_hist",
)  # fmt: skip


@dataclass(frozen=True)
class FeedUpdate:
    """What one close brought: the new candles and the indicator rows to decide on."""

    close: datetime
    candles: pl.DataFrame  # the candles fetched at this close (all symbols)
    indicators: pl.DataFrame  # the last `rows` rows per symbol with indicator columns
    ready: tuple[str, ...]  # symbols whose last candle closes at `close`
    windows: dict[str, pl.DataFrame] = field(default_factory=dict)  # before `candles`, by symbol


class CandleFeed:
    """Per-symbol candle windows kept current close by close (see the module docstring)."""

    def __init__(
        self,
        exchange: Exchange,
        store: Store,
        cache: HotCache,
        *,
        venue: str,
        symbols: Sequence[str],
        timeframe: str,
        params: IndicatorParams,
        rows: int,
        provenance: CandleProvenance | None = None,
    ) -> None:
        self.exchange = exchange
        self.provenance = provenance  # recorded with every candle write (`awan lineage`)
        self.store = store
        self.cache = cache
        self.venue = venue
        self.symbols = tuple(symbols)
        self.tf = parse_timeframe(timeframe)
        self.params = params
        self.rows = rows
        self.need = warmup_candles(params) + rows - 1
        threadsafe = getattr(exchange, "threadsafe_reads", False)
        self._batch = isinstance(exchange, BatchCandles) and not threadsafe
        # A venue answering over the network is asked for every symbol's tail at once: a close
        # then waits for the slowest reply instead of the sum of them (the orders come after).
        self._pool: ThreadPoolExecutor | None = (
            ThreadPoolExecutor(min(8, len(self.symbols)), thread_name_prefix="awan-feed")
            if threadsafe and len(self.symbols) > 1
            else None
        )

    def window(self, symbol: str, close_ms: int) -> pl.DataFrame:
        """The symbol's last `need` candles before `close_ms`, from the cache (else the store).

        Candles at or after `close_ms` are dropped: a replay of last month runs on a store
        (and cache) that may already hold this week.
        """
        window = recent_candles(self.store, self.cache, self.venue, symbol, self.tf.name, self.need)
        if window.height and to_epoch_ms(window["ts"][-1]) >= close_ms:
            window = window.filter(pl.col("ts") < from_epoch_ms(close_ms))
        # a select costs a query plan; a cached window already has exactly these columns
        return window if window.columns == CANDLE_COLUMNS else window.select(CANDLE_COLUMNS)

    def _first_missing(self, window: pl.DataFrame, close_ms: int) -> int:
        """Open time (ms) of the first candle the window lacks before `close_ms`."""
        first_needed = self.tf.add_ms(close_ms, -self.need)
        if not window.height:
            return first_needed
        return max(self.tf.add_ms(to_epoch_ms(window["ts"][-1]), 1), first_needed)

    def _fetch(self, symbols: list[str], start_ms: int, close_ms: int) -> list[pl.DataFrame]:
        """The candles of `symbols` opening in [start_ms, close_ms), from the exchange: in one
        call when it offers one (`BatchCandles`, the sim), else symbol by symbol."""
        start, end = from_epoch_ms(start_ms), from_epoch_ms(close_ms)
        if self._batch and len(symbols) > 1:
            fetched = self.exchange.fetch_ohlcv_many(symbols, self.tf, start, end)  # type: ignore[attr-defined]
            return [fetched.select(CANDLE_COLUMNS)] if fetched.height else []

        # validated below (`_validated`), with each window's last row: not twice
        def fetch(symbol: str) -> pl.DataFrame:
            return self.exchange.fetch_ohlcv(symbol, self.tf, start, end, validate=False)

        if self._pool is not None and len(symbols) > 1:
            frames = list(self._pool.map(fetch, symbols))
        else:
            frames = [fetch(s) for s in symbols]
        # a select costs a query plan; a connector's frame already has exactly these columns
        return [f if f.columns == CANDLE_COLUMNS else f.select(CANDLE_COLUMNS)
                for f in frames if f.height]  # fmt: skip

    def advance(self, close: datetime, *, persist: bool = True) -> FeedUpdate:
        """Bring every window up to the candle that closes at `close` (its open + one candle).

        The new candles are validated here; with `persist=False` they and their indicator
        values reach the store and the cache only when the caller calls `persist` (the
        inline live loop: after the orders of this close were acknowledged).
        """
        close_ms = to_epoch_ms(close)
        windows: dict[str, pl.DataFrame] = {}
        by_start: dict[int, list[str]] = {}  # symbols that lack the same candles fetch together
        for symbol in self.symbols:
            window = windows[symbol] = self.window(symbol, close_ms)
            start = self._first_missing(window, close_ms)
            if start < close_ms:
                by_start.setdefault(start, []).append(symbol)
        fresh = [
            f for start, group in by_start.items() for f in self._fetch(group, start, close_ms)
        ]
        candles = pl.concat(fresh) if fresh else empty_candles()
        if candles.height:
            candles = self._validated(candles, windows)
        new = candles.partition_by("symbol", as_dict=True) if candles.height else {}
        merged = [
            pl.concat([windows[s], new[(s,)]]).tail(self.need) if (s,) in new else windows[s]
            for s in self.symbols
        ]
        frame = (
            pl.concat([m for m in merged if m.height])
            if any(m.height for m in merged)
            else (empty_candles())
        )
        last_open = from_epoch_ms(self.tf.add_ms(close_ms, -1))
        ready = tuple(m["symbol"][0] for m in merged if m.height and m["ts"][-1] == last_open)
        indicators = (
            update_indicators(frame, self.params, rows=self.rows) if frame.height else frame
        )
        update = FeedUpdate(close, candles, indicators, ready, windows)
        if persist:
            self.persist(update)
        return update

    def persist(self, update: FeedUpdate) -> None:
        """The update's candles and indicator values: store first, then cache."""
        if update.candles.height:
            self._write(update.candles, update.windows)
            self._write_indicators(update.indicators, update.candles)

    def _validated(self, candles: pl.DataFrame, windows: dict[str, pl.DataFrame]) -> pl.DataFrame:
        """The new candles, validated after each window's last row (refused on a bad one: a
        duplicate, a step back in time, a broken candle).

        The rows are put in symbol order by a stable sort on the symbol alone — each window's
        last row, then that symbol's new candles as fetched (out of order is refused, never
        reordered) — so the frame is grouped and one query validates it; the window rows are
        then dropped by position (a sort on time and an anti-join took a query each).
        """
        tails = [w.tail(1) for w in windows.values() if w.height]
        combined = pl.concat([*tails, candles]) if tails else candles
        order = np.argsort(combined["symbol"].to_numpy(), kind="stable")
        checked = ensure_valid(
            combined[order],
            self.tf,
            context=f"{self.venue} {self.tf.name} candles up to {candles['ts'].max()}",
        )
        return checked[np.flatnonzero(order >= len(tails))]

    def _write(self, candles: pl.DataFrame, windows: dict[str, pl.DataFrame]) -> None:
        """Validated candles into the store, then the cache."""
        self.store.upsert_candles(self.venue, self.tf.name, candles, provenance=self.provenance)
        for symbol, part in candles.group_by("symbol", maintain_order=True):
            name = str(symbol[0])
            if not self.cache.append_candles(self.venue, name, self.tf.name, part.sort("ts")):
                # no window cached (cold, restarted, Redis back after an outage): rebuild it
                self.cache.set_candles(
                    self.venue, name, self.tf.name,
                    pl.concat([windows[name], part]).tail(self.cache.capacity),
                )  # fmt: skip

    def _write_indicators(self, indicators: pl.DataFrame, candles: pl.DataFrame) -> None:
        """The indicator values of the new candles into the store, the latest into the cache."""
        columns = [c for c in INDICATOR_STORE_COLUMNS if c in indicators.columns]
        new = indicators.join(candles.select("symbol", "ts"), on=["symbol", "ts"], how="semi")
        if new.height:
            self.store.write_indicators(
                self.venue, self.tf.name, new.select("symbol", "ts", *columns)
            )
        for row in indicators.group_by("symbol").tail(1).iter_rows(named=True):
            values = {c: row[c] for c in columns if row[c] is not None}
            self.cache.set_indicators(self.venue, row["symbol"], self.tf.name, values)
