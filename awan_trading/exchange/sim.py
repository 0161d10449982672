"""The in-process sim exchange: the `Exchange` protocol over `SimMarket` prices.

Everything above the exchange (executor, reconciliation, live loop, Dagster jobs) must be
testable offline and reproducibly, so this venue behaves like a strict spot exchange —
precision, minimums, locked funds, fees, refused duplicate client order ids — on a market
whose every candle is known in advance. Its clock is injectable, so a test or a replay decides
what "now" is, and resting limit orders are matched lazily against the 1m candles that closed
since the last call.

Choices worth knowing:
- Fees are charged in the quote currency on both sides (a buy of X base yields exactly X base;
  a buy costs amount·price·(1 + fee), a sell yields amount·price·(1 − fee)). That keeps
  position sizes exact, so selling "the whole position" never fails on a fee remainder.
- A client order id can be used once, ever — even after its order closed or was canceled.
  Binance only refuses ids of open orders; being stricter makes "an order at most once per
  signal" an exchange-enforced invariant in tests. Refused orders do not consume their id.
- Market orders fill in full at the bid/ask (one tick of half-spread) moved by `slippage_bps`
  and rounded against the trader to the tick. Limit orders that cross fill at once as taker, at
  the better of their limit and the market-order price; others rest with funds locked and
  fill in full as maker at their limit price in the first later closed 1m candle whose low
  (buy) / high (sell) reaches the limit. No partial fills.
- Balances keep totals; `used` is derived from the open orders, so locking and releasing
  funds can never leave rounding residue behind.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

import numpy as np
import polars as pl

from awan_trading.domain.ids import signal_id_of
from awan_trading.domain.orders import Fill, Order, OrderStatus, OrderType, Side
from awan_trading.errors import ConfigError, DataError
from awan_trading.exchange.base import Balance, Market, Ticker
from awan_trading.exchange.errors import (
    DuplicateClientOrderId,
    InsufficientFunds,
    InvalidOrder,
    OrderNotFound,
)
from awan_trading.exchange.sim_market import MINUTE_MS, SimMarket, SymbolProfile
from awan_trading.market.schema import empty_candles
from awan_trading.market.timeframes import (
    Timeframe,
    TimeframeError,
    from_epoch_ms,
    parse_timeframe,
    to_epoch_ms,
)

DEFAULT_FEE_RATE = 0.001  # Binance spot's base rate, maker and taker
DEFAULT_SYMBOLS = ("BTC/USDT", "ETH/USDT", "SOL/USDT", "BNB/USDT", "XRP/USDT")
CLIENT_ORDER_ID_RE = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")  # Binance's documented rule
HALF_SPREAD_TICKS = 1


@dataclass
class _OrderState:
    """The sim's mutable record of an order; callers only ever see `Order` snapshots."""

    exchange_order_id: str
    client_order_id: str
    symbol: str
    side: Side
    type: OrderType
    amount: float
    price: float | None
    created_at: datetime
    updated_at: datetime
    status: OrderStatus = "accepted"  # resting; the sim never fills partially
    locked: tuple[str, float] | None = None  # (currency, amount) while resting
    next_minute: int = 0  # first 1m candle not yet matched against
    fills: list[Fill] = field(default_factory=list)

    def snapshot(self, exchange: str) -> Order:
        filled = sum(f.amount for f in self.fills)
        notional = sum(f.amount * f.price for f in self.fills)
        return Order(
            client_order_id=self.client_order_id,
            exchange_order_id=self.exchange_order_id,
            exchange=exchange,
            symbol=self.symbol,
            side=self.side,
            type=self.type,
            amount=self.amount,
            price=self.price,
            status=self.status,
            filled=filled,
            average=notional / filled if filled else None,
            fee=sum(f.fee for f in self.fills),
            fee_currency=self.symbol.split("/")[1],
            created_at=self.created_at,
            updated_at=self.updated_at,
            signal_id=signal_id_of(self.client_order_id),
            trades=tuple(self.fills),
        )


def _to_step(value: float, decimals: int, rounding: str) -> float:
    """Round on the decimal grid of the shortest repr, so 0.00003 stays 0.00003."""
    quantum = Decimal(1).scaleb(-decimals)
    return float(Decimal(repr(value)).quantize(quantum, rounding=rounding))


def _wall_clock() -> datetime:
    return datetime.now(UTC)


class SimExchange:
    """A deterministic spot exchange; thread-safe (one lock around every call)."""

    name = "sim"

    def __init__(
        self,
        market: SimMarket,
        *,
        fee_rate: float | None = None,
        slippage_bps: float = 0.0,
        balances: dict[str, float] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        rate = DEFAULT_FEE_RATE if fee_rate is None else float(fee_rate)
        if not 0.0 <= rate < 0.1:
            raise ConfigError(f"sim: fee_rate must be in [0, 0.1), got {fee_rate!r}")
        if not (math.isfinite(slippage_bps) and 0.0 <= slippage_bps < 1000.0):
            raise ConfigError(f"sim: slippage_bps must be in [0, 1000), got {slippage_bps!r}")
        for currency, amount in (balances or {}).items():
            if not (math.isfinite(amount) and amount >= 0.0):
                raise ConfigError(f"sim: balance of {currency} must be >= 0, got {amount!r}")
        self.market_data = market
        self.fee_rate = rate
        self.slippage_bps = float(slippage_bps)
        self._clock = clock or _wall_clock
        self._lock = threading.RLock()
        self._totals: dict[str, float] = {c: float(a) for c, a in (balances or {}).items()}
        self._orders: dict[str, _OrderState] = {}
        self._by_client_id: dict[str, str] = {}
        self._markets: dict[str, Market] = {}
        self._next_order = 1
        self._next_trade = 1
        for symbol in DEFAULT_SYMBOLS:
            self.market(symbol)

    # --- markets and time --------------------------------------------------------------

    def now(self) -> datetime:
        when = self._clock()
        return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)

    def market(self, symbol: str) -> Market:
        """The rules of `symbol`; any well-formed `BASE/QUOTE` exists on the sim."""
        with self._lock:
            cached = self._markets.get(symbol)
            if cached is not None:
                return cached
            profile = self._profile(symbol)
            market = Market(
                symbol=symbol,
                base=profile.base,
                quote=profile.quote,
                price_increment=profile.tick,
                amount_increment=profile.step,
                min_amount=profile.step,
                min_notional=profile.min_notional,
                maker_fee=self.fee_rate,
                taker_fee=self.fee_rate,
            )
            self._markets[symbol] = market
            return market

    def markets(self) -> dict[str, Market]:
        """The well-known symbols plus every symbol used so far."""
        with self._lock:
            return dict(self._markets)

    def _profile(self, symbol: str) -> SymbolProfile:
        try:
            return self.market_data.profile(symbol)
        except DataError as exc:
            raise InvalidOrder(str(exc)) from None

    # --- market data ---------------------------------------------------------------------

    def fetch_ohlcv(
        self, symbol: str, timeframe: Timeframe | str, start: datetime, end: datetime
    ) -> pl.DataFrame:
        """Candles with open time in [start, end) that have closed by `now()`."""
        try:
            tf = parse_timeframe(timeframe)
        except TimeframeError as exc:
            raise InvalidOrder(f"sim: {symbol}: {exc}") from None
        with self._lock:
            self.market(symbol)
            self._match()
            now_ms = to_epoch_ms(self.now())
        end_ms = min(to_epoch_ms(end), tf.floor_ms(now_ms))
        start_ms = to_epoch_ms(start)
        if end_ms <= start_ms:
            return empty_candles()
        return self.market_data.candles(symbol, tf, start_ms, end_ms)

    def _quote(self, symbol: str) -> tuple[float, int, int]:
        """(last price, bid ticks, ask ticks) at `now()`."""
        profile = self._profile(symbol)
        last = self.market_data.price_at(symbol, self.now())
        ticks = round(last * 10**profile.price_decimals)
        return last, max(ticks - HALF_SPREAD_TICKS, 1), ticks + HALF_SPREAD_TICKS

    def fetch_ticker(self, symbol: str) -> Ticker:
        with self._lock:
            self._match()
            profile = self._profile(symbol)
            last, bid, ask = self._quote(symbol)
            scale = 10**profile.price_decimals
            return Ticker(symbol=symbol, ts=self.now(), bid=bid / scale, ask=ask / scale, last=last)

    def _taker_price(self, profile: SymbolProfile, side: Side, bid: int, ask: int) -> float:
        """Where a market order fills now: bid/ask moved by slippage, rounded to the tick
        against the trader."""
        slip = self.slippage_bps / 10_000.0
        if side == "buy":
            ticks = math.ceil(ask * (1.0 + slip) - 1e-9)
        else:
            ticks = max(math.floor(bid * (1.0 - slip) + 1e-9), 1)
        return ticks / 10**profile.price_decimals

    # --- balances -----------------------------------------------------------------------

    def _used(self) -> dict[str, float]:
        used: dict[str, float] = {}
        for order in self._orders.values():
            if order.status == "accepted" and order.locked is not None:
                currency, amount = order.locked
                used[currency] = used.get(currency, 0.0) + amount
        return used

    def _free(self, currency: str) -> float:
        return self._totals.get(currency, 0.0) - self._used().get(currency, 0.0)

    def fetch_balance(self) -> Balance:
        with self._lock:
            self._match()
            used = self._used()
            currencies = sorted(set(self._totals) | set(used))
            return Balance(
                free={c: self._totals.get(c, 0.0) - used.get(c, 0.0) for c in currencies},
                used={c: used.get(c, 0.0) for c in currencies},
            )

    def _credit(self, currency: str, amount: float) -> None:
        self._totals[currency] = self._totals.get(currency, 0.0) + amount

    # --- orders -------------------------------------------------------------------------

    def create_order(
        self,
        symbol: str,
        side: Side,
        type: OrderType,
        amount: float,
        price: float | None = None,
        *,
        client_order_id: str,
    ) -> Order:
        """Validate, then fill at once (market / crossing limit) or rest with funds locked.

        Every refusal happens before any state changes, so a refused call leaves the exchange
        exactly as it was.
        """
        with self._lock:
            self._match()
            if not isinstance(client_order_id, str) or not CLIENT_ORDER_ID_RE.match(
                client_order_id
            ):
                raise InvalidOrder(
                    f"sim: {symbol}: client_order_id {client_order_id!r} must be 1-36 chars "
                    "of [.A-Z:/a-z0-9_-]"
                )
            if client_order_id in self._by_client_id:
                raise DuplicateClientOrderId(
                    f"sim: {symbol}: client_order_id {client_order_id!r} was already used by "
                    f"order {self._by_client_id[client_order_id]}; ids are never reused"
                )
            market = self.market(symbol)
            profile = self._profile(symbol)
            amount, limit = self._check_order(market, profile, side, type, amount, price)
            _, bid, ask = self._quote(symbol)
            taker = self._taker_price(profile, side, bid, ask)
            scale = 10**profile.price_decimals
            if type == "market":
                fill_price: float | None = taker
            elif side == "buy":
                fill_price = min(limit, taker) if limit >= ask / scale else None
            else:
                fill_price = max(limit, taker) if limit <= bid / scale else None
            reference = fill_price if fill_price is not None else limit
            if amount * reference < market.min_notional:
                raise InvalidOrder(
                    f"sim: {symbol}: {side} {amount} at {reference} is worth "
                    f"{amount * reference:.8g} {market.quote}, below min_notional "
                    f"{market.min_notional} {market.quote}"
                )
            now = self.now()
            if fill_price is not None:
                need_currency, need = self._cost(market, side, amount, fill_price, market.taker_fee)
            else:
                need_currency, need = self._cost(market, side, amount, limit, market.maker_fee)
            available = self._free(need_currency)
            if need > available:
                raise InsufficientFunds(
                    f"sim: {symbol}: {side} {amount} needs {need:.8g} {need_currency}, "
                    f"available {available:.8g} {need_currency}"
                )
            order = _OrderState(
                exchange_order_id=str(self._next_order),
                client_order_id=client_order_id,
                symbol=symbol,
                side=side,
                type=type,
                amount=amount,
                price=limit if type == "limit" else None,
                created_at=now,
                updated_at=now,
                next_minute=-(-to_epoch_ms(now) // MINUTE_MS),
            )
            self._next_order += 1
            self._orders[order.exchange_order_id] = order
            self._by_client_id[client_order_id] = order.exchange_order_id
            if fill_price is not None:
                self._fill(order, market, fill_price, now, taker=True)
            else:
                order.locked = (need_currency, need)
            return order.snapshot(self.name)

    @staticmethod
    def _cost(
        market: Market, side: Side, amount: float, price: float, fee_rate: float
    ) -> tuple[str, float]:
        """What the order takes from the balance: quote incl. fee for a buy, base for a sell."""
        if side == "buy":
            notional = amount * price
            return market.quote, notional + notional * fee_rate
        return market.base, amount

    @staticmethod
    def _check_order(
        market: Market,
        profile: SymbolProfile,
        side: str,
        type: str,
        amount: float,
        price: float | None,
    ) -> tuple[float, float]:
        """(amount floored to the lot step, limit price rounded to the tick or 0.0)."""
        symbol = market.symbol
        if side not in ("buy", "sell"):
            raise InvalidOrder(f"sim: {symbol}: side {side!r} must be 'buy' or 'sell'")
        if type not in ("market", "limit"):
            raise InvalidOrder(f"sim: {symbol}: order type {type!r} must be 'market' or 'limit'")
        if not isinstance(amount, int | float) or not math.isfinite(amount) or amount <= 0:
            raise InvalidOrder(f"sim: {symbol}: amount {amount!r} must be a positive number")
        rounded = _to_step(float(amount), profile.amount_decimals, ROUND_FLOOR)
        if rounded < market.min_amount:
            raise InvalidOrder(
                f"sim: {symbol}: amount {amount} floors to {rounded} at step "
                f"{market.amount_increment}, below min_amount {market.min_amount}"
            )
        if type == "market":
            if price is not None:
                raise InvalidOrder(f"sim: {symbol}: a market order takes no price (got {price})")
            return rounded, 0.0
        if price is None or not math.isfinite(price) or price <= 0:
            raise InvalidOrder(f"sim: {symbol}: limit price {price!r} must be a positive number")
        limit = _to_step(float(price), profile.price_decimals, ROUND_HALF_UP)
        if limit <= 0:
            raise InvalidOrder(
                f"sim: {symbol}: limit price {price} rounds to 0 at tick {market.price_increment}"
            )
        return rounded, limit

    def _fill(
        self, order: _OrderState, market: Market, price: float, ts: datetime, *, taker: bool
    ) -> None:
        """Execute the whole order at `price`: move balances, record the fill, close it."""
        fee_rate = market.taker_fee if taker else market.maker_fee
        notional = order.amount * price
        fee = notional * fee_rate
        if order.side == "buy":
            self._credit(market.quote, -(notional + fee))
            self._credit(market.base, order.amount)
        else:
            self._credit(market.base, -order.amount)
            self._credit(market.quote, notional - fee)
        order.fills.append(
            Fill(
                trade_id=str(self._next_trade),
                exchange_order_id=order.exchange_order_id,
                client_order_id=order.client_order_id,
                symbol=order.symbol,
                side=order.side,
                amount=order.amount,
                price=price,
                fee=fee,
                fee_currency=market.quote,
                ts=ts,
                taker=taker,
            )
        )
        self._next_trade += 1
        order.status = "filled"
        order.locked = None
        order.updated_at = ts

    def _match(self) -> None:
        """Fill resting limit orders against the 1m candles that closed since the last call."""
        closed_end = to_epoch_ms(self.now()) // MINUTE_MS
        resting: dict[str, list[_OrderState]] = {}
        for order in self._orders.values():
            if order.status == "accepted" and order.next_minute < closed_end:
                resting.setdefault(order.symbol, []).append(order)
        for symbol, orders in resting.items():
            start = min(o.next_minute for o in orders)
            candles = self.market_data.candles_1m(symbol, start * MINUTE_MS, closed_end * MINUTE_MS)
            lows, highs = candles["low"].to_numpy(), candles["high"].to_numpy()
            market = self.market(symbol)
            for order in sorted(orders, key=lambda o: int(o.exchange_order_id)):
                skip = order.next_minute - start
                limit = order.price or 0.0
                touched = lows[skip:] <= limit if order.side == "buy" else highs[skip:] >= limit
                hits = np.flatnonzero(touched)
                if len(hits):
                    minute = order.next_minute + int(hits[0])
                    self._fill(order, market, limit, from_epoch_ms(minute * MINUTE_MS), taker=False)
                order.next_minute = closed_end

    def _find(
        self, symbol: str, exchange_order_id: str | None, client_order_id: str | None
    ) -> _OrderState:
        if exchange_order_id is None and client_order_id is None:
            raise InvalidOrder(f"sim: {symbol}: give an exchange_order_id or a client_order_id")
        if exchange_order_id is None:
            exchange_order_id = self._by_client_id.get(str(client_order_id))
        order = self._orders.get(str(exchange_order_id)) if exchange_order_id is not None else None
        if order is None or order.symbol != symbol:
            which = (
                f"id {exchange_order_id}"
                if client_order_id is None
                else f"client id {client_order_id}"
            )
            raise OrderNotFound(f"sim: {symbol}: no order with {which}")
        return order

    def fetch_order(
        self,
        symbol: str,
        exchange_order_id: str | None = None,
        *,
        client_order_id: str | None = None,
    ) -> Order:
        with self._lock:
            self._match()
            return self._find(symbol, exchange_order_id, client_order_id).snapshot(self.name)

    def cancel_order(
        self,
        symbol: str,
        exchange_order_id: str | None = None,
        *,
        client_order_id: str | None = None,
    ) -> Order:
        """Cancel an open order and release its funds; a closed one is `OrderNotFound`, as on
        Binance (-2011), because it may have filled since the caller last looked."""
        with self._lock:
            self._match()
            order = self._find(symbol, exchange_order_id, client_order_id)
            if order.status != "accepted":
                raise OrderNotFound(
                    f"sim: {symbol}: order {order.exchange_order_id} ({order.client_order_id}) is "
                    f"{order.status}; only open orders can be canceled"
                )
            order.status = "canceled"
            order.locked = None
            order.updated_at = self.now()
            return order.snapshot(self.name)

    def fetch_open_orders(self, symbol: str | None = None) -> list[Order]:
        with self._lock:
            self._match()
            if symbol is not None:
                self.market(symbol)
            return [
                o.snapshot(self.name)
                for o in sorted(self._orders.values(), key=lambda o: int(o.exchange_order_id))
                if o.status == "accepted" and (symbol is None or o.symbol == symbol)
            ]
