"""The executor's state: its book, equity and events — what the order path reads and logs.

`ExecutorState` is the half of `execution.executor.Executor` that reads: the in-memory book
(`execution.book`) the risk check and sizing use instead of the store, the risk state built
from it, equity as the backtest sizes an entry, the pause flag restored from `bot_events`, and
`event`, the one way the executor writes a `bot_events` row. The attributes it uses are set by
`Executor.__init__`; the start-of-day equity (`Executor._day_start_equity`) stays there.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

from awan_trading.config import RiskConfig
from awan_trading.domain.positions import Position, epoch_ms
from awan_trading.exchange.base import Exchange
from awan_trading.exchange.errors import ExchangeError
from awan_trading.execution import ledger
from awan_trading.execution.book import Book
from awan_trading.execution.notices import event_notice
from awan_trading.execution.notifier import Notifier, notify
from awan_trading.execution.risk import RiskState, utc_day
from awan_trading.execution.sizing import MarketRules, smallest_sellable
from awan_trading.logs import get_logger
from awan_trading.storage.base import BotEvent, Store

log = get_logger("awan_trading.execution.executor")


class ExecutorState:
    """The reading half of `Executor` (module docstring)."""

    exchange: Exchange
    store: Store
    bot: str
    risk: RiskConfig
    symbols: tuple[str, ...]
    paused: bool
    live_confirmed: bool
    _book: Book | None
    _sell_minimums: dict[str, float] | None
    marks: dict[str, float]  # closes the live loop marks positions at (`mark`)
    _day_start: tuple[date, float] | None
    now: Callable[[], datetime]
    _day_start_equity: Callable[[datetime], float]
    notifier: Notifier | None

    @property
    def book(self) -> Book:
        """What the checks and sizing read, loaded from the store when stale (`execution.book`)."""
        day = utc_day(self.now())
        if self._book is None or self._book.day != day:
            name = self.exchange.name
            fills = ledger.fills_by_order(self.store, name)  # read once for both
            loaded = ledger.load_orders_marking_stale(self.store, name, fills)
            self._book = Book.of(
                name, day, fills, self.store.positions(name), ledger.may_change(loaded),
                known=loaded[0], dust_below=self.sell_minimums(),
            )  # fmt: skip
        return self._book

    def sell_minimums(self) -> dict[str, float]:
        """Symbol → the smallest amount the venue accepts a sell of; below it a position is
        dust (`domain.positions`). From the venue's markets, read once; when they cannot be
        read, what the store recorded last."""
        if self._sell_minimums is None:
            try:
                markets = self.exchange.markets()
            except ExchangeError:
                return self.store.sell_minimums(self.exchange.name)
            self._sell_minimums = {
                symbol: smallest_sellable(MarketRules.of(market))
                for symbol, market in markets.items()
            }
        return self._sell_minimums

    def refresh(self) -> None:
        """Reload the book from the store (a loop in sensor mode: Dagster runs trade too)."""
        self.stale()
        _ = self.book

    def stale(self) -> None:
        """The store changed in a way the book does not follow: reload it on next use."""
        self._book = None

    def positions(self) -> dict[str, Position]:
        return dict(self.book.positions)

    def risk_state(self) -> RiskState:
        """`RiskState` from the book: positions, entries in flight, today's realized PnL."""
        now = self.now()
        book = self.book
        if self._day_start is None or self._day_start[0] != book.day:
            self._day_start = (book.day, self._day_start_equity(now))
        return RiskState(
            limits=self.risk,
            day=book.day,
            day_start_equity=self._day_start[1],
            realized_pnl_today=book.realized_today,
            open_positions=frozenset(book.positions),
            pending_entries=frozenset(book.entering),
            paused=self.paused,
            exchange=self.exchange.name,
            live_confirmed=self.live_confirmed,
        )

    def equity(self) -> tuple[float, float]:
        """(equity, free cash) in the quote currency, as the backtest sizes an entry.

        Positions are marked at the closes the live loop passed (`mark`), else at the venue's
        last price (the previous close, on the sim): the backtest's "equity at the previous
        closes"; a position entered at this very instant (an earlier entry of the same close)
        counts at its stake, so every entry of one close is sized from the same equity, as the
        backtest sizes them. Without a price (a venue
        error), a position counts at its entry price.
        """
        balance = self.exchange.fetch_balance()
        quote = self._quote()
        now = epoch_ms(self.now())
        marked = 0.0
        for p in self.positions().values():
            marked += p.stake if p.entry_ts >= now else p.amount * self._last_price(p)
        return balance.total(quote) + marked, balance.free.get(quote, 0.0)

    def mark(self, closes: Mapping[str, float]) -> None:
        """Mark positions at these closes (by symbol) until the next call: the live loop
        passes the closes of the candles that just closed, the prices the backtest marks
        equity at, which spares a ticker request per held position before an entry."""
        self.marks = dict(closes)

    def _last_price(self, position: Position) -> float:
        if position.symbol in self.marks:
            return self.marks[position.symbol]
        try:
            return self.exchange.fetch_ticker(position.symbol).last
        except ExchangeError:
            return position.entry_price

    def _quote(self) -> str:
        symbols = list(self.positions()) or list(self.symbols) or ["BTC/USDT"]
        return symbols[0].split("/")[1]

    def _restore_pause(self) -> bool:
        """The pause flag survives restarts: the latest control event in `bot_events` says it."""
        events = self.store.events(self.bot, limit=1000)
        for kind in events.sort("id", descending=True)["kind"]:
            if kind in ("control_pause", "control_resume"):
                return kind == "control_pause"
        return False

    def event(self, kind: str, message: str, data: Mapping[str, Any] | None = None) -> None:
        self.store.record_event(
            BotEvent(
                self.bot, kind, message, json.dumps(dict(data or {}), sort_keys=True, default=str)
            )
        )
        log.info(message, kind=kind, bot=self.bot)
        notify(self.notifier, event_notice(self.bot, kind, message))
