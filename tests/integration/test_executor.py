"""The executor over the sim on both stores: idempotence, refusals with reasons, controls."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from awan_trading.config import RiskConfig
from awan_trading.domain.ids import client_order_id, control_key
from awan_trading.domain.orders import Order
from awan_trading.domain.signals import OrderIntent, SignalRecord
from awan_trading.exchange.sim import SimExchange
from awan_trading.exchange.sim_market import SimMarket
from awan_trading.execution.executor import Executor
from awan_trading.signals import signal_id
from awan_trading.storage import Store, open_store
from awan_trading.strategies.base import StrategyParams
from tests.integration.manual_clock import ManualClock

T0 = datetime(2024, 3, 1, 12, tzinfo=UTC)
NO_EXITS = StrategyParams(stop_loss=None, take_profit=None)


@pytest.fixture(params=["duckdb", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path) -> Iterator[Store]:
    if request.param == "duckdb":
        url = f"duckdb:///{tmp_path / 'awan.duckdb'}"
    else:
        url = request.getfixturevalue("pg_database").url
    s = open_store(url, migrate=True)
    yield s
    s.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def sim(clock: ManualClock) -> SimExchange:
    return SimExchange(SimMarket(11), balances={"USDT": 10_000.0}, clock=clock)


def make(sim, store, *, risk: RiskConfig | None = None, notifier=None, reconcile=True) -> Executor:
    executor = Executor(sim, store, bot="t", strategy=NO_EXITS, risk=risk or RiskConfig(),
                        fee=0.001, slippage=0.0, notifier=notifier)  # fmt: skip
    if reconcile:
        assert executor.reconcile().ok
    return executor


def signal(sim: SimExchange, side: str, symbol: str = "BTC/USDT") -> SignalRecord:
    ts = sim.now()
    sid = signal_id("t", NO_EXITS.params_hash(), symbol, "1h", ts, side)
    price = sim.fetch_ticker(symbol).last
    return SignalRecord(sid, "t", NO_EXITS.params_hash(), "sim", symbol, "1h", ts, side, price)  # type: ignore[arg-type]


def venue_orders(sim: SimExchange) -> list[str]:
    return list(sim._by_client_id)  # every client order id the sim ever accepted


def kinds(store: Store) -> list[str]:
    return list(store.events("t", limit=1000).sort("id")["kind"])


def test_nothing_is_placed_before_a_reconciliation(sim, store) -> None:
    executor = make(sim, store, reconcile=False)
    result = executor.execute(signal(sim, "buy"))
    assert result.outcome == "refused" and result.refusal.reason == "not_reconciled"
    assert venue_orders(sim) == [] and "not_reconciled" in kinds(store)


def test_the_same_signal_twice_places_one_order(sim, store, clock) -> None:
    executor = make(sim, store)
    buy = signal(sim, "buy")
    first = executor.execute(buy)
    clock.now += timedelta(minutes=5)
    again = make(sim, store).execute(buy)  # a second launcher (a retried run, a restart)
    assert (first.outcome, again.outcome) == ("filled", "already_done")
    assert venue_orders(sim) == [client_order_id(buy.signal_id, "entry")]
    (position,) = store.positions("sim")
    assert position.amount == pytest.approx(first.order.filled)
    sell = signal(sim, "sell")
    assert [executor.execute(sell).outcome for _ in range(2)] == ["filled", "already_done"]
    assert len(venue_orders(sim)) == 2 and store.positions("sim") == []
    assert sim.fetch_balance().total("BTC") == pytest.approx(0.0)


@pytest.mark.parametrize("order_row", [True, False])
def test_an_intent_that_never_reached_the_venue_is_sent_once_under_its_id(
    sim, store, order_row
) -> None:
    buy = signal(sim, "buy")
    cid = client_order_id(buy.signal_id, "entry")
    # A process that died right after recording the intent (the `intent` fault point), or
    # between the intent and its order row.
    intent = OrderIntent(cid, buy.signal_id, "sim", "BTC/USDT", "buy", "market", 0.01, None,
                         created_at=sim.now())  # fmt: skip
    store.record_order_intent(intent)
    if order_row:
        store.record_order(Order.from_intent(intent))
    report = make(sim, store, reconcile=False).reconcile()
    assert report.resent == (1 if order_row else 0)
    result = make(sim, store).execute(buy)  # the signal launched again
    assert result.outcome == ("already_done" if order_row else "filled")
    assert result.order.status == "filled"
    assert venue_orders(sim) == [cid]
    assert store.positions("sim")[0].amount == pytest.approx(0.01)


def test_risk_refusals_are_logged_with_their_reason(sim, store, clock) -> None:
    executor = make(sim, store, risk=RiskConfig(max_open_positions=1))
    assert executor.execute(signal(sim, "buy")).outcome == "filled"
    clock.now += timedelta(hours=1)
    again = executor.execute(signal(sim, "buy"))
    other = executor.execute(signal(sim, "buy", "ETH/USDT"))
    exit_nothing = executor.execute(signal(sim, "sell", "SOL/USDT"))
    reasons = [r.refusal.reason for r in (again, other, exit_nothing)]
    assert reasons == ["position_open", "max_open_positions", "no_position"]
    events = store.events("t", limit=100)
    logged = events.filter(events["kind"] == "max_open_positions").row(0, named=True)
    assert "max_open_positions is 1" in logged["message"]
    assert json.loads(logged["data"])["symbol"] == "ETH/USDT"
    assert len(venue_orders(sim)) == 1


def test_daily_loss_stops_entries_until_the_next_utc_day(sim, store, clock) -> None:
    executor = make(sim, store, risk=RiskConfig(max_daily_loss=0.0001))
    executor.execute(signal(sim, "buy"))
    executor.execute(signal(sim, "sell"))  # a round trip at one moment loses fees and spread
    clock.now += timedelta(minutes=1)
    refused = executor.execute(signal(sim, "buy", "ETH/USDT"))
    assert refused.refusal.reason == "max_daily_loss"
    clock.now = T0 + timedelta(days=1)
    assert executor.execute(signal(sim, "buy", "ETH/USDT")).outcome == "filled"


def test_pause_stops_entries_but_not_exits_and_survives_a_restart(sim, store, clock) -> None:
    executor = make(sim, store)
    executor.execute(signal(sim, "buy"))
    store.request_control("t", "pause", requested_by="test")
    executor.on_candle_close("BTC/USDT", {"high": 1.0})
    assert executor.paused and store.pending_controls("t") == []
    clock.now += timedelta(hours=1)
    restarted = make(sim, store)
    assert restarted.paused
    assert restarted.execute(signal(sim, "buy", "ETH/USDT")).refusal.reason == "paused"
    assert restarted.execute(signal(sim, "sell")).outcome == "filled"
    store.request_control("t", "resume")
    restarted.on_candle_close("BTC/USDT", {"high": 1.0})
    assert not restarted.paused
    assert restarted.execute(signal(sim, "buy", "ETH/USDT")).outcome == "filled"
    assert kinds(store).count("control_pause") == kinds(store).count("control_resume") == 1


def test_force_exit_from_the_control_table_closes_once(sim, store) -> None:
    executor = make(sim, store)
    executor.execute(signal(sim, "buy"))
    request_id = store.request_control("t", "force_exit", "BTC/USDT", requested_by="test")
    (result,) = executor.on_candle_close("BTC/USDT", {"high": 1.0})
    assert result.outcome == "filled" and result.order.side == "sell"
    assert result.client_order_id == client_order_id(
        control_key(request_id, "BTC/USDT"), "force_exit"
    )
    assert store.positions("sim") == [] and store.pending_controls("t") == []
    assert executor.on_candle_close("BTC/USDT", {"high": 1.0}) == []  # handled once
    assert executor.force_exit("BTC/USDT", request_id).outcome == "already_done"
    assert len(venue_orders(sim)) == 2


class Broken:
    def send(self, text: str, *, html: bool = False) -> bool:
        raise RuntimeError("chat is on fire")


def test_a_failing_notifier_never_changes_the_outcome(sim, store) -> None:
    executor = make(sim, store, notifier=Broken())
    assert executor.execute(signal(sim, "buy")).outcome == "filled"
    assert len(store.positions("sim")) == 1


PROTECTED = StrategyParams(stop_loss=0.01, take_profit=0.02)
TRAILING = StrategyParams(stop_loss=0.01, take_profit=0.02, trailing_stop=0.005)


def next_hour(sim: SimExchange, clock: ManualClock) -> dict:
    """Move the clock an hour on; the BTC candle that just closed."""
    clock.now += timedelta(hours=1)
    (candle,) = sim.fetch_ohlcv(
        "BTC/USDT", "1h", clock.now - timedelta(hours=1), clock.now
    ).iter_rows(named=True)
    return candle


def protective_open(sim: SimExchange) -> list[str]:
    return sorted(o.client_order_id for o in sim.fetch_open_orders("BTC/USDT"))


@pytest.mark.parametrize("params", [PROTECTED, TRAILING], ids=["fixed", "trailing"])
def test_protective_list_rests_trails_and_fills_on_the_venue_while_paused(
    sim, store, clock, params
):
    executor = Executor(sim, store, bot="t", strategy=params, risk=RiskConfig(),
                        fee=0.001, slippage=0.0)  # fmt: skip
    assert executor.reconcile().ok
    buy = signal(sim, "buy")
    assert executor.execute(buy).outcome == "filled"
    assert protective_open(sim) == sorted(
        [
            client_order_id(buy.signal_id, "stop", 0),
            client_order_id(buy.signal_id, "take_profit", 0),
        ]
    )
    store.request_control("t", "pause")
    exits = []
    for _ in range(200):
        exits += executor.on_candle_close("BTC/USDT", next_hour(sim, clock))
        positions = store.positions("sim")
        if not positions:
            break
        (position,) = positions
        open_ids = protective_open(sim)
        assert position.stop_client_order_id in open_ids  # one list, the position's own
        assert len(open_ids) == 2
    assert executor.paused and store.positions("sim") == [] and protective_open(sim) == []
    assert len(exits) == 1 and exits[0].order.side == "sell"  # observed on the venue
    # The trailing stop moved: a replacement list (n = 1) or, with the raised stop already
    # above the market, a risk exit at market.
    moved = [c for c in store.orders()["client_order_id"] if c.startswith(("s1-", "r"))]
    assert bool(moved) == bool(params.trailing_stop)
    assert sim.fetch_balance().total("BTC") == pytest.approx(0.0, abs=1e-12)


def test_a_list_placed_again_by_the_manager_is_watched_until_its_stop_fills(
    sim, store, clock
) -> None:
    # The venue loses the list (canceled by hand); the manager places a new one at the next
    # close. The book the close's observation reads must know the new legs, or their fill
    # would never be seen (and the manager would place a third list on a sold position).
    executor = Executor(sim, store, bot="t", strategy=PROTECTED, risk=RiskConfig(),
                        fee=0.001, slippage=0.0)  # fmt: skip
    assert executor.reconcile().ok
    buy = signal(sim, "buy")
    assert executor.execute(buy).outcome == "filled"
    sim.cancel_order("BTC/USDT", client_order_id=client_order_id(buy.signal_id, "stop", 0))
    exits, replaced = [], set()
    for _ in range(300):
        exits += executor.on_candle_close("BTC/USDT", next_hour(sim, clock))
        replaced.update(protective_open(sim))
        assert set(protective_open(sim)) <= set(executor.book.open_orders)  # no history scan
        if not store.positions("sim"):
            break
    assert replaced == {
        client_order_id(buy.signal_id, "stop", 1),
        client_order_id(buy.signal_id, "take_profit", 1),
    }
    assert len(exits) == 1 and exits[0].client_order_id in replaced
    assert protective_open(sim) == [] and store.positions("sim") == []
    assert sim.fetch_balance().total("BTC") == pytest.approx(0.0, abs=1e-12)


def test_force_exit_cancels_the_protective_list_then_sells(sim, store) -> None:
    executor = Executor(sim, store, bot="t", strategy=PROTECTED, risk=RiskConfig(),
                        fee=0.001, slippage=0.0)  # fmt: skip
    assert executor.reconcile().ok
    buy = signal(sim, "buy")
    executor.execute(buy)
    result = executor.force_exit("BTC/USDT", store.request_control("t", "force_exit", "BTC/USDT"))
    assert result.outcome == "filled" and protective_open(sim) == []
    stop = sim.fetch_order("BTC/USDT", client_order_id=client_order_id(buy.signal_id, "stop", 0))
    assert stop.status == "canceled" and store.positions("sim") == []
    recorded = store.orders(["canceled"])
    assert set(recorded["client_order_id"]) == {
        client_order_id(buy.signal_id, "stop", 0),
        client_order_id(buy.signal_id, "take_profit", 0),
    }
