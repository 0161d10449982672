"""The emulator refuses bad parameters like Binance (HTTP 400 + code), and its log stays bounded.

Driven twice: raw over HTTP, to pin the exact status, code and message, and through the real
ccxt library, which must map the replies the way it maps Binance's (BadRequest for -1100 /
-1102 / -1111 / -1013 "Invalid quantity.", InvalidOrder for a LOT_SIZE filter failure).
"""

from __future__ import annotations

import json
import tracemalloc
import urllib.error
import urllib.request
from collections.abc import Iterator

import ccxt
import pytest

from awan_trading.exchange.ccxt_exchange import CcxtExchange
from awan_trading.exchange.ccxt_mapping import rewrite_urls
from awan_trading.exchange.emulator import EmulatorServer, make_state
from awan_trading.exchange.emulator.app import MAX_LOGGED_VALUE, REQUEST_LOG_SIZE
from awan_trading.exchange.errors import InvalidOrder
from awan_trading.exchange.rate_limit import RetryPolicy

KEY = "k"
KLINES = "/api/v3/klines?symbol=BTCUSDT&interval=1m"
ORDER = "/api/v3/order"
LIMIT_ORDER = "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=0.01&price=1000&newClientOrderId=c1"


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(make_state(seed=1, api_key=KEY)) as server:
        yield server


def call(server: EmulatorServer, path: str, body: bytes | None = None, method: str = "GET"):
    """(status, parsed JSON) of one raw request, with the API key."""
    request = urllib.request.Request(
        server.url + path,
        data=body,
        method=method,
        headers={"X-MBX-APIKEY": KEY, "Content-Type": "application/x-www-form-urlencoded"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def illegal(name: str, pattern: str) -> str:
    return f"Illegal characters found in parameter '{name}'; legal range is '{pattern}'."


INT = "^[0-9]{1,20}$"
DECIMAL = r"^([0-9]{1,20})(\.[0-9]{1,20})?$"


@pytest.mark.parametrize(
    ("query", "code", "msg"),
    [
        ("&limit=abc", -1100, illegal("limit", INT)),
        ("&limit=-5", -1100, illegal("limit", INT)),
        ("&limit=0", -1130, "Data sent for parameter 'limit' is not valid."),
        ("&limit=1001", -1130, "Data sent for parameter 'limit' is not valid."),
        ("&startTime=1e30", -1100, illegal("startTime", INT)),
        ("&startTime=1.5", -1100, illegal("startTime", INT)),
        ("&endTime=99999999999999999999", -1130, "Data sent for parameter 'endTime' is not valid."),
        ("&limit=5&limit=6", -1101, "Duplicate values for a parameter detected."),
        ("&limit=%FF", -1100, "Illegal characters found in a parameter."),
    ],
)
def test_bad_kline_parameters_are_400_with_binances_code(emulator, query, code, msg) -> None:
    assert call(emulator, KLINES + query) == (400, {"code": code, "msg": msg})


def test_good_kline_parameters_still_answer(emulator) -> None:
    status, rows = call(emulator, KLINES + "&limit=2&startTime=0&endTime=253402300799999")
    assert status == 200 and len(rows) == 2
    status, rows = call(emulator, KLINES + "&startTime=253402300799999")  # far future: none yet
    assert (status, rows) == (200, [])


@pytest.mark.parametrize(
    ("change", "code", "msg"),
    [
        (("quantity=0.01", "quantity=abc"), -1100, illegal("quantity", DECIMAL)),
        (("quantity=0.01", "quantity=-1"), -1100, illegal("quantity", DECIMAL)),
        (("quantity=0.01", "quantity=1e3"), -1100, illegal("quantity", DECIMAL)),
        (("quantity=0.01", "quantity=0"), -1013, "Invalid quantity."),
        (("quantity=0.01", "quantity=0.000000001"), -1111,
         "Precision is over the maximum defined for this asset."),
        (("price=1000", "price=abc"), -1100, illegal("price", DECIMAL)),
        (("price=1000", "price=0.0"), -1013, "Invalid price."),
        (("&price=1000", ""), -1102,
         "Mandatory parameter 'price' was not sent, was empty/null, or malformed."),
        (("quantity=0.01", "quantity="), -1102,
         "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed."),
        (("side=BUY", "side=HOLD"), -1100, illegal("side", "BUY, SELL")),
        (("symbol=BTCUSDT", "symbol=NOPE"), -1121, "Invalid symbol."),
        (("newClientOrderId=c1", "newClientOrderId=a%20b"), -1100,
         illegal("newClientOrderId", r"^[\.A-Z\:/a-z0-9_-]{1,36}$")),
        (("price=1000", "price=1000&price=1001"), -1101,
         "Duplicate values for a parameter detected."),
    ],
)  # fmt: skip
def test_bad_order_parameters_are_400_and_place_nothing(emulator, change, code, msg) -> None:
    body = LIMIT_ORDER.replace(*change).encode()
    assert call(emulator, ORDER, body, "POST") == (400, {"code": code, "msg": msg})
    assert emulator.state.sim.fetch_open_orders(None) == []
    assert emulator.state.accepted == {}


def test_an_undecodable_body_or_order_id_is_400(emulator) -> None:
    status, reply = call(emulator, ORDER, b"symbol=BTCUSDT&quantity=\xff\xfe", "POST")
    assert (status, reply["code"]) == (400, -1100)
    status, reply = call(emulator, ORDER, b"symbol=BTCUSDT&quantity=%ff", "POST")
    assert (status, reply["code"]) == (400, -1100)
    status, reply = call(emulator, f"{ORDER}?symbol=BTCUSDT&orderId=abc")
    assert (status, reply) == (400, {"code": -1100, "msg": illegal("orderId", INT)})
    assert call(emulator, ORDER, LIMIT_ORDER.encode(), "POST")[0] == 200  # the good one works


def binance(server: EmulatorServer) -> ccxt.binance:
    client = ccxt.binance({"apiKey": KEY, "secret": "s", "options": {
        "fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False, "fetchMargins": False}})  # fmt: skip
    client.urls["api"] = rewrite_urls(client.urls["api"], server.url)
    return client


def test_ccxt_maps_the_refusals_as_it_does_binances(emulator) -> None:
    client = binance(emulator)
    with pytest.raises(ccxt.BadRequest, match=r"-1100.*startTime"):
        client.fetch_ohlcv("BTC/USDT", "1m", params={"startTime": "1e30"})
    with pytest.raises(ccxt.BadRequest, match=r"-1100.*limit"):
        client.fetch_ohlcv("BTC/USDT", "1m", params={"limit": "abc"})
    with pytest.raises(ccxt.BadRequest, match=r"-1100.*quantity"):
        client.create_order("BTC/USDT", "limit", "buy", 0.01, 1000, params={"quantity": "abc"})
    with pytest.raises(ccxt.BadRequest, match="Invalid quantity"):
        client.create_order("BTC/USDT", "limit", "buy", 0.01, 1000, params={"quantity": "0"})
    with pytest.raises(ccxt.BadRequest, match="-1111"):
        client.create_order("BTC/USDT", "limit", "buy", 0.01, 1000, params={"quantity": "0.123456789"})  # fmt: skip
    with pytest.raises(ccxt.BadRequest, match=r"-1100.*orderId"):
        client.fetch_order("abc", "BTC/USDT")
    # Valid precision, below the lot minimum: only the exchange can tell (ccxt would refuse
    # the amount itself, so it is passed as a raw parameter).
    with pytest.raises(ccxt.InvalidOrder, match="LOT_SIZE"):
        client.create_order("BTC/USDT", "limit", "buy", 0.01, 1000, params={"quantity": "0.000001"})  # fmt: skip
    assert emulator.state.accepted == {}


def test_awan_connector_treats_a_refused_parameter_as_permanent(emulator) -> None:
    exchange = CcxtExchange(
        "binance", api_key=KEY, secret="s", api_url=emulator.url,
        retry=RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05),
    )  # fmt: skip
    with pytest.raises(InvalidOrder, match="-1100"):
        exchange.fetch_order("BTC/USDT", "not-a-number")
    assert emulator.state.count(ORDER, "GET") == 1  # not retried


def test_the_request_log_is_bounded(emulator) -> None:
    body = ("symbol=BTCUSDT&memo=" + "x" * 900_000).encode()  # just under aiohttp's 1 MiB
    call(emulator, ORDER, body, "POST")  # warm up: first-request allocations are not growth
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(100):
            status, _ = call(emulator, ORDER, body, "POST")
            assert status == 400  # no side, type, …
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # 100 × 900 kB kept whole would be 90 MB; what is kept of each is a few hundred bytes.
    assert grown < 5_000_000, grown
    logged = emulator.state.requests[-1].params["memo"]
    assert len(logged) < MAX_LOGGED_VALUE + 32 and logged.endswith("chars)")
    for _ in range(REQUEST_LOG_SIZE + 50 - len(emulator.state.requests)):
        call(emulator, "/api/v3/time")
    assert len(emulator.state.requests) == REQUEST_LOG_SIZE
    assert emulator.state.received == REQUEST_LOG_SIZE + 50
