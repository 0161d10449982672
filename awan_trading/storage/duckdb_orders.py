"""DuckDB's order path: the records of `sqlbase`, written without ON CONFLICT when it can.

Why: on the 2-core machine the live loop runs on, DuckDB spends ~3.5 ms on every
`INSERT … ON CONFLICT` (DO NOTHING or DO UPDATE) on top of the ~1.6 ms of the plain
statement, and one order (intent, order row, fills, its status updates) made several of
them between a candle's close and the order's acknowledgement. PostgreSQL's ON CONFLICT is
cheap and concurrency-safe, so `sqlbase` keeps it; DuckDB overrides the hot writes here:

- a new row is a plain INSERT, and a primary-key violation means "already recorded": the
  transaction is rolled back and the recorded row read in a fresh one;
- an upsert is an UPDATE of the keyed row, then an INSERT only when none matched
  (`upsert.Upsert`);
- fills: the trade ids already recorded are read in the same transaction, the rest inserted
  in one plain statement.

Whenever a fast statement fails on a constraint it did not expect (a NOT NULL, or a row a
concurrent transaction committed after this one's snapshot), the transaction is restarted
with `sqlbase`'s portable statements, so every answer and every error is theirs.

Concurrency: one process writes a DuckDB file at a time, but threads of that process run
concurrent transactions. A key another transaction committed first fails this one's INSERT
with a `ConstraintException` (handled here); a key it has inserted but not yet committed
fails this one's COMMIT with a `TransactionException`, and `_run` retries the whole call,
which then sees the row. Either way exactly one caller records an intent, a fill or a signal.
"""

from __future__ import annotations

import uuid
from abc import abstractmethod
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import duckdb

from awan_trading.domain.orders import Fill, Order
from awan_trading.domain.positions import Position
from awan_trading.domain.signals import OrderIntent, SignalRecord
from awan_trading.storage.base import EquitySnapshot
from awan_trading.storage.rows import upsert_position
from awan_trading.storage.schema import FILLS_SCHEMA
from awan_trading.storage.sqlbase import (
    INSERT_INTENT,
    INSERT_SIGNAL,
    INSERT_SIGNAL_ONCE,
    INTENT_ATTEMPT,
    SqlRecords,
    equity_upsert,
    fill_insert,
    fill_values,
    heartbeat_upsert,
    intent_statements,
    intent_values,
    order_upsert,
    signal_intent_answer,
    signal_intent_statements,
    signal_values,
    venue_clock_upsert,
)
from awan_trading.storage.upsert import Statement, Upsert

T = TypeVar("T")
Connection = duckdb.DuckDBPyConnection

_FILL_COLS = ", ".join(FILLS_SCHEMA)
_FILL_MARKS = f"({', '.join(['?'] * len(FILLS_SCHEMA))})"


def qmarks(sql: str) -> str:
    """`%s` placeholders (the shared SQL) as DuckDB's `?`."""
    return sql.replace("%s", "?")


def _rows(con: Connection, statement: Statement) -> list[tuple]:
    sql, params = statement
    return con.execute(qmarks(sql), list(params)).fetchall()


def _restart(con: Connection) -> None:
    """After a failed statement DuckDB accepts nothing but ROLLBACK: start afresh."""
    con.execute("ROLLBACK")
    con.execute("BEGIN TRANSACTION")


class ConcurrentKey(Exception):
    """A key that another transaction, still open or committed while ours was, holds: the
    store runs the work again (`DuckDBStore._run` retries it), which then sees that row — a
    second intent for one client order id is refused, not an error."""


def _portable(con: Connection, statements: Sequence[Statement]) -> list[list[tuple]]:
    """`sqlbase`'s statements in a restarted transaction: the fast path did not apply.

    Even ON CONFLICT fails on a key an open concurrent transaction inserted (DuckDB checks
    uncommitted keys too): that is a `ConcurrentKey`, retried; any other violation is raised.
    """
    _restart(con)
    try:
        return [_rows(con, s) for s in statements]
    except duckdb.ConstraintException as exc:
        if "Duplicate key" in str(exc):
            raise ConcurrentKey(str(exc)) from exc
        raise


def _write(con: Connection, row: Upsert) -> None:
    """UPDATE the keyed row; INSERT it when there was none (a violation: `_portable`)."""
    if _rows(con, row.update())[0][0] == 0:
        _rows(con, row.insert())


class DuckDBOrderPath(SqlRecords):
    """The hot order-path writes of `SqlRecords` without DuckDB's slow ON CONFLICT."""

    @abstractmethod
    def _run(self, work: Callable[[Connection], T], *, read_only: bool = False) -> T:
        """Run `work(con)` in one transaction, retrying lock and commit conflicts."""

    def _upsert(self, row: Upsert) -> None:
        def work(con: Connection) -> None:
            try:
                _write(con, row)
            except duckdb.ConstraintException:
                _portable(con, [row.statement()])

        self._run(work)

    # --- order intents, orders, fills -----------------------------------------------------
    def record_order_intent(self, intent: OrderIntent, order: Order | None = None) -> bool:
        # The attempt token keeps the answer right when `_run` retries after a commit that
        # went through: the intent found is then this call's own.
        attempt = uuid.uuid4().hex
        values = intent_values(intent, attempt)
        row = None if order is None else order_upsert(order)

        def portable(con: Connection) -> bool:
            return _portable(con, intent_statements(intent, order, attempt))[1][0][0] == attempt

        def work(con: Connection) -> bool:
            try:
                _rows(con, (INSERT_INTENT, values))
            except duckdb.ConstraintException:
                _restart(con)
                recorded = _rows(con, (INTENT_ATTEMPT, (intent.client_order_id,)))
                return recorded[0][0] == attempt if recorded else portable(con)
            if row is not None:
                try:
                    _rows(con, row.insert())  # the intent is new: so, as a rule, is its row
                except duckdb.ConstraintException:
                    return portable(con)  # a row recorded before its intent is upserted
            return True

        return self._run(work)

    def record_signal_intent(
        self, signal: SignalRecord, intent: OrderIntent, order: Order
    ) -> tuple[int | None, bool]:
        # A new signal and a new intent, as a rule: three plain INSERTs. Any key already
        # there (a close decided again after a restart, a rival launch, a retry after a lost
        # commit reply) restarts the transaction with the portable statements, whose answer
        # the attempt token decides; a retry's own signal then reads as stored already.
        attempt = uuid.uuid4().hex
        signal_row, intent_row = signal_values(signal), intent_values(intent, attempt)

        def work(con: Connection) -> tuple[int | None, bool]:
            try:
                seq = int(_rows(con, (f"{INSERT_SIGNAL} RETURNING seq", signal_row))[0][0])
                _rows(con, (INSERT_INTENT, intent_row))
                _rows(con, order_upsert(order).insert())
            except duckdb.ConstraintException:
                statements = signal_intent_statements(self, signal, intent, order, attempt)
                return signal_intent_answer(self, _portable(con, statements), attempt)
            return seq, True

        return self._run(work)

    def record_order(self, order: Order, fills: Sequence[Fill] = ()) -> list[Fill]:
        row = order_upsert(order)
        first: dict[str, Fill] = {}
        for fill in fills:
            first.setdefault(fill.trade_id, fill)

        def portable(con: Connection) -> list[Fill]:
            inserts = [fill_insert(order.exchange, fill) for fill in fills]
            results = _portable(con, [*inserts, row.statement()])
            return [fill for fill, rows in zip(fills, results, strict=False) if rows]

        def work(con: Connection) -> list[Fill]:
            try:
                new = _new_fills(con, order.exchange, list(first.values()))
                _write(con, row)
            except duckdb.ConstraintException:
                return portable(con)
            return new

        return self._run(work)

    def record_fill(self, exchange: str, fill: Fill) -> bool:
        def work(con: Connection) -> bool:
            try:
                return bool(_new_fills(con, exchange, [fill]))
            except duckdb.ConstraintException:
                return bool(_portable(con, [fill_insert(exchange, fill)])[0])

        return self._run(work)

    # --- signals --------------------------------------------------------------------------
    def insert_signal(self, signal: SignalRecord) -> int | None:
        values = signal_values(signal)
        lock: list[Statement] = [(self._signal_lock_sql, ())] if self._signal_lock_sql else []

        def work(con: Connection) -> int | None:
            try:
                for statement in lock:
                    _rows(con, statement)
                return int(_rows(con, (f"{INSERT_SIGNAL} RETURNING seq", values))[0][0])
            except duckdb.ConstraintException:
                _restart(con)
                if _rows(con, ("SELECT 1 FROM signals WHERE signal_id = %s", (signal.signal_id,))):
                    return None
                rows = _portable(con, [*lock, (INSERT_SIGNAL_ONCE, values)])[-1]
                return int(rows[0][0]) if rows else None

        return self._run(work)

    # --- keyed single rows ----------------------------------------------------------------
    def save_position(self, position: Position) -> None:
        self._upsert(upsert_position(position))

    def record_equity(self, snapshot: EquitySnapshot) -> None:
        self._upsert(equity_upsert(snapshot))

    def heartbeat(self, bot: str, status: str, at: datetime | None = None) -> None:
        self._upsert(heartbeat_upsert(bot, status, at))

    def record_venue_clock(
        self, exchange: str, clock: datetime | None, at: datetime | None = None
    ) -> None:
        if clock is None:
            super().record_venue_clock(exchange, None, at)
        else:
            self._upsert(venue_clock_upsert(exchange, clock, at))


def _new_fills(con: Connection, exchange: str, fills: list[Fill]) -> list[Fill]:
    """Insert the fills (distinct trade ids) not yet recorded for `exchange`; return them."""
    if not fills:
        return []
    marks = ", ".join(["?"] * len(fills))
    known = {
        trade_id
        for (trade_id,) in con.execute(
            f"SELECT trade_id FROM fills WHERE exchange = ? AND trade_id IN ({marks})",
            [exchange, *(f.trade_id for f in fills)],
        ).fetchall()
    }
    new = [f for f in fills if f.trade_id not in known]
    if new:
        params: list[Any] = [v for f in new for v in fill_values(exchange, f)]
        rows = ", ".join([_FILL_MARKS] * len(new))
        con.execute(f"INSERT INTO fills ({_FILL_COLS}) VALUES {rows}", params)
    return new
