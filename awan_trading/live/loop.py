"""`LiveLoop`: what the daemon does at each candle close, and the drivers that call it.

One `step(close)`, in this order — the order of the backtest's own candle, so a replay through
the sim gives the backtest's trades:

1. **Candles.** `CandleFeed.advance`: the window from the cache, the missing tail from the
   exchange, validated, indicators updated from a bounded window.
2. **Positions.** For the symbols whose candle closed, the position manager
   (`execution.manager`): the stops and targets that filled on the exchange during that
   candle become exits, the control table is obeyed (pause, resume, force-exit), the trailing
   stop follows the candle's high, an unprotected position gets its protective orders. This
   runs in both execution modes: it is the loop's duty, not a signal's. At the first close
   of a UTC day the loop then records the day's start equity (`Executor.record_day_start`),
   marked at this close as the backtest marks it, for the `max_daily_loss` rule.
3. **Decide.** `replay.decide` — the function the backtest replay is held to — on the
   populated window and the portfolio (open positions, orders in flight).
4. **Signals out.** `outbox`: store (with `seq`), Redis stream; the pair ranking.
5. **Execute.** `inline`: the loop hands each signal to the same `Executor` the Dagster job
   uses, exits first, entries best score first, each signal stored just before its order.
   `sensor`: every signal is stored, then Dagster executes; a replay waits
   until each signal has an order or a refusal before the next candle, so it is deterministic.
6. **Heartbeat.**

Inline, the close's orders are what the loop is waiting for, so nothing they do not need
comes before them: each `Executor.submit` returns at the venue's acknowledgement (with the
order's fills recorded), and only then come the orders' follow-ups, the trailing stops and
protective lists (step 2's second half), the candles' and indicators' store and cache writes
(step 1's), the pair ranking and the heartbeat. The portfolio comes from the executor's book
(`execution.book`) instead of the store.

A sensor-mode replay records its clock in the store at each close (`venue_clock`), so the
Dagster sensor and the execution runs, in other processes, trade at the replay's instant.

`run_live` follows the wall clock; `run_replay` moves a `ReplayClock` (the sim exchange's
clock) from close to close over [start, end]. The last close of a replay only settles the
positions (step 2): a decision there would trade after the end, where the backtest stops.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, Protocol

import polars as pl

from awan_trading.domain.ids import client_order_id
from awan_trading.domain.signals import SignalRecord
from awan_trading.errors import AwanError
from awan_trading.exchange.base import Exchange
from awan_trading.execution.book import ENTRY_LEGS, EXIT_LEGS, leg_of
from awan_trading.live.clock import Clock, ReplayClock
from awan_trading.live.collector import deferred, freeze_startup
from awan_trading.live.feed import CandleFeed, FeedUpdate
from awan_trading.live.health import beat
from awan_trading.live.outbox import emit, rank_pairs, signal_records
from awan_trading.live.venue_clock import clear_clock, record_clock
from awan_trading.logs import get_logger
from awan_trading.market.timeframes import from_epoch_ms, to_epoch_ms
from awan_trading.replay import Action, PortfolioState, close_rows, decide_on
from awan_trading.signals import SignalContext
from awan_trading.storage.base import Store
from awan_trading.storage.cache import HotCache
from awan_trading.strategies.base import Strategy

log = get_logger(__name__)
# How long before a close `run_live` opens the store it holds through that close's step.
HOLD_BEFORE = timedelta(seconds=1)

ExecutionMode = Literal["inline", "sensor"]
_PENDING = ["intent", "submitted", "accepted", "partially_filled", "unknown"]


class LiveLoopError(AwanError):
    """The loop cannot go on (a sensor-mode replay whose signals are never executed)."""


class Execution(Protocol):
    """What the loop needs of `execution.executor.Executor`."""

    store: Store
    bot: str
    exchange: Exchange

    def reconcile(self) -> Any: ...

    def submit(self, signal: SignalRecord, *, store_signal: bool = False) -> Any: ...

    def follow_up(self, step: Any) -> Any: ...

    def refresh(self) -> None: ...

    @property
    def book(self) -> Any: ...

    def on_candle_close(self, symbol: str, candle: Mapping[str, Any]) -> list[Any]: ...

    def record_day_start(self, close: datetime) -> Any: ...

    def mark(self, closes: Mapping[str, float]) -> None: ...


@dataclass
class StepReport:
    """What one close did (for logs, the heartbeat and tests)."""

    close: datetime
    candles: int
    signals: list[SignalRecord] = field(default_factory=list)
    results: list[Any] = field(default_factory=list)
    stopped: bool = False  # SIGTERM arrived: signals after the one in flight were left


class LiveLoop:
    """The per-close pipeline over one venue, one strategy and one timeframe."""

    def __init__(
        self,
        feed: CandleFeed,
        strategy: Strategy,
        store: Store,
        cache: HotCache,
        executor: Execution,
        *,
        bot: str,
        execution: ExecutionMode,
        max_open_positions: int,
        stop: threading.Event | None = None,
        sensor_timeout: float = 300.0,
        refresh_account: Callable[[], None] | None = None,
    ) -> None:
        self.feed = feed
        self.strategy = strategy
        self.store = store
        self.cache = cache
        self.executor = executor
        self.bot = bot
        self.execution = execution
        self.max_open_positions = max_open_positions
        self.stop = stop or threading.Event()
        self.sensor_timeout = sensor_timeout
        # Sensor mode on a sim or paper venue: the account lives in the store, where the
        # execution runs (other processes) record what they placed; the loop's own venue is
        # rebuilt from it before the position manager acts (`exchange.sim_account`).
        self.refresh_account = refresh_account
        self.venue = feed.venue
        self.tf = feed.tf
        self.context = SignalContext.of(strategy, feed.tf.name)
        self._clock: Clock | None = None
        self._step_began = datetime.now(UTC)
        self._day: date | None = None  # the UTC day of the last close handled
        # The control table and the venue's open orders of the managed symbols are read on
        # these threads while the close's candles are in flight (a store read and a request
        # wait on the database and the network, not the interpreter): `_until_acks`.
        self._reads = ThreadPoolExecutor(2, thread_name_prefix="awan-close-reads")
        self.on_beat: Callable[[str, bool | None], None] | None = None  # the status file

    # --- one close --------------------------------------------------------------------------

    def start(self) -> None:
        """Reconcile with the exchange before the first decision (positions, orders in flight)."""
        self._beat("starting")
        report = self.executor.reconcile()
        log.info("reconciled", bot=self.bot, venue=self.venue, ok=getattr(report, "ok", True))
        freeze_startup()  # what lives as long as the process leaves the collector's walks

    def step(self, close: datetime, *, trade: bool = True) -> StepReport:
        """Everything that happens at the close `close` (module docstring); `trade=False` only
        settles positions.

        Inline, the orders come first: what they do not need — the candles' and indicators'
        store and cache writes, the orders' follow-ups (positions projection, protective
        lists, notifications), the pair ranking, the heartbeat — waits until every order of
        the close was acknowledged. In sensor mode the candles are stored and the positions
        guarded before the signals, and the executor's book is reloaded first: Dagster runs
        trade between two closes.
        """
        self._step_began = datetime.now(UTC)  # wall clock, as bot events are stamped
        inline = self.execution == "inline"
        report = StepReport(close, 0)
        # inline, no garbage collection before the last acknowledgement (`live.collector`)
        with deferred() if inline else nullcontext():
            update, managed, verdicts, pending = self._until_acks(close, trade, report)
        report.results.extend(self.executor.follow_up(step) for step in pending)
        if inline:
            self._guard(managed, report.results)
            self.feed.persist(update)
            _ = self.executor.book  # reloaded now if the follow-ups made it stale, not pre-order
        if verdicts is not None:
            rank_pairs(self.cache, verdicts)
        self._beat(f"ok close={close.isoformat()} signals={len(report.signals)}")
        return report

    def _signal_ts(self, close: datetime) -> int:
        """Open time (ms) of the candle that closes at `close`: the signals' candle."""
        return self.tf.add_ms(to_epoch_ms(close), -1)

    def _until_acks(
        self, close: datetime, trade: bool, report: StepReport
    ) -> tuple[FeedUpdate, list[dict[str, Any]], pl.DataFrame | None, list[Any]]:
        """`step` up to the venue's acknowledgement of the close's last order: candles,
        positions, the day's start equity, `decide`, the signals submitted. Returns the feed's
        update, the managed symbols' candles, the strategy's verdict on the close
        (`replay.close_rows`, which the pair ranking reuses) and the acknowledged
        orders whose follow-ups are still to do."""
        inline = self.execution == "inline"
        if not inline:
            if isinstance(self._clock, ReplayClock):
                record_clock(self.store, self.venue, close)  # what the sensor and the runs trade on
            self.executor.refresh()
        controls = self._reads.submit(self.executor.store.pending_controls, self.executor.bot)
        venue_orders = self._venue_open_orders() if inline else {}
        update = self.feed.advance(close, persist=not inline)
        report.candles = update.candles.height
        managed = self._manage(update.indicators, update.ready, report.results, controls,
                               venue_orders)  # fmt: skip
        if not inline:  # before Dagster runs sell what the guard would protect
            self._guard(managed, report.results)
        day = close.astimezone(UTC).date()
        if day != self._day:
            # The day's start equity, marked at the close of the candle that just closed, as
            # the backtest takes it: after the positions are settled, before any execution.
            self._day = day
            self.executor.record_day_start(close)
        if not (trade and update.ready):
            return update, managed, None, []
        window = update.indicators.filter(pl.col("symbol").is_in(update.ready))
        ts = self._signal_ts(close)
        verdicts = close_rows(window, self.strategy, ts)
        actions = decide_on(
            verdicts, self.portfolio(), ts=ts, max_open_positions=self.max_open_positions,
            context=self.context,
        )  # fmt: skip
        report.signals = signal_records(actions, window, self.context, self.venue)
        return update, managed, verdicts, self._execute(report)

    def _venue_open_orders(self) -> dict[str, Future[list[Any]]]:
        """Ask the venue, now, for the open orders of each symbol the position manager will
        observe at this close (a position or an order in flight; inline, the book says which,
        and nothing trades the account between the close and the observation)."""
        fetch = self.executor.exchange.fetch_open_orders
        return {symbol: self._reads.submit(fetch, symbol) for symbol in sorted(self._busy())}

    def _busy(self) -> set[str]:
        """Symbols with a position or an order in flight: the ones the manager observes."""
        state = self.portfolio()
        return set(state.positions) | set(state.pending_entries) | set(state.pending_exits)

    def _manage(
        self,
        indicators: pl.DataFrame,
        ready: tuple[str, ...],
        results: list[Any],
        controls: Future[list[Any]],
        venue_orders: Mapping[str, Future[list[Any]]],
    ) -> list[dict[str, Any]]:
        """Before deciding: what the venue did to each managed symbol (a symbol with a position
        or an order in flight whose candle closed; its open orders on the venue from
        `venue_orders` when asked for at the close), then the control table's requests
        (`controls`, read at the close), once even when no symbol is managed (a pause must not
        wait for a position). Returns the managed symbols' last candles, for `_guard` after the
        orders of the close; the protective fills and control outcomes go to `results`."""
        from awan_trading.execution.manager import apply_control_requests, observe

        if self.refresh_account is not None:
            self.refresh_account()
        busy = self._busy()
        candles = _last_candles(indicators, ready)
        # positions marked at these closes, as the backtest marks them
        self.executor.mark({s: float(c["close"]) for s, c in candles.items()})
        managed = [c for s, c in candles.items() if s in busy]
        if managed:
            symbols = [c["symbol"] for c in managed]
            fetched = {s: venue_orders[s].result() for s in symbols if s in venue_orders}
            results.extend(observe(self.executor, symbols, fetched))  # type: ignore[arg-type]
        results.extend(apply_control_requests(self.executor, controls.result()))  # type: ignore[arg-type]
        return managed

    def _guard(self, managed: list[dict[str, Any]], results: list[Any]) -> None:
        """After the orders: trail the managed symbols' stops and keep each one protected."""
        from awan_trading.execution.manager import guard

        for candle in managed:
            results.extend(guard(self.executor, candle["symbol"], float(candle["high"])))  # type: ignore[arg-type]

    def portfolio(self) -> PortfolioState:
        """Open positions and orders in flight, as `decide` sees them (cash is not used).

        Inline, the executor's book holds them (the loop's executor is the only one trading
        this venue); in sensor mode Dagster runs trade, so the store is read.
        """
        if self.execution == "inline":
            book = self.executor.book
            state = PortfolioState(cash=0.0, positions=dict(book.positions))
            for symbol in book.entering:
                state.pending_entries[symbol] = Action("enter", symbol, 0)
            for symbol in book.exiting:
                state.pending_exits[symbol] = Action("exit", symbol, 0)
            return state
        positions = {p.symbol: p for p in self.store.positions(self.venue) if p.is_open}
        state = PortfolioState(cash=0.0, positions=positions)
        orders = self.store.orders(_PENDING).filter(pl.col("exchange") == self.venue)
        for cid, symbol in orders.select("client_order_id", "symbol").iter_rows():
            leg = leg_of(cid)  # None: not awan's order, nobody's entry or exit
            if leg in ENTRY_LEGS:
                state.pending_entries[symbol] = Action("enter", symbol, 0)
            elif leg in EXIT_LEGS:
                state.pending_exits[symbol] = Action("exit", symbol, 0)
        return state

    def _execute(self, report: StepReport) -> list[Any]:
        """Store the signals; inline, submit each (exits first, entries best score first) and
        return what was acknowledged, for `follow_up` once every order of the close is placed.

        Inline, the executor stores each signal's row in its order's intent transaction
        (`Executor.submit(store_signal=True)`), and the Redis stream hears of the new ones once
        every order of the close was acknowledged: a wake-up for dashboards, not for the
        orders."""
        pending: list[Any] = []
        if self.execution != "inline":
            emit(self.store, self.cache, report.signals)  # what the sensor turns into runs
            if report.signals and isinstance(self._clock, ReplayClock):
                self._await_execution(report.signals)
            return pending
        for n, record in enumerate(report.signals):
            if self.stop.is_set():
                emit(self.store, self.cache, report.signals[n:])  # stored, not executed
                log.warning("stopping: signals left unexecuted", count=len(report.signals) - n)
                report.stopped = True
                break
            # each signal stored with its own order's intent: the first order of a close does
            # not wait for the rows of the signals after it
            pending.append(self.executor.submit(record, store_signal=True))
        for record, step in zip(report.signals, pending, strict=False):
            if step.signal_seq is not None:
                self.cache.publish_signal(record, step.signal_seq)
        return pending

    def _await_execution(self, records: list[SignalRecord]) -> None:
        """Block until each signal has an order past `intent` or a refusal (sensor replays)."""
        waiting = {r.signal_id: r for r in records}
        deadline = time.monotonic() + self.sensor_timeout
        while waiting:
            if self.stop.is_set():
                return
            for signal_id in list(waiting):
                if self._settled(waiting[signal_id]):
                    del waiting[signal_id]
            if not waiting:
                return
            if time.monotonic() > deadline:
                raise LiveLoopError(
                    f"sensor mode: {len(waiting)} signal(s) not executed within "
                    f"{self.sensor_timeout:.0f} s (first: {next(iter(waiting))}); is the Dagster "
                    "daemon running the execution sensor?"
                )
            self.stop.wait(0.05)

    def _settled(self, record: SignalRecord) -> bool:
        """The signal's order got past the venue call — and, for an entry that filled, its
        protective list is recorded: the executing process has written all it will write to
        the account, so the loop's next close sees what it did."""
        leg = "entry" if record.side == "buy" else "exit"
        cid = client_order_id(record.signal_id, leg)
        orders = self.store.orders().filter(pl.col("client_order_id") == cid)
        if orders.height and orders["status"][0] not in ("intent", "submitted"):
            return leg == "exit" or self._protected(record.symbol)
        events = self.store.events(self.bot, limit=200)
        for data in events.get_column("data").to_list():
            if record.signal_id in data and json.loads(data).get("signal_id") == record.signal_id:
                return True
        return False

    def _protected(self, symbol: str) -> bool:
        """No open position in `symbol`, none expected to rest protected, its protective list
        recorded (`Executor.ensure_protection` names it on the position last), or placing it
        failed (the position manager places it at the next close)."""
        from awan_trading.execution.protection import expects_protection

        params = getattr(self.executor, "params", None)
        if params is None or not expects_protection(params):
            return True
        held = [p for p in self.store.positions(self.venue) if p.symbol == symbol and p.is_open]
        if not held or held[0].stop_client_order_id is not None:
            return True
        events = self.store.events(self.bot, limit=50)
        failed = events.filter(
            (pl.col("kind") == "protection_failed") & (pl.col("ts") >= self._step_began)
        )["message"]
        return any(message.startswith(f"{symbol}:") for message in failed)

    def _beat(self, status: str) -> None:
        beat(self.store, self.bot, status)
        if self.on_beat is not None:
            self.on_beat(status, getattr(self.executor, "paused", None))

    def close(self) -> None:
        """End the close-reads threads once the loop is done (`awan live` on its way out)."""
        self._reads.shutdown(wait=True, cancel_futures=True)

    # --- drivers ----------------------------------------------------------------------------

    def run_replay(
        self, clock: ReplayClock, start: datetime, end: datetime,
        on_step: Callable[[StepReport], None] | None = None,
    ) -> list[StepReport]:  # fmt: skip
        """Replay the closes of the candles opening in [start, end) on `clock`."""
        self._clock = clock
        reports = []
        closes = [from_epoch_ms(self.tf.add_ms(t, 1)) for t in self.tf.opens_ms(
            to_epoch_ms(start), to_epoch_ms(end))]  # fmt: skip
        clock.set(start)
        self.start()
        for i, close in enumerate(closes):
            if not clock.wait_until(close, self.stop):
                break
            report = self.step(close, trade=i < len(closes) - 1)
            reports.append(report)
            if on_step is not None:
                on_step(report)
            if report.stopped or self.stop.is_set():
                break
        if self.execution == "sensor":
            clear_clock(self.store, self.venue)
        self._beat("stopped")
        return reports

    def run_live(
        self, clock: Clock, *, close_delay: float = 0.0, tick: float = 5.0,
        on_step: Callable[[StepReport], None] | None = None,
    ) -> int:  # fmt: skip
        """Follow `clock` close by close until `stop`; returns the number of closes handled.

        Between closes the loop wakes every `tick` seconds to record what the exchange did to
        the open positions' protective orders (a stop that filled mid-candle is an exit now,
        not at the close) and to beat. After a pause longer than one candle (a restart, a slow
        exchange) only the latest close is decided on: the feed fetches every missed candle,
        but a decision about an old candle would trade at a price that is gone.

        Inline, the store is held open from `HOLD_BEFORE` ahead of each close through its
        step (`DuckDBStore.held`): an embedded DuckDB file opened per operation costs ~15 ms a
        statement, several of which come before the order; between closes it is released,
        so the CLI and Dagster runs can use the file.
        """
        self._clock = clock
        if self.execution == "sensor":
            clear_clock(self.store, self.venue)  # a replay killed earlier left its clock
        self.start()
        done, last = 0, None
        while not self.stop.is_set():
            close = self.tf.ceil(clock.now())
            if last is not None and close <= last:
                close = self.tf.add(last, 1)
            opening = close - HOLD_BEFORE
            while not self.stop.is_set() and clock.now() < opening:
                wake = min(opening, clock.now() + timedelta(seconds=tick))
                if clock.wait_until(wake, self.stop) and wake < opening:
                    self.tick()
            with self._held_for_the_close():
                if not clock.wait_until(close, self.stop) or (
                    close_delay > 0 and self.stop.wait(close_delay)
                ):
                    break
                last = max(close, self.tf.floor(clock.now()))
                report = self.step(last)
            if on_step is not None:
                on_step(report)
            done += 1
        self._beat("stopped")
        return done

    def store_held(self) -> AbstractContextManager[Any]:
        """The store's connection held for a block where the store offers it (DuckDB:
        `DuckDBStore.held`); nothing for a store without one (PostgreSQL)."""
        held = getattr(self.store, "held", None)
        return held() if held is not None else nullcontext()

    def _held_for_the_close(self) -> AbstractContextManager[Any]:
        """Inline, the store's connection held through a close (`run_live`); else nothing."""
        return self.store_held() if self.execution == "inline" else nullcontext()

    def tick(self) -> None:
        """Between closes: observe the protective orders of the open positions, and beat."""
        from awan_trading.execution.manager import observe

        if self.refresh_account is not None:
            self.refresh_account()
        held = list(self.portfolio().positions)
        if held:
            observe(self.executor, held)  # type: ignore[arg-type]
        self._beat("ok tick")


def _last_candles(indicators: pl.DataFrame, ready: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Each ready symbol's last row (symbol, high, close). The rows are grouped by symbol in
    time order (`update_indicators`), so the last row seen of a symbol is its last: plain
    lists cost a tenth of a polars group-by on a close's few rows."""
    columns = indicators.select("symbol", "high", "close").to_dict(as_series=False)
    last = {}
    for symbol, high, close in zip(*columns.values(), strict=True):
        if symbol in ready:
            last[symbol] = {"symbol": symbol, "high": high, "close": close}
    return last
