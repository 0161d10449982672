"""ccxt order dicts → domain orders: the one place venue statuses become domain statuses."""

from __future__ import annotations

import pytest

from awan_trading.domain.ids import client_order_id
from awan_trading.exchange.ccxt_mapping import to_order, to_status
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
