"""The executor's in-memory book: fills applied one order at a time give the book loaded from
the same fills (positions, realized PnL of the day, orders in flight)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from awan_trading.domain.ids import client_order_id
from awan_trading.domain.orders import Fill, Order, Submitted, Traded, apply_all
from awan_trading.domain.positions import positions_from_fills
from awan_trading.domain.signals import OrderIntent
from awan_trading.execution.book import Book

T0 = datetime(2024, 3, 1, 23, 58, tzinfo=UTC)
DAY = date(2024, 3, 2)


def order(leg: str, side: str, symbol: str, key: str, minute: int, fills: list[Fill]) -> Order:
    cid = client_order_id(key * 16, leg)  # type: ignore[arg-type]
    intent = OrderIntent(cid, key * 16, "sim", symbol, side, "market",  # type: ignore[arg-type]
                         sum(f.amount for f in fills) or 1.0, None, T0)  # fmt: skip
    events = [Submitted(T0 + timedelta(minutes=minute))] + [Traded(f) for f in fills]
    return apply_all(Order.from_intent(intent), events)


def fill(trade: str, key: str, leg: str, symbol: str, side: str, amount: float, price: float,
         minute: int) -> Fill:  # fmt: skip
    cid = client_order_id(key * 16, leg)  # type: ignore[arg-type]
    return Fill(trade, f"x-{trade}", cid, symbol, side, amount, price, amount * price * 0.001,  # type: ignore[arg-type]
                "USDT", T0 + timedelta(minutes=minute), True)  # fmt: skip


def test_fills_applied_order_by_order_equal_the_book_loaded_from_them() -> None:
    # BTC: bought before midnight, half sold before and half after; ETH bought, still open;
    # SOL: an entry accepted but not filled yet (in flight).
    steps = [
        order("entry", "buy", "BTC/USDT", "aa", 0, [fill("1", "aa", "entry", "BTC/USDT", "buy", 2.0, 100.0, 0)]),
        order("exit", "sell", "BTC/USDT", "ab", 1, [fill("2", "ab", "exit", "BTC/USDT", "sell", 1.0, 90.0, 1)]),
        order("entry", "buy", "ETH/USDT", "ac", 3, [fill("3", "ac", "entry", "ETH/USDT", "buy", 5.0, 10.0, 3)]),
        order("exit", "sell", "BTC/USDT", "ad", 4, [fill("4", "ad", "exit", "BTC/USDT", "sell", 1.0, 80.0, 4)]),
        order("entry", "buy", "SOL/USDT", "ae", 5, []),
    ]  # fmt: skip
    applied = Book.of("sim", DAY, {}, [], [])
    for step in steps:
        applied.apply(step, step.trades)
    every = {s.client_order_id: list(s.trades) for s in steps}
    loaded = Book.of("sim", DAY, every, [], [s for s in steps if not s.is_terminal])
    assert applied.positions == loaded.positions
    assert set(applied.positions) == {"ETH/USDT"}
    assert applied.entering == loaded.entering == {"SOL/USDT"}
    assert applied.exiting == loaded.exiting == set()
    # only the sell after midnight counts for the day: 1 × 80 − fee − half the stake
    stake = 2.0 * 100.0 * 1.001
    expected = 80.0 - 80.0 * 0.001 - stake / 2
    assert applied.realized_today == pytest.approx(expected)
    assert loaded.realized_today == pytest.approx(expected)


def test_a_loaded_book_keeps_the_stored_exit_levels_and_follows_the_fills() -> None:
    buy = fill("1", "aa", "entry", "BTC/USDT", "buy", 2.0, 100.0, 0)
    (stored,) = positions_from_fills([buy], exchange="sim").values()
    stored.stop_price, stored.signal_ts = 95.0, 123
    more = fill("2", "ab", "entry", "BTC/USDT", "buy", 1.0, 100.0, 1)  # not yet projected
    book = Book.of("sim", DAY, {"a": [buy], "b": [more]}, [stored], [])
    assert book.positions["BTC/USDT"].amount == pytest.approx(3.0)
    assert book.positions["BTC/USDT"].stop_price == 95.0


def test_an_exit_in_flight_is_tracked_until_its_order_ends() -> None:
    book = Book.of("sim", DAY, {}, [], [])
    pending = order("exit", "sell", "BTC/USDT", "ab", 1, [])
    book.apply(pending, [])
    assert book.exiting == {"BTC/USDT"}
    done = apply_all(pending, [Traded(fill("9", "ab", "exit", "BTC/USDT", "sell", 1.0, 1.0, 2))])
    book.apply(done, [])
    assert book.exiting == set()
    assert (
        Book.of("sim", DAY, {}, [], [order("stop", "sell", "X/USDT", "af", 0, [])]).exiting == set()
    )


def test_the_book_knows_every_order_on_record_and_the_ones_that_may_still_change() -> None:
    filled = order("entry", "buy", "BTC/USDT", "aa", 0,
                   [fill("1", "aa", "entry", "BTC/USDT", "buy", 1.0, 100.0, 0)])  # fmt: skip
    resting = order("stop", "sell", "BTC/USDT", "aa", 1, [])
    done = order("exit", "sell", "ETH/USDT", "ab", 2, [])
    loaded = Book.of("sim", DAY, {filled.client_order_id: list(filled.trades)}, [], [resting],
                     known=[done.client_order_id])  # fmt: skip
    assert loaded.known == {filled.client_order_id, resting.client_order_id, done.client_order_id}
    assert set(loaded.open_orders) == {resting.client_order_id}
    entry = order("entry", "buy", "SOL/USDT", "ac", 3, [])
    loaded.apply(entry, [])
    assert entry.client_order_id in loaded.known and entry.client_order_id in loaded.open_orders
    ended = apply_all(entry, [Traded(fill("2", "ac", "entry", "SOL/USDT", "buy", 1.0, 5.0, 4))])
    loaded.apply(ended, ended.trades)
    assert entry.client_order_id in loaded.known
    assert entry.client_order_id not in loaded.open_orders


def test_an_exit_that_leaves_dust_closes_the_position_in_both_books() -> None:
    """The sell leaves 0.0004 BTC, below the venue's 0.001: the position is closed (the
    symbol may be entered again) and the dust stays accounted for, so a late fill of it (a
    protective leg's resting remainder) moves nothing that is not there."""
    minimums = {"BTC/USDT": 0.001}
    steps = [
        order("entry", "buy", "BTC/USDT", "aa", 0, [fill("1", "aa", "entry", "BTC/USDT", "buy", 2.0, 100.0, 0)]),
        order("exit", "sell", "BTC/USDT", "ab", 3, [fill("2", "ab", "exit", "BTC/USDT", "sell", 1.9996, 90.0, 3)]),
        order("stop", "sell", "BTC/USDT", "aa", 4, [fill("3", "aa", "stop", "BTC/USDT", "sell", 0.0004, 91.0, 4)]),
    ]  # fmt: skip
    applied = Book.of("sim", DAY, {}, [], [], dust_below=minimums)
    for step in steps[:2]:
        applied.apply(step, step.trades)
    assert applied.positions == {} and applied.flat["BTC/USDT"].dust == pytest.approx(0.0004)
    every = {s.client_order_id: list(s.trades) for s in steps[:2]}
    loaded = Book.of("sim", DAY, every, [], [], dust_below=minimums)
    assert loaded.positions == {} and loaded.flat == applied.flat
    stake = 2.0 * 100.0 * 1.001  # all of it: the dust's share is written off
    expected = 1.9996 * 90.0 * 0.999 - stake
    assert applied.realized_today == pytest.approx(expected) == loaded.realized_today
    applied.apply(steps[2], steps[2].trades)  # the dust sold late
    assert applied.positions == {} and applied.flat == {}
    assert applied.realized_today == pytest.approx(expected + 0.0004 * 91.0 * 0.999)
    # Without the venue's minimum the same fills leave a position of 0.0004 BTC.
    assert Book.of("sim", DAY, every, [], []).positions["BTC/USDT"].amount == pytest.approx(0.0004)
