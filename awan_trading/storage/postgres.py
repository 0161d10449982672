"""The production store: PostgreSQL, with TimescaleDB features when the extension exists.

Writes go through a psycopg 3 connection pool; candles travel as binary COPY (vectorized in
`pgcopy`) so a day of a thousand symbols is one round trip, not a million. Reads go through
ADBC, which hands back Arrow that polars adopts without a copy or a pandas detour. Every
operation is one transaction and is retried on connection faults (a restarted server, a
terminated backend): each write is idempotent, so a retry after an unacknowledged commit
lands in the same state.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import adbc_driver_postgresql.dbapi as adbc
import polars as pl
import psycopg
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg_pool import ConnectionPool, PoolTimeout
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from awan_trading.logs import register_secrets
from awan_trading.market.schema import empty_candles
from awan_trading.masking import url_passwords
from awan_trading.storage.base import (
    CandleProvenance,
    StoreError,
    StoreUnavailableError,
    mask_url,
)
from awan_trading.storage.migrations import (
    MIGRATIONS_TABLE,
    TIMESCALE_PROBE,
    TIMESCALE_VERSION,
    Migration,
    TimescaleOptions,
    load_migrations,
    series_plan,
    timescale_plan,
)
from awan_trading.storage.pgconnect import probe
from awan_trading.storage.pgcopy import CANDLE_COPY_COLUMNS, encode_candles
from awan_trading.storage.pgseries import SeriesIds, series_filter, with_time_bounds
from awan_trading.storage.provenance import record_writes, upsert_windows
from awan_trading.storage.schema import (
    as_utc,
    candles_by_series,
    candles_from_arrow,
    checked_candles,
    checked_window,
    indicators_long,
    indicators_wide,
    sorted_candles,
)
from awan_trading.storage.sqlbase import SIGNAL_COLUMN_LIST, SqlRecords, Statement

_SIGNAL_ARRAY_TYPES = {
    "signal_id": "text", "strategy": "text", "params_hash": "text", "exchange": "text",
    "symbol": "text", "timeframe": "text", "ts": "timestamptz", "side": "text",
    "price": "float8", "score": "float8", "created_at": "timestamptz",
}  # fmt: skip

T = TypeVar("T")

# Advisory-lock keys (arbitrary constants, unique to awan).
MIGRATE_LOCK = 0x6177616E01
SIGNALS_LOCK = 0x6177616E02
_OHLCV = ("open", "high", "low", "close", "volume")
_RETRYABLE = (psycopg.OperationalError, pg_errors.UniqueViolation)
BULK_ROWS = 10_000
_MERGE_CANDLES = (
    "MERGE INTO candles c USING candles_incoming i ON c.series_id = i.series_id AND c.ts = i.ts "
    "WHEN MATCHED AND ({old}) IS DISTINCT FROM ({new}) THEN UPDATE SET {sets} "
    "WHEN NOT MATCHED THEN INSERT VALUES (i.series_id, i.ts, {new})"
).format(
    old=", ".join(f"c.{c}" for c in _OHLCV),
    new=", ".join(f"i.{c}" for c in _OHLCV),
    sets=", ".join(f"{c} = i.{c}" for c in _OHLCV),
)


class PostgresStore(SqlRecords):
    """`Store` over PostgreSQL (TimescaleDB optional)."""

    backend = "postgres"
    _signal_lock_sql = f"SELECT pg_advisory_xact_lock({SIGNALS_LOCK})"

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 4,
        attempts: int = 5,
        connect_timeout: float = 5.0,
        timescale: TimescaleOptions | None = None,
    ) -> None:
        self._dsn = url
        self.url = mask_url(url)
        # psycopg_pool's connection warnings and libpq's errors quote the DSN or bits of it.
        register_secrets(url_passwords(url))
        self.attempts = attempts
        self.timescale = timescale or TimescaleOptions()
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            timeout=connect_timeout,
            kwargs={
                "options": "-c TimeZone=UTC -c temp_buffers=128MB",
                "connect_timeout": max(1, int(connect_timeout)),
            },
            check=ConnectionPool.check_connection,
            open=False,
            name="awan-store",
        )
        self.connect_timeout = connect_timeout
        self._opened = False  # opened on first use, after `probe` (see pgconnect)
        self._open_lock = threading.Lock()
        self._is_hypertable: bool | None = None
        self._series = SeriesIds()
        self._adbc: Any = None
        self._adbc_lock = threading.Lock()

    def close(self) -> None:
        self._pool.close()
        with self._adbc_lock:
            if self._adbc is not None:
                self._adbc.close()
                self._adbc = None

    # --- plumbing -------------------------------------------------------------------------
    def _open(self) -> None:
        """Probe the server once, then open the pool: a dead address fails fast, in one line."""
        if self._opened:
            return
        with self._open_lock:
            if not self._opened:
                probe(self._dsn, self.connect_timeout)
                self._pool.open(wait=False)
                self._opened = True

    def _retry(self, work: Callable[[], T], what: str) -> T:
        """Run `work`, retrying connection faults with jittered backoff; errors name no secret."""
        self._open()
        try:
            for attempt in Retrying(
                retry=retry_if_exception_type(_RETRYABLE),
                wait=wait_random_exponential(multiplier=0.05, max=1.0),
                stop=stop_after_attempt(self.attempts),
                reraise=False,
            ):
                with attempt:
                    return work()
        except RetryError as exc:
            cause = exc.last_attempt.exception()
            kind = "unreachable" if isinstance(cause, PoolTimeout) else "failed"
            raise StoreUnavailableError(
                f"postgres store {self.url} {kind} during {what} after {self.attempts} "
                f"attempts: {mask_url(str(cause)).strip()}"
            ) from None
        except psycopg.Error as exc:
            raise StoreError(
                f"postgres store {self.url}: {what} failed: {mask_url(str(exc)).strip()}"
            ) from None
        raise AssertionError("unreachable")

    def _in_transaction(self, body: Callable[[psycopg.Cursor], T], what: str) -> T:
        def work() -> T:
            with self._pool.connection() as conn, conn.cursor() as cur:
                return body(cur)  # the pool commits on clean exit, rolls back otherwise

        return self._retry(work, what)

    def _transaction(self, statements: list[Statement]) -> list[list[tuple]]:
        def body(cur: psycopg.Cursor) -> list[list[tuple]]:
            results = []
            for statement, params in statements:
                cur.execute(statement, params)
                results.append(cur.fetchall() if cur.description is not None else [])
            return results

        return self._in_transaction(body, statements[-1][0].split(" ", 1)[0].lower())

    def _insert_signal_frame(self, rows: pl.DataFrame) -> int:
        casts = ", ".join(f"%s::{_SIGNAL_ARRAY_TYPES[c]}[]" for c in SIGNAL_COLUMN_LIST)
        columns = ", ".join(SIGNAL_COLUMN_LIST)
        arrays = [rows.get_column(c).to_list() for c in SIGNAL_COLUMN_LIST]

        def body(cur: psycopg.Cursor) -> int:
            cur.execute(self._signal_lock_sql)
            cur.execute(
                f"INSERT INTO signals ({columns}) SELECT * FROM unnest({casts}) AS t({columns}) "
                "ORDER BY ts, symbol, side ON CONFLICT (signal_id) DO NOTHING RETURNING seq",
                arrays,
            )
            return len(cur.fetchall())

        return self._in_transaction(body, "insert signals")

    def _arrow(self, sql: str) -> Any:
        """Run a read through ADBC (Arrow all the way), reconnecting once on a dead link.

        The SQL carries its values as quoted literals (see `_window_filter`): ADBC streams
        results with binary COPY only for unparameterized queries, twice as fast as binding.
        """

        self._open()

        def work() -> Any:
            with self._adbc_lock:
                for tries in range(2):
                    if self._adbc is None:
                        self._adbc = adbc.connect(self._dsn)
                    try:
                        with self._adbc.cursor() as cur:
                            cur.execute(sql)
                            table = cur.fetch_arrow_table()
                        self._adbc.commit()
                        return table
                    except adbc.Error:
                        self._adbc.close()
                        self._adbc = None
                        if tries:
                            raise
                raise AssertionError("unreachable")

        try:
            return work()
        except adbc.Error as exc:
            raise StoreUnavailableError(
                f"postgres store {self.url}: read failed: {mask_url(str(exc)).strip()}"
            ) from None

    def _hypertable(self, cur: psycopg.Cursor) -> bool:
        """Whether candles is a TimescaleDB hypertable (asked once per store)."""
        if self._is_hypertable is None:
            cur.execute("SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'")
            self._is_hypertable = bool(cur.fetchone()[0])
        return self._is_hypertable

    # --- schema ---------------------------------------------------------------------------
    def migrations(self, timescale_available: bool) -> list[Migration]:
        """SQL files plus the generated TimescaleDB / plain-PostgreSQL steps, in order."""
        found = load_migrations("postgres")
        found.append(timescale_plan(timescale_available, self.timescale))
        found.append(series_plan(timescale_available, self.timescale))
        found.sort(key=lambda m: m.version)
        return found

    def migrate(self) -> list[int]:
        def body(cur: psycopg.Cursor) -> list[int]:
            # Two processes starting at once: the second waits here, then finds nothing to do.
            cur.execute(f"SELECT pg_advisory_xact_lock({MIGRATE_LOCK})")
            cur.execute(MIGRATIONS_TABLE)
            cur.execute("SELECT coalesce(max(version), 0) FROM schema_migrations")
            version = cur.fetchone()[0]
            cur.execute(TIMESCALE_PROBE)
            available = bool(cur.fetchone()[0])
            applied = []
            for m in self.migrations(available):
                if m.version > version:
                    cur.execute(m.sql.encode())  # bytes: run as-is, several statements allowed
                    cur.execute(
                        "INSERT INTO schema_migrations VALUES (%s, %s, now())", (m.version, m.name)
                    )
                    applied.append(m.version)
            return applied

        return self._in_transaction(body, "migrate")

    def status(self) -> dict[str, Any]:
        def body(cur: psycopg.Cursor) -> tuple[int, list[tuple], bool, str | None]:
            cur.execute("SELECT to_regclass('schema_migrations') IS NOT NULL")
            rows: list[tuple] = []
            if cur.fetchone()[0]:
                cur.execute("SELECT version, name FROM schema_migrations ORDER BY version")
                rows = cur.fetchall()
            cur.execute(TIMESCALE_PROBE)
            available = bool(cur.fetchone()[0])
            cur.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")
            installed = cur.fetchone()
            return (rows[-1][0] if rows else 0), rows, available, installed and installed[0]

        version, rows, available, installed = self._in_transaction(body, "status")
        names = dict(rows)
        latest = self.migrations(available)
        if installed:
            features = f"TimescaleDB {installed} (hypertable, compression)"
        elif names.get(TIMESCALE_VERSION) == "candles_plain_postgres":
            features = "plain PostgreSQL (timescaledb not available when migrated)"
        else:
            features = "timescaledb " + ("available" if available else "not available")
        return {
            "backend": self.backend,
            "url": self.url,
            "version": version,
            "latest": latest[-1].version,
            "pending": [m.version for m in latest if m.version > version],
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
        written = [(symbol, start, end)]

        def body(cur: psycopg.Cursor) -> dict[str, int]:
            ids = self._series.ensure(cur, exchange, timeframe, [symbol])
            cur.execute(
                "DELETE FROM candles WHERE series_id = %s AND ts >= %s AND ts < %s",
                (ids[symbol], start, end),
            )
            if candles.height:
                with cur.copy(
                    f"COPY candles ({CANDLE_COPY_COLUMNS}) FROM STDIN (FORMAT BINARY)"
                ) as copy:
                    copy.write(encode_candles(candles, ids))
            record_writes(_executor(cur), exchange, timeframe, written, provenance)
            return ids

        self._series.remember(exchange, timeframe, self._in_transaction(body, context))
        return candles.height

    def upsert_candles(
        self,
        exchange: str,
        timeframe: str,
        frame: pl.DataFrame,
        *,
        provenance: CandleProvenance | None = None,
    ) -> int:
        context = f"upsert {exchange} {timeframe}"
        candles = checked_candles(frame, timeframe, context)
        if candles.is_empty():
            return 0
        written = upsert_windows(candles, timeframe)
        symbols = candles["symbol"].unique(maintain_order=True).to_list()
        sets = ", ".join(f"{c} = excluded.{c}" for c in _OHLCV)
        old = ", ".join(f"candles.{c}" for c in _OHLCV)
        new = ", ".join(f"excluded.{c}" for c in _OHLCV)

        def body(cur: psycopg.Cursor) -> dict[str, int]:
            ids = self._series.ensure(cur, exchange, timeframe, symbols)
            cur.execute(
                "CREATE TEMP TABLE IF NOT EXISTS candles_incoming "
                "(LIKE candles INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
            )
            with cur.copy(
                f"COPY candles_incoming ({CANDLE_COPY_COLUMNS}) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.write(encode_candles(candles, ids))
            # Rows that did not change are not rewritten: no dead tuples, no WAL, no index churn
            # for the common re-fetch of an overlapping window.
            # MERGE into a hypertable needs a recent TimescaleDB; ON CONFLICT works on all.
            if candles.height < BULK_ROWS or self._hypertable(cur):
                cur.execute(
                    f"INSERT INTO candles SELECT * FROM candles_incoming ON CONFLICT "
                    f"(series_id, ts) DO UPDATE SET {sets} WHERE ({old}) IS DISTINCT FROM ({new})"
                )
            else:  # a plain-table backfill: one join, not a probe and row lock per candle
                cur.execute("SET LOCAL work_mem = '256MB'")
                cur.execute("ANALYZE candles_incoming")
                cur.execute(_MERGE_CANDLES)
            record_writes(_executor(cur), exchange, timeframe, written, provenance)
            return ids

        self._series.remember(exchange, timeframe, self._in_transaction(body, context))
        return candles.height

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
        ids, missing = self._series.cached(exchange, timeframe, names)
        if missing:  # a round trip only for series this process has not met yet
            ids |= self._in_transaction(
                lambda cur: self._series.existing(cur, exchange, timeframe, missing), "read candles"
            )
        if not ids:
            return empty_candles()
        where = series_filter(list(ids.values()), start, end)
        # No ORDER BY: the server streams in storage order and polars sorts in parallel.
        if len(ids) == 1:
            # One symbol (the usual read): no series column to ship.
            table = self._arrow(f"SELECT ts, open, high, low, close, volume FROM candles {where}")
            return sorted_candles(candles_from_arrow(table, symbol=next(iter(ids))))
        table = self._arrow(
            f"SELECT series_id, ts, open, high, low, close, volume FROM candles {where}"
        )
        return candles_by_series(table, ids)

    def latest_candle_ts(self, exchange: str, symbol: str, timeframe: str) -> datetime | None:
        rows = self._one(
            "SELECT max(ts) FROM candles WHERE series_id = (SELECT id FROM candle_series "
            "WHERE exchange = %s AND symbol = %s AND timeframe = %s)",
            (exchange, symbol, timeframe),
        )
        return None if rows[0][0] is None else as_utc(rows[0][0])

    # --- indicators -----------------------------------------------------------------------
    def write_indicators(self, exchange: str, timeframe: str, frame: pl.DataFrame) -> int:
        long = indicators_long(frame, f"indicators {exchange} {timeframe}")
        payload = long.select(
            pl.lit(exchange).alias("exchange"),
            "symbol",
            pl.lit(timeframe).alias("timeframe"),
            "name",
            pl.col("ts").dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ"),
            "value",
        ).write_csv(include_header=False)

        def body(cur: psycopg.Cursor) -> int:
            cur.execute(
                "CREATE TEMP TABLE IF NOT EXISTS indicators_incoming "
                "(LIKE indicators) ON COMMIT DELETE ROWS"
            )
            with cur.copy(
                "COPY indicators_incoming (exchange, symbol, timeframe, name, ts, value) "
                "FROM STDIN (FORMAT CSV)"
            ) as copy:
                copy.write(payload)
            cur.execute(
                "INSERT INTO indicators SELECT * FROM indicators_incoming ON CONFLICT "
                "(exchange, symbol, timeframe, name, ts) DO UPDATE SET value = excluded.value"
            )
            return frame.height

        return self._in_transaction(body, f"indicators {exchange} {timeframe}")

    def read_indicators(
        self,
        exchange: str,
        symbols: str | list[str],
        timeframe: str,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> pl.DataFrame:
        names = [symbols] if isinstance(symbols, str) else list(symbols)
        where = _window_filter(exchange, names, timeframe, start, end)
        table = self._arrow(f"SELECT symbol, ts, name, value FROM indicators {where}")
        return indicators_wide(pl.from_arrow(table))


def _executor(cur: psycopg.Cursor) -> Callable[[str, Sequence[Any]], list[tuple]]:
    """Statements on the candle write's own cursor, so provenance commits with the candles."""

    def execute(statement: str, params: Sequence[Any]) -> list[tuple]:
        cur.execute(statement, params)
        return cur.fetchall() if cur.description is not None else []

    return execute


def _window_filter(
    exchange: str,
    symbols: Sequence[str],
    timeframe: str,
    start: datetime | None,
    end: datetime | None,
) -> str:
    """A WHERE clause with values quoted by psycopg (safe against injection)."""
    names = sql.SQL(", ").join(sql.Literal(s) for s in symbols)
    clause = sql.SQL("WHERE exchange = {} AND timeframe = {} AND symbol IN ({})").format(
        sql.Literal(exchange), sql.Literal(timeframe), names
    )
    return with_time_bounds(clause, start, end)
