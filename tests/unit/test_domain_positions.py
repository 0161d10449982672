"""Positions derived from fills, and venue reports turned into order events."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from awan_trading.domain.ids import client_order_id
from awan_trading.domain.orders import Fill, Order, Submitted, apply_all
from awan_trading.domain.positions import Position, epoch_ms, positions_from_fills
from awan_trading.domain.reports import is_inferred, report_events
from awan_trading.errors import FillMismatchError, PositionError

T0 = datetime(2024, 3, 1, tzinfo=UTC)
SID = "ab" * 16
ENTRY = client_order_id(SID, "entry")
EXIT = client_order_id("cd" * 16, "exit")


def fill(tid: str, side: str, amount: float, price: float, fee: float, cur: str = "USDT",
         minute: int = 0, symbol: str = "BTC/USDT") -> Fill:  # fmt: skip
    cid = ENTRY if side == "buy" else EXIT
    return Fill(tid, "X" + tid, cid, symbol, side, amount, price, fee, cur,  # type: ignore[arg-type]
                T0 + timedelta(minutes=minute), True)  # fmt: skip


def test_partial_entries_average_the_price_and_include_the_fee_in_the_stake() -> None:
    pos = Position.from_fills(
        [fill("2", "buy", 0.3, 110.0, 0.033, minute=1), fill("1", "buy", 0.7, 100.0, 0.07)],
        exchange="sim",
    )
    assert pos.amount == pytest.approx(1.0)
    assert pos.entry_price == pytest.approx(0.7 * 100 + 0.3 * 110)
    assert pos.stake == pytest.approx(70 + 33 + 0.07 + 0.033)
    assert pos.fees == pytest.approx(0.103)
    assert (pos.entry_ts, pos.signal_id, pos.high_water) == (epoch_ms(T0), SID, 100.0)
    assert (pos.stop_price, pos.target_price, pos.exchange) == (0.0, math.inf, "sim")


def test_exits_realize_pnl_after_fees_and_release_stake_pro_rata() -> None:
    fills = [fill("1", "buy", 1.0, 100.0, 0.1), fill("2", "sell", 0.4, 120.0, 0.048, minute=5)]
    pos = Position.from_fills(fills)
    assert pos.amount == pytest.approx(0.6) and pos.stake == pytest.approx(100.1 * 0.6)
    assert pos.realized_pnl == pytest.approx(0.4 * 120 - 0.048 - 100.1 * 0.4)
    pos.apply_fill(fill("3", "sell", 0.6, 90.0, 0.054, minute=9))
    assert not pos.is_open and pos.amount == 0.0 and pos.stake == 0.0
    assert pos.realized_pnl == pytest.approx(48 - 0.048 + 54 - 0.054 - 100.1)
    assert pos.fees == pytest.approx(0.1 + 0.048 + 0.054)


def test_a_full_round_trip_matches_the_backtest_arithmetic() -> None:
    fee, budget, px, out = 0.001, 1000.0, 100.0, 110.0
    amount = budget / (px * (1 + fee))  # how the replay sizes an entry
    pos = Position.from_fills([
        fill("1", "buy", amount, px, amount * px * fee),
        fill("2", "sell", amount, out, amount * out * fee, minute=3),
    ])  # fmt: skip
    assert pos.realized_pnl == pytest.approx(amount * out * (1 - fee) - budget, rel=1e-12)


def test_a_base_currency_fee_shrinks_what_a_buy_receives() -> None:
    pos = Position.from_fills([fill("1", "buy", 1.0, 100.0, 0.001, cur="BTC")])
    assert pos.amount == pytest.approx(0.999) and pos.stake == pytest.approx(100.0)
    assert pos.fees == pytest.approx(0.1)
    pos.apply_fill(fill("2", "sell", 0.999, 100.0, 0.0999, minute=1))
    assert not pos.is_open and pos.realized_pnl == pytest.approx(99.9 - 0.0999 - 100.0)


def test_selling_more_than_held_or_mixing_symbols_is_refused() -> None:
    with pytest.raises(PositionError, match="long only"):
        Position.from_fills(
            [fill("1", "buy", 1.0, 100.0, 0.0), fill("2", "sell", 2.0, 1.0, 0.0, minute=1)]
        )
    with pytest.raises(PositionError, match="several symbols"):
        Position.from_fills(
            [fill("1", "buy", 1.0, 1.0, 0.0), fill("2", "buy", 1.0, 1.0, 0.0, symbol="ETH/USDT")]
        )
    with pytest.raises(PositionError, match="at least one"):
        Position.from_fills([])


def test_the_projection_keeps_open_positions_and_the_managers_levels() -> None:
    fills = [
        fill("1", "buy", 1.0, 100.0, 0.0), fill("2", "sell", 1.0, 105.0, 0.0, minute=1),
        fill("3", "buy", 2.0, 50.0, 0.0, minute=2, symbol="ETH/USDT"),
        fill("4", "buy", 0.5, 90.0, 0.0, minute=3),  # a second round trip in BTC
    ]  # fmt: skip
    first = positions_from_fills(fills, exchange="sim")
    assert sorted(first) == ["BTC/USDT", "ETH/USDT"]
    btc = first["BTC/USDT"]
    assert (btc.amount, btc.entry_price, btc.realized_pnl) == (0.5, 90.0, 0.0)  # new round trip
    btc.stop_price, btc.high_water, btc.stop_client_order_id = 85.0, 99.0, "s1-" + SID
    rebuilt = positions_from_fills(reversed(fills), exchange="sim", previous=first.values())
    assert rebuilt["BTC/USDT"] == btc
    stale = replace(btc, entry_ts=0)  # levels of an earlier round trip are not carried over
    again = positions_from_fills(fills, previous=[stale])["BTC/USDT"]
    assert (again.stop_price, again.stop_client_order_id) == (0.0, None)


def _order(status: str = "accepted", **kw) -> Order:
    base = Order(ENTRY, "X9", "sim", "BTC/USDT", "buy", "limit", 1.0, 100.0, status, 0.0,  # type: ignore[arg-type]
                 None, 0.0, "USDT", T0, T0)  # fmt: skip
    return replace(base, **kw)


def test_a_report_of_a_partial_fill_without_trades_becomes_an_inferred_partial_fill() -> None:
    ours = _order()
    report = _order(
        "partially_filled",
        filled=0.3,
        average=99.0,
        fee=0.0297,
        updated_at=T0 + timedelta(minutes=2),
    )
    events = report_events(ours, report)
    after = apply_all(ours, events)
    assert after.status == "partially_filled" and after.filled == pytest.approx(0.3)
    assert after.average == pytest.approx(99.0) and after.fee == pytest.approx(0.0297)
    assert is_inferred(after.trades[0])
    assert report_events(after, report) == []  # the same report again changes nothing
    done = apply_all(
        after, report_events(after, _order("filled", filled=1.0, average=99.5, fee=0.0995))
    )
    assert done.status == "filled" and done.average == pytest.approx(99.5)


def test_a_report_brings_an_intent_through_submission_fills_and_cancel() -> None:
    ours = _order("intent", exchange_order_id=None)
    listed = fill("7", "buy", 0.4, 100.0, 0.04)
    report = _order(
        "canceled", filled=0.4, average=100.0, trades=(replace(listed, exchange_order_id="X9"),)
    )
    kinds = [type(e).__name__ for e in report_events(ours, report)]
    assert kinds == ["Submitted", "Accepted", "Traded", "Canceled"]
    after = apply_all(ours, report_events(ours, report))
    assert (
        after.status == "canceled" and after.trade_ids == {"7"} and after.exchange_order_id == "X9"
    )


def test_a_rejected_report_and_a_foreign_report() -> None:
    submitted = apply_all(_order("intent", exchange_order_id=None), [Submitted(T0)])
    assert apply_all(submitted, report_events(submitted, _order("rejected"))).status == "rejected"
    with pytest.raises(FillMismatchError):
        report_events(submitted, _order(client_order_id=EXIT))


# Binance's BTC/USDT: lot step 0.00001 BTC, minimum 0.00001 BTC; a buy's fee taken in BTC.
MIN_SELL = 0.00001
BOUGHT, BTC_FEE = 0.039, 0.000039  # 0.038961 BTC received
SOLD = 0.03896  # what the exit can sell: the amount held floored to the step
DUST = BOUGHT - BTC_FEE - SOLD  # 0.000001 BTC, below the minimum


def dust_round_trip(minute: int = 0) -> list[Fill]:
    return [
        fill(f"{minute}b", "buy", BOUGHT, 50_000.0, BTC_FEE, cur="BTC", minute=minute),
        fill(f"{minute}s", "sell", SOLD, 51_000.0, 1.98696, minute=minute + 5),
    ]


def test_an_exit_that_leaves_less_than_the_venue_sells_closes_the_position() -> None:
    pos = Position.from_fills(dust_round_trip(), dust_below=MIN_SELL)
    assert not pos.is_open and pos.amount == 0.0 and pos.stake == 0.0
    assert pos.dust == pytest.approx(DUST)
    # The dust's cost is written off: PnL is the proceeds against everything paid.
    assert pos.realized_pnl == pytest.approx(SOLD * 51_000.0 - 1.98696 - BOUGHT * 50_000.0)
    # Without the venue's minimum the remainder is a position (what every fold did before).
    assert Position.from_fills(dust_round_trip()).amount == pytest.approx(DUST)
    # A partial exit that leaves a sellable amount keeps the position open.
    partial = [*dust_round_trip()[:1], fill("s", "sell", 0.02, 51_000.0, 0.0, minute=5)]
    assert Position.from_fills(partial, dust_below=MIN_SELL).amount == pytest.approx(0.018961)


def test_the_next_entry_after_dust_starts_a_round_trip_of_its_own() -> None:
    fills = dust_round_trip() + dust_round_trip(minute=10)[:1]
    (pos,) = positions_from_fills(fills, dust_below={"BTC/USDT": MIN_SELL}).values()
    assert pos.amount == pytest.approx(BOUGHT - BTC_FEE)  # the new buy only, not the dust
    assert pos.stake == pytest.approx(BOUGHT * 50_000.0) and pos.realized_pnl == 0.0
    assert pos.entry_ts == epoch_ms(T0 + timedelta(minutes=10))
    assert pos.dust == pytest.approx(DUST)  # still on the account, outside the position
    closed = positions_from_fills(
        dust_round_trip() + dust_round_trip(minute=10), dust_below={"BTC/USDT": MIN_SELL}
    )
    assert closed == {}


def test_a_late_fill_of_what_a_closed_round_trip_left_resting_sells_dust() -> None:
    """A protective leg's remainder may rest below the minimum after a partial fill; when it
    fills after the round trip was closed, it sells dust, not a position that is not there."""
    pos = Position.from_fills(dust_round_trip(), dust_below=MIN_SELL)
    pnl = pos.realized_pnl
    pos.apply_fill(fill("late", "sell", DUST, 52_000.0, 0.0, minute=9), dust_below=MIN_SELL)
    assert not pos.is_open and pos.dust == 0.0
    assert pos.realized_pnl == pytest.approx(pnl + DUST * 52_000.0)
    with pytest.raises(PositionError, match="long only"):
        pos.apply_fill(fill("more", "sell", DUST, 52_000.0, 0.0, minute=10))
