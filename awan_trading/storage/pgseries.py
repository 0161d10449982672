"""Series ids: the 4-byte key PostgreSQL candles carry instead of (exchange, symbol, timeframe).

`candle_series` names each series once (migration 3 says why). Ids never change and rows are
never deleted, so a process may keep the mapping — but only for ids it has seen committed: an
id created in a transaction that then rolled back points at no series, and candles written
under it would be invisible.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime

import psycopg
from psycopg import sql

from awan_trading.storage.schema import as_utc

_SELECT_IDS = (
    "SELECT symbol, id FROM candle_series "
    "WHERE exchange = %s AND timeframe = %s AND symbol = ANY(%s)"
)


class SeriesIds:
    """The committed (exchange, symbol, timeframe) → id mapping of one store, thread-safe."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, str, str], int] = {}
        self._lock = threading.Lock()

    def cached(
        self, exchange: str, timeframe: str, symbols: Sequence[str]
    ) -> tuple[dict[str, int], list[str]]:
        """(ids known to this process, symbols still to look up): no round trip."""
        with self._lock:
            known = self._known
            ids = {s: known[(exchange, s, timeframe)] for s in symbols
                   if (exchange, s, timeframe) in known}  # fmt: skip
        return ids, [s for s in symbols if s not in ids]

    def ensure(
        self, cur: psycopg.Cursor, exchange: str, timeframe: str, symbols: Sequence[str]
    ) -> dict[str, int]:
        """Ids of `symbols`, creating missing series in the caller's (uncommitted) transaction.

        Call `remember` with the result once that transaction has committed.
        """
        ids, missing = self.cached(exchange, timeframe, symbols)
        if missing:
            # Sorted: two writers creating the same new series lock them in one order, so
            # they queue instead of deadlocking.
            missing.sort()
            cur.execute(
                "INSERT INTO candle_series (exchange, symbol, timeframe) "
                "SELECT %s, unnest(%s::text[]), %s ON CONFLICT DO NOTHING",
                (exchange, missing, timeframe),
            )
            cur.execute(_SELECT_IDS, (exchange, timeframe, missing))
            ids.update(cur.fetchall())
        return ids

    def existing(
        self, cur: psycopg.Cursor, exchange: str, timeframe: str, symbols: Sequence[str]
    ) -> dict[str, int]:
        """Ids of the series that exist; a symbol without one has no candles."""
        ids, missing = self.cached(exchange, timeframe, symbols)
        if missing:
            cur.execute(_SELECT_IDS, (exchange, timeframe, missing))
            found = dict(cur.fetchall())
            self.remember(exchange, timeframe, found)  # read from committed rows
            ids.update(found)
        return ids

    def remember(self, exchange: str, timeframe: str, ids: dict[str, int]) -> None:
        with self._lock:
            self._known.update({(exchange, s, timeframe): i for s, i in ids.items()})


def series_filter(series_ids: Sequence[int], start: datetime | None, end: datetime | None) -> str:
    """A candles WHERE clause, values quoted by psycopg (ADBC streams unbound queries by COPY)."""
    ids = sql.SQL(", ").join(sql.Literal(int(i)) for i in series_ids)
    return with_time_bounds(sql.SQL("WHERE series_id IN ({})").format(ids), start, end)


def with_time_bounds(clause: sql.Composable, start: datetime | None, end: datetime | None) -> str:
    """`clause` plus `ts >= start` / `ts < end` for the bounds given."""
    for op, value in ((">=", start), ("<", end)):
        if value is not None:
            bound = sql.SQL(" AND ts " + op + " {}").format(sql.Literal(as_utc(value)))
            clause = sql.Composed([clause, bound])
    return clause.as_string(None)
