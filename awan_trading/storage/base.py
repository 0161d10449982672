"""The `Store` protocol, the records it keeps, and the storage error taxonomy.

Dagster's IO manager, the live loop, the executor and the CLI all write through this one
surface, so a laptop (DuckDB) and production (PostgreSQL/TimescaleDB) run the same code and
pass the same contract tests. Candles, indicators and small tables cross it as polars frames;
order-path records cross it as the domain's dataclasses (`awan_trading.domain`), so a typo is
a TypeError, not a lost column, and storage never imports the exchange layer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, runtime_checkable

import polars as pl

from awan_trading.domain.orders import Fill, Order
from awan_trading.domain.positions import Position
from awan_trading.domain.signals import OrderIntent, SignalRecord
from awan_trading.errors import AwanError, DataError
from awan_trading.masking import mask_url  # noqa: F401  (re-exported: callers import it from here)

ControlAction = Literal["pause", "resume", "force_exit"]


class StoreError(AwanError):
    """A store operation failed in a way the user must see (bad URL, migration, conflict)."""


class StoreUnavailableError(StoreError):
    """The store could not be reached or stayed locked after retries."""


class StoreWindowError(DataError):
    """A partition write got rows outside the window it was asked to replace."""


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class EquitySnapshot:
    exchange: str
    ts: datetime
    equity: float
    cash: float


@dataclass(frozen=True)
class CandleProvenance:
    """Who is writing candles, recorded with them (`candle_writes`) so lineage can name the
    writer of any stored candle: a Dagster run (`writer` "dagster", its run id and the
    partition key or range it materializes) or an `awan` command ("awan live <bot>",
    "awan fetch")."""

    writer: str
    run_id: str | None = None
    partition_key: str | None = None

    @classmethod
    def dagster_run(cls, run_id: str, partition_key: str | None) -> CandleProvenance:
        return cls("dagster", run_id, partition_key)

    @classmethod
    def live(cls, bot: str) -> CandleProvenance:
        return cls(f"awan live {bot}")

    @classmethod
    def fetch(cls) -> CandleProvenance:
        return cls("awan fetch")


# What a write made without saying who it is records, so a later lookup never credits the
# candles it replaced to an earlier writer.
UNATTRIBUTED = CandleProvenance("unattributed")


@dataclass(frozen=True)
class CandleWrite:
    """One `candle_writes` row: a writer's window [start, end) of one series.

    A writer that keeps extending its own latest window (the live loop, candle after candle)
    extends the row instead of adding one, so `first_written_at` and `last_written_at` bound
    when the window's candles were written.
    """

    exchange: str
    symbol: str
    timeframe: str
    start: datetime
    end: datetime
    writer: str
    run_id: str | None
    partition_key: str | None
    first_written_at: datetime
    last_written_at: datetime

    def describe(self) -> str:
        """ "Dagster run <id> (partition <key>) at <time>" or "<command> at <time>"."""
        when = self.first_written_at.isoformat()
        if self.last_written_at != self.first_written_at:
            when = f"between {when} and {self.last_written_at.isoformat()}"
        else:
            when = f"at {when}"
        if self.run_id:
            partition = f" (partition {self.partition_key})" if self.partition_key else ""
            return f"Dagster run {self.run_id}{partition} {when}"
        return f"{self.writer} {when}"


@dataclass(frozen=True)
class BotEvent:
    bot: str
    kind: str
    message: str
    data: str = "{}"
    ts: datetime = field(default_factory=utcnow)


@dataclass(frozen=True)
class ControlRequest:
    """A pause/resume/force-exit request from Telegram or the CLI, handled by the live loop."""

    id: int
    bot: str
    action: ControlAction
    symbol: str | None
    requested_by: str
    ts: datetime
    handled_at: datetime | None


@runtime_checkable
class Store(Protocol):
    """Everything awan persists. Every method raises only `StoreError` / `DataError` types."""

    url: str  # masked: never carries a password

    # --- schema ---------------------------------------------------------------------------
    def migrate(self) -> list[int]:
        """Apply pending migrations (idempotent, safe under concurrency); return those applied."""
        ...

    def status(self) -> dict[str, Any]:
        """Backend, masked URL, schema version, pending migrations, backend features."""
        ...

    def close(self) -> None: ...

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
        """Delete [start, end) for the key and write `frame` in one transaction; rows written.

        The same transaction records the write in `candle_writes` (`provenance`, or
        `UNATTRIBUTED` when None), so a candle and the record of who wrote it commit together.
        """
        ...

    def upsert_candles(
        self,
        exchange: str,
        timeframe: str,
        frame: pl.DataFrame,
        *,
        provenance: CandleProvenance | None = None,
    ) -> int:
        """Insert or overwrite candles by (exchange, symbol, timeframe, ts); rows written.

        Records each symbol's contiguous runs of candles as written windows, in the same
        transaction, as `replace_candles` does.
        """
        ...

    def candle_write(
        self, exchange: str, symbol: str, timeframe: str, ts: datetime
    ) -> CandleWrite | None:
        """The latest recorded write whose window holds the candle opening at `ts`."""
        ...

    def read_candles(
        self,
        exchange: str,
        symbols: str | list[str],
        timeframe: str,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> pl.DataFrame:
        """Candles with open time in [start, end) in the candle schema, sorted by symbol, ts."""
        ...

    def latest_candle_ts(self, exchange: str, symbol: str, timeframe: str) -> datetime | None: ...

    # --- indicators -----------------------------------------------------------------------
    def write_indicators(self, exchange: str, timeframe: str, frame: pl.DataFrame) -> int:
        """Upsert a wide frame (symbol, ts, one column per indicator)."""
        ...

    def read_indicators(
        self,
        exchange: str,
        symbols: str | list[str],
        timeframe: str,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> pl.DataFrame: ...

    # --- signals --------------------------------------------------------------------------
    def insert_signal(self, signal: SignalRecord) -> int | None:
        """Insert once by `signal_id`; return its new sequence number, None if it existed."""
        ...

    def insert_signals(self, exchange: str, frame: pl.DataFrame) -> int:
        """Insert a frame of signals (`SIGNAL_SCHEMA`) once each; return how many were new."""
        ...

    def signals_after(self, cursor: int, limit: int = 1000) -> pl.DataFrame:
        """Signals whose `seq` > cursor, oldest first (a Dagster sensor's cursor read)."""
        ...

    def read_signals(
        self,
        exchange: str,
        symbols: str | list[str],
        timeframe: str,
        strategy: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> pl.DataFrame:
        """Signals with candle open time in [start, end), sorted by symbol, ts, side."""
        ...

    def latest_signals(self, exchange: str, timeframe: str, strategy: str) -> pl.DataFrame:
        """Each symbol's most recent signal(s) of `strategy` (what the pair ranking reads)."""
        ...

    # --- orders and fills -----------------------------------------------------------------
    def record_order_intent(self, intent: OrderIntent, order: Order | None = None) -> bool:
        """Insert if absent; False means this client order id was already attempted.

        With `order` (the intent's order row in status `intent`), the row is written in the
        same transaction when, and only when, this call recorded the intent.
        """
        ...

    def record_signal_intent(
        self, signal: SignalRecord, intent: OrderIntent, order: Order
    ) -> tuple[int | None, bool]:
        """`insert_signal` and `record_order_intent(intent, order)` in one transaction: the
        live loop's new signal and its order's intent are one write before the exchange is
        called, not two. Returns (the signal's new sequence number, None if it was stored
        already; whether this call recorded the intent)."""
        ...

    def get_order_intent(self, client_order_id: str) -> OrderIntent | None: ...

    def record_order(self, order: Order, fills: Sequence[Fill] = ()) -> list[Fill]:
        """Upsert an order's latest state, keyed by client order id; with `fills` (of the
        order's exchange), insert each once first, in the same transaction. Returns the fills
        that were new.

        A snapshot that lacks the exchange order id or the signal id (a venue report does
        not know the signal) keeps the ones already recorded.
        """
        ...

    def orders(
        self, statuses: list[str] | None = None, client_order_id: str | None = None
    ) -> pl.DataFrame:
        """Orders (`ORDERS_SCHEMA`), optionally only those in `statuses` or only the one
        `client_order_id`, oldest first."""
        ...

    def record_fill(self, exchange: str, fill: Fill) -> bool:
        """Insert once by (exchange, trade id); False when it was already recorded."""
        ...

    def fills(
        self,
        symbol: str | None = None,
        exchange: str | None = None,
        client_order_id: str | None = None,
    ) -> pl.DataFrame:
        """Fills (`FILLS_SCHEMA`) by time, optionally of one symbol, exchange or order."""
        ...

    # --- positions, equity, bot state -----------------------------------------------------
    def save_position(self, position: Position) -> None:
        """Upsert by (position.exchange, symbol); the exchange must be set."""
        ...

    def delete_position(self, exchange: str, symbol: str) -> None: ...

    def positions(self, exchange: str | None = None) -> list[Position]: ...

    def rebuild_positions(
        self, exchange: str, sell_minimums: Mapping[str, float] | None = None
    ) -> list[Position]:
        """Recompute the exchange's `positions` rows from its fills in one transaction.

        Amounts, stake, entry price, PnL and fees come from the fills
        (`domain.positions.positions_from_fills`); the manager-owned levels (stop, target,
        high-water mark, resting stop order, entry signal time) of a row for the same round
        trip are kept. A round trip left below its symbol's sell minimum is closed (dust):
        `sell_minimums` (symbol → amount, as the venue's markets say now) are recorded first
        for the symbols with fills, where they differ from `sell_minimums(exchange)`, and the
        fold uses the recorded ones. Returns the open positions written.
        """
        ...

    def sell_minimums(self, exchange: str) -> dict[str, float]:
        """Symbol → the smallest amount `exchange` accepts a sell of, as last recorded by
        `rebuild_positions`; what `domain.trades.closed_trades` needs as `dust_below`."""
        ...

    def record_equity(self, snapshot: EquitySnapshot) -> None: ...

    def equity_curve(self, exchange: str) -> pl.DataFrame: ...

    def record_event(self, event: BotEvent) -> None: ...

    def events(self, bot: str, limit: int = 100) -> pl.DataFrame: ...

    def heartbeat(self, bot: str, status: str, at: datetime | None = None) -> None: ...

    def last_heartbeat(self, bot: str) -> tuple[datetime, str] | None: ...

    def record_venue_clock(
        self, exchange: str, clock: datetime | None, at: datetime | None = None
    ) -> None:
        """Record the clock a live loop trades `exchange` on (None: the wall clock again)."""
        ...

    def venue_clock(self, exchange: str) -> tuple[datetime, datetime] | None:
        """(the loop's clock, the wall time it was recorded at); None: the wall clock."""
        ...

    def request_control(
        self, bot: str, action: ControlAction, symbol: str | None = None, requested_by: str = ""
    ) -> int: ...

    def pending_controls(self, bot: str) -> list[ControlRequest]: ...

    def mark_control_handled(self, request_id: int) -> None: ...
