"""The order state machine: every allowed move, every refused one, fills applied once."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from awan_trading.domain.orders import (
    ORDER_STATUSES,
    TERMINAL_STATUSES,
    TRANSITIONS,
    Accepted,
    Canceled,
    EventKind,
    Expired,
    Fill,
    Order,
    OrderEvent,
    OrderStatus,
    Rejected,
    Submitted,
    TimedOut,
    Traded,
    apply,
    apply_all,
    event_kind,
)
from awan_trading.domain.signals import OrderIntent
from awan_trading.errors import (
    DuplicateFillError,
    FillMismatchError,
    IllegalTransitionError,
    OrderStateError,
    OverfillError,
)

T0 = datetime(2024, 3, 1, tzinfo=UTC)
CID = "e0-" + "ab" * 16
KINDS: tuple[EventKind, ...] = (
    "submit", "accept", "reject", "partial_fill", "fill", "cancel", "expire", "timeout",
)  # fmt: skip


def order(status: OrderStatus = "intent", filled: float = 0.0, amount: float = 1.0) -> Order:
    placed = status not in ("intent", "submitted")
    return Order(
        client_order_id=CID, exchange_order_id="X1" if placed else None, exchange="sim",
        symbol="BTC/USDT", side="buy", type="limit", amount=amount, price=100.0,
        status=status, filled=filled, average=100.0 if filled else None, fee=0.0,
        fee_currency="USDT", created_at=T0, updated_at=T0,
    )  # fmt: skip


def fill(trade_id: str, amount: float, price: float = 100.0, minute: int = 1) -> Fill:
    return Fill(
        trade_id, "X1", CID, "BTC/USDT", "buy", amount, price, amount * price * 0.001, "USDT",
        T0 + timedelta(minutes=minute), False,
    )  # fmt: skip


def event_for(o: Order, kind: EventKind) -> OrderEvent:
    ts = T0 + timedelta(minutes=5)
    if kind == "fill":
        return Traded(fill("t-full", max(o.amount - o.filled, 1e-6)))
    if kind == "partial_fill":
        return Traded(fill("t-part", (o.amount - o.filled) / 4 if o.filled < o.amount else 0.1))
    return {
        "submit": Submitted(ts), "accept": Accepted(ts, "X1"), "reject": Rejected(ts, "no"),
        "cancel": Canceled(ts), "expire": Expired(ts), "timeout": TimedOut(ts),
    }[kind]  # fmt: skip


def start(status: OrderStatus) -> Order:
    """An order in `status` with room left to fill (a partial fill behind the non-fresh ones)."""
    partial = status in ("partially_filled", "canceled", "expired")
    return order(status, filled=1.0 if status == "filled" else 0.2 if partial else 0.0)


@pytest.mark.parametrize(("move", "target"), sorted(TRANSITIONS.items()))
def test_every_allowed_move(move: tuple[OrderStatus, EventKind], target: OrderStatus) -> None:
    status, kind = move
    before = start(status)
    event = event_for(before, kind)
    assert event_kind(before, event) == kind
    after = apply(before, event)
    expected = "partially_filled" if target == "accepted" and before.filled else target
    assert after.status == expected
    assert before.status == status  # the input is never mutated


ILLEGAL = [(s, k) for s in ORDER_STATUSES for k in KINDS if (s, k) not in TRANSITIONS]


@pytest.mark.parametrize(("status", "kind"), ILLEGAL)
def test_every_other_move_is_refused(status: OrderStatus, kind: EventKind) -> None:
    before = start(status)
    error = (
        OverfillError if status == "filled" and kind.endswith("fill") else IllegalTransitionError
    )
    with pytest.raises(error, match=CID):
        apply(before, event_for(before, kind))


def test_terminal_statuses_accept_nothing_but_late_fills() -> None:
    for status in TERMINAL_STATUSES:
        assert {k for s, k in TRANSITIONS if s == status} <= {"partial_fill", "fill"}
    assert not [k for s, k in TRANSITIONS if s in ("filled", "rejected")]


def test_a_fill_after_a_cancel_completes_the_order() -> None:
    o = apply_all(order(), [Submitted(T0), Accepted(T0, "X1"), Traded(fill("t1", 0.4))])
    o = apply(o, Canceled(T0 + timedelta(minutes=2)))
    assert o.status == "canceled" and o.filled == 0.4
    late_partial = apply(o, Traded(fill("t2", 0.1, minute=1)))
    assert late_partial.status == "canceled" and late_partial.filled == pytest.approx(0.5)
    done = apply(late_partial, Traded(fill("t3", 0.5, price=102.0, minute=1)))
    assert done.status == "filled" and done.filled == 1.0
    assert done.average == pytest.approx((0.4 * 100 + 0.1 * 100 + 0.5 * 102) / 1.0)
    assert done.fee == pytest.approx(0.001 * (40 + 10 + 51))
    assert done.trade_ids == {"t1", "t2", "t3"}


def test_fills_accumulate_and_the_last_completes() -> None:
    o = apply_all(order(), [Submitted(T0), Traded(fill("a", 0.25, 100.0))])
    assert (o.status, o.exchange_order_id, o.filled) == ("partially_filled", "X1", 0.25)
    o = apply_all(o, [Traded(fill("b", 0.25, 104.0)), Traded(fill("c", 0.5, 102.0))])
    assert o.status == "filled" and o.remaining == 0.0 and o.average == pytest.approx(102.0)


def test_a_trade_applied_twice_is_refused_and_changes_nothing() -> None:
    o = apply_all(order("accepted"), [Traded(fill("t1", 0.3))])
    with pytest.raises(DuplicateFillError, match="t1"):
        apply(o, Traded(fill("t1", 0.3)))
    done = apply(o, Traded(fill("t2", 0.7)))
    with pytest.raises(DuplicateFillError):  # a duplicate on a filled order is still a duplicate
        apply(done, Traded(fill("t2", 0.7)))


def test_an_overfill_is_refused() -> None:
    o = apply(order("accepted"), Traded(fill("t1", 0.6)))
    with pytest.raises(OverfillError, match=r"1\.2"):
        apply(o, Traded(fill("t2", 0.6)))
    assert apply(o, Traded(fill("t2", 0.4 + 1e-12))).status == "filled"  # float sums tolerated


def test_fills_of_another_order_are_refused() -> None:
    o = order("accepted")
    for wrong in (
        replace(fill("t", 0.1), client_order_id="x0-" + "cd" * 16),
        replace(fill("t", 0.1), exchange_order_id="X2"),
        replace(fill("t", 0.1), side="sell"),
        replace(fill("t", 0.1), symbol="ETH/USDT"),
        replace(fill("t", 0.1), price=0.0),
    ):
        with pytest.raises(FillMismatchError):
            apply(o, Traded(wrong))
    with pytest.raises(FillMismatchError, match="X2"):
        apply(order("unknown"), Accepted(T0, "X2"))


def test_an_order_starts_from_its_intent() -> None:
    intent = OrderIntent(CID, "ab" * 16, "sim", "BTC/USDT", "sell", "stop_loss_limit", 1.0,
                         95.0, T0, stop_price=96.0)  # fmt: skip
    o = Order.from_intent(intent)
    assert (o.status, o.exchange_order_id, o.signal_id, o.stop_price) == (
        "intent",
        None,
        "ab" * 16,
        96.0,
    )


events = st.one_of(
    st.sampled_from(["submit", "accept", "reject", "cancel", "expire", "timeout"]),
    st.tuples(st.sampled_from(["t1", "t2", "t3", "t4"]), st.sampled_from([0.1, 0.25, 0.5, 1.0])),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(events, max_size=12))
def test_random_event_sequences_never_leave_the_table(sequence: list) -> None:
    o = order()
    for item in sequence:
        event = (
            Traded(fill(item[0], item[1])) if isinstance(item, tuple)
            else event_for(o, item)
        )  # fmt: skip
        kind = event_kind(o, event)
        try:
            after = apply(o, event)
        except OrderStateError:
            continue
        target = TRANSITIONS[(o.status, kind)]
        if target == "accepted" and o.filled:
            target = "partially_filled"
        assert after.status == target
        ids = [f.trade_id for f in after.trades]
        assert len(ids) == len(set(ids))  # no trade applied twice
        assert after.filled == pytest.approx(sum(f.amount for f in after.trades))
        assert after.filled <= after.amount * (1 + 1e-9)
        o = after
