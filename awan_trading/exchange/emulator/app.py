"""The aiohttp app: the part of Binance spot's REST API that ccxt's `binance` uses.

Backed by a `SimExchange`, so candles are the sim's candles (a test can compare a month fetched
through ccxt with `SimMarket.candles` exactly) and orders fill by the sim's rules. Replies use
Binance's shapes: decimals as strings, errors as `{"code", "msg"}` with the
codes ccxt maps to the right exception; every parameter is read through `params`, so a value
that does not parse is a 400 with Binance's code, never a 500. Like Binance, klines include the
still-forming candle — the connector must drop it. The last `REQUEST_LOG_SIZE` requests are
logged with the fault they got (values cut at `MAX_LOGGED_VALUE` characters), so tests can count
what reached the "exchange" while a long session's memory stays bounded. Orders are LIMIT,
MARKET, STOP_LOSS_LIMIT and LIMIT_MAKER (`POST /api/v3/order`); OCO order lists are served by `order_lists`,
and sim refusals become Binance's codes in `refusals`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from aiohttp import web

from awan_trading.domain.orders import Order
from awan_trading.exchange.emulator import order_lists
from awan_trading.exchange.emulator.faults import Fault, FaultScript, fault_response
from awan_trading.exchange.emulator.order_lists import OrderLists
from awan_trading.exchange.emulator.params import (
    CLIENT_ORDER_ID_PATTERN,
    BinanceError,
    choice_param,
    decimal_param,
    epoch_ms_param,
    int_param,
    mandatory,
    read_params,
    text_param,
)
from awan_trading.exchange.emulator.refusals import WOULD_TRIGGER, as_binance, rejected
from awan_trading.exchange.errors import OrderNotFound
from awan_trading.exchange.sim import SimExchange
from awan_trading.market.timeframes import TimeframeError, parse_timeframe, to_epoch_ms

API = "/api/v3"
MAX_KLINES = 1000
STATUS = {"accepted": "NEW", "partially_filled": "PARTIALLY_FILLED", "filled": "FILLED"}
STATUS |= {"canceled": "CANCELED", "rejected": "REJECTED", "expired": "EXPIRED"}
ReplyTo = Literal["query", "placed", "canceled"]
MAX_ORDER_ID = 2**63 - 1  # Binance ids are Java longs
# POST /api/v3/order types served (LIMIT_MAKER is also an OCO leg, see `order_lists`).
ORDER_TYPES = ("LIMIT", "MARKET", "STOP_LOSS_LIMIT", "LIMIT_MAKER")
TIME_IN_FORCE = ("GTC", "IOC", "FOK")
SIGNED = frozenset(
    f"{API}/{name}"
    for name in ("account", "order", "openOrders", "orderList", "orderList/oco", "openOrderList")
)
# The request log keeps the last REQUEST_LOG_SIZE requests, and of each at most
# MAX_LOGGED_PARAMS parameters cut to MAX_LOGGED_VALUE characters: a test needs names, ids and
# prices, not a megabyte body, and a long session must not grow without bound.
REQUEST_LOG_SIZE = 1000
MAX_LOGGED_PARAMS = 64
MAX_LOGGED_VALUE = 256


@dataclass(frozen=True)
class Request:
    """One request as the emulator saw it."""

    method: str
    path: str
    params: dict[str, str]
    at: float  # time.monotonic() on arrival
    fault: str | None


def loggable(params: dict[str, str]) -> dict[str, str]:
    """What the request log keeps of a request's parameters (see MAX_LOGGED_*)."""
    kept = {}
    for name, value in itertools.islice(params.items(), MAX_LOGGED_PARAMS):
        if len(value) > MAX_LOGGED_VALUE:
            value = f"{value[:MAX_LOGGED_VALUE]}…(+{len(value) - MAX_LOGGED_VALUE} chars)"
        kept[name[:MAX_LOGGED_VALUE]] = value
    return kept


def _num(value: float | None) -> str:
    """A float as Binance writes decimals: plain digits, exact round trip, no exponent."""
    return "0" if value is None else format(Decimal(repr(float(value))), "f")


@dataclass
class EmulatorState:
    """The sim behind the API, the scripted faults and what was received."""

    sim: SimExchange
    symbols: tuple[str, ...]
    api_key: str | None = None
    faults: FaultScript = field(default_factory=FaultScript)
    requests: deque[Request] = field(default_factory=lambda: deque(maxlen=REQUEST_LOG_SIZE))
    received: int = 0  # every request ever, including those the bounded log has let go
    accepted: dict[str, int] = field(default_factory=dict)  # client order id -> orders made
    duplicate_submissions: int = 0  # POSTs reusing the id of an order already accepted
    lists: OrderLists = field(default_factory=OrderLists)  # OCO ids (`order_lists`)

    def __post_init__(self) -> None:
        self.by_id = {s.replace("/", ""): s for s in self.symbols}

    def count(self, path: str, method: str | None = None) -> int:
        """Requests to `path` among the last REQUEST_LOG_SIZE."""
        return sum(
            1 for r in self.requests if r.path == path and (method is None or r.method == method)
        )

    def symbol(self, params: dict[str, str]) -> str:
        market_id = params.get("symbol")
        if not market_id:
            raise mandatory("symbol")
        if market_id not in self.by_id:
            raise BinanceError(400, -1121, "Invalid symbol.")
        return self.by_id[market_id]

    # --- market data ---------------------------------------------------------------------

    def exchange_info(self) -> dict[str, Any]:
        symbols = []
        for symbol in self.symbols:
            market = self.sim.market(symbol)
            symbols.append(
                {
                    "symbol": symbol.replace("/", ""),
                    "status": "TRADING",
                    "baseAsset": market.base,
                    "quoteAsset": market.quote,
                    "orderTypes": list(ORDER_TYPES),
                    "ocoAllowed": True,
                    "isSpotTradingAllowed": True,
                    "permissions": ["SPOT"],
                    "filters": [
                        {
                            "filterType": "PRICE_FILTER",
                            "minPrice": _num(market.price_increment),
                            "maxPrice": "10000000",
                            "tickSize": _num(market.price_increment),
                        },
                        {
                            "filterType": "LOT_SIZE",
                            "minQty": _num(market.min_amount),
                            "maxQty": "90000000",
                            "stepSize": _num(market.amount_increment),
                        },
                        {"filterType": "NOTIONAL", "minNotional": _num(market.min_notional)},
                    ],
                }
            )
        now = to_epoch_ms(self.sim.now())
        return {"timezone": "UTC", "serverTime": now, "rateLimits": [], "exchangeFilters": [],
                "symbols": symbols}  # fmt: skip

    def klines(self, params: dict[str, str], fault: Fault | None) -> list[list[Any]]:
        symbol = self.symbol(params)
        try:
            tf = parse_timeframe(params.get("interval", ""))
        except TimeframeError:
            raise BinanceError(400, -1120, "Invalid interval.") from None
        limit = int_param(params, "limit", low=1, high=MAX_KLINES) or 500
        start_time = epoch_ms_param(params, "startTime")
        end_time = epoch_ms_param(params, "endTime")
        now = to_epoch_ms(self.sim.now())
        forming_end = tf.next_open_ms(now)  # Binance includes the forming candle
        start = tf.add_ms(forming_end, -limit) if start_time is None else start_time
        start = tf.ceil_ms(start)
        end = forming_end if end_time is None else end_time + 1
        end = min(tf.add_ms(start, limit), forming_end, end)
        if end <= start:
            return []
        rows = [
            [ts, _num(o), _num(h), _num(lo), _num(c), _num(v), tf.next_open_ms(ts) - 1,
             _num(c * v), 100, _num(v / 2), _num(c * v / 2), "0"]
            for ts, o, h, lo, c, v in self.sim.market_data.candle_rows(symbol, tf, start, end)
        ]  # fmt: skip
        if fault is not None and fault.kind == "negative_price" and rows:
            rows[len(rows) // 2][3] = "-" + rows[len(rows) // 2][3]
        if fault is not None and fault.kind == "out_of_order":
            rows.reverse()
        return rows

    def ticker(self, params: dict[str, str], fault: Fault | None) -> dict[str, Any]:
        symbol = self.symbol(params)
        t = self.sim.fetch_ticker(symbol)
        last = -t.last if fault is not None and fault.kind == "negative_price" else t.last
        ms = to_epoch_ms(t.ts)
        return {
            "symbol": symbol.replace("/", ""), "lastPrice": _num(last), "bidPrice": _num(t.bid),
            "askPrice": _num(t.ask), "bidQty": "1", "askQty": "1", "openPrice": _num(t.last),
            "highPrice": _num(t.last), "lowPrice": _num(t.last), "volume": "0",
            "quoteVolume": "0", "openTime": ms - 86_400_000, "closeTime": ms,
        }  # fmt: skip

    # --- account and orders --------------------------------------------------------------

    def check_key(self, headers: Any) -> None:
        key = headers.get("X-MBX-APIKEY")
        if not key or (self.api_key is not None and key != self.api_key):
            raise BinanceError(401, -2015, "Invalid API-key, IP, or permissions for action.")

    def account(self) -> dict[str, Any]:
        balance = self.sim.fetch_balance()
        rows = [{"asset": c, "free": _num(balance.free[c]), "locked": _num(balance.used[c])}
                for c in balance.free]  # fmt: skip
        return {"accountType": "SPOT", "canTrade": True, "balances": rows,
                "updateTime": to_epoch_ms(self.sim.now()), "permissions": ["SPOT"]}  # fmt: skip

    def order_json(
        self, order: Order, *, reply_to: ReplyTo = "query", fills: bool = False
    ) -> dict[str, Any]:
        """Binance's order shape for a query, a placement or a cancel, with the time fields
        Binance sends in each: `transactTime` only after a placement or cancel (ccxt takes an
        order's last update from it first, so a query carrying one would show a filled order
        untouched since creation); no `time`/`updateTime` after a placement, so an untriggered
        stop's `workingTime` of -1 reaches ccxt as it does from Binance."""
        created, updated = to_epoch_ms(order.created_at), to_epoch_ms(order.updated_at)
        # An untriggered stop is not working yet: Binance reports workingTime -1 until then.
        waiting = order.type == "stop_loss_limit" and order.status == "accepted"
        reply: dict[str, Any] = {
            "symbol": order.symbol.replace("/", ""), "orderId": int(order.exchange_order_id),
            "orderListId": self.lists.id_of(order), "clientOrderId": order.client_order_id,
            "workingTime": -1 if waiting else created, "price": _num(order.price or 0.0),
            "origQty": _num(order.amount), "executedQty": _num(order.filled),
            "cummulativeQuoteQty": _num((order.average or 0.0) * order.filled),
            "status": STATUS[order.status], "timeInForce": "GTC",
            "type": order.type.upper(), "side": order.side.upper(),
        }  # fmt: skip
        if reply_to != "placed":
            reply |= {"time": created, "updateTime": updated}
        if reply_to != "query":
            reply["transactTime"] = updated
        if order.stop_price is not None:
            reply["stopPrice"] = _num(order.stop_price)
        if fills:
            reply["fills"] = [
                {"price": _num(f.price), "qty": _num(f.amount), "commission": _num(f.fee),
                 "commissionAsset": f.fee_currency, "tradeId": int(f.trade_id)}
                for f in order.trades
            ]  # fmt: skip
        return reply

    def check_trigger(self, symbol: str, side: str, stop_price: float) -> None:
        """Binance refuses a stop its last price has already reached (-2010): a sell stop at
        or above the market, a buy stop at or below it."""
        last = self.sim.fetch_ticker(symbol).last
        if (stop_price >= last) if side == "SELL" else (stop_price <= last):
            raise rejected(WOULD_TRIGGER)

    def create(self, params: dict[str, str]) -> dict[str, Any]:
        symbol = self.symbol(params)
        side = choice_param(params, "side", ("BUY", "SELL"), required=True)
        kind = choice_param(params, "type", ORDER_TYPES, required=True)
        quantity = decimal_param(params, "quantity", required=True, invalid_msg="Invalid quantity.")
        price = decimal_param(
            params, "price", required=kind != "MARKET", invalid_msg="Invalid price."
        )
        stop = decimal_param(params, "stopPrice", required=kind == "STOP_LOSS_LIMIT")
        if kind == "STOP_LOSS_LIMIT":
            choice_param(params, "timeInForce", TIME_IN_FORCE, required=True)
        elif stop is not None:
            raise BinanceError(400, -1106, "Parameter 'stopPrice' sent when not required.")
        cid = text_param(params, "newClientOrderId", CLIENT_ORDER_ID_PATTERN, required=True)
        if cid in self.accepted:
            self.duplicate_submissions += 1
        assert side and kind and quantity and cid  # required above
        if stop is not None:
            self.check_trigger(symbol, side, float(stop))
        with as_binance():
            order = self.sim.create_order(
                symbol,
                side.lower(),  # type: ignore[arg-type]
                kind.lower(),  # type: ignore[arg-type]
                float(quantity),
                float(price) if price is not None else None,
                client_order_id=cid,
                stop_price=float(stop) if stop is not None else None,
            )
        self.accepted[cid] = self.accepted.get(cid, 0) + 1
        return self.order_json(order, reply_to="placed", fills=True)

    def find(self, params: dict[str, str], *, cancel: bool) -> dict[str, Any]:
        symbol = self.symbol(params)
        number = int_param(params, "orderId", high=MAX_ORDER_ID)
        order_id = None if number is None else str(number)
        cid = params.get("origClientOrderId") or None
        if order_id is None and cid is None:
            raise BinanceError(400, -1102, "Param 'origClientOrderId' or 'orderId' must be sent.")
        try:
            if cancel:
                order = self.sim.cancel_order(symbol, order_id, client_order_id=cid)
            else:
                order = self.sim.fetch_order(symbol, order_id, client_order_id=cid)
        except OrderNotFound:
            if cancel:
                raise BinanceError(400, -2011, "Unknown order sent.") from None
            raise BinanceError(400, -2013, "Order does not exist.") from None
        return self.order_json(order, reply_to="canceled" if cancel else "query")

    def open_orders(self, params: dict[str, str]) -> list[dict[str, Any]]:
        symbol = self.symbol(params) if "symbol" in params else None
        return [self.order_json(o) for o in self.sim.fetch_open_orders(symbol)]


def build_app(state: EmulatorState) -> web.Application:
    """One catch-all route: apply the fault script, dispatch, render Binance JSON."""

    async def handle(request: web.Request) -> web.StreamResponse:
        path, method = request.path, request.method
        try:
            params, unreadable = await read_params(request), None
        except BinanceError as exc:
            params, unreadable = {}, exc
        fault = state.faults.take(method, path)
        state.received += 1
        state.requests.append(
            Request(method, path, loggable(params), time.monotonic(), fault.kind if fault else None)
        )
        if fault is not None:
            refused = fault_response(fault)
            if refused is not None:
                return refused
            if fault.kind == "slow":
                await asyncio.sleep(fault.delay)
        try:
            if unreadable is not None:
                raise unreadable
            payload = dispatch(state, method, path, params, request.headers, fault)
            status = 200
        except BinanceError as exc:
            payload, status = {"code": exc.code, "msg": exc.msg}, exc.status
        if fault is not None and fault.kind == "lost_reply":
            await asyncio.sleep(fault.delay)
        if fault is not None and fault.kind == "dropped_reply":
            assert request.transport is not None
            request.transport.close()
            raise asyncio.CancelledError
        if fault is not None and fault.kind == "malformed" and status == 200:
            text = json.dumps(payload)[: max(len(json.dumps(payload)) // 2, 1)]
            return web.Response(text=text, content_type="application/json")
        return web.json_response(payload, status=status)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


def dispatch(
    state: EmulatorState,
    method: str,
    path: str,
    params: dict[str, str],
    headers: Any,
    fault: Fault | None,
) -> Any:
    """The JSON reply of one endpoint, or `BinanceError`."""
    if path == f"{API}/time":
        return {"serverTime": to_epoch_ms(state.sim.now())}
    if path == f"{API}/exchangeInfo":
        return state.exchange_info()
    if path == f"{API}/klines":
        return state.klines(params, fault)
    if path == f"{API}/ticker/24hr":
        return state.ticker(params, fault)
    if path in SIGNED:
        state.check_key(headers)
        if path == f"{API}/account":
            return state.account()
        if path == f"{API}/openOrders":
            return state.open_orders(params)
        if path == f"{API}/openOrderList":
            return order_lists.open_lists(state)
        if path == f"{API}/orderList/oco" and method == "POST":
            return order_lists.create_oco(state, params)
        if path == f"{API}/orderList" and method in ("GET", "DELETE"):
            if method == "GET":
                return order_lists.query_list(state, params)
            return order_lists.cancel_list(state, params)
        if path == f"{API}/order" and method == "POST":
            return state.create(params)
        if path == f"{API}/order" and method in ("GET", "DELETE"):
            return state.find(params, cancel=method == "DELETE")
    raise BinanceError(404, -1000, f"emulator: no endpoint {method} {path}")
