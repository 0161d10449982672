"""The order-path tables, written once in SQL both backends speak.

Signals, orders, fills, positions, equity, events, heartbeats and control requests are small
and written one record at a time, so portable SQL (`%s` placeholders, `ON CONFLICT`,
`RETURNING`, sequences) serves both PostgreSQL and DuckDB; a backend only supplies
`_transaction`, which runs statements atomically and retries connection faults. Keeping one
copy is what lets the contract suite prove the two backends agree.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import polars as pl

from awan_trading.domain.orders import Fill, Order
from awan_trading.domain.positions import Position, positions_from_fills
from awan_trading.domain.signals import OrderIntent, SignalRecord
from awan_trading.errors import DataError
from awan_trading.storage.base import (
    BotEvent,
    CandleWrite,
    ControlAction,
    ControlRequest,
    EquitySnapshot,
    StoreError,
    utcnow,
)
from awan_trading.storage.provenance import LOOKUP, candle_write_from_row, lookup_params
from awan_trading.storage.rows import (
    POSITION_COLUMNS,
    fill_from_row,
    position_from_row,
    upsert_position,
)
from awan_trading.storage.schema import (
    EQUITY_SCHEMA,
    EVENTS_SCHEMA,
    FILLS_SCHEMA,
    ORDERS_SCHEMA,
    SIGNALS_SCHEMA,
    as_utc,
    rows_frame,
)
from awan_trading.storage.upsert import Statement, Upsert

_SIGNAL_COLS = "signal_id, strategy, params_hash, exchange, symbol, timeframe, ts, side, price, score, created_at"
SIGNAL_COLUMN_LIST = [c.strip() for c in _SIGNAL_COLS.split(",")]
INSERT_SIGNAL = f"INSERT INTO signals ({_SIGNAL_COLS}) VALUES ({', '.join(['%s'] * 11)})"
INSERT_SIGNAL_ONCE = f"{INSERT_SIGNAL} ON CONFLICT (signal_id) DO NOTHING RETURNING seq"
_INTENT_REST = "signal_id, exchange, symbol, side, type, amount, price, created_at, stop_price"
_INTENT_COLS = f"client_order_id, {_INTENT_REST}"
INSERT_INTENT = (
    f"INSERT INTO order_intents (client_order_id, attempt, {_INTENT_REST}) "
    f"VALUES ({', '.join(['%s'] * 11)})"
)
INTENT_ATTEMPT = "SELECT attempt FROM order_intents WHERE client_order_id = %s"
_ORDER_COLS = ", ".join(ORDERS_SCHEMA)
_FILL_COLS = ", ".join(FILLS_SCHEMA)


SIGNAL_INPUT_COLUMNS = [
    "signal_id", "strategy", "params_hash", "symbol", "timeframe", "ts", "side", "price", "score",
]  # fmt: skip


def _marks(n: int) -> str:
    return ", ".join(["%s"] * n)


def signal_values(signal: SignalRecord) -> tuple:
    if signal.side not in ("buy", "sell"):
        raise DataError(f"signal {signal.signal_id}: side {signal.side!r} is not buy or sell")
    return (
        signal.signal_id,
        signal.strategy,
        signal.params_hash,
        signal.exchange,
        signal.symbol,
        signal.timeframe,
        as_utc(signal.ts),
        signal.side,
        float(signal.price),
        float(signal.score),
        as_utc(signal.created_at),
    )


def order_upsert(order: Order) -> Upsert:
    """The upsert of an order's row, keyed by client order id."""
    values = (
        order.client_order_id,
        order.exchange,
        order.exchange_order_id,
        order.symbol,
        order.side,
        order.type,
        float(order.amount),
        order.price,
        order.status,
        float(order.filled),
        order.average,
        float(order.fee),
        order.fee_currency,
        as_utc(order.created_at),
        as_utc(order.updated_at),
        order.stop_price,
        order.signal_id,
    )
    # A venue's snapshot knows neither the signal nor, before acknowledgement, the
    # exchange order id: keep what was recorded rather than erase it.
    return Upsert(
        "orders",
        tuple(ORDERS_SCHEMA),
        values,
        key=("client_order_id",),
        fixed=frozenset({"created_at"}),
        kept=frozenset({"exchange_order_id", "signal_id"}),
    )


def fill_values(exchange: str, fill: Fill) -> tuple:
    """A fill's row (`FILLS_SCHEMA` order)."""
    return (
        exchange,
        fill.trade_id,
        fill.exchange_order_id,
        fill.client_order_id or None,
        fill.symbol,
        fill.side,
        float(fill.amount),
        float(fill.price),
        float(fill.fee),
        fill.fee_currency,
        as_utc(fill.ts),
        bool(fill.taker),
    )


def fill_insert(exchange: str, fill: Fill) -> Statement:
    """The insert of a fill, once per (exchange, trade id); it returns a row when new."""
    return (
        f"INSERT INTO fills ({_FILL_COLS}) VALUES ({_marks(12)}) "
        "ON CONFLICT (exchange, trade_id) DO NOTHING RETURNING trade_id",
        fill_values(exchange, fill),
    )


def intent_values(intent: OrderIntent, attempt: str) -> tuple:
    """An intent's row in `INSERT_INTENT` order; `attempt` marks which call wrote it."""
    return (
        intent.client_order_id,
        attempt,
        intent.signal_id,
        intent.exchange,
        intent.symbol,
        intent.side,
        intent.type,
        float(intent.amount),
        None if intent.price is None else float(intent.price),
        as_utc(intent.created_at),
        None if intent.stop_price is None else float(intent.stop_price),
    )


def signal_intent_statements(
    store: SqlRecords, signal: SignalRecord, intent: OrderIntent, order: Order, attempt: str
) -> list[Statement]:
    """`insert_signal`'s statements, then `intent_statements`: one transaction."""
    lock: list[Statement] = [(store._signal_lock_sql, ())] if store._signal_lock_sql else []
    return [*lock, (INSERT_SIGNAL_ONCE, signal_values(signal)),
            *intent_statements(intent, order, attempt)]  # fmt: skip


def signal_intent_answer(
    store: SqlRecords, results: list[list[tuple]], attempt: str
) -> tuple[int | None, bool]:
    """(new seq or None, intent recorded by `attempt`) from `signal_intent_statements`' rows."""
    first = 1 if store._signal_lock_sql else 0
    seq = results[first]
    return (int(seq[0][0]) if seq else None), results[first + 2][0][0] == attempt


def intent_statements(intent: OrderIntent, order: Order | None, attempt: str) -> list[Statement]:
    """Record the intent if absent, read back whose attempt it is, and write the order row
    only when the intent is this attempt's: `results[1][0][0] == attempt` means recorded."""
    statements: list[Statement] = [
        (
            f"{INSERT_INTENT} ON CONFLICT (client_order_id) DO NOTHING",
            intent_values(intent, attempt),
        ),
        (INTENT_ATTEMPT, (intent.client_order_id,)),
    ]
    if order is not None:
        # The order row only when this attempt won, in the same commit: one write
        # before the exchange is called instead of two.
        sql, row = order_upsert(order).statement()
        statements.append(
            (
                sql.replace(
                    f"VALUES ({_marks(len(ORDERS_SCHEMA))})",
                    f"SELECT {_marks(len(ORDERS_SCHEMA))} WHERE EXISTS (SELECT 1 FROM "
                    "order_intents WHERE client_order_id = %s AND attempt = %s)",
                ),
                (*row, intent.client_order_id, attempt),
            )
        )
    return statements


def equity_upsert(snapshot: EquitySnapshot) -> Upsert:
    values = (snapshot.exchange, as_utc(snapshot.ts), snapshot.equity, snapshot.cash)
    return Upsert(
        "equity_snapshots", ("exchange", "ts", "equity", "cash"), values, ("exchange", "ts")
    )


def heartbeat_upsert(bot: str, status: str, at: datetime | None) -> Upsert:
    values = (bot, as_utc(at or utcnow()), status)
    return Upsert("heartbeats", ("bot", "ts", "status"), values, key=("bot",))


def sell_minimum_upsert(exchange: str, symbol: str, min_sell: float) -> Upsert:
    values = (exchange, symbol, min_sell, utcnow())
    columns = ("exchange", "symbol", "min_sell", "recorded_at")
    return Upsert("sell_minimums", columns, values, key=("exchange", "symbol"))


def venue_clock_upsert(exchange: str, clock: datetime, at: datetime | None) -> Upsert:
    values = (exchange, as_utc(clock), as_utc(at or utcnow()))
    return Upsert("venue_clocks", ("exchange", "clock", "recorded_at"), values, key=("exchange",))


class SqlRecords(ABC):
    """Implements the record-at-a-time half of the `Store` protocol over `_transaction`."""

    #: statement run first in `insert_signal`'s transaction so `seq` order = commit order
    _signal_lock_sql: str | None = None

    @abstractmethod
    def _transaction(self, statements: list[Statement]) -> list[list[tuple]]:
        """Run statements in one transaction (retrying faults); rows returned by each."""

    def _one(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        return self._transaction([(sql, params)])[0]

    # --- candle provenance ----------------------------------------------------------------
    def candle_write(
        self, exchange: str, symbol: str, timeframe: str, ts: datetime
    ) -> CandleWrite | None:
        rows = self._one(LOOKUP, lookup_params(exchange, symbol, timeframe, ts))
        return candle_write_from_row(rows[0]) if rows else None

    # --- signals --------------------------------------------------------------------------
    def insert_signal(self, signal: SignalRecord) -> int | None:
        statements: list[Statement] = [(self._signal_lock_sql, ())] if self._signal_lock_sql else []
        statements.append((INSERT_SIGNAL_ONCE, signal_values(signal)))
        rows = self._transaction(statements)[-1]
        return int(rows[0][0]) if rows else None

    def insert_signals(self, exchange: str, frame: pl.DataFrame) -> int:
        if frame.is_empty():
            return 0
        missing = [c for c in SIGNAL_INPUT_COLUMNS if c not in frame.columns]
        if missing:
            raise DataError(f"signals for {exchange}: missing column(s) {', '.join(missing)}")
        bad = frame.filter(~pl.col("side").is_in(["buy", "sell"]))
        if bad.height:
            row = bad.row(0, named=True)
            raise DataError(f"signal {row['signal_id']}: side {row['side']!r} is not buy or sell")
        rows = (
            frame.select(SIGNAL_INPUT_COLUMNS)
            .unique("signal_id", keep="first", maintain_order=True)
            .with_columns(
                pl.lit(exchange, dtype=pl.String).alias("exchange"),
                pl.col("ts").dt.convert_time_zone("UTC"),
                pl.lit(utcnow()).dt.convert_time_zone("UTC").alias("created_at"),
            )
            .select(SIGNAL_COLUMN_LIST)
            .sort("ts", "symbol", "side")
        )
        return self._insert_signal_frame(rows)

    @abstractmethod
    def _insert_signal_frame(self, rows: pl.DataFrame) -> int:
        """Insert rows (columns in `_SIGNAL_COLS` order, sorted) in one set-based statement,
        skipping known ids, with `seq` following row order; return how many were new."""

    def read_signals(
        self,
        exchange: str,
        symbols: str | list[str],
        timeframe: str,
        strategy: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> pl.DataFrame:
        names = [symbols] if isinstance(symbols, str) else list(symbols)
        where = [f"exchange = %s AND timeframe = %s AND symbol IN ({_marks(len(names))})"]
        params: list[Any] = [exchange, timeframe, *names]
        for clause, value in (("strategy = %s", strategy), ("ts >= %s", start), ("ts < %s", end)):
            if value is not None:
                where.append(clause)
                params.append(as_utc(value) if isinstance(value, datetime) else value)
        rows = self._one(
            f"SELECT seq, {_SIGNAL_COLS} FROM signals WHERE {' AND '.join(where)} ORDER BY symbol, ts, side",
            params,
        )
        return rows_frame(rows, SIGNALS_SCHEMA)

    def latest_signals(self, exchange: str, timeframe: str, strategy: str) -> pl.DataFrame:
        rows = self._one(
            f"SELECT seq, {_SIGNAL_COLS} FROM signals s WHERE exchange = %s AND timeframe = %s "
            "AND strategy = %s AND ts = (SELECT max(ts) FROM signals t WHERE t.exchange = s.exchange "
            "AND t.timeframe = s.timeframe AND t.strategy = s.strategy AND t.symbol = s.symbol) "
            "ORDER BY symbol, side",
            (exchange, timeframe, strategy),
        )
        return rows_frame(rows, SIGNALS_SCHEMA)

    def signals_after(self, cursor: int, limit: int = 1000) -> pl.DataFrame:
        rows = self._one(
            f"SELECT seq, {_SIGNAL_COLS} FROM signals WHERE seq > %s ORDER BY seq LIMIT %s",
            (int(cursor), int(limit)),
        )
        return rows_frame(rows, SIGNALS_SCHEMA)

    # --- order intents and orders ---------------------------------------------------------
    def record_order_intent(self, intent: OrderIntent, order: Order | None = None) -> bool:
        # The attempt token makes the answer right even when a retry follows a commit whose
        # acknowledgement was lost: the row is then ours, not a second attempt.
        attempt = uuid.uuid4().hex
        results = self._transaction(intent_statements(intent, order, attempt))
        return results[1][0][0] == attempt

    def record_signal_intent(
        self, signal: SignalRecord, intent: OrderIntent, order: Order
    ) -> tuple[int | None, bool]:
        attempt = uuid.uuid4().hex
        results = self._transaction(signal_intent_statements(self, signal, intent, order, attempt))
        return signal_intent_answer(self, results, attempt)

    def get_order_intent(self, client_order_id: str) -> OrderIntent | None:
        rows = self._one(
            f"SELECT {_INTENT_COLS} FROM order_intents WHERE client_order_id = %s",
            (client_order_id,),
        )
        return OrderIntent(*rows[0]) if rows else None

    def record_order(self, order: Order, fills: Sequence[Fill] = ()) -> list[Fill]:
        statements = [fill_insert(order.exchange, fill) for fill in fills]
        results = self._transaction([*statements, order_upsert(order).statement()])
        return [fill for fill, rows in zip(fills, results, strict=False) if rows]

    def orders(
        self, statuses: list[str] | None = None, client_order_id: str | None = None
    ) -> pl.DataFrame:
        clauses: list[tuple[str, Sequence[Any]]] = []
        if statuses:
            clauses.append((f"status IN ({_marks(len(statuses))})", tuple(statuses)))
        if client_order_id is not None:
            clauses.append(("client_order_id = %s", (client_order_id,)))
        where = "WHERE " + " AND ".join(c for c, _ in clauses) if clauses else ""
        # one client order id is at most one row (the key): nothing to sort
        order_by = "" if client_order_id is not None else " ORDER BY created_at, client_order_id"
        rows = self._one(
            f"SELECT {_ORDER_COLS} FROM orders {where}{order_by}",
            tuple(v for _, values in clauses for v in values),
        )
        return rows_frame(rows, ORDERS_SCHEMA)

    # --- fills ----------------------------------------------------------------------------
    def record_fill(self, exchange: str, fill: Fill) -> bool:
        return bool(self._one(*fill_insert(exchange, fill)))

    def fills(
        self,
        symbol: str | None = None,
        exchange: str | None = None,
        client_order_id: str | None = None,
    ) -> pl.DataFrame:
        wanted = (("symbol", symbol), ("exchange", exchange), ("client_order_id", client_order_id))
        clauses = [(f"{c} = %s", v) for c, v in wanted if v]
        where = "WHERE " + " AND ".join(c for c, _ in clauses) if clauses else ""
        rows = self._one(
            f"SELECT {_FILL_COLS} FROM fills {where} ORDER BY ts, trade_id",
            tuple(v for _, v in clauses),
        )
        return rows_frame(rows, FILLS_SCHEMA)

    # --- positions and equity -------------------------------------------------------------
    def save_position(self, position: Position) -> None:
        self._transaction([upsert_position(position).statement()])

    def delete_position(self, exchange: str, symbol: str) -> None:
        self._one("DELETE FROM positions WHERE exchange = %s AND symbol = %s", (exchange, symbol))

    def positions(self, exchange: str | None = None) -> list[Position]:
        where, params = ("WHERE exchange = %s", (exchange,)) if exchange else ("", ())
        rows = self._one(
            f"SELECT {POSITION_COLUMNS} FROM positions {where} ORDER BY exchange, symbol", params
        )
        return [position_from_row(row) for row in rows]

    def rebuild_positions(
        self, exchange: str, sell_minimums: Mapping[str, float] | None = None
    ) -> list[Position]:
        fills = [fill_from_row(row) for row in self.fills(exchange=exchange).iter_rows()]
        recorded = self.sell_minimums(exchange)
        fresh = {
            symbol: sell_minimums[symbol]
            for symbol in {f.symbol for f in fills}
            if sell_minimums and symbol in sell_minimums
            and recorded.get(symbol) != sell_minimums[symbol]
        }  # fmt: skip
        rebuilt = positions_from_fills(
            fills, exchange=exchange, previous=self.positions(exchange),
            dust_below={**recorded, **fresh},
        ).values()  # fmt: skip
        statements: list[Statement] = [
            sell_minimum_upsert(exchange, symbol, amount).statement()
            for symbol, amount in sorted(fresh.items())
        ]
        statements.append(("DELETE FROM positions WHERE exchange = %s", (exchange,)))
        statements += [upsert_position(p).statement() for p in rebuilt]
        self._transaction(statements)
        return list(rebuilt)

    def sell_minimums(self, exchange: str) -> dict[str, float]:
        rows = self._one(
            "SELECT symbol, min_sell FROM sell_minimums WHERE exchange = %s", (exchange,)
        )
        return {symbol: float(amount) for symbol, amount in rows}

    def record_equity(self, snapshot: EquitySnapshot) -> None:
        self._one(*equity_upsert(snapshot).statement())

    def equity_curve(self, exchange: str) -> pl.DataFrame:
        rows = self._one(
            "SELECT ts, equity, cash FROM equity_snapshots WHERE exchange = %s ORDER BY ts",
            (exchange,),
        )
        return rows_frame(rows, EQUITY_SCHEMA)

    # --- bot events, heartbeat, control ---------------------------------------------------
    def record_event(self, event: BotEvent) -> None:
        self._one(
            "INSERT INTO bot_events (ts, bot, kind, message, data) VALUES (%s, %s, %s, %s, %s)",
            (as_utc(event.ts), event.bot, event.kind, event.message, event.data),
        )

    def events(self, bot: str, limit: int = 100) -> pl.DataFrame:
        rows = self._one(
            "SELECT id, ts, bot, kind, message, data FROM bot_events WHERE bot = %s "
            "ORDER BY id DESC LIMIT %s",
            (bot, int(limit)),
        )
        return rows_frame(rows, EVENTS_SCHEMA).reverse()

    def heartbeat(self, bot: str, status: str, at: datetime | None = None) -> None:
        self._one(*heartbeat_upsert(bot, status, at).statement())

    def last_heartbeat(self, bot: str) -> tuple[datetime, str] | None:
        rows = self._one("SELECT ts, status FROM heartbeats WHERE bot = %s", (bot,))
        return (as_utc(rows[0][0]), rows[0][1]) if rows else None

    def record_venue_clock(
        self, exchange: str, clock: datetime | None, at: datetime | None = None
    ) -> None:
        if clock is None:
            self._one("DELETE FROM venue_clocks WHERE exchange = %s", (exchange,))
            return
        self._one(*venue_clock_upsert(exchange, clock, at).statement())

    def venue_clock(self, exchange: str) -> tuple[datetime, datetime] | None:
        rows = self._one(
            "SELECT clock, recorded_at FROM venue_clocks WHERE exchange = %s", (exchange,)
        )
        return (as_utc(rows[0][0]), as_utc(rows[0][1])) if rows else None

    def request_control(
        self, bot: str, action: ControlAction, symbol: str | None = None, requested_by: str = ""
    ) -> int:
        if action not in ("pause", "resume", "force_exit"):
            raise StoreError(f"unknown control action {action!r}; use pause, resume, force_exit")
        rows = self._one(
            "INSERT INTO control_requests (bot, action, symbol, requested_by, ts) "
            "VALUES (%s, %s, %s, %s, %s) RETURNING id",
            (bot, action, symbol, requested_by, utcnow()),
        )
        return int(rows[0][0])

    def pending_controls(self, bot: str) -> list[ControlRequest]:
        rows = self._one(
            "SELECT id, bot, action, symbol, requested_by, ts, handled_at FROM control_requests "
            "WHERE bot = %s AND handled_at IS NULL ORDER BY id",
            (bot,),
        )
        return [ControlRequest(*row) for row in rows]

    def mark_control_handled(self, request_id: int) -> None:
        self._one(
            "UPDATE control_requests SET handled_at = %s WHERE id = %s AND handled_at IS NULL",
            (utcnow(), int(request_id)),
        )
