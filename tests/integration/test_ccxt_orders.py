"""Placing orders through real ccxt when replies get lost: at most once, never lost."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator

import pytest

from awan_trading.exchange.ccxt_exchange import CcxtExchange
from awan_trading.exchange.emulator import EmulatorServer, Fault, make_state
from awan_trading.exchange.errors import (
    DuplicateClientOrderId,
    InsufficientFunds,
    InvalidOrder,
    OrderNotFound,
)
from awan_trading.exchange.rate_limit import RetryPolicy

ORDER = "/api/v3/order"
FAST = RetryPolicy(attempts=6, base_delay=0.01, max_delay=0.05, max_retry_after=5.0)


@pytest.fixture
def api_key() -> str:
    return f"key-{uuid.uuid4().hex}"


@pytest.fixture
def emulator(api_key: str) -> Iterator[EmulatorServer]:
    state = make_state(seed=3, api_key=api_key, balances={"USDT": 1_000_000.0})
    with EmulatorServer(state) as server:
        yield server


def connect(server: EmulatorServer, api_key: str, timeout: float = 1.0) -> CcxtExchange:
    return CcxtExchange(
        "binance",
        api_key=api_key,
        secret="secret",
        api_url=server.url,
        timeout=timeout,
        retry=FAST,
        order_lookup_delay=0.01,
    )


def posts(server: EmulatorServer, cid: str) -> int:
    return sum(
        1
        for r in server.state.requests
        if r.path == ORDER and r.method == "POST" and r.params.get("newClientOrderId") == cid
    )


@pytest.mark.parametrize("kind", ["lost_reply", "dropped_reply"])
def test_lost_reply_the_order_is_found_by_client_id_and_adopted(emulator, api_key, kind) -> None:
    exchange = connect(emulator, api_key)
    emulator.faults.add(kind, ORDER, method="POST", delay=2.0)
    order = exchange.create_order("BTC/USDT", "buy", "market", 0.01, client_order_id="sig-1")
    assert order.client_order_id == "sig-1" and order.status == "filled"
    assert order.filled == pytest.approx(0.01)
    assert emulator.state.accepted == {"sig-1": 1}  # exactly one order on the exchange
    assert posts(emulator, "sig-1") == 1  # and it was never resubmitted
    assert emulator.state.count(ORDER, "GET") >= 1  # it was looked up instead
    assert (
        emulator.state.sim.fetch_order("BTC/USDT", client_order_id="sig-1").exchange_order_id
        == order.exchange_order_id
    )


@pytest.mark.parametrize("kind", ["slow", "rate_limit", "internal_error", "server_error"])
def test_a_request_that_never_took_effect_is_resubmitted_with_the_same_id(
    emulator, api_key, kind
) -> None:
    exchange = connect(emulator, api_key)
    emulator.faults.add(kind, ORDER, method="POST", delay=2.0, retry_after=0.1)
    order = exchange.create_order("ETH/USDT", "buy", "limit", 0.05, 100.0, client_order_id="sig-2")
    assert order.status == "accepted" and order.price == 100.0
    assert posts(emulator, "sig-2") == 2  # the first never reached the book: same id again
    assert emulator.state.accepted == {"sig-2": 1}
    assert emulator.state.duplicate_submissions == 0


def test_lookup_failures_are_retried_before_any_resubmission(emulator, api_key) -> None:
    exchange = connect(emulator, api_key)
    emulator.faults.add("lost_reply", ORDER, method="POST", delay=2.0)
    emulator.faults.add("server_error", ORDER, method="GET", times=3)
    order = exchange.create_order("BTC/USDT", "buy", "limit", 0.01, 1000.0, client_order_id="sig-3")
    assert order.status == "accepted"
    assert posts(emulator, "sig-3") == 1
    assert emulator.state.count(ORDER, "GET") == 4


def test_permanent_refusals_surface_at_once(emulator, api_key) -> None:
    exchange = connect(emulator, api_key)
    with pytest.raises(InvalidOrder, match=r"below min_notional"):
        exchange.create_order("BTC/USDT", "buy", "limit", 0.0001, 100.0, client_order_id="tiny")
    with pytest.raises(InsufficientFunds):
        exchange.create_order("BTC/USDT", "buy", "market", 1000.0, client_order_id="huge")
    exchange.create_order("BTC/USDT", "buy", "limit", 0.01, 1000.0, client_order_id="twice")
    with pytest.raises(DuplicateClientOrderId):
        exchange.create_order("BTC/USDT", "buy", "limit", 0.01, 1000.0, client_order_id="twice")
    assert emulator.state.count(ORDER, "POST") == 4  # one request each, none retried
    assert emulator.state.count(ORDER, "GET") == 0


def test_cancel_whose_reply_was_lost_returns_the_canceled_order(emulator, api_key) -> None:
    exchange = connect(emulator, api_key)
    exchange.create_order("BTC/USDT", "buy", "limit", 0.01, 1000.0, client_order_id="c-1")
    emulator.faults.add("lost_reply", ORDER, method="DELETE", delay=2.0)
    canceled = exchange.cancel_order("BTC/USDT", client_order_id="c-1")
    assert canceled.status == "canceled"
    assert exchange.fetch_open_orders("BTC/USDT") == []
    with pytest.raises(OrderNotFound):  # a cancel of a closed order is still refused
        exchange.cancel_order("BTC/USDT", client_order_id="c-1")
    with pytest.raises(OrderNotFound):
        exchange.fetch_order("BTC/USDT", client_order_id="never-placed")


def test_open_orders_and_lookup_by_exchange_id(emulator, api_key) -> None:
    exchange = connect(emulator, api_key)
    a = exchange.create_order("BTC/USDT", "buy", "limit", 0.01, 1000.0, client_order_id="o-1")
    b = exchange.create_order("ETH/USDT", "buy", "limit", 0.1, 100.0, client_order_id="o-2")
    assert {o.client_order_id for o in exchange.fetch_open_orders()} == {"o-1", "o-2"}
    assert [o.exchange_order_id for o in exchange.fetch_open_orders("ETH/USDT")] == [
        b.exchange_order_id
    ]
    assert exchange.fetch_order("BTC/USDT", a.exchange_order_id).client_order_id == "o-1"
    balance = exchange.fetch_balance()
    assert balance.used["USDT"] == pytest.approx(0.01 * 1000 * 1.001 + 0.1 * 100 * 1.001)


@pytest.mark.slow
def test_100_orders_under_random_faults_no_duplicates_none_lost(emulator, api_key) -> None:
    exchange = connect(emulator, api_key, timeout=0.75)
    kinds = ["lost_reply", "dropped_reply", "slow", "rate_limit", "internal_error",
             "server_error", "ban"]  # fmt: skip
    faults = [Fault(kind, ORDER, delay=1.0, retry_after=0.05) for kind in kinds]
    emulator.faults.chaos(seed=20240101, rate=0.3, faults=faults)
    rng = random.Random(7)
    placed = {}
    for i in range(100):
        cid = f"soak-{i:03d}"
        if rng.random() < 0.5:
            order = exchange.create_order("BTC/USDT", "buy", "market", 0.001, client_order_id=cid)
        else:
            price = float(rng.randint(1000, 2000))
            order = exchange.create_order(
                "ETH/USDT", "buy", "limit", 0.01, price, client_order_id=cid
            )
        assert order.client_order_id == cid
        placed[cid] = order.exchange_order_id
    faulted = [r for r in emulator.state.requests if r.fault is not None]
    assert {r.fault for r in faulted} >= {"lost_reply", "dropped_reply", "slow"}
    assert len(placed) == 100 and len(set(placed.values())) == 100  # none lost
    assert emulator.state.accepted == dict.fromkeys(placed, 1)  # none twice
    assert emulator.state.duplicate_submissions == 0  # no resubmission after acceptance
    sim = emulator.state.sim
    for cid, order_id in placed.items():
        assert (
            sim.fetch_order(placed_symbol(cid, sim), client_order_id=cid).exchange_order_id
            == order_id
        )


def placed_symbol(cid: str, sim) -> str:
    for symbol in ("BTC/USDT", "ETH/USDT"):
        try:
            sim.fetch_order(symbol, client_order_id=cid)
            return symbol
        except OrderNotFound:
            continue
    raise AssertionError(f"{cid} not on the exchange")
