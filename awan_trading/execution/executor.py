"""The idempotent executor: one signal → at most one order, whatever launches it twice.

    Executor(exchange, store, *, bot, strategy, risk, fee, slippage, notifier=None,
             clock=None, stop_limit_offset=0.005, resend_within=timedelta(minutes=2),
             live_confirmed=False, symbols=())
    .reconcile() -> ReconcileReport       # required before the first execute, then every N min
    .execute(signal) -> ExecutionResult   # idempotent per signal id: follow_up(submit(signal))
    .submit(signal) -> ExecutionResult | Acked   # up to the venue's acknowledgement
    .follow_up(step) -> ExecutionResult   # positions projection, protective list, notification
    .on_candle_close(symbol, candle) -> list[ExecutionResult]   # the position manager's duties
    .force_exit(symbol, request_id) -> ExecutionResult
    .paused -> bool

`strategy` is a `Strategy` or its `StrategyParams` (stop_loss / take_profit / trailing_stop);
`fee` the fraction sizing reserves; `slippage` the fraction sizing adds to the signal price.

The order path for a signal (each `fault_point` is where the crash harness kills it):
reconciled? → order for this signal already recorded? (→ resume it, never place again) →
risk check (`risk.check_entry` / `check_exit`; a refusal is a `bot_events` row) → size
(`sizing.size_entry`; an exit sells the whole position) → intent and its order row in status
`intent`, one transaction (the store refuses a second intent for one client order id) →
`intent` → [exit: cancel the protective list, confirmed (one request: canceling one leg of
an OCO cancels the list); when no leg was left to cancel (a stop or target filled on the
venue since the last observation), the legs are looked up and recorded first and the exit
sells only what their fills left — nothing sellable: the order ends `rejected` unsent, a
refusal (`closed_by_protection`); a failed lookup: nothing sent, the order stays `intent`
for the next observation or reconciliation → `canceled`] → market order (the
connector adopts after a timeout; a still-unknown outcome is recorded `unknown` and looked up
later, never re-sent blind) → `accepted` → fills and order row, one transaction — `submit`
ends here — → [exit: the canceled legs looked up and recorded] → positions rebuilt from fills → `recorded`
→ [entry: place the protective list] → `protected` → notify (failures never matter) →
`notified`. The risk check and sizing read the executor's in-memory `Book`
(`execution.book`), not the store.

Until a reconciliation succeeds nothing is placed: `execute` refuses with `not_reconciled`.
The manager duties (`on_candle_close`: protective fills, trailing stop, pause / resume /
force-exit from the control table) live in `execution.manager`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from awan_trading.config import RiskConfig
from awan_trading.domain.ids import Leg, client_order_id, control_key
from awan_trading.domain.orders import Order, Submitted, TimedOut, apply_all
from awan_trading.domain.positions import epoch_ms
from awan_trading.domain.reports import report_events
from awan_trading.domain.signals import OrderIntent, SignalRecord
from awan_trading.exchange.base import Exchange
from awan_trading.exchange.errors import (
    DuplicateClientOrderId,
    ExchangeError,
    OrderNotFound,
    PermanentExchangeError,
    TransientExchangeError,
)
from awan_trading.execution import ledger
from awan_trading.execution.book import Book
from awan_trading.execution.exits import ExitParams
from awan_trading.execution.faults import fault_point
from awan_trading.execution.notices import fill_notice_for, refusal_notice_for
from awan_trading.execution.notifier import Notifier, notify
from awan_trading.execution.protecting import Protecting
from awan_trading.execution.reconciling import ReconcileReport, run_reconcile
from awan_trading.execution.refusals import Refusal, RefusalReason
from awan_trading.execution.risk import check_entry, check_exit, utc_day
from awan_trading.execution.sizing import (
    MarketRules,
    StakeRule,
    floor_to_step,
    sellable_amount,
    size_entry,
)
from awan_trading.execution.state import ExecutorState
from awan_trading.logs import get_logger
from awan_trading.storage.base import EquitySnapshot, Store

log = get_logger(__name__)

Outcome = Literal["filled", "placed", "refused", "already_done", "unknown"]


@dataclass(frozen=True)
class ExecutionResult:
    """What one call did: the order (if any), or why nothing was placed."""

    signal_id: str | None  # the signal, the entry signal (protective exits) or None (force exit)
    client_order_id: str | None
    outcome: Outcome
    order: Order | None = None
    refusal: Refusal | None = None
    signal_seq: int | None = None  # `submit(store_signal=True)`: the signal's new seq


@dataclass(frozen=True)
class Acked:
    """An order the venue acknowledged, its report recorded, its follow-up not done yet."""

    signal_id: str | None
    order: Order  # the local order after the venue's report
    signal_ts: int  # the entry signal's candle (its exit levels' round trip), 0 if none
    changed: bool  # new fills: the positions projection must be rebuilt
    canceled: tuple[str, ...] = ()  # the list canceled before an exit: its legs to look up
    signal_seq: int | None = None  # `submit(store_signal=True)`: the signal's new seq


@dataclass
class UnstoredSignal:
    """`submit(store_signal=True)`: a just-decided signal whose row is not stored yet. The
    first write of its order path stores it, once — in the intent's transaction when an order
    is placed, else just before the refusal or resumption is recorded — and `seq` is what the
    store gave it (None: stored before, by another launch)."""

    row: SignalRecord | None
    seq: int | None = None

    def take(self) -> SignalRecord | None:
        """The row, to be stored by the caller; None once taken."""
        row, self.row = self.row, None
        return row

    def store_in(self, store: Store) -> None:
        row = self.take()
        if row is not None:
            self.seq = store.insert_signal(row)


class Executor(ExecutorState, Protecting):
    """The order path over one exchange and one store (see the module docstring)."""

    def __init__(
        self,
        exchange: Exchange,
        store: Store,
        *,
        bot: str,
        strategy: Any,
        risk: RiskConfig,
        fee: float,
        slippage: float,
        notifier: Notifier | None = None,
        clock: Callable[[], datetime] | None = None,
        stop_limit_offset: float = 0.005,
        resend_within: timedelta = timedelta(minutes=2),
        live_confirmed: bool = False,
        symbols: Iterable[str] = (),
    ) -> None:
        self.exchange = exchange
        self.store = store
        self.bot = bot
        self.params: ExitParams = getattr(strategy, "params", strategy)
        self.strategy_name: str | None = getattr(strategy, "name", None)  # for notifications
        self.risk = risk
        self.fee = fee
        self.slippage = slippage
        self.notifier = notifier
        self._clock = clock or exchange.now
        self.stop_limit_offset = stop_limit_offset
        self.resend_within = resend_within
        self.live_confirmed = live_confirmed
        self.symbols = tuple(symbols)
        self.reconciled = False
        self.paused = self._restore_pause()
        self._book: Book | None = None  # loaded on first use (`book`)
        self._sell_minimums: dict[str, float] | None = None  # read on first use
        self.marks: dict[str, float] = {}
        self._day_start: tuple[date, float] | None = None  # (UTC day, its start equity)

    # --- public ---------------------------------------------------------------------------

    def now(self) -> datetime:
        when = self._clock()
        return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)

    def reconcile(self) -> ReconcileReport:
        """Bring the store in line with the exchange; trading is allowed only after `ok`."""
        report = run_reconcile(self)
        self.reconciled = report.ok
        self.stale()
        kind = "reconciled" if report.ok else "reconcile_failed"
        self.event(kind, report.describe(), {"problems": list(report.problems)})
        return report

    def execute(self, signal: SignalRecord) -> ExecutionResult:
        """Act on `signal` once: a buy enters, a sell exits (module docstring for the path)."""
        return self.follow_up(self.submit(signal))

    def submit(
        self, signal: SignalRecord, *, store_signal: bool = False
    ) -> ExecutionResult | Acked:
        """`execute` up to the venue's acknowledgement: checks, sizing, intent, the order, its
        fills and row recorded. Returns `Acked` when `follow_up` has work left (positions
        projection, protective list, notification), which a caller placing several orders of
        one candle close does after every order of that close was acknowledged.

        `store_signal`: the signal is not stored yet (the live loop's, just decided). Its row
        is then the path's first write: in the intent's transaction when an order is placed
        (one write before the exchange is called, not two), else just before the refusal or
        the resumption is recorded. The result carries its new `signal_seq`.
        """
        unstored = UnstoredSignal(signal if store_signal else None)
        try:
            step = self._submit(signal, unstored)
        finally:
            unstored.store_in(self.store)  # a path that wrote nothing still stores its signal
        return replace(step, signal_seq=unstored.seq) if store_signal else step

    def _submit(self, signal: SignalRecord, unstored: UnstoredSignal) -> ExecutionResult | Acked:
        leg: Leg = "entry" if signal.side == "buy" else "exit"
        cid = client_order_id(signal.signal_id, leg)
        if not self.reconciled:
            refusal = self._not_reconciled(signal.symbol)
            return self._refuse(signal.signal_id, cid, refusal, unstored=unstored)
        # The book knows every order on record when it was loaded and every one placed since;
        # an id it does not know is looked up only if the intent below is refused (another
        # process, say a second Dagster run of this signal, recorded it meanwhile).
        done = self._existing(cid) if cid in self.book.known else None
        if done is not None:
            return self._resume(signal.signal_id, done, unstored)
        state = self.risk_state()
        refusal = (
            check_entry(signal.symbol, state)
            if leg == "entry"
            else check_exit(signal.symbol, state)
        )
        if refusal is not None:
            return self._refuse(signal.signal_id, cid, refusal, unstored=unstored)
        if leg == "entry":
            sized = self._size_entry(signal)
            if isinstance(sized, Refusal):
                return self._refuse(signal.signal_id, cid, sized, unstored=unstored)
            amount = sized
        else:
            amount = self._position_amount(signal.symbol)
        return self._open(
            signal.signal_id, cid, signal.symbol, "buy" if leg == "entry" else "sell", amount,
            signal_ts=epoch_ms(signal.ts), unstored=unstored,
        )  # fmt: skip

    def follow_up(self, step: ExecutionResult | Acked) -> ExecutionResult:
        """The rest of the order path after an acknowledgement (`submit`), in the path's order:
        canceled protective legs and positions recorded → `recorded` → [entry: protective
        list] → `protected` → notify → `notified`."""
        if isinstance(step, ExecutionResult):
            return step
        legs = self._settle_legs(step.order.symbol, step.canceled)
        if step.changed or any(leg.filled > 0 for leg in legs):
            signal_ts = {step.order.symbol: step.signal_ts} if step.signal_ts else None
            self.sync_positions(signal_ts=signal_ts)
        return self._finish(step.signal_id, step.order)

    def force_exit(self, symbol: str, request_id: int) -> ExecutionResult:
        """Close `symbol` at market for a control request: cancel its list, then sell."""
        cid = client_order_id(control_key(request_id, symbol), "force_exit")
        if not self.reconciled:
            return self._refuse(None, cid, self._not_reconciled(symbol))
        done = self._existing(cid)
        if done is not None:
            return self._resume(None, done)
        refusal = check_exit(symbol, self.risk_state())
        if refusal is not None:
            return self._refuse(None, cid, refusal)
        return self._place(None, cid, symbol, "sell", self._position_amount(symbol))

    def on_candle_close(self, symbol: str, candle: Mapping[str, Any]) -> list[ExecutionResult]:
        """The position manager's duties after a strategy candle of `symbol` closed."""
        from awan_trading.execution.manager import on_candle_close

        return on_candle_close(self, symbol, candle)

    # --- state (the book, equity: `execution.state`) ----------------------------------

    def record_day_start(self, close: datetime) -> float:
        """Record the equity at `close`, the first candle close of a UTC day; return it.

        The backtest (`backtest.engine`) and `replay` take a day's start equity at the
        previous candle's close when the day rolls over. The live loop calls this at the
        first close of each UTC day it handles, after the position manager has settled the
        candle that just closed and before any signal of the close is executed, so positions
        are marked at that candle's close prices and `max_daily_loss` refuses on the same bar
        in both. A snapshot taken at the same instant (a force-exit checked first) is
        replaced.
        """
        equity, cash = self.equity()
        self.store.record_equity(EquitySnapshot(self.exchange.name, close, equity, cash))
        self._day_start = (utc_day(close), equity)  # what `risk_state` reads for this day
        return equity

    def _day_start_equity(self, now: datetime) -> float:
        """The first equity snapshot of the UTC day (`record_day_start`'s, when the live loop
        ran at the day's first close); recorded now if the day has none yet."""
        curve = self.store.equity_curve(self.exchange.name)
        start = datetime(now.year, now.month, now.day, tzinfo=UTC)
        if curve.height:
            today = curve.filter(curve["ts"] >= start)
            if today.height:
                return float(today["equity"][0])
        equity, cash = self.equity()
        self.store.record_equity(EquitySnapshot(self.exchange.name, now, equity, cash))
        return equity

    # --- the order path -------------------------------------------------------------------

    def _existing(self, cid: str) -> Order | None:
        """The recorded order of `cid`, rebuilt from an intent when the row was lost."""
        order = ledger.load_order(self.store, self.exchange.name, cid)
        if order is not None:
            return order
        intent = self.store.get_order_intent(cid)
        if intent is None:
            return None
        order = Order.from_intent(intent)
        self.store.record_order(order)
        return order

    def _size_entry(self, signal: SignalRecord) -> float | Refusal:
        rules = MarketRules.of(self.exchange.markets().get(signal.symbol))
        equity, cash = self.equity()
        sized = size_entry(
            signal.symbol,
            price=signal.price * (1.0 + self.slippage),
            equity=equity,
            cash=cash,
            fee=self.fee,
            stake=StakeRule(self.risk.stake_fraction, None, self.risk.max_position_quote),
            rules=rules,
        )
        return sized if isinstance(sized, Refusal) else sized.amount

    def _position_amount(self, symbol: str) -> float:
        market = self.exchange.markets().get(symbol)
        amount = self.positions()[symbol].amount
        return floor_to_step(amount, market.amount_increment) if market else amount

    def _place(
        self,
        signal_id: str | None,
        cid: str,
        symbol: str,
        side: Literal["buy", "sell"],
        amount: float,
        *,
        signal_ts: int = 0,
    ) -> ExecutionResult:
        return self.follow_up(self._open(signal_id, cid, symbol, side, amount, signal_ts=signal_ts))

    def _open(
        self,
        signal_id: str | None,
        cid: str,
        symbol: str,
        side: Literal["buy", "sell"],
        amount: float,
        *,
        signal_ts: int = 0,
        unstored: UnstoredSignal | None = None,
    ) -> ExecutionResult | Acked:
        """Intent and order row (one write, with the signal's row when it is `unstored`),
        then the order: never placed when the intent existed."""
        intent = OrderIntent(cid, signal_id, self.exchange.name, symbol, side, "market", amount,
                             None, created_at=self.now())  # fmt: skip
        order = Order.from_intent(intent)
        row = unstored.take() if unstored is not None else None
        if unstored is not None and row is not None:  # in the intent's transaction
            unstored.seq, recorded = self.store.record_signal_intent(row, intent, order)
        else:
            recorded = self.store.record_order_intent(intent, order)
        if not recorded:
            return self._resume(signal_id, self._existing(cid))  # a concurrent launch won
        fault_point("intent")
        return self._transmit(signal_id, order, signal_ts=signal_ts)

    def _send(self, signal_id: str | None, order: Order, *, signal_ts: int = 0) -> ExecutionResult:
        """Place a recorded, never-sent order and carry it through the rest of the path."""
        return self.follow_up(self._transmit(signal_id, order, signal_ts=signal_ts))

    def _transmit(
        self, signal_id: str | None, order: Order, *, signal_ts: int = 0
    ) -> ExecutionResult | Acked:
        """A recorded, never-sent order to the venue; its report recorded (fills, then row)."""
        canceled: tuple[str, ...] = ()
        if order.side == "sell":
            cleared = self._clear_exit(signal_id, order)
            if isinstance(cleared, ExecutionResult):
                return cleared
            order, canceled = cleared
        try:
            report = self.exchange.create_order(
                order.symbol, order.side, "market", order.amount,
                client_order_id=order.client_order_id,
            )  # fmt: skip
        except DuplicateClientOrderId:
            self._settle_legs(order.symbol, canceled)
            self.stale()
            return self._resume(signal_id, order)  # the venue has it: adopt, never re-send
        except TransientExchangeError as error:
            self._settle_legs(order.symbol, canceled)
            self.stale()
            unknown = apply_all(order, [Submitted(self.now()), TimedOut(self.now())])
            self.store.record_order(unknown)
            self.event("order_unknown", f"{order.client_order_id}: outcome unknown ({error})")
            return ExecutionResult(signal_id, order.client_order_id, "unknown", unknown)
        except PermanentExchangeError as error:
            self._settle_legs(order.symbol, canceled)
            self.stale()
            rejected = ledger.reject(self.store, order, str(error), self.now())
            refusal = Refusal("exchange_rejected", order.symbol, f"{order.symbol}: {error}")
            return self._refuse(signal_id, order.client_order_id, refusal, rejected)
        fault_point("accepted")
        moved = apply_all(order, report_events(order, report))
        fresh = ledger.record(self.store, moved, known=order.trade_ids)
        if self._book is not None:
            self._book.apply(moved, fresh)
        changed = bool(fresh) or moved.filled != order.filled
        return Acked(signal_id, moved, signal_ts, changed, canceled)

    def _clear_exit(
        self, signal_id: str | None, order: Order
    ) -> tuple[Order, tuple[str, ...]] | ExecutionResult:
        """Before an exit's sell: cancel the position's protective list (one confirmed request)
        and return the sell as it may go out, with the legs to look up after its
        acknowledgement.

        When no leg was left to cancel, the list had ended on the venue — typically its stop
        or target *filled* during the candle, before the loop observed it — and when the leg
        canceled had partly filled while it rested, part of the position is sold already.
        Selling the whole position then would sell base coins that are not this position's
        (another holding) or be refused, so the legs are looked up and recorded first and the
        exit is cut down to what they left, or ended unsent (`_fit_exit`); a lookup that
        fails sends nothing (`_defer_exit`). The common path — a leg canceled unfilled — adds
        no request.
        """
        listed = self._cancel_protection(order.symbol)
        clean = listed.canceled and not listed.partly_filled
        if clean or (not listed.leg_ids and order.symbol in self.book.positions):
            fault_point("canceled")  # a list canceled, or none to cancel: the sell as sized
            return order, listed.leg_ids
        legs = self._settle_ended_list(order.symbol, listed.leg_ids)
        fault_point("canceled")
        if legs is None:
            return self._defer_exit(signal_id, order)
        return self._fit_exit(signal_id, order, legs)

    def _fit_exit(
        self, signal_id: str | None, order: Order, legs: list[Order]
    ) -> tuple[Order, tuple[str, ...]] | ExecutionResult:
        """The exit cut down to what the recorded fills left of the position (its legs are
        settled: nothing to look up after the acknowledgement), or ended unsent when that is
        nothing sellable."""
        left = self._sellable(order.symbol)
        if left <= 0.0:
            return self._end_exit(signal_id, order, legs)
        if left < order.amount:
            self.event(
                "exit_reduced",
                f"{order.client_order_id}: {order.symbol}: protective fills already sold part of "
                f"the position; the exit sells the {left:.12g} left, not {order.amount:.12g}",
                {"client_order_id": order.client_order_id, "amount": left,
                 "decided": order.amount},
            )  # fmt: skip
            order = replace(order, amount=left)
            self.store.record_order(order)  # the row says what is sent, before it is sent
        return order, ()

    def _sellable(self, symbol: str) -> float:
        """What an exit may still sell of `symbol`'s position: its amount floored to the
        market's step; 0 when nothing is held or what is left is below the minimum amount."""
        position = self.positions().get(symbol)
        if position is None:
            return 0.0
        return sellable_amount(position.amount, MarketRules.of(self.exchange.markets().get(symbol)))

    def _end_exit(self, signal_id: str | None, order: Order, legs: list[Order]) -> ExecutionResult:
        """An exit with nothing left to sell: its order row ends `rejected` (never sent) and
        the reason is a `bot_events` row, like any refusal."""
        cid, symbol = order.client_order_id, order.symbol
        filled = [leg for leg in legs if leg.filled > 0.0]
        held = self.positions().get(symbol)
        left = f"; the {held.amount:.12g} left is below the market's minimum" if held else ""
        if filled:
            by = ", ".join(
                f"{leg.client_order_id} ({leg.status} {leg.filled:.12g})" for leg in filled
            )
            reason: RefusalReason = "closed_by_protection"
            message = (f"{symbol}: position already closed by its protective order {by}"
                       f"{left}; exit {cid} not sent")  # fmt: skip
        else:
            reason = "no_position"
            message = f"{symbol}: nothing left to sell{left}; exit {cid} not sent"
        ended = ledger.reject(self.store, order, message, self.now())
        self.stale()
        details = {"legs": ",".join(leg.client_order_id for leg in filled) or None}
        return self._refuse(signal_id, cid, Refusal(reason, symbol, message, details), ended)

    def _defer_exit(self, signal_id: str | None, order: Order) -> ExecutionResult:
        """An exit whose protective legs could not be looked up: never sold blind. Its order
        stays `intent` (decided, never sent), which the next observation or reconciliation
        resends through this same path while it is young, or abandons."""
        self.stale()
        self.event(
            "exit_deferred",
            f"{order.client_order_id}: {order.symbol}: no protective leg was left to cancel and "
            "their final states could not be looked up; the exit is not sent until they are",
            {"client_order_id": order.client_order_id, "symbol": order.symbol},
        )
        return ExecutionResult(signal_id, order.client_order_id, "unknown", order)

    def _settle(self, local: Order, report: Order, *, signal_ts: int = 0) -> Order:
        """Record the venue's report of `local`: fills, order row, positions from the fills."""
        moved = apply_all(local, report_events(local, report))
        self.stale()  # written outside the book
        fresh = ledger.record(self.store, moved, known=local.trade_ids)
        if fresh or moved.filled != local.filled:
            self.sync_positions(signal_ts={moved.symbol: signal_ts} if signal_ts else None)
        return moved

    def _finish(self, signal_id: str | None, order: Order) -> ExecutionResult:
        fault_point("recorded")
        if order.side == "buy" and order.filled > 0:
            try:
                self.ensure_protection(order.symbol)
            except ExchangeError as error:  # the next candle close or reconciliation retries
                self.event("protection_failed", f"{order.symbol}: {error}")
        fault_point("protected")
        if order.filled > 0 and self.notifier is not None:
            notify(self.notifier, fill_notice_for(self, order))
        fault_point("notified")
        outcome: Outcome = "filled" if order.status == "filled" else "placed"
        if order.status == "unknown":
            outcome = "unknown"
        return ExecutionResult(signal_id, order.client_order_id, outcome, order)

    def _resume(
        self, signal_id: str | None, order: Order | None, unstored: UnstoredSignal | None = None
    ) -> ExecutionResult:
        """A signal already handled: bring its order up to date; place nothing new. An
        `unstored` signal's row is stored first."""
        if unstored is not None:
            unstored.store_in(self.store)
        self.stale()
        if order is None:
            return ExecutionResult(signal_id, None, "unknown")
        cid = order.client_order_id
        if not order.is_terminal:
            try:
                report = self.exchange.fetch_order(order.symbol, client_order_id=cid)
            except OrderNotFound:
                if order.status == "intent" and self.now() - order.created_at <= self.resend_within:
                    return self._send(signal_id, order)  # never reached the venue: same id
                ledger.reject(self.store, order, "the exchange has no such order", self.now())
                return ExecutionResult(signal_id, cid, "already_done", order)
            except TransientExchangeError:
                return ExecutionResult(signal_id, cid, "unknown", order)
            order = self._settle(order, report)
            if order.side == "buy" and order.filled > 0:
                self.ensure_protection(order.symbol)
        return ExecutionResult(signal_id, cid, "already_done", order)

    def _refuse(
        self,
        signal_id: str | None,
        cid: str | None,
        refusal: Refusal,
        order: Order | None = None,
        *,
        unstored: UnstoredSignal | None = None,
    ) -> ExecutionResult:
        if unstored is not None:
            unstored.store_in(self.store)  # the refused signal's row before its refusal's
        event = refusal.to_event(self.bot, self.now())
        data = {**json.loads(event.data), "signal_id": signal_id, "client_order_id": cid}
        self.store.record_event(replace(event, data=json.dumps(data, sort_keys=True)))
        log.info(refusal.message, kind=refusal.reason, bot=self.bot)
        notify(self.notifier, refusal_notice_for(refusal, signal_id))
        return ExecutionResult(signal_id, cid, "refused", order, refusal)

    def _not_reconciled(self, symbol: str) -> Refusal:
        return Refusal(
            "not_reconciled",
            symbol,
            f"{symbol}: no successful reconciliation with {self.exchange.name} yet; "
            "nothing is placed until one succeeds",
        )
