"""A sim account rebuilt from the store is the account that placed the orders.

The sim that placed an entry and its protective OCO keeps running here next to a second sim
rebuilt from the store afterwards, as a later Dagster run's process would build it: the two
must report the same balances and resting orders, and judge the resting stop on the same
candles into the same fill. Ids: a rebuilt account derives exchange order ids and trade ids
from the client order id, so two processes that find the same fill record it once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from awan_trading.config import AwanConfig
from awan_trading.domain.ids import client_order_id
from awan_trading.domain.signals import SignalRecord
from awan_trading.exchange.factory import open_exchange
from awan_trading.exchange.sim_account import derived_order_id, restore_account
from awan_trading.execution.executor import Executor
from awan_trading.signals import SignalContext
from awan_trading.storage import open_store
from awan_trading.storage.rows import fill_from_row
from awan_trading.strategies import get_strategy
from tests.integration.manual_clock import ManualClock

SYMBOL = "ETH/USDT"
CANDLE = datetime(2024, 3, 10, 19, tzinfo=UTC)  # its buy signal; the sim stops it out at 00:00
CLOSE = CANDLE + timedelta(hours=1)
AFTER_STOP = datetime(2024, 3, 11, 1, tzinfo=UTC)


def sim_on(config: AwanConfig, clock: ManualClock):
    sim = open_exchange("sim", config, clock=clock)
    sim.match_timeframe = "1h"
    return sim


@pytest.fixture
def placed(tmp_path: Path):
    """A store and the sim (on its clock) that executed one entry and placed its OCO."""
    config = AwanConfig()
    store = open_store(f"duckdb:///{tmp_path / 'awan.duckdb'}", migrate=True)
    clock = ManualClock(CLOSE)
    sim = sim_on(config, clock)
    strategy = get_strategy("boll_stoch")
    executor = Executor(sim, store, bot="t", strategy=strategy, risk=config.risk,
                        fee=config.sim.fee_rate, slippage=config.sim.slippage_bps / 10_000,
                        symbols=(SYMBOL,))  # fmt: skip
    assert executor.reconcile().ok
    context = SignalContext.of(strategy, "1h")
    price = sim.fetch_ohlcv(SYMBOL, "1h", CANDLE, CLOSE)["close"][0]
    signal = SignalRecord(
        signal_id=context.id(SYMBOL, CANDLE, "buy"), strategy=context.strategy,
        params_hash=context.params_hash, exchange="sim", symbol=SYMBOL, timeframe="1h",
        ts=CANDLE, side="buy", price=price, score=0.0, created_at=CLOSE,
    )  # fmt: skip
    assert executor.execute(signal).outcome == "filled"
    yield config, store, sim, clock, signal.signal_id
    store.close()


def test_the_rebuilt_account_equals_the_one_that_placed_the_orders(placed) -> None:
    config, store, original, clock, signal_id = placed
    later = ManualClock(CLOSE + timedelta(minutes=30))
    clock.now = later.now
    rebuilt = restore_account(sim_on(config, later), store, dict(config.sim.starting_balance))

    assert rebuilt.fetch_balance() == original.fetch_balance()  # free and used, per currency
    assert rebuilt.fetch_open_orders() == original.fetch_open_orders()  # ids kept, OCO linked

    stop_id = client_order_id(signal_id, "stop")
    target_id = client_order_id(signal_id, "take_profit")
    clock.now = later.now = AFTER_STOP  # both judge the candles up to 01:00
    stops = [s.fetch_order(SYMBOL, client_order_id=stop_id) for s in (original, rebuilt)]
    assert [s.status for s in stops] == ["filled", "filled"]
    assert stops[0].average == stops[1].average and stops[0].trades[0].ts == stops[1].trades[0].ts
    targets = [s.fetch_order(SYMBOL, client_order_id=target_id) for s in (original, rebuilt)]
    assert [t.status for t in targets] == ["canceled", "canceled"]  # one cancels the other
    assert rebuilt.fetch_balance() == original.fetch_balance()
    assert rebuilt.fetch_open_orders() == []


def test_no_id_is_handed_out_twice_and_one_fill_is_recorded_once(placed) -> None:
    config, store, _, _, signal_id = placed
    # Two processes rebuild the account from the same store at once (two symbols' runs).
    first, second = (
        restore_account(sim_on(config, ManualClock(AFTER_STOP)), store, {"USDT": 10_000.0})
        for _ in range(2)
    )
    stop_id = client_order_id(signal_id, "stop")
    fills = [s.fetch_order(SYMBOL, client_order_id=stop_id).trades[0] for s in (first, second)]
    assert fills[0] == fills[1]  # the same trade id: the store keeps the second as a duplicate
    assert fills[0].trade_id == derived_order_id(stop_id)
    assert store.record_fill("sim", fills[0]) and not store.record_fill("sim", fills[1])

    a = first.create_order("BTC/USDT", "buy", "market", 0.01, client_order_id="a-1")
    b = second.create_order("SOL/USDT", "buy", "market", 1.0, client_order_id="b-1")
    assert a.exchange_order_id != b.exchange_order_id
    assert a.trades[0].trade_id != b.trades[0].trade_id
    # The client order ids the account used are refused again, as the venue refuses them.
    entry = client_order_id(signal_id, "entry")
    with pytest.raises(Exception, match="already"):
        first.create_order(SYMBOL, "buy", "market", 0.01, client_order_id=entry)
    recorded = {fill_from_row(r).trade_id for r in store.fills(exchange="sim").iter_rows()}
    assert derived_order_id(stop_id) in recorded
