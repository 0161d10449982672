"""The executor's in-memory book: what its pre-trade checks and sizing read, without the store.

A signal's order must be acknowledged by the venue within milliseconds of its candle close,
and every store read costs a round trip (a DuckDB statement, a PostgreSQL query). So the
executor keeps what it reads before placing an order — open positions, the symbols with an
entry or an exit in flight, the realized PnL of the current UTC day, the orders that may still
change (what the position manager asks the venue about at each close) and every client order
id on record — in a `Book`:

- **loaded from the store** (`Book.of`) whenever it may no longer match: at start-up, after
  a reconciliation, after positions were rebuilt from fills or an order took an unexpected
  turn, and at every close of a loop in sensor mode (`Executor.refresh`). The inline loop
  reloads a stale book at the end of a close, so the next close's orders do not wait for it;
- **updated write-through** (`Book.apply`) when an order the executor placed is acknowledged:
  its fills are recorded in the store first, then applied here, so the next signal of the same
  close is checked and sized as if the projection had been rebuilt already. Every other order
  write of the executor (protective legs placed, canceled or filled, reconciliation) marks the
  book stale, so it is reloaded before it is read again.

The store stays the source of truth: nothing lives only here. A book built by applying fills
equals one loaded after `Store.rebuild_positions`, because both fold the same fills with
`Position.apply_fill` (`tests/unit/test_execution_book.py`). The book assumes its executor is
the only one trading its exchange between two loads, which holds for `awan live --execution
inline`; a Dagster execution run builds a fresh executor (and book) per signal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

from awan_trading.domain.ids import parse_client_order_id
from awan_trading.domain.orders import Fill, Order
from awan_trading.domain.positions import Position, epoch_ms
from awan_trading.errors import ClientOrderIdError
from awan_trading.execution.risk import utc_day

ENTRY_LEGS = frozenset({"entry"})
EXIT_LEGS = frozenset({"exit", "risk_exit", "force_exit"})


def leg_of(client_order_id: str) -> str | None:
    """The leg an awan client order id names; None for an order that is not awan's."""
    try:
        return parse_client_order_id(client_order_id).leg
    except ClientOrderIdError:
        return None


@dataclass
class Book:
    """Open positions, orders in flight by leg, and the day's realized PnL (module docstring)."""

    exchange: str
    day: date
    positions: dict[str, Position] = field(default_factory=dict)
    entering: set[str] = field(default_factory=set)  # symbols with an entry order in flight
    exiting: set[str] = field(default_factory=set)  # symbols with a market exit in flight
    realized_today: float = 0.0
    open_orders: dict[str, Order] = field(default_factory=dict)  # may still change, by cid
    known: set[str] = field(default_factory=set)  # every client order id on record
    dust_below: Mapping[str, float] = field(default_factory=dict)  # sell minimums, by symbol
    flat: dict[str, Position] = field(default_factory=dict)  # closed, carrying dust

    @classmethod
    def of(
        cls,
        exchange: str,
        day: date,
        fills: Mapping[str, list[Fill]],
        stored: Iterable[Position],
        in_flight: Iterable[Order],
        known: Iterable[str] = (),
        dust_below: Mapping[str, float] | None = None,
    ) -> Book:
        """The book of an exchange's `fills` (by client order id: every fill, since a sell's
        PnL needs its round trip's cost), its `stored` positions (whose exit levels a rebuild
        keeps), its orders that may still change, `in_flight`, and every client order id
        recorded, `known` (those of the fills and of `in_flight` are added), and the smallest
        amount of each symbol the venue accepts a sell of, `dust_below` (`domain.positions`).

        Positions are folded from the fills, as `Store.rebuild_positions` folds them
        (`positions_from_fills`: the same fold, the same levels kept), so the book is right
        even when the `positions` projection has not been rebuilt yet; one pass also sums
        today's realized PnL.
        """
        minimums = dict(dust_below or {})
        before = {p.symbol: p for p in stored}
        book = cls(exchange, day, dust_below=minimums)
        book.known.update(known)
        book.known.update(cid for cid in fills)
        for order in in_flight:  # a terminal one here has a row that says otherwise: kept
            book.open_orders[order.client_order_id] = order
            book._track(order)
        by_symbol: dict[str, list[Fill]] = {}
        for fill in (f for fs in fills.values() for f in fs):
            by_symbol.setdefault(fill.symbol, []).append(fill)
        for symbol in sorted(by_symbol):
            position = Position(symbol, exchange=exchange)
            for fill in sorted(by_symbol[symbol], key=lambda f: (f.ts, str(f.trade_id))):
                book.realized_today += _realized(position, fill, day, minimums.get(symbol, 0.0))
            if position.is_open:
                if symbol in before:
                    position.keep_levels(before[symbol])
                book.positions[symbol] = position
            elif position.dust > 0.0:
                book.flat[symbol] = position
        return book

    def apply(self, order: Order, fresh: Iterable[Fill]) -> None:
        """After `order`'s report was recorded: its new fills move the positions (and today's
        PnL), and its status says whether its symbol still has an order in flight."""
        for fill in sorted(fresh, key=lambda f: (f.ts, str(f.trade_id))):
            symbol = fill.symbol
            position = (
                self.positions.get(symbol)
                or self.flat.pop(symbol, None)
                or Position(symbol, exchange=self.exchange)
            )
            self.realized_today += _realized(
                position, fill, self.day, self.dust_below.get(symbol, 0.0)
            )
            if position.is_open:
                self.positions[symbol] = position
                continue
            self.positions.pop(symbol, None)
            if position.dust > 0.0:
                self.flat[symbol] = position
        if order.is_terminal:
            self.open_orders.pop(order.client_order_id, None)
        else:
            self.open_orders[order.client_order_id] = order
        leg = leg_of(order.client_order_id)
        if leg in ENTRY_LEGS:
            self.entering.discard(order.symbol)
        elif leg in EXIT_LEGS:
            self.exiting.discard(order.symbol)
        self._track(order)

    def _track(self, order: Order) -> None:
        cid = order.client_order_id
        self.known.add(cid)
        leg = leg_of(cid)
        if order.is_terminal or leg is None:
            return
        if leg in ENTRY_LEGS:
            self.entering.add(order.symbol)
        elif leg in EXIT_LEGS:
            self.exiting.add(order.symbol)


def _realized(position: Position, fill: Fill, day: date, dust_below: float) -> float:
    """Apply `fill` to `position`; the quote PnL it realized on `day` (a sell on that day)."""
    before = position.realized_pnl
    position.apply_fill(fill, dust_below=dust_below)
    if fill.side == "sell" and utc_day(epoch_ms(fill.ts)) == day:
        return position.realized_pnl - before
    return 0.0
