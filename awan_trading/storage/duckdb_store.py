"""The embedded default store: one DuckDB file under `.awan/`.

DuckDB lets one process at a time hold a database file open for writing, and awan runs several
(Dagster runs, the live loop, the CLI). So no connection outlives an operation: each call opens
the file, does its work in one transaction and closes it, and opening retries with jittered
backoff while another process holds the lock. Writers therefore queue instead of failing,
and a long-running process never starves the others.

Connection settings (`DEFAULT_SETTINGS`, each overridable in the URL's query:
`duckdb:///.awan/awan.duckdb?threads=1&memory_limit=256MB`): DuckDB's own default buffer pool
is 80% of the machine's memory, which suits an analytics session but not a store embedded in a
trading daemon that shares a laptop or a small server with Dagster runs, so it is capped and a
larger query spills to disk instead. Threads stay DuckDB's default (one per core): a year of
candles reads about a third faster on two threads than on one; `threads=1` suits a
memory-tight live loop, whose statements are small (README, live loop benchmark row).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception,
    stop_after_delay,
    wait_random_exponential,
)

from awan_trading.market.schema import empty_candles
from awan_trading.storage.base import CandleProvenance, StoreError, StoreUnavailableError
from awan_trading.storage.duckdb_orders import ConcurrentKey, DuckDBOrderPath, qmarks
from awan_trading.storage.migrations import MIGRATIONS_TABLE, load_migrations
from awan_trading.storage.provenance import Window, record_writes, upsert_windows
from awan_trading.storage.schema import (
    as_utc,
    candles_from_arrow,
    checked_candles,
    checked_window,
    indicators_long,
    indicators_wide,
)
from awan_trading.storage.sqlbase import SIGNAL_COLUMN_LIST, Statement


class ArrowStream:
    """A polars frame that DuckDB scans through the Arrow PyCapsule stream interface.

    DuckDB converts a polars frame (or its `to_arrow()`) through pyarrow, which the live loop
    would import for nothing else: ~30 MB of the process's memory and a copy per write. An
    object exposing only `__arrow_c_stream__` is scanned from polars' own buffers instead, and
    each scan asks for a fresh stream, so one registration serves a DELETE … USING and the
    INSERT after it.
    """

    def __init__(self, frame: pl.DataFrame) -> None:
        self.frame = frame

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        return self.frame.__arrow_c_stream__(requested_schema)


_SELECT_CANDLES = "SELECT symbol, ts, open, high, low, close, volume FROM candles"

DEFAULT_SETTINGS: dict[str, str] = {"memory_limit": "1GB"}  # see the module docstring
_URL_SETTINGS = ("memory_limit", "threads")

# DuckDB's Python client shares one database instance among a process's connections to a file
# and registers its Python table functions when it creates that instance; a connection opened
# on another thread at the same moment can get the instance before they are there, and its
# first scan of an Arrow table fails ("Table Function with name python_arrow_scan does not
# exist"; on DuckDB 2.0 here, within 5–40 rounds of four threads opening this store at once,
# `tests/unit/test_duckdb_threads.py`). Opening is serialised process-wide; the work on each
# connection is not.
_OPENING = threading.Lock()


def _open(path: Path, **kwargs: Any) -> duckdb.DuckDBPyConnection:
    """`duckdb.connect`, one thread at a time (`_OPENING`)."""
    with _OPENING:
        return duckdb.connect(str(path), **kwargs)


def _is_retryable(exc: BaseException) -> bool:
    """Another process holds the file lock, or a concurrent in-process transaction conflicted."""
    if isinstance(exc, ConcurrentKey):
        return True
    if isinstance(exc, duckdb.IOException):
        text = str(exc)
        return "lock" in text.lower()
    return isinstance(exc, duckdb.TransactionException)


class DuckDBStore(DuckDBOrderPath):
    """`Store` over a DuckDB file with short-lived connections (order-path writes:
    `DuckDBOrderPath`)."""

    backend = "duckdb"

    def __init__(
        self,
        path: str | Path,
        *,
        lock_timeout: float = 60.0,
        settings: dict[str, str] | None = None,
    ) -> None:
        self.path = Path(path)
        self.url = f"duckdb:///{self.path.as_posix()}"
        self.lock_timeout = lock_timeout
        self.settings = {**DEFAULT_SETTINGS, **(settings or {})}
        self._held: duckdb.DuckDBPyConnection | None = None
        self._held_lock = threading.RLock()

    def close(self) -> None:
        """Nothing to release: no connection outlives an operation (or a `held` block)."""

    @contextmanager
    def held(self) -> Iterator[DuckDBStore]:
        """Run every operation inside the block on one connection, then release the file.

        Opening a DuckDB file costs tens of milliseconds, and a live-loop replay makes dozens
        of store calls per candle, so it holds one connection for the whole replay. While
        held, no other process can open the file: use it for batch work (a replay, a
        benchmark), not for a daemon that shares the store with Dagster runs.
        """
        with self._held_lock:
            if self._held is not None:  # nested: the outer block owns the connection
                yield self
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            con = _open(self.path, config=self.settings)
            con.execute("SET TimeZone = 'UTC'")
            self._held = con
        try:
            yield self
        finally:
            with self._held_lock:
                self._held = None
                con.close()

    # --- connections ----------------------------------------------------------------------
    def _attempts(self) -> Retrying:
        return Retrying(
            retry=retry_if_exception(_is_retryable),
            wait=wait_random_exponential(multiplier=0.005, max=0.25),
            stop=stop_after_delay(self.lock_timeout),
            reraise=False,
        )

    @contextmanager
    def _connection(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        if self._held is not None:
            with self._held_lock:
                yield self._held
            return
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        con = _open(self.path, read_only=read_only, config=self.settings)
        try:
            con.execute("SET TimeZone = 'UTC'")
            yield con
        finally:
            con.close()

    def _run(self, work: Any, *, read_only: bool = False, single: bool = False) -> Any:
        """Run `work(con)` in one transaction, retrying lock conflicts until `lock_timeout`.

        `single`: work runs one statement, which DuckDB's autocommit makes a transaction of
        its own; an explicit BEGIN / COMMIT around it costs ~0.3 ms more (a point read).
        """
        try:
            for attempt in self._attempts():
                with attempt, self._connection(read_only) as con:
                    if single:
                        return work(con)
                    con.execute("BEGIN TRANSACTION")
                    try:
                        result = work(con)
                        try:
                            con.execute("COMMIT")
                        except duckdb.ConstraintException as exc:
                            raise ConcurrentKey(str(exc)) from exc
                    except BaseException:
                        with suppress(duckdb.Error):  # a refused COMMIT ended it already
                            con.execute("ROLLBACK")
                        raise
                    return result
        except RetryError as exc:
            cause = exc.last_attempt.exception()
            raise StoreUnavailableError(
                f"duckdb store {self.path} stayed locked for {self.lock_timeout:.0f}s: {cause}"
            ) from None
        except duckdb.Error as exc:
            raise StoreError(f"duckdb store {self.path}: {exc}") from exc
        raise AssertionError("unreachable")

    def _transaction(self, statements: list[Statement]) -> list[list[tuple]]:
        def work(con: duckdb.DuckDBPyConnection) -> list[list[tuple]]:
            return [con.execute(qmarks(sql), list(params)).fetchall() for sql, params in statements]

        return self._run(work, single=len(statements) == 1)

    def _insert_signal_frame(self, rows: pl.DataFrame) -> int:
        arrow = ArrowStream(rows)
        columns = ", ".join(SIGNAL_COLUMN_LIST)

        def work(con: duckdb.DuckDBPyConnection) -> int:
            con.register("incoming_signals", arrow)
            try:
                inserted = con.execute(
                    # The anti-join skips known ids cheaply; ON CONFLICT alone is slow on
                    # DuckDB when most rows already exist (a re-run of a partition).
                    f"INSERT INTO signals ({columns}) SELECT {columns} FROM incoming_signals i "
                    "WHERE NOT EXISTS (SELECT 1 FROM signals s WHERE s.signal_id = i.signal_id) "
                    "ORDER BY ts, symbol, side ON CONFLICT DO NOTHING RETURNING seq"
                ).fetchall()
            finally:
                con.unregister("incoming_signals")
            return len(inserted)

        return self._run(work)

    # --- schema ---------------------------------------------------------------------------
    def migrate(self) -> list[int]:
        migrations = load_migrations("duckdb")

        def work(con: duckdb.DuckDBPyConnection) -> list[int]:
            con.execute(MIGRATIONS_TABLE)
            current = con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations")
            version = current.fetchone()[0]
            applied = []
            for m in migrations:
                if m.version > version:
                    con.execute(m.sql)
                    con.execute(
                        "INSERT INTO schema_migrations VALUES (?, ?, now())", [m.version, m.name]
                    )
                    applied.append(m.version)
            return applied

        return self._run(work)

    def status(self) -> dict[str, Any]:
        """Schema version and pending migrations; reads only, so it creates no file or table."""
        migrations = load_migrations("duckdb")

        def work(con: duckdb.DuckDBPyConnection) -> int:
            found = con.execute(
                "SELECT count(*) FROM information_schema.tables "
                "WHERE table_name = 'schema_migrations'"
            ).fetchone()[0]
            if not found:
                return 0
            return con.execute(
                "SELECT coalesce(max(version), 0) FROM schema_migrations"
            ).fetchone()[0]

        exists = self.path.is_file()
        version = self._run(work, read_only=True) if exists else 0
        features = "embedded; short-lived connections, lock-conflict retry"
        if not exists:
            features += "; no database file yet (`awan db migrate` creates it)"
        return {
            "backend": self.backend,
            "url": self.url,
            "version": version,
            "latest": migrations[-1].version,
            "pending": [m.version for m in migrations if m.version > version],
            "features": features,
        }

    # --- candles --------------------------------------------------------------------------
    def replace_candles(
        self,
        exchange: str,
        symbol: str,
        timeframe: str,
        start: datetime,
        end: datetime,
        frame: pl.DataFrame,
        *,
        provenance: CandleProvenance | None = None,
    ) -> int:
        context = f"replace {exchange} {symbol} {timeframe}"
        candles, start, end = checked_window(frame, symbol, timeframe, start, end, context)
        arrow = ArrowStream(candles)
        written = [(symbol, start, end)]

        def work(con: duckdb.DuckDBPyConnection) -> int:
            con.execute(
                "DELETE FROM candles WHERE exchange = ? AND symbol = ? AND timeframe = ? "
                "AND ts >= ? AND ts < ?",
                [exchange, symbol, timeframe, start, end],
            )
            con.register("incoming", arrow)
            con.execute(
                "INSERT INTO candles SELECT ?, symbol, ?, ts, open, high, low, close, volume "
                "FROM incoming",
                [exchange, timeframe],
            )
            _record(con, exchange, timeframe, written, provenance)
            return candles.height

        return self._run(work)

    def upsert_candles(
        self,
        exchange: str,
        timeframe: str,
        frame: pl.DataFrame,
        *,
        provenance: CandleProvenance | None = None,
    ) -> int:
        candles = checked_candles(frame, timeframe, f"upsert {exchange} {timeframe}")
        if candles.is_empty():
            return 0
        arrow = ArrowStream(candles)
        lo, hi = candles["ts"].min(), candles["ts"].max()
        written = upsert_windows(candles, timeframe)

        def work(con: duckdb.DuckDBPyConnection) -> int:
            con.register("incoming", arrow)
            con.execute(
                "DELETE FROM candles c USING incoming i WHERE c.exchange = ? AND c.timeframe = ? "
                "AND c.ts BETWEEN ? AND ? AND c.symbol = i.symbol AND c.ts = i.ts",
                [exchange, timeframe, lo, hi],
            )
            con.execute(
                "INSERT INTO candles SELECT ?, symbol, ?, ts, open, high, low, close, volume "
                "FROM incoming",
                [exchange, timeframe],
            )
            _record(con, exchange, timeframe, written, provenance)
            return candles.height

        return self._run(work)

    def read_candles(
        self,
        exchange: str,
        symbols: str | list[str],
        timeframe: str,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> pl.DataFrame:
        names = [symbols] if isinstance(symbols, str) else list(symbols)
        if not names:
            return empty_candles()
        sql, params = _window_filter(exchange, names, timeframe, start, end)

        def work(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
            table = con.sql(f"{_SELECT_CANDLES} {sql} ORDER BY symbol, ts", params=params)
            return candles_from_arrow(pl.DataFrame(table))

        return self._run(work)

    def latest_candle_ts(self, exchange: str, symbol: str, timeframe: str) -> datetime | None:
        rows = self._one(
            "SELECT max(ts) FROM candles WHERE exchange = %s AND symbol = %s AND timeframe = %s",
            (exchange, symbol, timeframe),
        )
        return None if rows[0][0] is None else as_utc(rows[0][0])

    # --- indicators -----------------------------------------------------------------------
    def write_indicators(self, exchange: str, timeframe: str, frame: pl.DataFrame) -> int:
        long = indicators_long(frame, f"indicators {exchange} {timeframe}")
        arrow = ArrowStream(long)

        def work(con: duckdb.DuckDBPyConnection) -> int:
            con.register("incoming", arrow)
            con.execute(
                "DELETE FROM indicators x USING incoming i WHERE x.exchange = ? "
                "AND x.timeframe = ? AND x.symbol = i.symbol AND x.name = i.name AND x.ts = i.ts",
                [exchange, timeframe],
            )
            con.execute(
                "INSERT INTO indicators SELECT ?, symbol, ?, name, ts, value FROM incoming",
                [exchange, timeframe],
            )
            return frame.height

        return self._run(work)

    def read_indicators(
        self,
        exchange: str,
        symbols: str | list[str],
        timeframe: str,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> pl.DataFrame:
        names = [symbols] if isinstance(symbols, str) else list(symbols)
        sql, params = _window_filter(exchange, names, timeframe, start, end)

        def work(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
            rel = con.sql(f"SELECT symbol, ts, name, value FROM indicators {sql}", params=params)
            return pl.DataFrame(rel)

        return indicators_wide(self._run(work))


def _record(
    con: duckdb.DuckDBPyConnection,
    exchange: str,
    timeframe: str,
    windows: list[Window],
    provenance: CandleProvenance | None,
) -> None:
    """`provenance.record_writes` on this transaction's connection."""

    def execute(sql: str, params: Sequence[Any]) -> list[tuple]:
        return con.execute(qmarks(sql), list(params)).fetchall()

    record_writes(execute, exchange, timeframe, windows, provenance)


def _window_filter(
    exchange: str,
    symbols: Sequence[str],
    timeframe: str,
    start: datetime | None,
    end: datetime | None,
) -> tuple[str, list[Any]]:
    marks = ", ".join("?" for _ in symbols)
    sql = f"WHERE exchange = ? AND timeframe = ? AND symbol IN ({marks})"
    params: list[Any] = [exchange, timeframe, *symbols]
    if start is not None:
        sql += " AND ts >= ?"
        params.append(as_utc(start))
    if end is not None:
        sql += " AND ts < ?"
        params.append(as_utc(end))
    return sql, params


def path_from_url(url: str) -> Path:
    """`duckdb:///rel/path` → `rel/path`; `duckdb:////abs/path` → `/abs/path` (a `?query`
    of settings is not part of the path: `settings_from_url`)."""
    match = re.fullmatch(r"duckdb://(/[^?]*)(\?.*)?", url)
    if not match or match.group(1) in {"/", ""}:
        raise StoreError(f"invalid DuckDB store URL {url!r}; expected duckdb:///path/to/file")
    return Path(match.group(1)[1:])


def settings_from_url(url: str) -> dict[str, str]:
    """The connection settings in the URL's query (`?threads=1&memory_limit=256MB`); a key
    other than those of `DEFAULT_SETTINGS` or `threads` is refused, naming it."""
    _, _, query = url.partition("?")
    settings: dict[str, str] = {}
    for part in filter(None, query.split("&")):
        key, _, value = part.partition("=")
        if key not in _URL_SETTINGS or not value:
            raise StoreError(
                f"invalid DuckDB store URL {url!r}: {part!r}; settings are "
                f"{', '.join(f'{k}=…' for k in _URL_SETTINGS)}"
            )
        settings[key] = value
    return settings
