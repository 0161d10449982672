"""The `Exchange` protocol and the plain records that cross it.

The executor, the live loop, the CLI and the Dagster resources talk to every venue — the
offline sim, a paper account on real prices, a live ccxt account — through this one narrow
surface, so the code path that trades in production is the one the tests drive against the
sim and the loopback emulator. Orders and fills are the domain's records
(`awan_trading.domain.orders`): a venue reports them in domain statuses, mapped from its own
in one place per connector.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

import polars as pl

from awan_trading.domain.orders import Order, OrderType, Side
from awan_trading.market.timeframes import Timeframe


@dataclass(frozen=True)
class Market:
    """Trading rules of one symbol, shaped like the useful part of ccxt's `markets[symbol]`."""

    symbol: str
    base: str
    quote: str
    price_increment: float  # tick size
    amount_increment: float  # lot step
    min_amount: float
    min_notional: float  # minimum price * amount in quote currency
    maker_fee: float
    taker_fee: float
    active: bool = True


@dataclass(frozen=True)
class Ticker:
    symbol: str
    ts: datetime
    bid: float
    ask: float
    last: float


@dataclass(frozen=True)
class Balance:
    """Free and locked amounts per currency."""

    free: dict[str, float]
    used: dict[str, float]

    def total(self, currency: str) -> float:
        return self.free.get(currency, 0.0) + self.used.get(currency, 0.0)


@runtime_checkable
class Exchange(Protocol):
    """What awan needs from a venue. Every method raises only `exchange.errors` types."""

    name: str

    def markets(self) -> dict[str, Market]: ...

    def fetch_ohlcv(
        self, symbol: str, timeframe: Timeframe | str, start: datetime, end: datetime
    ) -> pl.DataFrame:
        """Closed candles with open time in [start, end), in the candle schema, sorted by ts."""
        ...

    def fetch_ticker(self, symbol: str) -> Ticker: ...

    def fetch_balance(self) -> Balance: ...

    def create_order(
        self,
        symbol: str,
        side: Side,
        type: OrderType,
        amount: float,
        price: float | None = None,
        *,
        client_order_id: str,
    ) -> Order: ...

    def cancel_order(
        self,
        symbol: str,
        exchange_order_id: str | None = None,
        *,
        client_order_id: str | None = None,
    ) -> Order: ...

    def fetch_order(
        self,
        symbol: str,
        exchange_order_id: str | None = None,
        *,
        client_order_id: str | None = None,
    ) -> Order: ...

    def fetch_open_orders(self, symbol: str | None = None) -> list[Order]: ...

    def now(self) -> datetime:
        """The exchange's clock (the sim's can be driven by tests and replays)."""
        ...


@runtime_checkable
class FirstCandleProbe(Protocol):
    """An exchange that can say where its data starts after a given time, in one request.

    Real venues have no candles before a symbol's listing (or after its delisting), and each
    empty window still costs a request; a fetch that starts in 1974 would spend thousands of
    requests on empty years. With this probe it asks once and jumps. The sim has data at every
    minute, so it does not need (or implement) it.
    """

    def first_candle_at(
        self, symbol: str, timeframe: Timeframe | str, since: datetime
    ) -> datetime | None:
        """Open time of the first closed candle at or after `since`; None if none exists yet."""
        ...
