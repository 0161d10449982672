"""Closed trades folded from fills: round trips, prices, fees, PnL, reasons and ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from awan_trading.domain.ids import client_order_id, control_key
from awan_trading.domain.orders import Fill, Order
from awan_trading.domain.positions import Position, epoch_ms
from awan_trading.domain.trades import closed_trades, trade_id_of
from awan_trading.errors import PositionError

T0 = datetime(2024, 3, 1, tzinfo=UTC)
BUY_SIGNAL = "ab" * 16
SELL_SIGNAL = "cd" * 16


def fill(tid: str, cid: str, side: str, amount: float, price: float, fee: float,
         minute: int, symbol: str = "BTC/USDT", cur: str = "USDT") -> Fill:  # fmt: skip
    return Fill(tid, "X" + tid, cid, symbol, side, amount, price, fee, cur,  # type: ignore[arg-type]
                T0 + timedelta(minutes=minute), True)  # fmt: skip


def stop_order(cid: str, stop_price: float) -> Order:
    return Order(cid, "X", "sim", "BTC/USDT", "sell", "stop_loss_limit", 1.0, stop_price * 0.99,
                 "filled", 1.0, stop_price, 0.0, "USDT", T0, T0, stop_price=stop_price)  # fmt: skip


def test_a_round_trip_becomes_one_trade_with_the_backtest_arithmetic() -> None:
    fee, px, out = 0.001, 100.0, 110.0
    amount = 1000.0 / (px * (1 + fee))
    entry = client_order_id(BUY_SIGNAL, "entry")
    exit_ = client_order_id(SELL_SIGNAL, "exit")
    fills = [
        fill("1", entry, "buy", amount, px, amount * px * fee, 0),
        fill("2", exit_, "sell", amount, out, amount * out * fee, 30),
    ]
    [trade] = closed_trades(fills, exchange="sim", strategies={BUY_SIGNAL: "boll_stoch"})
    assert trade.pnl == pytest.approx(amount * out * (1 - fee) - 1000.0)
    assert trade.stake == pytest.approx(1000.0)
    assert trade.fee == pytest.approx(amount * (px + out) * fee)
    assert (trade.entry_price, trade.exit_price, trade.amount) == (px, out, amount)
    assert (trade.entry_ts, trade.exit_ts) == (epoch_ms(T0), epoch_ms(T0) + 30 * 60_000)
    assert (trade.exit_reason, trade.strategy) == ("exit_signal", "boll_stoch")
    assert (trade.entry_signal_id, trade.exit_signal_id) == (BUY_SIGNAL, SELL_SIGNAL)
    assert trade.client_order_ids == (entry, exit_)
    assert trade.trade_id == trade_id_of("sim", "BTC/USDT", "1") and len(trade.trade_id) == 16
    # the realized PnL a position reports for the same fills is the trade's PnL
    assert Position.from_fills(fills).realized_pnl == pytest.approx(trade.pnl)


def test_partial_fills_average_and_an_open_round_trip_is_not_a_trade() -> None:
    entry = client_order_id(BUY_SIGNAL, "entry")
    exit_ = client_order_id(SELL_SIGNAL, "exit")
    again = client_order_id("ef" * 16, "entry")
    fills = [
        fill("1", entry, "buy", 0.6, 100.0, 0.06, 0),
        fill("2", entry, "buy", 0.4, 105.0, 0.042, 1),
        fill("3", exit_, "sell", 0.5, 110.0, 0.055, 5),
        fill("4", exit_, "sell", 0.5, 120.0, 0.06, 6),
        fill("5", again, "buy", 1.0, 90.0, 0.09, 9),  # a second round trip, still open
    ]
    [trade] = closed_trades(fills, exchange="sim")
    assert trade.entry_price == pytest.approx(0.6 * 100 + 0.4 * 105)
    assert trade.exit_price == pytest.approx(115.0)
    assert trade.amount == pytest.approx(1.0)
    assert trade.exit_ts == epoch_ms(T0) + 6 * 60_000
    assert trade.entry_client_order_ids == (entry,) and trade.strategy is None


def test_exit_reasons_come_from_the_closing_orders_leg() -> None:
    def trip(i: int, closing_cid: str, symbol: str = "BTC/USDT") -> list[Fill]:
        entry = client_order_id(f"{i:02d}" * 16, "entry")
        return [
            fill(f"{i}a", entry, "buy", 1.0, 100.0, 0.1, 10 * i, symbol),
            fill(f"{i}b", closing_cid, "sell", 1.0, 98.0, 0.098, 10 * i + 5, symbol),
        ]

    s = "03" * 16
    fills = (
        trip(1, client_order_id("01" * 16, "risk_exit"))
        + trip(2, client_order_id(control_key(7, "BTC/USDT"), "force_exit"))
        + trip(3, client_order_id(s, "stop", 2))
        + trip(4, "my-manual-order")
        + trip(5, client_order_id("05" * 16, "stop"))
    )
    orders = [
        stop_order(client_order_id(s, "stop"), 98.0),
        stop_order(client_order_id(s, "stop", 2), 99.0),
    ]
    reasons = [t.exit_reason for t in closed_trades(fills, orders=orders)]
    assert reasons == ["risk_exit", "force_exit", "trailing_stop", "manual", "stop_loss"]
    # without the orders a moved stop cannot be told from a fixed one: the less specific reason
    assert closed_trades(fills)[2].exit_reason == "stop_loss"


def test_trades_of_several_symbols_sort_by_exit_and_a_short_sale_is_refused() -> None:
    e1, e2 = client_order_id("01" * 16, "entry"), client_order_id("02" * 16, "entry")
    x = client_order_id(SELL_SIGNAL, "exit")
    fills = [
        fill("1", e1, "buy", 1.0, 100.0, 0.1, 0, "ETH/USDT"),
        fill("2", e2, "buy", 2.0, 10.0, 0.02, 1, "SOL/USDT"),
        fill("3", x, "sell", 2.0, 11.0, 0.022, 3, "SOL/USDT"),
        fill("4", x, "sell", 1.0, 101.0, 0.101, 4, "ETH/USDT"),
    ]
    assert [t.symbol for t in closed_trades(fills)] == ["SOL/USDT", "ETH/USDT"]
    with pytest.raises(PositionError, match=r"sells 3\.0 but only 2\.0 is held"):
        closed_trades([fills[1], fill("9", x, "sell", 3.0, 11.0, 0.0, 2, "SOL/USDT")])
    assert closed_trades([]) == []


def test_a_round_trip_that_leaves_dust_is_a_trade_and_the_next_one_is_its_own() -> None:
    """Binance BTC/USDT (step and minimum 0.00001 BTC), a buy's fee taken in BTC: the exit
    sells the position floored to the step and leaves 0.000001 BTC, which no venue sells."""
    entry = client_order_id(BUY_SIGNAL, "entry")
    exit_ = client_order_id(SELL_SIGNAL, "exit")
    again = client_order_id("ef" * 16, "entry")
    again_exit = client_order_id("01" * 16, "exit")
    late_leg = client_order_id(BUY_SIGNAL, "stop", 0)
    fills = [
        fill("1", entry, "buy", 0.039, 50_000.0, 0.000039, 0, cur="BTC"),
        fill("2", exit_, "sell", 0.03896, 51_000.0, 1.98696, 5),
        fill("3", late_leg, "sell", 0.000001, 51_500.0, 0.0, 6),  # the dust, sold late
        fill("4", again, "buy", 0.039, 52_000.0, 0.000039, 9, cur="BTC"),
        fill("5", again_exit, "sell", 0.03896, 53_000.0, 2.06488, 12),
    ]
    minimums = {"BTC/USDT": 0.00001}
    first, second = closed_trades(fills, exchange="binance", dust_below=minimums)
    assert (first.exit_ts, first.exit_reason) == (epoch_ms(T0) + 5 * 60_000, "exit_signal")
    assert first.amount == pytest.approx(0.038961)  # bought, after the fee
    assert first.pnl == pytest.approx(0.03896 * 51_000.0 - 1.98696 - 0.039 * 50_000.0)
    assert (
        second.entry_client_order_ids == (again,) and second.exit_ts == epoch_ms(T0) + 12 * 60_000
    )
    # The positions fold draws the line at the same place, with the same PnL.
    trip = Position.from_fills(fills[:2], dust_below=0.00001)
    assert not trip.is_open and trip.realized_pnl == pytest.approx(first.pnl)
    # Without the minimum the first round trip never ends (the dust stays a position).
    assert closed_trades(fills[:2], exchange="binance") == []
