"""An exit whose position the venue already closed: its stop or target filled during the candle.

Before the exit's market sell the executor cancels the position's protective list; when no
leg is left to cancel (every one answers "not found") the list may have filled, so the legs
are looked up before anything is sold. A position they closed is not sold again — on an
account holding more of the base asset that sell would take coins that are not this
position's — and a lookup that fails sends nothing (the next observation or reconciliation
settles it). On the sim directly and on the emulator through the real ccxt library.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from awan_trading.config import RiskConfig
from awan_trading.domain.ids import client_order_id
from awan_trading.domain.signals import SignalRecord
from awan_trading.exchange.base import Exchange
from awan_trading.exchange.ccxt_exchange import CcxtExchange
from awan_trading.exchange.emulator import EmulatorServer, make_state
from awan_trading.exchange.errors import OrderNotFound
from awan_trading.exchange.rate_limit import RetryPolicy
from awan_trading.exchange.sim import SimExchange
from awan_trading.exchange.sim_market import SimMarket
from awan_trading.execution.executor import ExecutionResult, Executor
from awan_trading.signals import signal_id
from awan_trading.storage import Store, open_store
from awan_trading.strategies.base import StrategyParams
from tests.integration.manual_clock import ManualClock

T0 = datetime(2024, 3, 1, 12, tzinfo=UTC)
SYMBOL = "BTC/USDT"
PROTECTED = StrategyParams(stop_loss=0.01, take_profit=0.02)
HELD = 1.0  # BTC on the account that is not the position's
ORDER = "/api/v3/order"
FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02, max_retry_after=1.0)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def store(tmp_path) -> Iterator[Store]:
    s = open_store(f"duckdb:///{tmp_path / 'awan.duckdb'}", migrate=True)
    yield s
    s.close()


@pytest.fixture
def sim(clock: ManualClock) -> SimExchange:
    """Seed 2: the stop of a position entered at T0 fills first (13:00)."""
    return SimExchange(SimMarket(2), balances={"USDT": 10_000.0, "BTC": HELD}, clock=clock)


@pytest.fixture
def api_key() -> str:
    return f"key-{uuid.uuid4().hex}"


@pytest.fixture
def emulator(api_key: str, clock: ManualClock) -> Iterator[EmulatorServer]:
    """Seed 11: the target of a position entered at T0 fills first (18:00)."""
    state = make_state(seed=11, api_key=api_key, balances={"USDT": 10_000.0, "BTC": HELD},
                       clock=clock)  # fmt: skip
    with EmulatorServer(state) as server:
        yield server


def connect(server: EmulatorServer, api_key: str) -> CcxtExchange:
    return CcxtExchange(
        "binance", api_key=api_key, secret="secret", api_url=server.url, timeout=1.0,
        retry=FAST, order_lookup_delay=0.01,
    )  # fmt: skip


def make(exchange: Exchange, store: Store, clock: ManualClock) -> Executor:
    executor = Executor(exchange, store, bot="t", strategy=PROTECTED, risk=RiskConfig(),
                        fee=0.001, slippage=0.0, clock=clock)  # fmt: skip
    assert executor.reconcile().ok
    return executor


def signal(exchange: Exchange, clock: ManualClock, side: str) -> SignalRecord:
    sid = signal_id("t", PROTECTED.params_hash(), SYMBOL, "1h", clock.now, side)
    price = exchange.fetch_ticker(SYMBOL).last
    return SignalRecord(sid, "t", PROTECTED.params_hash(), exchange.name, SYMBOL, "1h",
                        clock.now, side, price)  # type: ignore[arg-type]  # fmt: skip


def enter_and_let_a_leg_fill(
    executor: Executor, venue: SimExchange, clock: ManualClock, leg: str
) -> str:
    """Enter, then move time on (no observation by the executor) until the venue filled a
    leg of the position's protective list, which must be `leg` ("stop" / "take_profit");
    return its client order id."""
    buy = signal(executor.exchange, clock, "buy")
    assert executor.execute(buy).outcome == "filled"
    legs = {client_order_id(buy.signal_id, name, 0): name for name in ("stop", "take_profit")}
    for _ in range(200):
        clock.now += timedelta(hours=1)
        for cid, name in legs.items():
            if venue.fetch_order(SYMBOL, client_order_id=cid).status == "filled":
                assert name == leg, f"the {name} filled first"
                return cid
    raise AssertionError("no leg of the protective list filled in 200 hours")


def venue_sells(venue: SimExchange) -> list[tuple[str, str, str]]:
    """(client order id, type, status) of every sell the venue ever accepted."""
    orders = [venue.fetch_order(SYMBOL, client_order_id=c) for c in venue._by_client_id]
    return [(o.client_order_id, o.type, o.status) for o in orders if o.side == "sell"]


def events(store: Store, kind: str) -> list[dict]:
    frame = store.events("t", limit=1000)
    return list(frame.filter(frame["kind"] == kind).iter_rows(named=True))


def assert_closed_without_a_sell(
    result: ExecutionResult, venue: SimExchange, store: Store, leg: str
) -> None:
    assert result.outcome == "refused", result
    assert result.refusal is not None and result.refusal.reason == "closed_by_protection"
    assert leg in result.refusal.message
    assert [s[0] for s in venue_sells(venue) if s[2] == "filled"] == [leg]  # one sell: the leg's
    assert not [s for s in venue_sells(venue) if s[1] == "market"]  # no market sell went out
    assert result.client_order_id not in venue._by_client_id
    row = store.orders(client_order_id=result.client_order_id).row(0, named=True)
    assert row["status"] == "rejected"  # terminal: decided, never sent
    (event,) = events(store, "closed_by_protection")
    assert json.loads(event["data"])["client_order_id"] == result.client_order_id
    assert "already closed" in event["message"]
    assert store.positions(venue.name) == []
    assert venue.fetch_balance().total("BTC") == pytest.approx(HELD, abs=1e-12)


def test_an_exit_after_the_stop_filled_on_the_sim_sells_nothing(sim, store, clock) -> None:
    executor = make(sim, store, clock)
    leg = enter_and_let_a_leg_fill(executor, sim, clock, "stop")
    result = executor.execute(signal(sim, clock, "sell"))  # the loop never observed the fill
    assert_closed_without_a_sell(result, sim, store, leg)
    recorded = store.orders(client_order_id=leg).row(0, named=True)
    assert recorded["status"] == "filled"  # the protective fill is the exit on record
    assert make(sim, store, clock).reconcile().ok  # store and venue agree


def test_an_exit_after_the_target_filled_through_ccxt_sells_nothing(
    emulator, api_key, store, clock
) -> None:
    venue = emulator.state.sim
    executor = make(connect(emulator, api_key), store, clock)
    leg = enter_and_let_a_leg_fill(executor, venue, clock, "take_profit")
    result = executor.execute(signal(executor.exchange, clock, "sell"))
    assert_closed_without_a_sell(result, venue, store, leg)
    posted = [r.params.get("newClientOrderId") for r in emulator.state.requests
              if r.path == ORDER and r.method == "POST"]  # fmt: skip
    assert result.client_order_id not in posted  # never sent, not even refused by the venue
    assert make(connect(emulator, api_key), store, clock).reconcile().ok


def test_a_failed_lookup_of_the_legs_sends_nothing_and_reconciliation_settles(
    emulator, api_key, store, clock
) -> None:
    venue = emulator.state.sim
    executor = make(connect(emulator, api_key), store, clock)
    leg = enter_and_let_a_leg_fill(executor, venue, clock, "take_profit")
    emulator.faults.add("internal_error", ORDER, method="GET", times=FAST.attempts)
    result = executor.execute(signal(executor.exchange, clock, "sell"))
    assert emulator.faults.pending() == 0  # the lookup really failed, every attempt
    assert result.outcome == "unknown" and result.order is not None
    assert result.order.status == "intent"  # decided, never sent: nothing to look up
    assert result.client_order_id not in venue._by_client_id
    assert [s for s in venue_sells(venue) if s[1] == "market"] == []
    (event,) = events(store, "exit_deferred")
    assert "not sent" in event["message"]
    assert json.loads(event["data"])["client_order_id"] == result.client_order_id
    # The next reconciliation records the leg's fill, and the exit is never sent.
    assert make(connect(emulator, api_key), store, clock).reconcile().ok
    row = store.orders(client_order_id=result.client_order_id).row(0, named=True)
    assert row["status"] == "rejected"
    assert store.orders(client_order_id=leg).row(0, named=True)["status"] == "filled"
    assert result.client_order_id not in venue._by_client_id
    assert store.positions(venue.name) == []
    assert venue.fetch_balance().total("BTC") == pytest.approx(HELD, abs=1e-12)


def sell_id(sell: SignalRecord) -> str:
    return client_order_id(sell.signal_id, "exit")


class Crash(Exception):
    """Stands in for the process dying at a fault point (`execution.faults`)."""


def test_a_crash_after_the_legs_were_recorded_never_sells_on_restart(
    sim, store, clock, monkeypatch
) -> None:
    executor = make(sim, store, clock)
    enter_and_let_a_leg_fill(executor, sim, clock, "stop")
    sell = signal(sim, clock, "sell")

    def crash_at_canceled(point: str) -> None:
        if point == "canceled":
            raise Crash(point)

    monkeypatch.setattr("awan_trading.execution.executor.fault_point", crash_at_canceled)
    with pytest.raises(Crash):
        executor.execute(sell)  # legs looked up and recorded, the exit's intent left behind
    monkeypatch.undo()
    restarted = make(sim, store, clock)  # reconciliation resends the young intent: refused
    again = restarted.execute(sell)
    assert again.outcome == "already_done" and again.order is not None
    assert again.order.status == "rejected"
    (refused,) = events(store, "no_position")  # the legs' fills, recorded before the crash
    assert json.loads(refused["data"])["client_order_id"] == sell_id(sell)
    assert again.client_order_id not in sim._by_client_id
    assert [s for s in venue_sells(sim) if s[1] == "market"] == []
    assert store.positions(sim.name) == []
    assert sim.fetch_balance().total("BTC") == pytest.approx(HELD, abs=1e-12)


class PartlyFilled:
    """The sim, except that one canceled leg is reported partly filled (the sim fills orders
    whole): the venue's half of that fill is a separate market sell on the sim itself, so the
    balances match what the report says."""

    def __init__(self, sim: SimExchange) -> None:
        self.sim = sim
        self.partial: tuple[str, float, float] | None = None  # (leg id, filled, price)
        self.sibling_gone: str | None = None  # a leg the venue ended when its sibling filled

    def __getattr__(self, name: str):
        return getattr(self.sim, name)

    def _as_reported(self, order):
        if self.partial is not None and order.client_order_id == self.partial[0]:
            _, filled, price = self.partial
            return replace(order, filled=filled, average=price)
        return order

    def fetch_order(self, symbol: str, exchange_order_id=None, *, client_order_id=None):
        order = self.sim.fetch_order(symbol, exchange_order_id, client_order_id=client_order_id)
        return self._as_reported(order)

    def cancel_order(self, symbol: str, exchange_order_id=None, *, client_order_id=None):
        if client_order_id is not None and client_order_id == self.sibling_gone:
            raise OrderNotFound(f"{symbol}: {client_order_id} was canceled with its list")
        order = self.sim.cancel_order(symbol, exchange_order_id, client_order_id=client_order_id)
        return self._as_reported(order)


def assert_sold_only_the_rest(
    result: ExecutionResult, sim: SimExchange, store: Store, left: float
) -> None:
    """The exit sold `left` (what the protective fill left of the position), said so in an
    `exit_reduced` event and its order row; the position is closed and the BTC the account
    held besides it is untouched."""
    assert result.outcome == "filled", result
    assert result.order.amount == pytest.approx(left) and result.order.filled == pytest.approx(left)
    (reduced,) = events(store, "exit_reduced")
    assert json.loads(reduced["data"])["client_order_id"] == result.client_order_id
    row = store.orders(client_order_id=result.client_order_id).row(0, named=True)
    assert row["amount"] == pytest.approx(left) and row["status"] == "filled"
    assert store.positions(sim.name) == []
    assert sim.fetch_balance().total("BTC") == pytest.approx(HELD, abs=1e-12)


def test_an_exit_after_a_partial_protective_fill_sells_only_what_is_left(sim, store, clock) -> None:
    venue = PartlyFilled(sim)
    executor = make(venue, store, clock)  # type: ignore[arg-type]
    buy = signal(sim, clock, "buy")
    bought = executor.execute(buy).order.filled
    target = client_order_id(buy.signal_id, "take_profit", 0)
    sim.cancel_order(SYMBOL, client_order_id=target)  # the list ends (the venue's doing) ...
    step = sim.market(SYMBOL).amount_increment
    half = round(bought / 2 // step * step, 10)  # ... after its target sold half
    sold = sim.create_order(SYMBOL, "sell", "market", half, client_order_id="venue-partial-fill")
    venue.partial = (target, half, sold.average)
    result = executor.execute(signal(sim, clock, "sell"))
    assert_sold_only_the_rest(result, sim, store, round(bought - half, 10))
    assert store.orders(client_order_id=target).row(0, named=True)["filled"] == pytest.approx(half)


def test_an_exit_whose_cancel_finds_the_target_partly_filled_sells_only_what_is_left(
    sim, store, clock
) -> None:
    """The list is still resting, its target partly filled: the exit's cancel succeeds, and
    its reply reports the fill. The legs are recorded before the sell, which sells the rest."""
    venue = PartlyFilled(sim)
    executor = make(venue, store, clock)  # type: ignore[arg-type]
    buy = signal(sim, clock, "buy")
    bought = executor.execute(buy).order.filled
    target = client_order_id(buy.signal_id, "take_profit", 0)
    step = sim.market(SYMBOL).amount_increment
    third = round(bought / 3 // step * step, 10)
    sold = sim.create_order(SYMBOL, "sell", "market", third, client_order_id="venue-partial-fill")
    # The target sold a third and still rests; the venue canceled its sibling, the stop, on
    # that first fill (Binance ends an OCO's other leg when one leg fills, even partly).
    venue.partial = (target, third, sold.average)
    venue.sibling_gone = client_order_id(buy.signal_id, "stop", 0)
    assert sim.fetch_order(SYMBOL, client_order_id=target).is_resting
    result = executor.execute(signal(sim, clock, "sell"))
    assert_sold_only_the_rest(result, sim, store, round(bought - third, 10))
    leg = store.orders(client_order_id=target).row(0, named=True)
    assert leg["status"] == "canceled" and leg["filled"] == pytest.approx(third)


@pytest.fixture(params=["sim", "emulator"])
def fees_in_base(
    request, api_key: str, clock: ManualClock
) -> Iterator[tuple[Exchange, SimExchange]]:
    """A venue charging commissions in the asset received, as Binance does unless fees are
    paid in BNB: the sim itself, or the emulator (a sim so configured) through ccxt, whose
    connector reads the base-asset commission from the order's fills. (venue, its sim)"""
    balances = {"USDT": 10_000.0, "BTC": HELD}
    if request.param == "sim":
        sim = SimExchange(SimMarket(2), balances=balances, clock=clock, fees_in_received_asset=True)
        yield sim, sim
        return
    state = make_state(seed=11, api_key=api_key, balances=balances, clock=clock,
                       fees_in_received_asset=True)  # fmt: skip
    with EmulatorServer(state) as server:
        yield connect(server, api_key), state.sim


def test_the_dust_an_exit_leaves_closes_the_round_trip_and_the_symbol_trades_again(
    fees_in_base, store, clock
) -> None:
    """A buy's fee taken in BTC leaves the position a fraction of a lot step above a whole
    number of steps; the exit sells it floored to the step and leaves dust below the
    market's minimum. Before: that dust stayed an open position — first `guard` designed a
    protective list for 0 and the venue's refusal stopped the live loop's close, then (with
    that fixed) the symbol's next entry was refused (`position_open`) for good and the round
    trip never became a trade."""
    from awan_trading.control.money import load_trades
    from awan_trading.execution.manager import guard
    from awan_trading.execution.sizing import MarketRules, smallest_sellable

    venue, sim = fees_in_base
    market = venue.markets()[SYMBOL]
    executor = make(venue, store, clock)
    bought = executor.execute(signal(venue, clock, "buy"))
    assert bought.order.fee_currency == "BTC"  # as the venue reported it
    held = executor.positions()[SYMBOL].amount
    assert held == pytest.approx(bought.order.filled * 0.999)  # the fee was taken in BTC
    sold = executor.execute(signal(venue, clock, "sell"))
    assert sold.outcome == "filled" and 0.0 < held - sold.order.filled < market.min_amount
    assert executor.positions() == {} and store.positions(venue.name) == []
    minimum = smallest_sellable(MarketRules.of(market))
    assert store.sell_minimums(venue.name) == {SYMBOL: minimum}  # recorded for every fold
    [trade] = load_trades(store)
    assert (trade.exit_reason, trade.amount) == ("exit_signal", pytest.approx(held))
    orders_before = store.orders().height
    assert guard(executor, SYMBOL, high=1e9) == []  # nothing to protect, nothing raised
    assert store.orders().height == orders_before
    assert not sim.fetch_open_orders(SYMBOL)
    # The account holds the dust beside the BTC that was never the position's.
    assert sim.fetch_balance().total("BTC") == pytest.approx(HELD + held - sold.order.filled)
    # The symbol trades again, and its next round trip is its own (the dust is not in it).
    clock.now += timedelta(hours=1)
    buy = signal(venue, clock, "buy")
    again = executor.execute(buy)
    assert again.outcome == "filled", again
    position = executor.positions()[SYMBOL]
    assert position.amount == pytest.approx(again.order.filled * 0.999)
    assert position.signal_id == buy.signal_id
    # An executor started afresh (its book loaded from the store) sees the same.
    assert make(venue, store, clock).positions()[SYMBOL].amount == position.amount
    assert [p.amount for p in store.positions(venue.name)] == [position.amount]
