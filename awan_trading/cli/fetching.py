"""`awan fetch` in bounded memory: window by window from the exchange to the destination.

A fetch over decades of 1m candles must not hold them: each symbol is fetched in windows of
`WINDOW_CANDLES` candles and every window is validated and written before the next is asked
for — appended as rows of a Parquet file that only becomes visible (by rename) once the symbol
is complete, or replaced in the store as one transaction per window. What stays in memory is
one window, one Parquet row group and the counts of the summary table.

Destinations are checked before anything is fetched, so a typo in `--out` costs nothing.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import polars as pl

from awan_trading.cli.progress import FetchProgress
from awan_trading.errors import AwanError, DataError
from awan_trading.exchange.base import Exchange, FirstCandleProbe
from awan_trading.market.files import CandleFileWriter
from awan_trading.market.timeframes import Timeframe
from awan_trading.market.validation import ensure_valid

if TYPE_CHECKING:
    from awan_trading.storage.base import Store

# 10 exchange pages of 1000 candles; ~7 days of 1m. Small enough to be nothing in memory,
# large enough that a window costs far more than its bookkeeping.
WINDOW_CANDLES = 10_000
STORE_CONNECT_TIMEOUT_S = 5


# --- destinations -------------------------------------------------------------------------


def _writable_folder(path: Path, what: str) -> None:
    """Refuse unless `path` is, or can be created as, a folder this process can write in;
    errors start with `what` (the option and its value)."""
    existing = path
    while not existing.exists():  # the nearest ancestor that exists decides
        existing = existing.parent
    if not existing.is_dir():
        raise AwanError(f"{what}: {existing} is a file, not a folder")
    try:  # access() lies for root and read-only mounts; creating a file does not
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise AwanError(f"{what}: cannot write in {existing} ({exc.strerror})") from None


def check_out_dir(out: Path, file_names: list[str]) -> None:
    """Refuse `--out` unless it is (or can be created as) a writable folder whose target
    names are free for files; raises `AwanError` naming the problem, writes nothing."""
    if out.exists() and not out.is_dir():
        raise AwanError(f"--out {out}: is a file, expected a folder")
    _writable_folder(out, f"--out {out}")
    for name in file_names:
        if (out / name).is_dir():
            raise AwanError(f"--out {out}: {out / name} is a folder, cannot write the file")


def check_store(url: str) -> None:
    """Refuse `--store` when its URL cannot work, before anything is fetched: a DuckDB file
    whose folder cannot be written, or a PostgreSQL server that does not answer one connect
    (a single attempt, so the user waits seconds for one line, not the pool's retries)."""
    from awan_trading.storage import mask_url

    if url.startswith("duckdb://"):
        from awan_trading.storage.duckdb_store import path_from_url

        path = path_from_url(url)
        if path.is_dir():
            raise AwanError(f"--store {mask_url(url)}: {path} is a folder, expected a file")
        _writable_folder(path.parent, f"--store {mask_url(url)}")
    elif url.startswith(("postgresql://", "postgres://")):
        import psycopg

        try:
            psycopg.connect(url, connect_timeout=STORE_CONNECT_TIMEOUT_S).close()
        except psycopg.Error as exc:
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise AwanError(f"--store {mask_url(url)}: unreachable ({reason})") from None


# --- sinks --------------------------------------------------------------------------------


class WindowSink(Protocol):
    """Where one symbol's windows go, in order; nothing is final before `commit()`."""

    def write(self, start: datetime, end: datetime, frame: pl.DataFrame) -> None: ...

    def commit(self) -> str: ...

    def abort(self) -> None: ...


class FileSink:
    """Validated windows appended to a Parquet file that appears only on `commit()`."""

    def __init__(self, path: Path, tf: Timeframe, context: str) -> None:
        self._writer = CandleFileWriter(path, tf)
        self._tf, self._context = tf, context

    def write(self, start: datetime, end: datetime, frame: pl.DataFrame) -> None:
        if frame.is_empty():
            return
        candles = ensure_valid(frame, self._tf, context=self._context)
        # Windows are disjoint and in order, so in-window rows make the whole file sorted
        # and free of duplicates even though each window is checked alone.
        first, last = candles["ts"].min(), candles["ts"].max()
        if first < start or last >= end:  # type: ignore[operator]
            raise DataError(
                f"{self._context}: window [{start.isoformat()}, {end.isoformat()}) got candles "
                f"from {first} to {last}"
            )
        self._writer.write(candles)

    def commit(self) -> str:
        return str(self._writer.commit())

    def abort(self) -> None:
        self._writer.abort()


class StoreSink:
    """One `replace_candles` per window: each window is its own transaction (the store
    validates the candles and refuses rows outside the window)."""

    def __init__(self, store: Store, venue: str, symbol: str, tf: Timeframe) -> None:
        from awan_trading.storage.base import CandleProvenance

        self._store, self._venue, self._symbol, self._tf = store, venue, symbol, tf
        self._provenance = CandleProvenance.fetch()  # `awan lineage` names the writer

    def write(self, start: datetime, end: datetime, frame: pl.DataFrame) -> None:
        self._store.replace_candles(
            self._venue, self._symbol, self._tf.name, start, end, frame,
            provenance=self._provenance,
        )  # fmt: skip

    def commit(self) -> str:
        return self._store.url

    def abort(self) -> None:
        """Windows already written stay: each was a whole, validated replacement."""


# --- the loop -----------------------------------------------------------------------------


@dataclass
class SymbolSummary:
    """What the summary table shows for a symbol: counts and the last values, never rows."""

    symbol: str
    rows: int = 0
    first: datetime | None = None
    last: datetime | None = None
    close: float | None = None
    written_to: str = "-"

    def add(self, frame: pl.DataFrame) -> None:
        if frame.is_empty():
            return
        self.rows += frame.height
        if self.first is None:
            self.first = frame["ts"][0]
        self.last = frame["ts"][-1]
        self.close = frame["close"][-1]


def window_count(start: datetime, end: datetime, span: timedelta) -> int:
    return -(-(end - start) // span)


def stream_symbol(
    exchange: Exchange,
    symbol: str,
    tf: Timeframe,
    start: datetime,
    end: datetime,
    sink: WindowSink,
    progress: FetchProgress,
) -> SymbolSummary:
    """Fetch [start, end) window by window into `sink`; commit, or abort on any failure.

    Windows lie on the grid start + k·span. When a window comes back empty and the exchange
    can say where its next candle is (`FirstCandleProbe`), the empty stretch up to the grid
    point before that candle becomes a single window: before a listing or after a delisting
    this costs one request instead of one per window.
    """
    span = timedelta(milliseconds=tf.max_ms * WINDOW_CANDLES)  # months: the longest month
    probe = exchange if isinstance(exchange, FirstCandleProbe) else None
    summary = SymbolSummary(symbol)
    progress.start(f"{symbol} {tf}", window_count(start, end, span))
    try:
        lo = start
        while lo < end:
            hi = min(lo + span, end)
            frame = exchange.fetch_ohlcv(symbol, tf, lo, hi)
            if frame.is_empty() and probe is not None and hi < end:
                hi = _skip_to(probe, symbol, tf, hi, start, end, span)
            sink.write(lo, hi, frame)
            summary.add(frame)
            progress.advance(
                window_count(start, hi, span) - window_count(start, lo, span), frame.height
            )
            lo = hi
        summary.written_to = sink.commit()
    except BaseException:
        sink.abort()
        raise
    return summary


def _skip_to(
    probe: FirstCandleProbe,
    symbol: str,
    tf: Timeframe,
    after: datetime,
    start: datetime,
    end: datetime,
    span: timedelta,
) -> datetime:
    """The end of an empty stretch beginning at `after`: the window before the next candle."""
    nxt = probe.first_candle_at(symbol, tf, after)
    if nxt is None or nxt >= end:
        return end
    return max(after, start + (nxt - start) // span * span)
