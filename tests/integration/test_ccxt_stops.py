"""Protective stops and OCO lists through the real ccxt library against the emulator.

The sim behind the emulator runs on a clock the test drives, so a stop triggers exactly when
the test moves time past a candle that crosses it. Every fault a live venue can throw at a
placement or a cancel (429 + Retry-After, 5xx, a slow reply, a reply lost after the order was
accepted) must leave exactly one order list on the exchange, and the connector must return it.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import ccxt
import pytest

from awan_trading.domain.ids import client_order_id
from awan_trading.domain.orders import Order
from awan_trading.exchange.ccxt_exchange import CcxtExchange
from awan_trading.exchange.emulator import EmulatorServer, make_state
from awan_trading.exchange.errors import DuplicateClientOrderId, InvalidOrder
from awan_trading.exchange.rate_limit import RetryPolicy
from awan_trading.market.timeframes import to_epoch_ms
from tests.integration.manual_clock import ManualClock

ORDER = "/api/v3/order"
OCO = "/api/v3/orderList/oco"
SYMBOL = "BTC/USDT"
START = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
FAST = RetryPolicy(attempts=6, base_delay=0.01, max_delay=0.05, max_retry_after=5.0)
SIGNAL = "5e" * 16
STOP_ID = client_order_id(SIGNAL, "stop")
TARGET_ID = client_order_id(SIGNAL, "take_profit")
LIST_ID = client_order_id(SIGNAL, "bracket")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def api_key() -> str:
    return f"key-{uuid.uuid4().hex}"


@pytest.fixture
def emulator(api_key: str, clock: ManualClock) -> Iterator[EmulatorServer]:
    balances = {"USDT": 1_000_000.0, "BTC": 2.0}
    state = make_state(seed=5, api_key=api_key, balances=balances, clock=clock)
    with EmulatorServer(state) as server:
        yield server


def connect(server: EmulatorServer, api_key: str, timeout: float = 1.0) -> CcxtExchange:
    return CcxtExchange(
        "binance", api_key=api_key, secret="secret", api_url=server.url, timeout=timeout,
        retry=FAST, order_lookup_delay=0.01,
    )  # fmt: skip


def on_tick(server: EmulatorServer, price: float, rounding=math.floor) -> float:
    tick = server.state.sim.market(SYMBOL).price_increment
    return round(rounding(price / tick) * tick, 10)


def last(server: EmulatorServer) -> float:
    return server.state.sim.fetch_ticker(SYMBOL).last


def horizon(server: EmulatorServer, clock: ManualClock, minutes: int) -> tuple[float, float]:
    """(lowest low, highest high) of the 1m candles in the next `minutes` from now."""
    start = to_epoch_ms(clock.now) // 60_000 * 60_000 + 60_000
    candles = server.state.sim.market_data.candles_1m(SYMBOL, start, start + minutes * 60_000)
    return float(candles["low"].min()), float(candles["high"].max())


def place_oco(exchange: CcxtExchange, server: EmulatorServer, *, n: int = 0) -> tuple[Order, Order]:
    price = last(server)
    return exchange.create_oco_sell(
        SYMBOL, 0.5,
        target_price=on_tick(server, price * 1.05, math.ceil),
        stop_price=on_tick(server, price * 0.95),
        stop_limit_price=on_tick(server, price * 0.94),
        list_client_order_id=client_order_id(SIGNAL, "bracket", n),
        target_client_order_id=client_order_id(SIGNAL, "take_profit", n),
        stop_client_order_id=client_order_id(SIGNAL, "stop", n),
    )  # fmt: skip


def sent(server: EmulatorServer, path: str, method: str = "POST") -> list[dict[str, str]]:
    return [r.params for r in server.state.requests if r.path == path and r.method == method]


def open_lists(server: EmulatorServer) -> dict[str, set[str]]:
    """listClientOrderId -> its open legs' client ids, from the sim itself."""
    lists: dict[str, set[str]] = {}
    for order in server.state.sim.fetch_open_orders(SYMBOL):
        if order.list_client_order_id is not None:
            lists.setdefault(order.list_client_order_id, set()).add(order.client_order_id)
    return lists


# --- placing and finding ---------------------------------------------------------------


def test_stop_loss_limit_rests_on_the_venue_as_binance_sends_it(emulator, api_key) -> None:
    exchange = connect(emulator, api_key)
    trigger, limit = (
        on_tick(emulator, last(emulator) * 0.97),
        on_tick(emulator, last(emulator) * 0.96),
    )
    stop = exchange.create_order(
        SYMBOL, "sell", "stop_loss_limit", 0.5, limit, client_order_id=STOP_ID, stop_price=trigger
    )
    assert (stop.type, stop.status, stop.price, stop.stop_price) == (
        "stop_loss_limit", "accepted", limit, trigger,
    )  # fmt: skip
    assert stop.signal_id == SIGNAL and stop.list_client_order_id is None
    (params,) = sent(emulator, ORDER)
    assert params["type"] == "STOP_LOSS_LIMIT" and params["timeInForce"] == "GTC"
    assert float(params["stopPrice"]) == trigger and float(params["price"]) == limit
    assert params["newClientOrderId"] == STOP_ID
    assert exchange.fetch_order(SYMBOL, client_order_id=STOP_ID) == stop
    assert exchange.fetch_open_orders(SYMBOL) == [stop]
    assert exchange.fetch_balance().used["BTC"] == pytest.approx(0.5)  # the amount is locked


def test_oco_legs_are_ordinary_orders_known_by_client_id(emulator, api_key) -> None:
    exchange = connect(emulator, api_key)
    target, stop = place_oco(exchange, emulator)
    assert (target.type, stop.type) == ("limit_maker", "stop_loss_limit")
    assert (target.client_order_id, stop.client_order_id) == (TARGET_ID, STOP_ID)
    assert target.list_client_order_id == stop.list_client_order_id == LIST_ID
    assert (
        target.status == stop.status == "accepted"
        and target.price > last(emulator) > stop.stop_price
    )
    (params,) = sent(emulator, OCO)
    assert (params["side"], params["aboveType"], params["belowType"]) == (
        "SELL", "LIMIT_MAKER", "STOP_LOSS_LIMIT",
    )  # fmt: skip
    assert (params["listClientOrderId"], params["aboveClientOrderId"], params["belowClientOrderId"]) == (
        LIST_ID, TARGET_ID, STOP_ID,
    )  # fmt: skip
    fresh = connect(emulator, api_key)  # knows no list ids: resolves them from the venue
    assert fresh.fetch_order(SYMBOL, client_order_id=TARGET_ID) == target
    assert fresh.fetch_order(SYMBOL, client_order_id=STOP_ID) == stop
    assert connect(emulator, api_key).fetch_open_orders(SYMBOL) == sorted(
        [target, stop], key=lambda o: int(o.exchange_order_id)
    )
    assert exchange.fetch_balance().used["BTC"] == pytest.approx(0.5)  # locked once, not twice
    (listed,) = exchange._client.privateGetOpenOrderList()
    assert listed["listClientOrderId"] == LIST_ID and listed["contingencyType"] == "OCO"
    assert {o["clientOrderId"] for o in listed["orders"]} == {TARGET_ID, STOP_ID}


def test_canceling_one_leg_cancels_the_list(emulator, api_key) -> None:
    exchange = connect(emulator, api_key)
    place_oco(exchange, emulator)
    canceled = exchange.cancel_order(SYMBOL, client_order_id=TARGET_ID)
    assert canceled.status == "canceled" and canceled.list_client_order_id == LIST_ID
    assert exchange.fetch_order(SYMBOL, client_order_id=STOP_ID).status == "canceled"
    assert exchange.fetch_open_orders(SYMBOL) == []
    assert exchange._client.privateGetOpenOrderList() == []
    assert exchange.fetch_balance().used.get("BTC", 0.0) == 0.0


def test_delete_order_list_cancels_both_legs_like_binance(emulator, api_key) -> None:
    exchange = connect(emulator, api_key)
    place_oco(exchange, emulator)
    client = exchange._client
    reply = client.privateDeleteOrderList({"symbol": "BTCUSDT", "listClientOrderId": LIST_ID})
    assert (reply["listStatusType"], reply["listOrderStatus"]) == ("ALL_DONE", "ALL_DONE")
    assert {r["status"] for r in reply["orderReports"]} == {"CANCELED"}
    assert {r["type"] for r in reply["orderReports"]} == {"LIMIT_MAKER", "STOP_LOSS_LIMIT"}
    with pytest.raises(ccxt.OrderNotFound):  # -2011: the list is no longer working
        client.privateDeleteOrderList({"symbol": "BTCUSDT", "orderListId": reply["orderListId"]})
    queried = client.privateGetOrderList({"origClientOrderId": LIST_ID})
    assert queried["orderListId"] == reply["orderListId"] and "orderReports" not in queried


def test_a_limit_maker_rests_and_one_that_would_take_is_refused(emulator, api_key) -> None:
    exchange = connect(emulator, api_key)
    above = on_tick(emulator, last(emulator) * 1.02, math.ceil)
    maker = exchange.create_order(SYMBOL, "sell", "limit_maker", 0.5, above, client_order_id="mk")
    assert (maker.type, maker.status, maker.price) == ("limit_maker", "accepted", above)
    assert sent(emulator, ORDER)[0]["type"] == "LIMIT_MAKER"
    below = on_tick(emulator, last(emulator) * 0.98)
    with pytest.raises(InvalidOrder, match="immediately match and take"):
        exchange.create_order(SYMBOL, "sell", "limit_maker", 0.5, below, client_order_id="tk")
    assert emulator.state.accepted == {"mk": 1}


def test_lookups_that_fail_are_retried_before_an_oco_is_resent(emulator, api_key) -> None:
    exchange = connect(emulator, api_key)
    emulator.faults.add("lost_reply", OCO, method="POST", delay=2.0)
    emulator.faults.add("server_error", ORDER, method="GET", times=3)
    target, stop = place_oco(exchange, emulator)
    assert emulator.faults.pending() == 0
    assert len(sent(emulator, OCO)) == 1 and emulator.state.lists.accepted == {LIST_ID: 1}
    assert open_lists(emulator) == {LIST_ID: {TARGET_ID, STOP_ID}}
    assert (target.status, stop.status) == ("accepted", "accepted")


# --- triggering on the sim's market ----------------------------------------------------


def test_a_stop_triggers_and_fills_when_the_market_crosses_it(emulator, api_key, clock) -> None:
    exchange = connect(emulator, api_key)
    low, _ = horizon(emulator, clock, 240)
    price = last(emulator)
    assert low < price  # seed 5: the market dips within four hours
    trigger = on_tick(emulator, (low + price) / 2)
    limit = on_tick(emulator, trigger * 0.98)
    exchange.create_order(
        SYMBOL, "sell", "stop_loss_limit", 0.5, limit, client_order_id=STOP_ID, stop_price=trigger
    )
    assert exchange.fetch_order(SYMBOL, client_order_id=STOP_ID).status == "accepted"
    clock.advance(240)
    filled = exchange.fetch_order(SYMBOL, client_order_id=STOP_ID)
    assert filled.status == "filled" and filled.filled == pytest.approx(0.5)
    assert filled.average is not None and filled.average <= trigger  # touch or gap, never above
    venue = emulator.state.sim.fetch_order(SYMBOL, client_order_id=STOP_ID)
    assert (filled.exchange_order_id, filled.average, filled.updated_at) == (
        venue.exchange_order_id, venue.average, venue.updated_at,
    )  # fmt: skip
    assert exchange.fetch_open_orders(SYMBOL) == []


@pytest.mark.parametrize("winner", ["stop", "target"])
def test_when_one_oco_leg_fills_the_venue_cancels_the_other(
    emulator, api_key, clock, winner
) -> None:
    exchange = connect(emulator, api_key)
    low, high = horizon(emulator, clock, 240)
    price = last(emulator)
    assert low < price < high
    if winner == "stop":  # the stop inside the coming range, the target out of reach
        stop_price, target_price = (low + price) / 2, high * 1.5
    else:
        stop_price, target_price = low * 0.5, (price + high) / 2
    exchange.create_oco_sell(
        SYMBOL, 0.5,
        target_price=on_tick(emulator, target_price, math.ceil),
        stop_price=on_tick(emulator, stop_price),
        stop_limit_price=on_tick(emulator, stop_price * 0.98),
        list_client_order_id=LIST_ID, target_client_order_id=TARGET_ID,
        stop_client_order_id=STOP_ID,
    )  # fmt: skip
    clock.advance(240)
    target = exchange.fetch_order(SYMBOL, client_order_id=TARGET_ID)
    stop = exchange.fetch_order(SYMBOL, client_order_id=STOP_ID)
    filled, other = (stop, target) if winner == "stop" else (target, stop)
    assert (filled.status, other.status) == ("filled", "canceled")
    assert other.filled == 0.0 and filled.filled == pytest.approx(0.5)
    assert exchange._client.privateGetOpenOrderList() == []
    assert exchange.fetch_balance().total("BTC") == pytest.approx(1.5)


# --- refusals --------------------------------------------------------------------------


def test_a_stop_the_market_already_reached_is_refused(emulator, api_key) -> None:
    exchange = connect(emulator, api_key)
    above = on_tick(emulator, last(emulator) * 1.01, math.ceil)
    with pytest.raises(InvalidOrder, match="Order would immediately trigger"):
        exchange.create_order(
            SYMBOL, "sell", "stop_loss_limit", 0.5, above, client_order_id=STOP_ID, stop_price=above
        )
    with pytest.raises(InvalidOrder, match="relationship of the prices"):
        exchange.create_oco_sell(
            SYMBOL, 0.5, target_price=above, stop_price=above, stop_limit_price=above,
            list_client_order_id=LIST_ID, target_client_order_id=TARGET_ID,
            stop_client_order_id=STOP_ID,
        )  # fmt: skip
    assert emulator.state.accepted == {} and emulator.state.lists.accepted == {}
    assert emulator.state.sim.fetch_open_orders() == []


def test_filter_failures_and_duplicates_surface_at_once(emulator, api_key) -> None:
    exchange = connect(emulator, api_key)
    below = on_tick(emulator, last(emulator) * 0.9)
    with pytest.raises(InvalidOrder, match=r"Filter failure"):
        exchange.create_order(
            SYMBOL, "sell", "stop_loss_limit", 0.00001, below, client_order_id="tiny",
            stop_price=below,
        )  # fmt: skip
    place_oco(exchange, emulator)
    with pytest.raises(DuplicateClientOrderId):
        place_oco(exchange, emulator)
    assert emulator.state.lists.accepted == {LIST_ID: 1}
    assert len(sent(emulator, OCO)) == 2 and sent(emulator, ORDER, "GET") == []  # no retries
    with pytest.raises(InvalidOrder, match="needs stop_price"):
        exchange.create_order(SYMBOL, "sell", "stop_loss_limit", 0.5, below, client_order_id="x")
    with pytest.raises(InvalidOrder, match="takes no stop_price"):
        exchange.create_order(
            SYMBOL, "sell", "limit", 0.5, below, client_order_id="y", stop_price=below
        )


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"type": "STOP_LOSS_LIMIT", "price": "1000", "timeInForce": "GTC"}, "-1102"),  # stopPrice
        ({"type": "STOP_LOSS_LIMIT", "price": "1000", "stopPrice": "1001"}, "-1102"),  # timeInForce
        ({"type": "STOP_LOSS_LIMIT", "price": "1000", "stopPrice": "1e3", "timeInForce": "GTC"},
         "-1100"),
        ({"type": "LIMIT", "price": "1000", "stopPrice": "1001", "timeInForce": "GTC"}, "-1106"),
        ({"type": "STOP_LOSS", "stopPrice": "1000"}, "-1100"),  # a type the emulator doesn't serve
    ],
)  # fmt: skip
def test_malformed_stop_parameters_get_binance_codes(emulator, api_key, params, code) -> None:
    client = connect(emulator, api_key)._client
    request = {"symbol": "BTCUSDT", "side": "SELL", "quantity": "0.5", "newClientOrderId": "m"}
    with pytest.raises(ccxt.BaseError, match=code):
        client.privatePostOrder(request | params)
    assert emulator.state.accepted == {}


def test_malformed_oco_parameters_get_binance_codes(emulator, api_key) -> None:
    client = connect(emulator, api_key)._client
    request = {
        "symbol": "BTCUSDT", "side": "SELL", "quantity": "0.5", "aboveType": "LIMIT_MAKER",
        "abovePrice": "99999", "belowType": "STOP_LOSS_LIMIT", "belowStopPrice": "10",
        "belowPrice": "9", "belowTimeInForce": "GTC",
    }  # fmt: skip
    for missing in ("quantity", "abovePrice", "belowStopPrice", "belowTimeInForce"):
        with pytest.raises(ccxt.BaseError, match="-1102"):
            client.privatePostOrderListOco({k: v for k, v in request.items() if k != missing})
    with pytest.raises(ccxt.BaseError, match="-1100"):
        client.privatePostOrderListOco(request | {"belowStopPrice": "ten"})
    with pytest.raises(ccxt.BaseError, match="-1130"):  # Binance has BUY OCOs; awan never sends one
        client.privatePostOrderListOco(request | {"side": "BUY"})
    assert emulator.state.lists.accepted == {}


# --- the fault matrix ------------------------------------------------------------------

FAULTS = ["rate_limit", "server_error", "internal_error", "slow", "lost_reply", "dropped_reply"]
TOOK_EFFECT = {"lost_reply", "dropped_reply"}  # accepted, then the reply never arrived


@pytest.mark.parametrize("kind", FAULTS)
def test_a_faulted_stop_placement_leaves_exactly_one_stop(emulator, api_key, kind) -> None:
    exchange = connect(emulator, api_key)
    emulator.faults.add(kind, ORDER, method="POST", delay=2.0, retry_after=0.1)
    trigger = on_tick(emulator, last(emulator) * 0.97)
    stop = exchange.create_order(
        SYMBOL, "sell", "stop_loss_limit", 0.5, trigger, client_order_id=STOP_ID, stop_price=trigger
    )
    assert emulator.faults.pending() == 0
    assert emulator.state.accepted == {STOP_ID: 1} and emulator.state.duplicate_submissions == 0
    assert len(sent(emulator, ORDER)) == (1 if kind in TOOK_EFFECT else 2)  # same id if resent
    assert {p["newClientOrderId"] for p in sent(emulator, ORDER)} == {STOP_ID}
    assert [o.client_order_id for o in emulator.state.sim.fetch_open_orders()] == [STOP_ID]
    assert stop == exchange.fetch_order(SYMBOL, client_order_id=STOP_ID)


@pytest.mark.parametrize("kind", FAULTS)
def test_a_faulted_oco_placement_leaves_exactly_one_list(emulator, api_key, kind) -> None:
    exchange = connect(emulator, api_key)
    emulator.faults.add(kind, OCO, method="POST", delay=2.0, retry_after=0.1)
    target, stop = place_oco(exchange, emulator)
    assert emulator.faults.pending() == 0
    assert emulator.state.lists.accepted == {LIST_ID: 1}
    assert emulator.state.lists.duplicate_submissions == 0
    assert len(sent(emulator, OCO)) == (1 if kind in TOOK_EFFECT else 2)
    assert {p["listClientOrderId"] for p in sent(emulator, OCO)} == {LIST_ID}
    assert open_lists(emulator) == {LIST_ID: {TARGET_ID, STOP_ID}}
    assert (target.client_order_id, stop.client_order_id) == (TARGET_ID, STOP_ID)
    assert target.list_client_order_id == stop.list_client_order_id == LIST_ID
    assert exchange.fetch_open_orders(SYMBOL) == sorted(
        [target, stop], key=lambda o: int(o.exchange_order_id)
    )


@pytest.mark.parametrize("kind", FAULTS)
def test_a_faulted_cancel_of_a_leg_cancels_the_one_list(emulator, api_key, kind) -> None:
    exchange = connect(emulator, api_key)
    place_oco(exchange, emulator)
    emulator.faults.add(kind, ORDER, method="DELETE", delay=2.0, retry_after=0.1)
    canceled = exchange.cancel_order(SYMBOL, client_order_id=STOP_ID)
    assert emulator.faults.pending() == 0
    assert canceled.status == "canceled" and canceled.client_order_id == STOP_ID
    assert canceled.list_client_order_id == LIST_ID
    assert exchange.fetch_order(SYMBOL, client_order_id=TARGET_ID).status == "canceled"
    assert open_lists(emulator) == {} and emulator.state.lists.accepted == {LIST_ID: 1}
    assert exchange.fetch_open_orders(SYMBOL) == []
