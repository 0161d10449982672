"""What the executor and the position manager tell people, over the sim and a DuckDB store:
fills with fee and PnL and the signal's reason, a stop or target hit on the venue, refusals
with their rule, pause and resume, error events."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from awan_trading.config import RiskConfig
from awan_trading.domain.signals import SignalRecord
from awan_trading.domain.trades import closed_trades
from awan_trading.exchange.sim import SimExchange
from awan_trading.exchange.sim_market import SimMarket
from awan_trading.execution.executor import Executor
from awan_trading.notify.events import Notice
from awan_trading.signals import signal_id
from awan_trading.storage import Store, open_store
from awan_trading.storage.rows import fill_from_row
from awan_trading.strategies import get_strategy
from tests.integration.manual_clock import ManualClock

T0 = datetime(2024, 3, 1, 12, tzinfo=UTC)


class Sink:
    """Takes notices as the outbox does (`post`), and records them."""

    def __init__(self) -> None:
        self.notices: list[Notice] = []

    def post(self, notice: Notice) -> bool:
        self.notices.append(notice)
        return True

    def send(self, text: str, *, html: bool = False) -> bool:
        return self.post(Notice("message", text, html))

    def lines(self, i: int) -> list[str]:
        return self.notices[i].text.splitlines()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def sim(clock: ManualClock) -> SimExchange:
    return SimExchange(SimMarket(11), balances={"USDT": 10_000.0}, clock=clock)


@pytest.fixture
def store(tmp_path) -> Iterator[Store]:
    s = open_store(f"duckdb:///{tmp_path / 'awan.duckdb'}", migrate=True)
    yield s
    s.close()


def executor_with(sim, store, sink, **params) -> Executor:
    strategy = get_strategy("boll_stoch", params)
    executor = Executor(sim, store, bot="t", strategy=strategy, risk=RiskConfig(max_open_positions=1),
                        fee=0.001, slippage=0.0, notifier=sink)  # fmt: skip
    assert executor.reconcile().ok
    return executor


def signal(sim: SimExchange, side: str, symbol: str = "BTC/USDT") -> SignalRecord:
    ts = sim.now()
    sid = signal_id("boll_stoch", "h", symbol, "1h", ts, side)
    price = sim.fetch_ticker(symbol).last
    return SignalRecord(sid, "boll_stoch", "h", "sim", symbol, "1h", ts, side, price)  # type: ignore[arg-type]


def trades(store: Store):
    return closed_trades([fill_from_row(r) for r in store.fills(exchange="sim").iter_rows()],
                         exchange="sim")  # fmt: skip


def test_entry_and_exit_fills_carry_fee_pnl_and_the_signals_reason(sim, store, clock):
    sink = Sink()
    executor = executor_with(sim, store, sink, stop_loss=None, take_profit=None)
    buy = executor.execute(signal(sim, "buy"))
    clock.now += timedelta(hours=3)
    sell = executor.execute(signal(sim, "sell"))
    entry, exit_ = sink.lines(0), sink.lines(1)
    assert entry[0] == "<b>awan: entry filled BTC/USDT</b>"
    assert f"price: {buy.order.average:.10g} USDT" in entry
    assert f"amount: {buy.order.filled:.10g}" in entry
    assert f"fee: {buy.order.fee:.10g} USDT" in entry
    assert "reason: boll_stoch entry signal" in entry and not any(
        x.startswith("pnl") for x in entry
    )
    assert f"order: {buy.client_order_id}" in entry
    [trade] = trades(store)
    assert exit_[0] == "<b>awan: exit filled BTC/USDT</b>"
    assert f"pnl: {trade.pnl:+.2f} USDT ({100 * trade.pnl / trade.stake:+.2f} %)" in exit_
    assert "reason: boll_stoch exit signal" in exit_
    assert f"order: {sell.client_order_id}" in exit_


def test_refusals_pause_and_resume_are_told(sim, store, clock):
    sink = Sink()
    executor = executor_with(sim, store, sink, stop_loss=None, take_profit=None)
    executor.execute(signal(sim, "buy"))
    refused = executor.execute(signal(sim, "buy", "ETH/USDT"))
    assert refused.refusal.reason == "max_open_positions"
    lines = sink.lines(1)
    assert lines[0] == "<b>awan: order refused ETH/USDT</b>"
    assert "rule: max_open_positions" in lines and any(
        "max_open_positions is 1" in x for x in lines
    )
    store.request_control("t", "pause", requested_by="test")
    executor.on_candle_close("BTC/USDT", {"high": 1.0})
    store.request_control("t", "resume", requested_by="test")
    executor.on_candle_close("BTC/USDT", {"high": 1.0})
    heads = [n.text.splitlines()[0] for n in sink.notices if n.kind == "lifecycle"]
    assert heads == ["<b>awan: t paused</b>", "<b>awan: t resumed</b>"]
    executor.event("order_unknown", "BTC/USDT e0-x: outcome unknown (timeout)")
    assert sink.notices[-1].kind == "error" and "where: order_unknown" in sink.notices[-1].text
    executor.event("reconciled", "fine")  # routine events are not worth a message
    assert sink.notices[-1].kind == "error"


def test_a_stop_or_target_hit_on_the_venue_is_told_with_its_pnl(sim, store, clock):
    sink = Sink()
    executor = executor_with(sim, store, sink, stop_loss=0.01, take_profit=0.02)
    executor.execute(signal(sim, "buy"))
    for _ in range(200):
        clock.now += timedelta(hours=1)
        (candle,) = sim.fetch_ohlcv(
            "BTC/USDT", "1h", clock.now - timedelta(hours=1), clock.now
        ).iter_rows(named=True)
        executor.on_candle_close("BTC/USDT", candle)
        if not store.positions("sim"):
            break
    [trade] = trades(store)
    [hit] = [n for n in sink.notices if n.kind == "stop"]
    lines = hit.text.splitlines()
    word = {"stop_loss": "stop hit", "take_profit": "target hit"}[trade.exit_reason]
    assert lines[0] == f"<b>awan: {word} BTC/USDT</b>"
    assert f"reason: {trade.exit_reason}" in lines
    assert f"pnl: {trade.pnl:+.2f} USDT ({100 * trade.pnl / trade.stake:+.2f} %)" in lines
