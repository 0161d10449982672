"""The `Exchange` protocol and the plain records that cross it.

The executor, the live loop, the CLI and the Dagster resources talk to every venue — the
offline sim, a paper account on real prices, a live ccxt account — through this one narrow
surface, so the code path that trades in production is the one the tests drive against the
sim and the loopback emulator. Orders and fills are the domain's records
(`awan_trading.domain.orders`): a venue reports them in domain statuses, mapped from its own
in one place per connector.
"""

from __future__ import annotations

from collections.abc import Sequence
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
        self,
        symbol: str,
        timeframe: Timeframe | str,
        start: datetime,
        end: datetime,
        *,
        validate: bool = True,
    ) -> pl.DataFrame:
        """Closed candles with open time in [start, end), in the candle schema, sorted by ts.

        `validate=False`: the caller validates them itself (the live feed, together with each
        window's last row), so a venue that checks what it received need not check twice.
        """
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
        stop_price: float | None = None,
    ) -> Order:
        """Place one order under our deterministic `client_order_id` (a reused id is refused).

        `type="stop_loss_limit"` needs `stop_price` (the trigger) and `price` (the limit):
        a sell stop rests until the market trades at or below the trigger, then becomes a
        limit sell at `price` (≤ `stop_price`). Other types refuse a `stop_price`.
        """
        ...

    def create_oco_sell(
        self,
        symbol: str,
        amount: float,
        *,
        target_price: float,
        stop_price: float,
        stop_limit_price: float,
        list_client_order_id: str,
        target_client_order_id: str,
        stop_client_order_id: str,
    ) -> tuple[Order, Order]:
        """Place a one-cancels-the-other sell of `amount`: (target leg, stop leg).

        The target leg is a `limit_maker` sell at `target_price` (above the market), the stop
        leg a `stop_loss_limit` sell with trigger `stop_price` and limit `stop_limit_price`
        (below the market). The amount is locked once for both legs. Each leg is an ordinary
        `Order` carrying `list_client_order_id`, known to `fetch_order`, `fetch_open_orders`
        and `cancel_order` by its own client order id; when one leg fills or is canceled,
        the venue cancels the other (as Binance spot does).
        """
        ...

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


@runtime_checkable
class BatchCandles(Protocol):
    """An exchange that returns the candles of many symbols over one window in one call.

    The live loop needs, at every close, the same newest candle of each of its symbols. A real
    venue has no such request (Binance's klines take one symbol), but the sim computes candles
    rather than fetching them, and one frame for a hundred symbols costs a fraction of a hundred
    frames; `live.feed` uses this when the exchange offers it.
    """

    def fetch_ohlcv_many(
        self, symbols: Sequence[str], timeframe: Timeframe | str, start: datetime, end: datetime
    ) -> pl.DataFrame:
        """`fetch_ohlcv` of each symbol in `symbols` over [start, end), as one frame."""
        ...
