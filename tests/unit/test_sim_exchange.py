"""SimExchange: the Exchange protocol over the sim market — fills, fees, funds, refusals."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from awan_trading.errors import ConfigError
from awan_trading.exchange import (
    DuplicateClientOrderId,
    Exchange,
    InsufficientFunds,
    InvalidOrder,
    OrderNotFound,
    SimExchange,
    SimMarket,
)
from awan_trading.market.schema import CANDLE_SCHEMA
from awan_trading.market.timeframes import to_epoch_ms

T0 = datetime(2024, 3, 1, 12, 0, 30, tzinfo=UTC)
FEE = 0.001
SLIP_BPS = 10.0


@dataclass
class Clock:
    """A clock the test moves by hand."""

    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def market() -> SimMarket:
    return SimMarket(seed=11)


@pytest.fixture
def ex(market: SimMarket, clock: Clock) -> SimExchange:
    return SimExchange(
        market,
        fee_rate=FEE,
        slippage_bps=SLIP_BPS,
        balances={"USDT": 100_000.0, "BTC": 1.0},
        clock=clock,
    )


def _state(ex: SimExchange) -> tuple:
    """Everything a refused call must leave untouched."""
    orders = tuple(ex.fetch_open_orders())
    return ex.fetch_balance(), orders, set(ex.markets())


def _on_tick(value: float, rounding: str) -> float:
    return float(Decimal(repr(value)).quantize(Decimal("0.01"), rounding=rounding))


# --- protocol, markets, data ---------------------------------------------------------------


def test_sim_exchange_implements_the_protocol(ex: SimExchange, clock: Clock) -> None:
    assert isinstance(ex, Exchange)
    assert ex.name == "sim"
    assert ex.now() == T0


def test_markets_carry_precision_minimums_and_fees(ex: SimExchange) -> None:
    btc = ex.markets()["BTC/USDT"]
    assert (btc.base, btc.quote) == ("BTC", "USDT")
    assert btc.price_increment == 0.01
    assert btc.amount_increment == pytest.approx(0.00001)
    assert btc.min_amount == pytest.approx(0.00001)
    assert btc.min_notional == 5.0
    assert btc.maker_fee == btc.taker_fee == FEE
    assert ex.market("NEWCOIN/USDT").quote == "USDT"
    assert "NEWCOIN/USDT" in ex.markets()


@pytest.mark.parametrize("symbol", ["btc/usdt", "BTCUSDT"])
def test_malformed_symbol_is_an_invalid_order_naming_it(ex: SimExchange, symbol: str) -> None:
    with pytest.raises(InvalidOrder, match=symbol):
        ex.fetch_ticker(symbol)
    with pytest.raises(InvalidOrder, match=symbol):
        ex.create_order(symbol, "buy", "market", 1.0, client_order_id="x1")


def test_bad_settings_fail_at_construction(market: SimMarket) -> None:
    with pytest.raises(ConfigError, match="fee_rate"):
        SimExchange(market, fee_rate=-0.1)
    with pytest.raises(ConfigError, match="slippage_bps"):
        SimExchange(market, slippage_bps=float("nan"))
    with pytest.raises(ConfigError, match="USDT"):
        SimExchange(market, balances={"USDT": -1.0})


def test_ticker_brackets_the_current_price_by_one_tick(ex: SimExchange, market: SimMarket) -> None:
    ticker = ex.fetch_ticker("BTC/USDT")
    assert ticker.last == market.price_at("BTC/USDT", T0)
    assert ticker.bid == pytest.approx(ticker.last - 0.01)
    assert ticker.ask == pytest.approx(ticker.last + 0.01)
    assert ticker.ts == T0


def test_fetch_ohlcv_returns_only_closed_candles(
    ex: SimExchange, market: SimMarket, clock: Clock
) -> None:
    start, end = datetime(2024, 3, 1, 10, tzinfo=UTC), datetime(2024, 3, 1, 14, tzinfo=UTC)
    minutes = ex.fetch_ohlcv("BTC/USDT", "1m", start, end)
    assert minutes.schema == CANDLE_SCHEMA
    assert minutes["ts"].max() == datetime(2024, 3, 1, 11, 59, tzinfo=UTC)  # 12:00 still forming
    assert minutes.equals(
        market.candles("BTC/USDT", "1m", start, datetime(2024, 3, 1, 12, tzinfo=UTC))
    )
    hours = ex.fetch_ohlcv("BTC/USDT", "1h", start, end)
    assert hours["ts"].to_list() == [datetime(2024, 3, 1, h, tzinfo=UTC) for h in (10, 11)]
    clock.now = datetime(2024, 3, 1, 13, tzinfo=UTC)  # the 12:00 hour closes exactly now
    hours = ex.fetch_ohlcv("BTC/USDT", "1h", start, end)
    assert hours["ts"].to_list()[-1] == datetime(2024, 3, 1, 12, tzinfo=UTC)
    assert hours.equals(market.candles("BTC/USDT", "1h", start, end).head(3))


@pytest.mark.parametrize("timeframe", ["1m", "1h"])
def test_fetch_ohlcv_of_a_week_in_one_call_equals_day_chunks(
    ex: SimExchange, timeframe: str
) -> None:
    start = datetime(2024, 2, 1, tzinfo=UTC)
    days = [start + timedelta(days=d) for d in range(8)]
    whole = ex.fetch_ohlcv("ETH/USDT", timeframe, days[0], days[-1])
    chunks = pl.concat(
        ex.fetch_ohlcv("ETH/USDT", timeframe, a, b) for a, b in itertools.pairwise(days)
    )
    assert whole.height == 7 * (1440 if timeframe == "1m" else 24)
    assert chunks.equals(whole)


def test_fetch_ohlcv_of_the_future_is_empty(ex: SimExchange) -> None:
    frame = ex.fetch_ohlcv("BTC/USDT", "1m", T0 + timedelta(hours=1), T0 + timedelta(hours=2))
    assert frame.is_empty() and frame.schema == CANDLE_SCHEMA


def test_unknown_timeframe_is_refused(ex: SimExchange) -> None:
    with pytest.raises(InvalidOrder, match="7m"):
        ex.fetch_ohlcv("BTC/USDT", "7m", T0 - timedelta(days=1), T0)


# --- market orders -----------------------------------------------------------------------


def test_market_buy_pays_the_open_plus_slippage_plus_taker_fee(ex: SimExchange) -> None:
    """The backtest's entry rule: open(now) × (1 + slippage), not rounded to the tick."""
    last = ex.fetch_ticker("BTC/USDT").last
    order = ex.create_order("BTC/USDT", "buy", "market", 0.5, client_order_id="buy-1")
    expected_price = last * (1 + SLIP_BPS / 10_000)
    assert order.status == "filled"
    assert (order.filled, order.remaining, order.average) == (0.5, 0.0, expected_price)
    assert order.fee == pytest.approx(0.5 * expected_price * FEE, rel=1e-12)
    assert order.fee_currency == "USDT"
    (fill,) = order.trades
    assert (fill.price, fill.amount, fill.taker, fill.ts) == (expected_price, 0.5, True, T0)
    balance = ex.fetch_balance()
    assert balance.free["USDT"] == pytest.approx(
        100_000 - 0.5 * expected_price * (1 + FEE), rel=1e-12
    )
    assert balance.free["BTC"] == pytest.approx(1.5, rel=1e-15)
    assert balance.used.get("USDT", 0.0) == 0.0


def test_market_sell_receives_the_open_minus_slippage_minus_fee(ex: SimExchange) -> None:
    last = ex.fetch_ticker("BTC/USDT").last
    order = ex.create_order("BTC/USDT", "sell", "market", 0.4, client_order_id="sell-1")
    expected_price = last * (1 - SLIP_BPS / 10_000)
    assert order.average == expected_price
    balance = ex.fetch_balance()
    assert balance.free["BTC"] == pytest.approx(0.6, rel=1e-15)
    assert balance.free["USDT"] == pytest.approx(
        100_000 + 0.4 * expected_price * (1 - FEE), rel=1e-12
    )


def test_without_slippage_a_market_buy_fills_at_the_open(market: SimMarket, clock: Clock) -> None:
    ex = SimExchange(market, slippage_bps=0.0, balances={"USDT": 1000.0}, clock=clock)
    opened = market.candles_1m("ETH/USDT", to_epoch_ms(T0) - 30_000, to_epoch_ms(T0))["open"][0]
    order = ex.create_order("ETH/USDT", "buy", "market", 0.1, client_order_id="e1")
    assert order.average == opened == ex.fetch_ticker("ETH/USDT").last
    assert order.fee == pytest.approx(0.1 * opened * 0.001)  # default fee: Binance's 0.1 %


def test_amounts_floor_to_the_step_and_prices_round_to_the_tick(ex: SimExchange) -> None:
    bid = ex.fetch_ticker("BTC/USDT").bid
    order = ex.create_order(
        "BTC/USDT", "buy", "limit", 0.0123456789, bid * 0.9 + 0.004999, client_order_id="r1"
    )
    assert order.amount == 0.01234
    assert order.price == _on_tick(bid * 0.9 + 0.004999, "ROUND_HALF_UP")
    assert order.price == round(order.price, 2)
    market_order = ex.create_order("BTC/USDT", "sell", "market", 0.00013, client_order_id="r2")
    assert market_order.amount == 0.00013  # on the step (0.00013 / 1e-5 < 13 in floats)


# --- refusals ----------------------------------------------------------------------------


def test_below_min_amount_is_refused_naming_symbol_amount_and_rule(ex: SimExchange) -> None:
    before = _state(ex)
    with pytest.raises(InvalidOrder) as info:
        ex.create_order("BTC/USDT", "buy", "market", 0.000004, client_order_id="tiny")
    message = str(info.value)
    assert "BTC/USDT" in message and "4e-06" in message and "min_amount" in message
    assert _state(ex) == before


def test_below_min_notional_is_refused(ex: SimExchange) -> None:
    before = _state(ex)
    with pytest.raises(InvalidOrder) as info:
        ex.create_order("BTC/USDT", "buy", "market", 0.0001, client_order_id="small")
    assert "BTC/USDT" in str(info.value) and "min_notional" in str(info.value)
    assert _state(ex) == before
    # a refused order does not use up its client order id
    ex.create_order("BTC/USDT", "buy", "market", 0.001, client_order_id="small")


@pytest.mark.parametrize(
    ("side", "type", "amount", "price", "fragment"),
    [
        ("hold", "market", 1.0, None, "side"),
        ("buy", "stop", 1.0, None, "order type"),
        ("buy", "market", -1.0, None, "amount"),
        ("buy", "market", float("nan"), None, "amount"),
        ("buy", "market", 0.01, 50_000.0, "market order takes no price"),
        ("buy", "limit", 0.01, None, "limit price"),
        ("buy", "limit", 0.01, 0.001, "rounds to 0"),
    ],
)
def test_malformed_orders_are_refused(
    ex: SimExchange, side: str, type: str, amount: float, price: float | None, fragment: str
) -> None:
    before = _state(ex)
    with pytest.raises(InvalidOrder, match=fragment):
        ex.create_order("BTC/USDT", side, type, amount, price, client_order_id="bad")  # type: ignore[arg-type]
    assert _state(ex) == before


@pytest.mark.parametrize("client_id", ["", "x" * 37, "has space", "ü"])
def test_client_order_ids_follow_binance_rules(ex: SimExchange, client_id: str) -> None:
    with pytest.raises(InvalidOrder, match="client_order_id"):
        ex.create_order("BTC/USDT", "buy", "market", 0.001, client_order_id=client_id)


def test_insufficient_funds_names_currency_need_and_available(ex: SimExchange) -> None:
    before = _state(ex)
    with pytest.raises(InsufficientFunds) as info:
        ex.create_order("BTC/USDT", "buy", "market", 10.0, client_order_id="big")
    message = str(info.value)
    assert "USDT" in message and "needs" in message and "available 100000" in message
    with pytest.raises(InsufficientFunds, match=r"needs 1\.5 BTC, available 1 BTC"):
        ex.create_order("BTC/USDT", "sell", "market", 1.5, client_order_id="big2")
    assert _state(ex) == before


def test_locked_funds_are_not_available_twice(ex: SimExchange) -> None:
    bid = ex.fetch_ticker("BTC/USDT").bid
    ex.create_order("BTC/USDT", "buy", "limit", 1.5, round(bid * 0.8, 2), client_order_id="l1")
    with pytest.raises(InsufficientFunds, match="USDT"):
        ex.create_order("BTC/USDT", "buy", "limit", 1.5, round(bid * 0.8, 2), client_order_id="l2")


def test_a_reused_client_order_id_is_refused_and_changes_nothing(ex: SimExchange) -> None:
    first = ex.create_order("BTC/USDT", "buy", "market", 0.01, client_order_id="sig-1")
    before = _state(ex)
    with pytest.raises(DuplicateClientOrderId, match="sig-1") as info:
        ex.create_order("BTC/USDT", "sell", "market", 0.01, client_order_id="sig-1")
    assert f"order {first.exchange_order_id}" in str(info.value)
    assert _state(ex) == before
    assert ex.fetch_order("BTC/USDT", client_order_id="sig-1") == first
    nxt = ex.create_order("BTC/USDT", "buy", "market", 0.01, client_order_id="sig-2")
    # the refusal did not consume an order id
    assert int(nxt.exchange_order_id) == int(first.exchange_order_id) + 1


def test_ids_of_canceled_orders_stay_used(ex: SimExchange) -> None:
    bid = ex.fetch_ticker("BTC/USDT").bid
    ex.create_order("BTC/USDT", "buy", "limit", 0.01, round(bid * 0.9, 2), client_order_id="c1")
    ex.cancel_order("BTC/USDT", client_order_id="c1")
    with pytest.raises(DuplicateClientOrderId):
        ex.create_order("BTC/USDT", "buy", "limit", 0.01, round(bid * 0.9, 2), client_order_id="c1")


# --- limit orders ------------------------------------------------------------------------


def _next_days(market: SimMarket) -> pl.DataFrame:
    """The 1m candles from the first one that starts after T0, for three days."""
    start = to_epoch_ms(datetime(2024, 3, 1, 12, 1, tzinfo=UTC))
    return market.candles_1m("BTC/USDT", start, start + 3 * 86_400_000)


def _first_touch(market: SimMarket, side: str, limit: float) -> datetime:
    """Open time of the first later 1m candle that reaches `limit` (computed independently)."""
    frame = _next_days(market)
    touched = frame["low"] <= limit if side == "buy" else frame["high"] >= limit
    return frame.filter(touched)["ts"][0]


def _resting_limit(market: SimMarket, side: str, bid: float, ask: float) -> float:
    """A limit that does not cross now but that the next days' prices reach."""
    frame = _next_days(market)
    if side == "buy":
        extreme = frame["low"].min()
        assert extreme < bid - 0.02, "fixture precondition: the price dips below the bid"
        return round((bid + extreme) / 2, 2)
    extreme = frame["high"].max()
    assert extreme > ask + 0.02, "fixture precondition: the price rises above the ask"
    return round((ask + extreme) / 2, 2)


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_resting_limit_locks_funds_then_fills_as_maker_when_a_candle_reaches_it(
    ex: SimExchange, market: SimMarket, clock: Clock, side: str
) -> None:
    ticker = ex.fetch_ticker("BTC/USDT")
    limit = _resting_limit(market, side, ticker.bid, ticker.ask)
    order = ex.create_order("BTC/USDT", side, "limit", 0.2, limit, client_order_id=f"{side}-l")
    assert order.status == "accepted" and order.filled == 0.0 and order.trades == ()
    locked = ("USDT", 0.2 * limit * (1 + FEE)) if side == "buy" else ("BTC", 0.2)
    balance = ex.fetch_balance()
    assert balance.used[locked[0]] == pytest.approx(locked[1], rel=1e-12)
    assert ex.fetch_open_orders("BTC/USDT") == [order]

    touch = _first_touch(market, side, limit)
    clock.now = touch + timedelta(seconds=59)  # the touching candle has not closed yet
    assert ex.fetch_order("BTC/USDT", order.exchange_order_id).status == "accepted"
    clock.now = touch + timedelta(minutes=1)
    filled = ex.fetch_order("BTC/USDT", order.exchange_order_id)
    assert filled.status == "filled" and filled.filled == 0.2
    (fill,) = filled.trades
    assert (fill.price, fill.ts, fill.taker) == (limit, touch, False)
    assert fill.fee == pytest.approx(0.2 * limit * FEE, rel=1e-12)
    balance = ex.fetch_balance()
    assert balance.used.get("USDT", 0.0) == 0.0 and balance.used.get("BTC", 0.0) == 0.0
    sign = 1 if side == "buy" else -1
    assert balance.free["BTC"] == pytest.approx(1.0 + sign * 0.2, rel=1e-12)
    quote_change = -0.2 * limit * (1 + FEE) if side == "buy" else 0.2 * limit * (1 - FEE)
    assert balance.free["USDT"] == pytest.approx(100_000 + quote_change, rel=1e-12)
    assert ex.fetch_open_orders() == []


def test_limit_does_not_fill_on_the_candle_it_was_placed_in(
    ex: SimExchange, market: SimMarket, clock: Clock
) -> None:
    """The 12:00 candle was already under way at 12:00:30; only later candles can fill it."""
    placed_in = market.candles_1m("BTC/USDT", to_epoch_ms(T0) - 30_000, to_epoch_ms(T0) + 30_000)
    bid = ex.fetch_ticker("BTC/USDT").bid
    limit = placed_in["low"][0]
    assert limit < bid, "fixture precondition: the 12:00 candle dips below the bid"
    ex.create_order("BTC/USDT", "buy", "limit", 0.01, limit, client_order_id="early")
    touch = _first_touch(market, "buy", limit)
    clock.now = touch
    assert ex.fetch_order("BTC/USDT", client_order_id="early").status == "accepted"
    clock.now = touch + timedelta(minutes=1)
    assert ex.fetch_order("BTC/USDT", client_order_id="early").trades[0].ts == touch


def test_a_crossing_limit_fills_at_once_as_taker_at_no_worse_than_its_price(
    ex: SimExchange,
) -> None:
    ask = ex.fetch_ticker("BTC/USDT").ask
    taker_price = ex.fetch_ticker("BTC/USDT").last * (1 + SLIP_BPS / 10_000)
    generous = ex.create_order("BTC/USDT", "buy", "limit", 0.01, ask * 1.05, client_order_id="x1")
    assert generous.status == "filled" and generous.average == taker_price
    assert generous.trades[0].taker
    tight = ex.create_order("BTC/USDT", "buy", "limit", 0.01, ask, client_order_id="x2")
    assert tight.average == ask  # crosses, but slippage may not push it past its limit


def test_cancel_releases_the_locked_funds_exactly(ex: SimExchange, clock: Clock) -> None:
    start = ex.fetch_balance()
    bid = ex.fetch_ticker("BTC/USDT").bid
    order = ex.create_order(
        "BTC/USDT", "buy", "limit", 0.3, round(bid * 0.7, 2), client_order_id="c"
    )
    assert ex.fetch_balance().free["USDT"] < start.free["USDT"]
    clock.advance(minutes=5)
    canceled = ex.cancel_order("BTC/USDT", order.exchange_order_id)
    assert canceled.status == "canceled" and canceled.updated_at == T0 + timedelta(minutes=5)
    assert ex.fetch_balance().free == start.free
    assert ex.fetch_open_orders() == []
    with pytest.raises(OrderNotFound, match="canceled"):
        ex.cancel_order("BTC/USDT", client_order_id="c")


def test_cancel_of_a_filled_order_is_order_not_found(ex: SimExchange) -> None:
    order = ex.create_order("BTC/USDT", "buy", "market", 0.01, client_order_id="m")
    with pytest.raises(OrderNotFound, match="filled"):
        ex.cancel_order("BTC/USDT", order.exchange_order_id)


def test_orders_are_found_by_id_or_client_id_within_their_symbol(ex: SimExchange) -> None:
    bid = ex.fetch_ticker("BTC/USDT").bid
    order = ex.create_order(
        "BTC/USDT", "buy", "limit", 0.01, round(bid * 0.9, 2), client_order_id="f"
    )
    assert ex.fetch_order("BTC/USDT", order.exchange_order_id) == order
    assert ex.fetch_order("BTC/USDT", client_order_id="f") == order
    with pytest.raises(OrderNotFound, match="ETH/USDT"):
        ex.fetch_order("ETH/USDT", order.exchange_order_id)
    with pytest.raises(OrderNotFound, match="nope"):
        ex.fetch_order("BTC/USDT", client_order_id="nope")
    with pytest.raises(OrderNotFound):
        ex.fetch_order("BTC/USDT", "999")
    with pytest.raises(InvalidOrder, match="exchange_order_id or a client_order_id"):
        ex.fetch_order("BTC/USDT")


def test_open_orders_filter_by_symbol(market: SimMarket, clock: Clock) -> None:
    ex = SimExchange(market, balances={"USDT": 10_000.0}, clock=clock)
    btc = ex.fetch_ticker("BTC/USDT").bid
    eth = ex.fetch_ticker("ETH/USDT").bid
    a = ex.create_order("BTC/USDT", "buy", "limit", 0.01, round(btc * 0.9, 2), client_order_id="a")
    b = ex.create_order("ETH/USDT", "buy", "limit", 0.1, round(eth * 0.9, 2), client_order_id="b")
    assert ex.fetch_open_orders() == [a, b]
    assert ex.fetch_open_orders("ETH/USDT") == [b]


# --- determinism and concurrency ---------------------------------------------------------


def _script(ex: SimExchange, clock: Clock) -> list:
    bid = ex.fetch_ticker("BTC/USDT").bid
    out = [ex.create_order("BTC/USDT", "buy", "market", 0.05, client_order_id="s1")]
    out.append(
        ex.create_order(
            "BTC/USDT", "buy", "limit", 0.05, round(bid * 0.998, 2), client_order_id="s2"
        )
    )
    clock.advance(hours=12)
    out.append(ex.fetch_order("BTC/USDT", client_order_id="s2"))
    out.append(ex.fetch_balance())
    return out


def test_same_seed_same_calls_same_orders_and_fills() -> None:
    runs = []
    for _ in range(2):
        clock = Clock()
        ex = SimExchange(SimMarket(5), balances={"USDT": 50_000.0}, clock=clock)
        runs.append(_script(ex, clock))
    assert runs[0] == runs[1]
    assert [o.exchange_order_id for o in runs[0][:3]] == ["1", "2", "2"]


def test_concurrent_orders_get_distinct_ids_and_consistent_balances(ex: SimExchange) -> None:
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(10):
                ex.create_order("BTC/USDT", "buy", "market", 0.001, client_order_id=f"t{n}-{i}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    orders = [
        ex.fetch_order("BTC/USDT", client_order_id=f"t{n}-{i}") for n in range(4) for i in range(10)
    ]
    assert sorted(int(o.exchange_order_id) for o in orders) == list(range(1, 41))
    spent = sum(o.filled * o.average + o.fee for o in orders)
    balance = ex.fetch_balance()
    assert balance.free["USDT"] == pytest.approx(100_000 - spent, rel=1e-12)
    assert balance.free["BTC"] == pytest.approx(1.0 + 40 * 0.001, rel=1e-12)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(["buy", "sell"]),
            st.sampled_from(["market", "limit"]),
            st.floats(min_value=1e-6, max_value=0.5),
            st.floats(min_value=0.9, max_value=1.1),
            st.integers(min_value=0, max_value=180),
        ),
        max_size=12,
    )
)
def test_balances_never_go_negative_and_refusals_change_nothing(
    market: SimMarket, steps: list[tuple[str, str, float, float, int]]
) -> None:
    clock = Clock()
    ex = SimExchange(market, slippage_bps=5.0, balances={"USDT": 20_000.0, "BTC": 0.3}, clock=clock)
    for n, (side, type, amount, price_factor, wait) in enumerate(steps):
        clock.advance(minutes=wait)
        price = ex.fetch_ticker("BTC/USDT").last * price_factor if type == "limit" else None
        before = (ex.fetch_balance(), ex.fetch_open_orders())
        try:
            ex.create_order("BTC/USDT", side, type, amount, price, client_order_id=f"h{n}")  # type: ignore[arg-type]
        except (InvalidOrder, InsufficientFunds):
            assert (ex.fetch_balance(), ex.fetch_open_orders()) == before
        balance = ex.fetch_balance()
        for currency in ("USDT", "BTC"):
            assert balance.free.get(currency, 0.0) >= -1e-9
            assert balance.used.get(currency, 0.0) >= 0.0
        locked = sum(
            o.amount * o.price * (1 + FEE) for o in ex.fetch_open_orders() if o.side == "buy"
        )
        assert balance.used.get("USDT", 0.0) == pytest.approx(locked, rel=1e-9, abs=1e-9)
    assert np.isfinite(list(ex.fetch_balance().free.values())).all()
