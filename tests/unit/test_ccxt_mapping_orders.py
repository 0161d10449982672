"""ccxt order dicts → domain orders: the one place venue statuses become domain statuses."""

from __future__ import annotations

import pytest

from awan_trading.domain.ids import client_order_id
from awan_trading.domain.orders import Order
from awan_trading.exchange.ccxt_mapping import (
    check_legs,
    list_entries,
    order_list_id,
    to_order,
    to_status,
)
from awan_trading.exchange.errors import BadExchangeData

SID = "ab" * 16


@pytest.mark.parametrize(
    ("ccxt_status", "filled", "expected"),
    [
        ("open", 0.0, "accepted"),
        ("open", 0.3, "partially_filled"),
        ("closed", 1.0, "filled"),
        ("canceled", 0.0, "canceled"),
        ("canceled", 0.4, "canceled"),  # keeps its partial fill, in `filled`
        ("rejected", 0.0, "rejected"),
        ("expired", 0.0, "expired"),
    ],
)
def test_venue_statuses_map_onto_domain_statuses(ccxt_status, filled, expected) -> None:
    assert to_status(ccxt_status, filled, 1.0, "t") == expected


def test_an_unknown_status_is_bad_data() -> None:
    with pytest.raises(BadExchangeData, match="'pending'"):
        to_status("pending", 0.0, 1.0, "binance: fetch_order")


def test_an_order_reply_becomes_a_domain_order() -> None:
    cid = client_order_id(SID, "entry")
    raw = {
        "id": "42", "clientOrderId": cid, "symbol": "BTC/USDT", "side": "buy", "type": "limit",
        "amount": 1.0, "price": 100.0, "status": "open", "filled": 0.3, "average": 99.0,
        "timestamp": 1_700_000_000_000, "fee": {"cost": 0.03, "currency": "USDT"},
        "trades": [{"id": "t1", "amount": 0.3, "price": 99.0, "timestamp": 1_700_000_000_100,
                    "fee": {"cost": 0.03, "currency": "USDT"}, "takerOrMaker": "maker"}],
    }  # fmt: skip
    order = to_order(raw, "BTC/USDT", "binance: fetch_order", "live:binance")
    assert (order.status, order.exchange_order_id, order.exchange) == (
        "partially_filled", "42", "live:binance",
    )  # fmt: skip
    assert order.signal_id == SID  # derived from our client order id
    (fill,) = order.trades
    assert (fill.exchange_order_id, fill.client_order_id, fill.taker) == ("42", cid, False)


def _binance(venue_type: str, **extra) -> dict:
    """A ccxt order dict as ccxt's binance parses a spot reply (venue type folded to 'limit')."""
    return {
        "id": "7", "clientOrderId": "x", "symbol": "BTC/USDT", "side": "sell", "type": "limit",
        "amount": 1.0, "price": 90.0, "status": "open", "filled": 0.0, "timestamp": 1_700_000_000_000,
        "info": {"type": venue_type, "orderListId": extra.pop("list_id", -1)}, **extra,
    }  # fmt: skip


def test_binance_stop_and_limit_maker_keep_their_venue_type() -> None:
    stop = to_order(_binance("STOP_LOSS_LIMIT", triggerPrice=91.0), "BTC/USDT", "t", "binance")
    assert (stop.type, stop.price, stop.stop_price) == ("stop_loss_limit", 90.0, 91.0)
    maker = to_order(_binance("LIMIT_MAKER"), "BTC/USDT", "t", "binance", list_client_order_id="b")
    assert (maker.type, maker.stop_price, maker.list_client_order_id) == ("limit_maker", None, "b")
    # an order type awan never places (placed by hand) keeps ccxt's unified type
    assert to_order(_binance("TAKE_PROFIT_LIMIT"), "BTC/USDT", "t", "binance").type == "limit"


def test_a_stop_without_its_trigger_is_bad_data() -> None:
    with pytest.raises(BadExchangeData, match="stop price"):
        to_order(_binance("STOP_LOSS_LIMIT"), "BTC/USDT", "binance: fetch_order", "binance")


def test_order_list_ids_come_from_the_venue_reply() -> None:
    assert order_list_id(_binance("LIMIT")) is None  # -1: not a leg
    assert order_list_id(_binance("LIMIT_MAKER", list_id=12)) == 12
    assert list_entries([{"orderListId": 12, "listClientOrderId": "b0-x", "symbol": "BTCUSDT"}],
                        "t") == [("BTCUSDT", 12, "b0-x")]  # fmt: skip
    with pytest.raises(BadExchangeData, match="listClientOrderId"):
        list_entries({"orderListId": 12, "symbol": "BTCUSDT"}, "t")


def test_oco_legs_must_be_the_ones_asked_for() -> None:
    def leg(cid: str, venue_type: str, list_cid: str = "b") -> Order:
        raw = _binance(venue_type, triggerPrice=91.0) | {"clientOrderId": cid}
        return to_order(raw, "BTC/USDT", "t", "binance", list_client_order_id=list_cid)

    ids = {"list_client_order_id": "b", "target_client_order_id": "t", "stop_client_order_id": "s"}
    target, stop = check_legs(
        [leg("s", "STOP_LOSS_LIMIT"), leg("t", "LIMIT_MAKER")], **ids, where="w"
    )
    assert (target.client_order_id, stop.client_order_id) == ("t", "s")
    with pytest.raises(BadExchangeData, match="expected a limit_maker"):
        check_legs([leg("s", "STOP_LOSS_LIMIT"), leg("t", "LIMIT")], **ids, where="w")
    with pytest.raises(BadExchangeData, match="of list 'other'"):
        check_legs(
            [leg("s", "STOP_LOSS_LIMIT", "other"), leg("t", "LIMIT_MAKER")], **ids, where="w"
        )
    with pytest.raises(BadExchangeData, match="are not"):
        check_legs([leg("s", "STOP_LOSS_LIMIT")], **ids, where="w")


def test_a_placed_stop_takes_its_creation_time_from_the_transaction() -> None:
    # Binance's placement reply for a stop has workingTime -1 (untriggered) and no `time`;
    # ccxt turns that into timestamp -1.
    raw = _binance("STOP_LOSS_LIMIT", triggerPrice=91.0) | {
        "timestamp": -1, "lastUpdateTimestamp": 1_700_000_000_500,
    }  # fmt: skip
    order = to_order(raw, "BTC/USDT", "t", "binance")
    assert order.created_at == order.updated_at
    assert order.created_at.timestamp() == 1_700_000_000.5
