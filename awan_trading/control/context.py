"""What every control command works on: the store, which bot and venue, and where prices come from.

A command is answered from the store (the live loop's record of what it did), so the CLI and
the Telegram bot — two processes, often two containers — give the same answer. Only a number
that the store cannot know (a live account's balance, the venue's last price) asks the
exchange, and a venue that does not answer costs precision, not the reply: the mark falls back
to the last stored candle's close and says so (`Mark.source`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from awan_trading.errors import AwanError
from awan_trading.logs import get_logger
from awan_trading.market.timeframes import parse_timeframe
from awan_trading.storage.base import Store

if TYPE_CHECKING:
    from awan_trading.config import AwanConfig, Settings
    from awan_trading.exchange.base import Exchange

log = get_logger(__name__)

MarkSource = Literal["venue", "candle"]


class ControlError(AwanError):
    """A control command was asked something it cannot do (an unknown symbol, a bad date)."""


@dataclass(frozen=True)
class Mark:
    """The price a position is valued at, and where it came from."""

    price: float
    source: MarkSource  # "venue": the exchange's last price; "candle": the last stored close
    ts: datetime


@dataclass
class ControlContext:
    """One bot on one venue, as the live loop that trades it was configured.

    `exchange` is built on first use (a ccxt venue costs seconds to import and a network
    round trip); `venue_prices` False keeps every mark on stored candles, which is what the sim
    wants (its wall-clock price is not the price a replay traded at) and what tests want.
    """

    store: Store
    bot: str = "awan"
    mode: str = "sim"
    symbols: tuple[str, ...] = ()
    timeframe: str = "1h"
    home: Path = Path(".awan")
    starting_balance: dict[str, float] = field(default_factory=lambda: {"USDT": 10_000.0})
    exchange_factory: Callable[[], Exchange] | None = None
    venue_prices: bool = False
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    _exchange: Exchange | None = field(default=None, init=False, repr=False)

    @property
    def venue(self) -> str:
        """The exchange key fills and candles are stored under (`sim`, or the ccxt id)."""
        return self.mode.partition(":")[2] or self.mode

    @property
    def account(self) -> str:
        """The exchange key orders, fills and positions are stored under: a paper account's
        are kept apart from the live account of the same venue (`paper:<id>`)."""
        return self.mode if self.mode.startswith("paper:") else self.venue

    @property
    def is_live(self) -> bool:
        return self.mode.startswith("live:")

    def now(self) -> datetime:
        return self.clock()

    def exchange(self) -> Exchange | None:
        """The venue, built once; None when this context has no way to build one."""
        if self._exchange is None and self.exchange_factory is not None:
            self._exchange = self.exchange_factory()
        return self._exchange

    def mark(self, symbol: str) -> Mark | None:
        """The venue's last price when asked for and available, else the last stored close."""
        if self.venue_prices:
            try:
                exchange = self.exchange()
                if exchange is not None:
                    ticker = exchange.fetch_ticker(symbol)
                    return Mark(float(ticker.last), "venue", ticker.ts)
            except AwanError as error:  # the exchange taxonomy: a price is a nicety here
                log.warning("last price unavailable; using the last candle", symbol=symbol,
                            error=str(error))  # fmt: skip
        return self.candle_mark(symbol)

    def candle_mark(self, symbol: str) -> Mark | None:
        """The close of the last stored candle of `symbol` on this bot's timeframe."""
        opened = self.store.latest_candle_ts(self.venue, symbol, self.timeframe)
        if opened is None:
            return None
        candles = self.store.read_candles(self.venue, symbol, self.timeframe, start=opened)
        if candles.is_empty():
            return None
        closed = parse_timeframe(self.timeframe).add(opened, 1)
        return Mark(float(candles["close"][-1]), "candle", closed)


def open_context(
    settings: Settings, config: AwanConfig, *, bot: str = "awan", store: Store | None = None
) -> ControlContext:
    """The context `awan.toml` and the `AWAN_*` settings describe (the live loop's own)."""
    from awan_trading.storage import open_store

    store = store or open_store(settings.resolved_store_url(), migrate=True)
    mode = config.universe.exchange

    def build() -> Exchange:
        from awan_trading.exchange.factory import open_exchange

        return open_exchange(mode, config, settings, store=store)

    return ControlContext(
        store=store, bot=bot, mode=mode, symbols=tuple(config.universe.symbols),
        timeframe=config.strategy.timeframe, home=settings.home,
        starting_balance=dict(config.sim.starting_balance), exchange_factory=build,
        venue_prices=mode != "sim",
    )  # fmt: skip
