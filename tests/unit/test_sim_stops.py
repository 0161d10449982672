"""Protective stops and OCO sells on the sim and in paper mode, on a recorded price path.

The path is written by hand (1m candles from 12:00), so every rule is checked at a known
candle: a gap fills at open × (1 − slip), a touch at trigger × (1 − slip), a target at its
price, a candle reaching both is a stop. Paper mode runs the same sim code on a venue's prices,
so the same path served by a fake venue must give the same fills.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from awan_trading.domain.ids import client_order_id
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
from awan_trading.exchange.base import Market, Ticker
from awan_trading.exchange.paper import PaperExchange
from awan_trading.market.resample import resample_candles
from awan_trading.market.schema import CANDLE_SCHEMA
from awan_trading.market.timeframes import from_epoch_ms, parse_timeframe, to_epoch_ms

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
SYMBOL = "BTC/USDT"
SLIP_BPS = 10.0
SLIP = SLIP_BPS / 10_000
FEE = 0.001
SID = "0123456789abcdef" * 2

# (open, high, low, close) per minute from T0; every open is the previous close except at 12:05
PATH = [
    (100.00, 100.50, 99.80, 100.20),  # 12:00  placed here: judged
    (100.20, 100.40, 99.90, 100.10),  # 12:01
    (100.10, 100.30, 98.95, 99.50),  # 12:02  low touches a stop at 99.00
    (99.50, 101.60, 99.40, 101.00),  # 12:03  high reaches a target at 101.50
    (101.00, 101.20, 100.60, 100.90),  # 12:04
    (97.00, 97.50, 96.50, 97.20),  # 12:05  gaps down from 100.90 to 97.00
    (97.20, 102.50, 96.80, 98.00),  # 12:06  reaches both 97.50-stop and 102-target
    (98.00, 98.90, 97.90, 98.50),  # 12:07
    (98.50, 99.00, 98.00, 98.80),  # 12:08
    (98.80, 99.10, 98.60, 99.00),  # 12:09
]


def _frame(rows: list[tuple[float, float, float, float]], start: datetime) -> pl.DataFrame:
    ts = [start + timedelta(minutes=i) for i in range(len(rows))]
    return pl.DataFrame(
        {
            "symbol": [SYMBOL] * len(rows),
            "ts": ts,
            "open": [r[0] for r in rows],
            "high": [r[1] for r in rows],
            "low": [r[2] for r in rows],
            "close": [r[3] for r in rows],
            "volume": [1.0] * len(rows),
        }
    ).cast(CANDLE_SCHEMA)  # type: ignore[arg-type]


CANDLES = _frame(PATH, T0)


class PathMarket:
    """The `SimMarket` surface over the recorded path (BTC/USDT's precision: tick 0.01)."""

    def __init__(self) -> None:
        self._profile = SimMarket(seed=1).profile(SYMBOL)

    def profile(self, symbol: str):
        return self._profile

    def candles_1m(self, symbol: str, start_ms: int, end_ms: int) -> pl.DataFrame:
        ms = pl.col("ts").dt.epoch("ms")
        return CANDLES.filter((ms >= start_ms) & (ms < end_ms))

    def candles(self, symbol: str, timeframe, start_ms: int, end_ms: int) -> pl.DataFrame:
        tf = parse_timeframe(timeframe)
        minutes = self.candles_1m(symbol, start_ms, end_ms)
        return resample_candles(minutes, "1m", tf, data_end=from_epoch_ms(end_ms))

    def price_at(self, symbol: str, when: datetime | int) -> float:
        when_ms = when if isinstance(when, int) else to_epoch_ms(when)
        minute = (when_ms - to_epoch_ms(T0)) // 60_000
        return PATH[min(minute, len(PATH) - 1)][0]


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now


class PathVenue:
    """A ccxt-connector stand-in serving the recorded path: what paper mode reads."""

    name = "binance"

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.path = PathMarket()
        p = self.path.profile(SYMBOL)
        self._markets = {
            SYMBOL: Market(SYMBOL, "BTC", "USDT", p.tick, p.step, p.step, p.min_notional, FEE, FEE)
        }

    def markets(self) -> dict[str, Market]:
        return self._markets

    def now(self) -> datetime:
        return self.clock()

    def fetch_ticker(self, symbol: str) -> Ticker:
        last = self.path.price_at(symbol, self.clock())
        return Ticker(symbol, self.clock(), last - 0.01, last + 0.01, last)

    def fetch_ohlcv(self, symbol: str, timeframe, start: datetime, end: datetime) -> pl.DataFrame:
        end_ms = min(to_epoch_ms(end), to_epoch_ms(self.clock()) // 60_000 * 60_000)
        return self.path.candles(symbol, timeframe, to_epoch_ms(start), end_ms)


def make(kind: str, clock: Clock, **kwargs: object) -> SimExchange:
    balances = {"USDT": 10_000.0, "BTC": 1.0}
    if kind == "paper":
        venue = PathVenue(clock)
        return PaperExchange(venue, slippage_bps=SLIP_BPS, balances=balances, **kwargs)  # type: ignore[arg-type]
    return SimExchange(
        PathMarket(),  # type: ignore[arg-type]
        fee_rate=FEE,
        slippage_bps=SLIP_BPS,
        balances=balances,
        clock=clock,
        **kwargs,  # type: ignore[arg-type]
    )


KINDS = ["sim", "paper"]


def ids(n: int = 0) -> dict[str, str]:
    return {
        "list_client_order_id": client_order_id(SID, "bracket", n),
        "target_client_order_id": client_order_id(SID, "take_profit", n),
        "stop_client_order_id": client_order_id(SID, "stop", n),
    }


def stop(ex: SimExchange, trigger: float, limit: float, cid: str = "s0", amount: float = 0.5):
    return ex.create_order(
        SYMBOL, "sell", "stop_loss_limit", amount, limit, client_order_id=cid, stop_price=trigger
    )


def at(clock: Clock, minutes: int) -> None:
    clock.now = T0 + timedelta(minutes=minutes)


# --- placement -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_a_stop_rests_with_its_amount_locked_and_is_found_by_client_id(kind: str) -> None:
    clock = Clock()
    ex = make(kind, clock)
    assert isinstance(ex, Exchange)
    order = stop(ex, 99.0, 98.5)
    assert (order.type, order.status, order.stop_price, order.price) == (
        "stop_loss_limit",
        "accepted",
        99.0,
        98.5,
    )
    assert ex.fetch_balance().used["BTC"] == 0.5
    assert ex.fetch_order(SYMBOL, client_order_id="s0") == order
    assert ex.fetch_open_orders(SYMBOL) == [order]


@pytest.mark.parametrize(
    ("trigger", "limit", "amount", "message"),
    [
        (100.0, 99.0, 0.5, "below the last price"),  # would trigger at once
        (100.5, 99.0, 0.5, "below the last price"),
        (99.0, 99.5, 0.5, "at or below its trigger"),
        (99.0, None, 0.5, "limit price"),
        (None, 98.0, 0.5, "stop_price"),
        (99.0, 98.0, 0.000001, "min_amount"),
        (99.0, 98.0, 0.00005, "min_notional"),
    ],
)
def test_stop_placement_is_validated(
    trigger: float | None, limit: float | None, amount: float, message: str
) -> None:
    ex = make("sim", Clock())
    with pytest.raises(InvalidOrder, match=message):
        ex.create_order(
            SYMBOL,
            "sell",
            "stop_loss_limit",
            amount,
            limit,
            client_order_id="x",
            stop_price=trigger,
        )
    assert ex.fetch_open_orders() == [] and ex.fetch_balance().used.get("BTC", 0.0) == 0.0


def test_only_stops_take_a_trigger_and_only_sells_can_stop() -> None:
    ex = make("sim", Clock())
    with pytest.raises(InvalidOrder, match="takes no stop_price"):
        ex.create_order(SYMBOL, "sell", "limit", 0.1, 101.0, client_order_id="a", stop_price=99.0)
    with pytest.raises(InvalidOrder, match="sells only"):
        ex.create_order(
            SYMBOL, "buy", "stop_loss_limit", 0.1, 101.0, client_order_id="b", stop_price=101.0
        )


def test_stop_prices_round_to_the_tick_and_amounts_to_the_step() -> None:
    order = stop(make("sim", Clock()), 98.996, 98.5049, amount=0.1234567)
    assert (order.stop_price, order.price, order.amount) == (99.0, 98.5, 0.12345)


def test_a_stop_needs_the_base_it_would_sell() -> None:
    ex = make("sim", Clock())
    with pytest.raises(InsufficientFunds, match="BTC"):
        stop(ex, 99.0, 98.5, amount=1.5)


@pytest.mark.parametrize("kind", KINDS)
def test_an_oco_locks_its_amount_once_for_both_legs(kind: str) -> None:
    ex = make(kind, Clock())
    target, stop_leg = ex.create_oco_sell(
        SYMBOL, 0.6, target_price=101.5, stop_price=99.0, stop_limit_price=98.5, **ids()
    )
    assert (target.type, target.price, target.stop_price) == ("limit_maker", 101.5, None)
    assert (stop_leg.type, stop_leg.price, stop_leg.stop_price) == ("stop_loss_limit", 98.5, 99.0)
    assert (
        target.list_client_order_id
        == stop_leg.list_client_order_id
        == ids()["list_client_order_id"]
    )
    assert target.signal_id == stop_leg.signal_id == SID
    assert ex.fetch_balance().used["BTC"] == 0.6  # not 1.2
    assert ex.fetch_open_orders(SYMBOL) == [target, stop_leg]
    with pytest.raises(InsufficientFunds):  # 0.4 BTC is free, not 1.0
        stop(ex, 99.0, 98.5, amount=0.5)


@pytest.mark.parametrize(
    ("target", "trigger", "limit", "message"),
    [
        (100.0, 99.0, 98.5, "above the last price"),
        (101.0, 100.0, 98.5, "below the last price"),
        (101.0, 99.0, 99.5, "at or below its trigger"),
    ],
)
def test_oco_prices_must_be_target_above_last_above_trigger(
    target: float, trigger: float, limit: float, message: str
) -> None:
    ex = make("sim", Clock())
    with pytest.raises(InvalidOrder, match=message):
        ex.create_oco_sell(
            SYMBOL, 0.5, target_price=target, stop_price=trigger, stop_limit_price=limit, **ids()
        )
    assert ex.fetch_open_orders() == []


def test_reused_ids_are_refused_for_orders_legs_and_lists() -> None:
    ex = make("sim", Clock())
    ex.create_oco_sell(
        SYMBOL, 0.2, target_price=101.5, stop_price=99.0, stop_limit_price=98.5, **ids()
    )
    with pytest.raises(DuplicateClientOrderId):
        stop(ex, 99.0, 98.5, cid=ids()["stop_client_order_id"])
    with pytest.raises(DuplicateClientOrderId):  # the same list id with fresh legs
        ex.create_oco_sell(
            SYMBOL, 0.2, target_price=101.5, stop_price=99.0, stop_limit_price=98.5,
            **{**ids(1), "list_client_order_id": ids()["list_client_order_id"]},
        )  # fmt: skip
    with pytest.raises(InvalidOrder, match="repeat"):
        ex.create_oco_sell(
            SYMBOL, 0.2, target_price=101.5, stop_price=99.0, stop_limit_price=98.5,
            **{**ids(2), "target_client_order_id": ids(2)["stop_client_order_id"]},
        )  # fmt: skip
    assert len(ex.fetch_open_orders()) == 2


def test_limit_maker_that_would_take_is_refused() -> None:
    ex = make("sim", Clock())
    with pytest.raises(InvalidOrder, match="would match immediately"):
        ex.create_order(SYMBOL, "sell", "limit_maker", 0.1, 99.5, client_order_id="m")
    assert ex.create_order(
        SYMBOL, "sell", "limit_maker", 0.1, 101.0, client_order_id="n"
    ).is_resting


# --- cancel ------------------------------------------------------------------------------


@pytest.mark.parametrize("leg", [0, 1])
def test_canceling_either_leg_cancels_both_and_releases_the_amount(leg: int) -> None:
    ex = make("sim", Clock())
    legs = ex.create_oco_sell(
        SYMBOL, 0.6, target_price=101.5, stop_price=99.0, stop_limit_price=98.5, **ids()
    )
    canceled = ex.cancel_order(SYMBOL, client_order_id=legs[leg].client_order_id)
    assert canceled.status == "canceled" and canceled.client_order_id == legs[leg].client_order_id
    other = ex.fetch_order(SYMBOL, client_order_id=legs[1 - leg].client_order_id)
    assert other.status == "canceled"
    assert ex.fetch_open_orders() == [] and ex.fetch_balance().used.get("BTC", 0.0) == 0.0
    with pytest.raises(OrderNotFound):
        ex.cancel_order(SYMBOL, client_order_id=legs[1 - leg].client_order_id)


# --- fills -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_a_touch_fills_at_the_trigger_less_slippage_when_the_candle_closed(kind: str) -> None:
    clock = Clock()
    ex = make(kind, clock)
    stop(ex, 99.0, 98.5)
    at(clock, 2)
    assert ex.fetch_order(SYMBOL, client_order_id="s0").status == "accepted"  # 12:02 forming
    at(clock, 3)
    order = ex.fetch_order(SYMBOL, client_order_id="s0")
    (fill,) = order.trades
    assert order.status == "filled"
    assert (fill.price, fill.ts, fill.taker) == (99.0 * (1 - SLIP), T0 + timedelta(minutes=2), True)
    assert fill.fee == 0.5 * fill.price * FEE
    balance = ex.fetch_balance()
    assert balance.total("BTC") == 0.5 and balance.used.get("BTC", 0.0) == 0.0
    assert balance.free["USDT"] == 10_000.0 + 0.5 * fill.price - fill.fee


@pytest.mark.parametrize("kind", KINDS)
def test_a_gap_fills_at_the_open_less_slippage(kind: str) -> None:
    clock = Clock(T0 + timedelta(minutes=4))  # last 101.00; 12:05 opens at 97.00
    ex = make(kind, clock)
    stop(ex, 99.0, 96.0)
    at(clock, 6)
    (fill,) = ex.fetch_order(SYMBOL, client_order_id="s0").trades
    assert (fill.price, fill.ts) == (97.0 * (1 - SLIP), T0 + timedelta(minutes=5))


def test_a_gap_below_the_limit_leaves_the_stop_resting_as_a_limit() -> None:
    """A real venue leaves a stop-limit unfilled when the price gaps through its limit."""
    clock = Clock(T0 + timedelta(minutes=4))
    ex = make("sim", clock)
    stop(ex, 99.0, 98.0)  # 12:05 opens at 97.00 < 98.00: triggered, not filled
    at(clock, 6)
    assert ex.fetch_order(SYMBOL, client_order_id="s0").status == "accepted"
    at(clock, 7)  # 12:06's high reaches the limit: it fills there, as a resting limit
    (fill,) = ex.fetch_order(SYMBOL, client_order_id="s0").trades
    assert (fill.price, fill.ts, fill.taker) == (98.0, T0 + timedelta(minutes=6), False)


@pytest.mark.parametrize("kind", KINDS)
def test_an_oco_target_fills_at_its_price_and_cancels_the_stop(kind: str) -> None:
    clock = Clock()
    ex = make(kind, clock)
    target, stop_leg = ex.create_oco_sell(
        SYMBOL, 0.5, target_price=101.5, stop_price=98.0, stop_limit_price=97.5, **ids()
    )
    at(clock, 4)
    filled = ex.fetch_order(SYMBOL, client_order_id=target.client_order_id)
    (fill,) = filled.trades
    assert (fill.price, fill.ts, fill.taker) == (101.5, T0 + timedelta(minutes=3), False)
    assert ex.fetch_order(SYMBOL, client_order_id=stop_leg.client_order_id).status == "canceled"
    balance = ex.fetch_balance()
    assert balance.total("BTC") == 0.5 and balance.used.get("BTC", 0.0) == 0.0


@pytest.mark.parametrize("kind", KINDS)
def test_an_oco_stop_fills_first_and_cancels_the_target(kind: str) -> None:
    clock = Clock()
    ex = make(kind, clock)
    target, stop_leg = ex.create_oco_sell(
        SYMBOL, 0.5, target_price=101.5, stop_price=99.0, stop_limit_price=98.5, **ids()
    )
    at(clock, 10)
    (fill,) = ex.fetch_order(SYMBOL, client_order_id=stop_leg.client_order_id).trades
    assert (fill.price, fill.ts) == (99.0 * (1 - SLIP), T0 + timedelta(minutes=2))
    assert ex.fetch_order(SYMBOL, client_order_id=target.client_order_id).status == "canceled"
    assert ex.fetch_balance().total("BTC") == 0.5  # sold once


def test_a_candle_reaching_both_legs_is_a_stop() -> None:
    # placed inside 12:05 (last 97.00): judged from 12:06, which spans 96.80 … 102.50
    clock = Clock(T0 + timedelta(minutes=5, seconds=30))
    ex = make("sim", clock)
    target, stop_leg = ex.create_oco_sell(
        SYMBOL, 0.5, target_price=102.0, stop_price=96.9, stop_limit_price=96.0, **ids()
    )
    at(clock, 7)
    (fill,) = ex.fetch_order(SYMBOL, client_order_id=stop_leg.client_order_id).trades
    assert fill.price == 96.9 * (1 - SLIP) and fill.ts == T0 + timedelta(minutes=6)
    assert ex.fetch_order(SYMBOL, client_order_id=target.client_order_id).status == "canceled"


@pytest.mark.parametrize("kind", KINDS)
def test_the_match_timeframe_decides_which_candles_are_judged(kind: str) -> None:
    """On 5m candles the 12:02 touch belongs to the 12:00 candle: filled at its close, dated
    at its open, like the backtest on 5m data."""
    clock = Clock()
    ex = make(kind, clock, match_timeframe="5m")
    stop(ex, 99.0, 98.5)
    at(clock, 4)
    assert ex.fetch_order(SYMBOL, client_order_id="s0").status == "accepted"
    at(clock, 5)
    (fill,) = ex.fetch_order(SYMBOL, client_order_id="s0").trades
    assert (fill.price, fill.ts) == (99.0 * (1 - SLIP), T0)


def test_the_match_timeframe_is_settable_and_checked() -> None:
    ex = make("sim", Clock())
    ex.match_timeframe = "5m"
    assert ex.match_timeframe.name == "5m"
    with pytest.raises(ConfigError):
        ex.match_timeframe = "1M"
    with pytest.raises(ConfigError):
        make("sim", Clock(), match_timeframe="7q")


def test_market_orders_fill_at_the_open_of_now_with_slippage() -> None:
    clock = Clock(T0 + timedelta(minutes=5))
    ex = make("sim", clock)
    buy = ex.create_order(SYMBOL, "buy", "market", 0.1, client_order_id="b")
    sell = ex.create_order(SYMBOL, "sell", "market", 0.1, client_order_id="s")
    assert (buy.average, sell.average) == (97.0 * (1 + SLIP), 97.0 * (1 - SLIP))
