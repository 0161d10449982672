"""Reconciliation's pure passes against reports from the sim: every local-vs-venue case."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from awan_trading.domain.ids import client_order_id
from awan_trading.domain.orders import Order
from awan_trading.domain.positions import Position
from awan_trading.domain.signals import OrderIntent
from awan_trading.exchange.sim import SimExchange
from awan_trading.exchange.sim_market import SimMarket
from awan_trading.execution.reconcile import (
    Abandon,
    CancelOrder,
    PlaceProtection,
    Record,
    Resend,
    check_balances,
    plan_orders,
    plan_protection,
)

T0 = datetime(2024, 3, 1, 12, tzinfo=UTC)
SIG = "a" * 32
SIG2 = "b" * 32
WITHIN = timedelta(minutes=2)


@pytest.fixture
def sim() -> SimExchange:
    return SimExchange(
        SimMarket(7), balances={"USDT": 100_000.0, "BTC": 1.0, "ETH": 1.0}, clock=lambda: T0
    )


def intent_order(cid: str, side: str = "buy", amount: float = 0.01, at: datetime = T0) -> Order:
    return Order.from_intent(OrderIntent(cid, SIG, "sim", "BTC/USDT", side, "market", amount,
                                         None, created_at=at))  # fmt: skip


def plan(local, reports, open_orders=(), known=(), now=T0):
    return plan_orders(local, reports, open_orders, known=known, now=now, resend_within=WITHIN)


def test_intent_the_venue_filled_is_recorded_with_its_fills(sim) -> None:
    cid = client_order_id(SIG, "entry")
    report = sim.create_order("BTC/USDT", "buy", "market", 0.01, client_order_id=cid)
    result = plan([intent_order(cid)], {cid: report})
    assert result.problems == ()
    (action,) = result.actions
    assert isinstance(action, Record)
    assert action.order.status == "filled" and action.order.filled == pytest.approx(0.01)
    assert [f.trade_id for f in action.order.trades] == [f.trade_id for f in report.trades]


def test_intent_never_seen_is_resent_while_fresh_and_abandoned_when_stale() -> None:
    cid = client_order_id(SIG, "entry")
    fresh = plan([intent_order(cid)], {cid: None}, now=T0 + timedelta(seconds=30))
    assert fresh.actions == (Resend(intent_order(cid)),)
    stale = plan([intent_order(cid)], {cid: None}, now=T0 + timedelta(minutes=10))
    (action,) = stale.actions
    assert isinstance(action, Abandon) and "older than resend_within" in action.reason


def test_unknown_or_accepted_order_not_found_is_abandoned_never_resent() -> None:
    cid = client_order_id(SIG, "entry")
    unknown = replace(intent_order(cid), status="unknown")
    (action,) = plan([unknown], {cid: None}).actions
    assert isinstance(action, Abandon)


def test_protective_leg_never_placed_is_abandoned_not_resent() -> None:
    cid = client_order_id(SIG, "stop", 0)
    (action,) = plan([intent_order(cid, "sell")], {cid: None}).actions
    assert isinstance(action, Abandon) and "protective" in action.reason


def test_resting_order_the_venue_canceled_is_recorded_canceled(sim) -> None:
    cid = client_order_id(SIG, "stop", 0)
    placed = sim.create_order("BTC/USDT", "sell", "limit", 0.01, 99_999.0, client_order_id=cid)
    canceled = sim.cancel_order("BTC/USDT", client_order_id=cid)
    local = replace(intent_order(cid, "sell"), status="accepted",
                    exchange_order_id=placed.exchange_order_id, type="limit", price=99_999.0)  # fmt: skip
    (action,) = plan([local], {cid: canceled}).actions
    assert isinstance(action, Record) and action.order.status == "canceled"


def test_agreeing_order_needs_no_action(sim) -> None:
    cid = client_order_id(SIG, "stop", 0)
    placed = sim.create_order("BTC/USDT", "sell", "limit", 0.01, 99_999.0, client_order_id=cid)
    local = replace(intent_order(cid, "sell"), status="accepted",
                    exchange_order_id=placed.exchange_order_id, type="limit", price=99_999.0)  # fmt: skip
    assert plan([local], {cid: placed}).actions == ()


def test_unanswered_lookup_and_refused_report_are_problems(sim) -> None:
    cid = client_order_id(SIG, "entry")
    other = sim.create_order(
        "ETH/USDT", "buy", "market", 0.1, client_order_id=client_order_id(SIG2, "entry")
    )
    result = plan([intent_order(cid)], {})
    assert result.actions == () and "did not answer" in result.problems[0]
    result = plan([intent_order(cid)], {cid: other})
    assert result.actions == () and cid in result.problems[0]


def test_open_awan_order_without_a_record_is_adopted_and_foreign_ones_ignored(sim) -> None:
    ours = client_order_id(SIG, "stop", 0)
    sim.create_order("BTC/USDT", "sell", "limit", 0.01, 99_999.0, client_order_id=ours)
    sim.create_order("BTC/USDT", "sell", "limit", 0.01, 99_998.0, client_order_id="manual-1")
    open_orders = sim.fetch_open_orders("BTC/USDT")
    (action,) = plan([], {}, open_orders).actions
    assert isinstance(action, Record) and action.order.client_order_id == ours
    assert plan([], {}, open_orders, known=[ours]).actions == ()


def position(symbol: str = "BTC/USDT", signal: str = SIG, amount: float = 0.01) -> Position:
    return Position(symbol, amount=amount, stake=400.0, entry_price=40_000.0, exchange="sim",
                    signal_id=signal, stop_client_order_id=client_order_id(signal, "stop", 0))  # fmt: skip


def resting(sim, cid: str, symbol: str = "BTC/USDT") -> None:
    sim.create_order(symbol, "sell", "limit", 0.01, 99_999.0, client_order_id=cid)


def test_open_position_without_a_list_gets_one(sim) -> None:
    actions = plan_protection({"BTC/USDT": position()}, [], protected=True)
    assert actions == (PlaceProtection("BTC/USDT"),)
    assert plan_protection({"BTC/USDT": position()}, [], protected=False) == ()
    assert plan_protection({"BTC/USDT": position()}, [], protected=True, exiting=["BTC/USDT"]) == ()


def test_one_list_is_kept_duplicates_and_orphans_canceled(sim) -> None:
    for cid in (client_order_id(SIG, "stop", 0), client_order_id(SIG, "take_profit", 0),
                client_order_id(SIG, "stop", 1)):  # fmt: skip
        resting(sim, cid)
    resting(sim, client_order_id(SIG2, "stop", 0), "ETH/USDT")
    open_orders = sim.fetch_open_orders("BTC/USDT") + sim.fetch_open_orders("ETH/USDT")
    actions = plan_protection({"BTC/USDT": position()}, open_orders, protected=True)
    canceled = {a.client_order_id for a in actions if isinstance(a, CancelOrder)}
    assert canceled == {
        client_order_id(SIG, "stop", 0),  # the older list (n=0, both legs) goes
        client_order_id(SIG, "take_profit", 0),
        client_order_id(SIG2, "stop", 0),  # no ETH position: an orphan
    }
    assert not any(isinstance(a, PlaceProtection) for a in actions)


def test_a_list_of_an_earlier_round_trip_does_not_count(sim) -> None:
    resting(sim, client_order_id(SIG2, "stop", 0))
    actions = plan_protection({"BTC/USDT": position()}, sim.fetch_open_orders("BTC/USDT"),
                              protected=True)  # fmt: skip
    assert set(actions) == {
        PlaceProtection("BTC/USDT"),
        CancelOrder("BTC/USDT", client_order_id(SIG2, "stop", 0),
                    "protective leg of an earlier round trip"),
    }  # fmt: skip


def test_balances_must_hold_every_position(sim) -> None:
    totals = {c: sim.fetch_balance().total(c) for c in ("BTC", "USDT")}
    assert check_balances({"BTC/USDT": position(amount=0.5)}, totals) == ()
    (problem,) = check_balances({"BTC/USDT": position(amount=2.0)}, totals)
    assert "BTC/USDT" in problem and "2" in problem
