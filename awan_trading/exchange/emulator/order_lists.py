"""Binance spot's order-list (OCO) endpoints over the sim's `create_oco_sell`.

A protective exit rests on the venue as one OCO sell: a `LIMIT_MAKER` leg above the market
(the target) and a `STOP_LOSS_LIMIT` leg below it (the stop). Binance gives the list its own
numeric `orderListId` and client id (`listClientOrderId`), and each leg stays an ordinary order
that `GET/DELETE /api/v3/order` and `/openOrders` know (with `orderListId` set). The sim knows
legs by client order id and each leg's `list_client_order_id`; the numeric list ids are
Binance's, so they live here, in `OrderLists`.

Served, as ccxt's implicit methods send them:
- `POST /api/v3/orderList/oco` (`privatePostOrderListOco`): SELL with aboveType=LIMIT_MAKER and
  belowType=STOP_LOSS_LIMIT — the one list awan places; other combinations Binance accepts
  are refused as -1130 naming the parameter, so a test never mistakes them for supported;
- `GET /api/v3/orderList` by `orderListId` or `origClientOrderId`;
- `DELETE /api/v3/orderList` by `symbol` plus `orderListId` or `listClientOrderId`;
- `GET /api/v3/openOrderList`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from awan_trading.domain.orders import Order
from awan_trading.exchange.emulator.params import (
    CLIENT_ORDER_ID_PATTERN,
    BinanceError,
    choice_param,
    decimal_param,
    int_param,
    invalid,
    text_param,
)
from awan_trading.exchange.emulator.refusals import PRICE_RELATIONSHIP, as_binance, rejected
from awan_trading.exchange.errors import OrderNotFound
from awan_trading.market.timeframes import to_epoch_ms

if TYPE_CHECKING:
    from awan_trading.exchange.emulator.app import EmulatorState, ReplyTo

# Binance's enums for the OCO legs; the emulator serves the first of each pair.
ABOVE_TYPES = ("LIMIT_MAKER", "STOP_LOSS_LIMIT", "STOP_LOSS", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT")
BELOW_TYPES = ("STOP_LOSS_LIMIT", "STOP_LOSS", "LIMIT_MAKER", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT")
TIME_IN_FORCE = ("GTC", "IOC", "FOK")
MAX_LIST_ID = 2**63 - 1
UNKNOWN_LIST = "Order list does not exist."
UNKNOWN_ORDER = "Unknown order sent."


@dataclass
class OrderLists:
    """Binance's numeric ids of the sim's order lists, and which legs each one has."""

    ids: dict[str, int] = field(default_factory=dict)  # listClientOrderId -> orderListId
    legs: dict[str, list[str]] = field(default_factory=dict)  # -> legs' client order ids
    symbols: dict[str, str] = field(default_factory=dict)  # -> symbol
    accepted: dict[str, int] = field(default_factory=dict)  # -> lists made through the API
    duplicate_submissions: int = 0  # POSTs reusing the id of a list already accepted
    _next: itertools.count = field(default_factory=lambda: itertools.count(1))

    def register(self, list_client_order_id: str, symbol: str, leg: str) -> int:
        """The list's numeric id (assigned on first sight), with `leg` recorded as one of its."""
        if list_client_order_id not in self.ids:
            self.ids[list_client_order_id] = next(self._next)
            self.legs[list_client_order_id] = []
            self.symbols[list_client_order_id] = symbol
        if leg not in self.legs[list_client_order_id]:
            self.legs[list_client_order_id].append(leg)
        return self.ids[list_client_order_id]

    def id_of(self, order: Order) -> int:
        """`orderListId` of an order: -1 when it is not a leg of a list, as on Binance."""
        if order.list_client_order_id is None:
            return -1
        return self.register(order.list_client_order_id, order.symbol, order.client_order_id)

    def client_id(self, order_list_id: int) -> str | None:
        return next((cid for cid, n in self.ids.items() if n == order_list_id), None)


def _legs(state: EmulatorState, list_client_order_id: str) -> list[Order]:
    """The list's legs as the sim has them now, in the order the sim placed them."""
    symbol = state.lists.symbols[list_client_order_id]
    legs = [
        state.sim.fetch_order(symbol, client_order_id=cid)
        for cid in state.lists.legs[list_client_order_id]
    ]
    return sorted(legs, key=lambda o: int(o.exchange_order_id or 0))


def list_json(
    state: EmulatorState,
    list_client_order_id: str,
    legs: list[Order],
    *,
    reports: ReplyTo | None = None,
) -> dict[str, Any]:
    """Binance's order-list shape; `orderReports` (the legs as orders) only where Binance
    sends them: in the replies to placing (`reports="placed"`) and canceling a list."""
    working = any(leg.is_resting for leg in legs)
    reply: dict[str, Any] = {
        "orderListId": state.lists.ids[list_client_order_id],
        "contingencyType": "OCO",
        "listStatusType": "EXEC_STARTED" if working else "ALL_DONE",
        "listOrderStatus": "EXECUTING" if working else "ALL_DONE",
        "listClientOrderId": list_client_order_id,
        "transactionTime": max(to_epoch_ms(leg.updated_at) for leg in legs),
        "symbol": state.lists.symbols[list_client_order_id].replace("/", ""),
        "orders": [
            {
                "symbol": leg.symbol.replace("/", ""),
                "orderId": int(leg.exchange_order_id or 0),
                "clientOrderId": leg.client_order_id,
            }
            for leg in legs
        ],
    }
    if reports is not None:
        reply["orderReports"] = [state.order_json(leg, reply_to=reports) for leg in legs]
    return reply


def _leg_id(state: EmulatorState, params: dict[str, str], name: str) -> str:
    """A leg's or list's client id as sent, or one made up, as Binance makes one up."""
    sent = text_param(params, name, CLIENT_ORDER_ID_PATTERN)
    return sent if sent is not None else f"emulator-{name}-{state.received}"


def create_oco(state: EmulatorState, params: dict[str, str]) -> dict[str, Any]:
    """`POST /api/v3/orderList/oco`: a SELL OCO, LIMIT_MAKER above and STOP_LOSS_LIMIT below."""
    symbol = state.symbol(params)
    side = choice_param(params, "side", ("BUY", "SELL"), required=True)
    quantity = decimal_param(params, "quantity", required=True, invalid_msg="Invalid quantity.")
    above_type = choice_param(params, "aboveType", ABOVE_TYPES, required=True)
    below_type = choice_param(params, "belowType", BELOW_TYPES, required=True)
    above_price = decimal_param(params, "abovePrice", required=True, invalid_msg="Invalid price.")
    below_stop = decimal_param(params, "belowStopPrice", required=True)
    below_price = decimal_param(params, "belowPrice", required=True, invalid_msg="Invalid price.")
    choice_param(params, "belowTimeInForce", TIME_IN_FORCE, required=True)
    if side != "SELL":
        raise invalid("side")
    if above_type != "LIMIT_MAKER":
        raise invalid("aboveType")
    if below_type != "STOP_LOSS_LIMIT":
        raise invalid("belowType")
    assert quantity and above_price and below_stop and below_price  # required above
    list_cid = _leg_id(state, params, "listClientOrderId")
    target_cid = _leg_id(state, params, "aboveClientOrderId")
    stop_cid = _leg_id(state, params, "belowClientOrderId")
    if list_cid in state.lists.accepted:
        state.lists.duplicate_submissions += 1
    # Binance's rule for a SELL OCO: limit (above) price > last price > stop price.
    last = state.sim.fetch_ticker(symbol).last
    if not float(above_price) > last > float(below_stop):
        raise rejected(PRICE_RELATIONSHIP)
    with as_binance():
        target, stop = state.sim.create_oco_sell(
            symbol,
            float(quantity),
            target_price=float(above_price),
            stop_price=float(below_stop),
            stop_limit_price=float(below_price),
            list_client_order_id=list_cid,
            target_client_order_id=target_cid,
            stop_client_order_id=stop_cid,
        )
    state.lists.accepted[list_cid] = state.lists.accepted.get(list_cid, 0) + 1
    for leg in sorted((target, stop), key=lambda o: int(o.exchange_order_id or 0)):
        state.lists.register(list_cid, symbol, leg.client_order_id)
    return list_json(state, list_cid, _legs(state, list_cid), reports="placed")


def _find_list(state: EmulatorState, params: dict[str, str], client_id_param: str) -> str:
    """The listClientOrderId a query or cancel names; -2013 when no such list exists."""
    number = int_param(params, "orderListId", high=MAX_LIST_ID)
    cid = params.get(client_id_param) or None
    if number is None and cid is None:
        raise BinanceError(
            400, -1102, f"Param '{client_id_param}' or 'orderListId' must be sent, but both "
            "were empty/null!"
        )  # fmt: skip
    if number is not None:
        found = state.lists.client_id(number)
        if found is None or (cid is not None and cid != found):
            raise BinanceError(400, -2013, UNKNOWN_LIST)
        return found
    if cid not in state.lists.ids:
        raise BinanceError(400, -2013, UNKNOWN_LIST)
    return cid


def query_list(state: EmulatorState, params: dict[str, str]) -> dict[str, Any]:
    """`GET /api/v3/orderList`: the list by `orderListId` or `origClientOrderId`."""
    list_cid = _find_list(state, params, "origClientOrderId")
    return list_json(state, list_cid, _legs(state, list_cid))


def cancel_list(state: EmulatorState, params: dict[str, str]) -> dict[str, Any]:
    """`DELETE /api/v3/orderList`: cancel both legs; a list no longer working is -2011."""
    symbol = state.symbol(params)
    try:
        list_cid = _find_list(state, params, "listClientOrderId")
    except BinanceError:
        raise BinanceError(400, -2011, UNKNOWN_ORDER) from None
    if state.lists.symbols[list_cid] != symbol:
        raise BinanceError(400, -2011, UNKNOWN_ORDER)
    resting = [leg for leg in _legs(state, list_cid) if leg.is_resting]
    if not resting:
        raise BinanceError(400, -2011, UNKNOWN_ORDER)
    try:  # the sim cancels the other leg with it, as Binance does
        state.sim.cancel_order(symbol, client_order_id=resting[0].client_order_id)
    except OrderNotFound:
        raise BinanceError(400, -2011, UNKNOWN_ORDER) from None
    return list_json(state, list_cid, _legs(state, list_cid), reports="canceled")


def open_lists(state: EmulatorState) -> list[dict[str, Any]]:
    """`GET /api/v3/openOrderList`: every list with a working leg (Binance takes no symbol)."""
    seen: list[str] = []
    for order in state.sim.fetch_open_orders():
        if order.list_client_order_id is not None and order.list_client_order_id not in seen:
            state.lists.id_of(order)
            seen.append(order.list_client_order_id)
    return [list_json(state, cid, _legs(state, cid)) for cid in seen]
