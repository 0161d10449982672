"""The in-process sim exchange: the `Exchange` protocol over `SimMarket` prices.

Everything above the exchange (executor, reconciliation, live loop, Dagster jobs) must be
testable offline and reproducibly, so this venue behaves like a strict spot exchange —
precision, minimums, locked funds, fees, refused duplicate client order ids — on a market
whose every candle is known in advance. Its clock is injectable, so a test or a replay decides
what "now" is, and resting orders are matched lazily against the candles that closed since
the last call.

Choices worth knowing:
- Fees are charged in the quote currency on both sides (a buy of X base yields exactly X base;
  a buy costs amount·price·(1 + fee), a sell yields amount·price·(1 − fee)). That keeps
  position sizes exact, so selling "the whole position" never fails on a fee remainder, and
  it is what the backtest assumes. `fees_in_received_asset=True` charges them as Binance does
  unless fees are paid in BNB: in the asset received, so a buy of X base yields X·(1 − fee)
  base and costs amount·price; the position is then not a whole number of lot steps, and an
  exit leaves dust (`domain.positions`).
- A client order id can be used once, ever — even after its order closed or was canceled.
  Binance only refuses ids of open orders; being stricter makes "an order at most once per
  signal" an exchange-enforced invariant in tests. Refused orders do not consume their id.
- Fill prices follow the backtest (`execution.fills`), so a live replay on the sim equals the
  backtest trade for trade: a market order fills in full at the open of the current 1m candle
  (`open(now)`; the live loop places orders at a candle's open) moved by `slippage_bps`,
  unrounded. Limit orders that cross the one-tick bid/ask fill at once as taker, at the better
  of their limit and the market-order price; others rest with funds locked.
- Resting orders (limits, stop_loss_limit sells, OCO sells) are matched lazily against the
  closed candles of `match_timeframe` (1m by default; the live loop sets the strategy's
  timeframe so the sim judges exactly the candles the backtest judges), by the rules in
  `exchange.sim_orders`. No partial fills.
- A stop_loss_limit sell must trigger below the last price; an OCO sell needs
  target > last > trigger and limit ≤ trigger, and locks its amount once for both legs.
- Balances keep totals; `used` is derived from the open orders, so locking and releasing
  funds can never leave rounding residue behind.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import polars as pl

from awan_trading.domain.orders import Order, OrderType, Side
from awan_trading.errors import ConfigError, DataError
from awan_trading.exchange.base import Balance, Market, Ticker
from awan_trading.exchange.errors import (
    DuplicateClientOrderId,
    InsufficientFunds,
    InvalidOrder,
    OrderNotFound,
)
from awan_trading.exchange.sim_market import SimMarket, SymbolProfile
from awan_trading.exchange.sim_matching import match_candles
from awan_trading.exchange.sim_orders import CLIENT_ORDER_ID_RE as CLIENT_ORDER_ID_RE  # re-export
from awan_trading.exchange.sim_orders import (
    SimOrder,
    check_client_order_ids,
    check_notional,
    check_oco_sell,
    check_order,
    immediate_price,
)
from awan_trading.execution.fills import market_buy_price, market_sell_price
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
HALF_SPREAD_TICKS = 1


def _wall_clock() -> datetime:
    return datetime.now(UTC)


def _fixed_timeframe(timeframe: Timeframe | str) -> Timeframe:
    try:
        tf = parse_timeframe(timeframe)
    except TimeframeError as exc:
        raise ConfigError(f"sim: match_timeframe: {exc}") from None
    if not tf.is_fixed:
        raise ConfigError(f"sim: match_timeframe {tf.name} has candles of varying length")
    return tf


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
        match_timeframe: Timeframe | str = "1m",
        fees_in_received_asset: bool = False,
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
        self.fees_in_received_asset = fees_in_received_asset
        self.slippage_bps = float(slippage_bps)
        self._match_tf = _fixed_timeframe(match_timeframe)
        self._clock = clock or _wall_clock
        self._lock = threading.RLock()
        self._totals: dict[str, float] = {c: float(a) for c, a in (balances or {}).items()}
        self._orders: dict[str, SimOrder] = {}
        self._by_client_id: dict[str, str] = {}
        self._list_ids: set[str] = set()
        self._markets: dict[str, Market] = {}
        self._next_order = 1
        self._next_trade = 1
        # When set, a new order's exchange order id — and the trade id of its one fill — is
        # `order_ids(client_order_id)` instead of the next number: an account that several
        # processes trade (`exchange.sim_account`) must never hand out one id twice.
        self.order_ids: Callable[[str], str] | None = None
        for symbol in DEFAULT_SYMBOLS:
            self.market(symbol)

    @property
    def slippage(self) -> float:
        """The slippage as a fraction (the backtest's `slippage` for the same fills)."""
        return self.slippage_bps / 10_000.0

    @property
    def match_timeframe(self) -> Timeframe:
        """The candles resting orders are judged on (the live loop sets the strategy's)."""
        return self._match_tf

    @match_timeframe.setter
    def match_timeframe(self, timeframe: Timeframe | str) -> None:
        tf = _fixed_timeframe(timeframe)
        with self._lock:
            self._match()  # candles closed so far are judged on the old timeframe
            self._match_tf = tf

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
        self,
        symbol: str,
        timeframe: Timeframe | str,
        start: datetime,
        end: datetime,
        *,
        validate: bool = True,
    ) -> pl.DataFrame:
        """Candles with open time in [start, end) that have closed by `now()` (generated, so
        there is nothing to validate either way)."""
        window = self._closed_window([symbol], timeframe, start, end)
        return empty_candles() if window is None else self.market_data.candles(symbol, *window)

    def fetch_ohlcv_many(
        self, symbols: Sequence[str], timeframe: Timeframe | str, start: datetime, end: datetime
    ) -> pl.DataFrame:
        """`fetch_ohlcv` of each symbol over one window, as one frame (`BatchCandles`)."""
        window = self._closed_window(symbols, timeframe, start, end)
        if window is None:
            return empty_candles()
        return self.market_data.candles_many(symbols, *window)

    def _closed_window(
        self, symbols: Sequence[str], timeframe: Timeframe | str, start: datetime, end: datetime
    ) -> tuple[Timeframe, int, int] | None:
        """(timeframe, start ms, end ms) of the candles in [start, end) closed by `now()`, None
        when there are none; resting orders are matched first, as any market read does."""
        try:
            tf = parse_timeframe(timeframe)
        except TimeframeError as exc:
            raise InvalidOrder(f"sim: {', '.join(symbols)}: {exc}") from None
        with self._lock:
            for symbol in symbols:
                self.market(symbol)
            self._match()
            now_ms = to_epoch_ms(self.now())
        end_ms = min(to_epoch_ms(end), tf.floor_ms(now_ms))
        start_ms = to_epoch_ms(start)
        return (tf, start_ms, end_ms) if end_ms > start_ms else None

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

    def _market_price(self, symbol: str, side: Side) -> float:
        """Where a market order fills now: `open(now)` moved by slippage (`execution.fills`)."""
        last = self.market_data.price_at(symbol, self.now())
        if side == "buy":
            return market_buy_price(last, self.slippage)
        return market_sell_price(last, self.slippage)

    # --- balances -----------------------------------------------------------------------

    def _used(self) -> dict[str, float]:
        used: dict[str, float] = {}
        for order in self._orders.values():
            if order.is_open and order.locked is not None:
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

    def _check_funds(self, symbol: str, side: str, amount: float, need: tuple[str, float]) -> None:
        currency, value = need
        available = self._free(currency)
        if value > available:
            raise InsufficientFunds(
                f"sim: {symbol}: {side} {amount} needs {value:.8g} {currency}, "
                f"available {available:.8g} {currency}"
            )

    def _new_order(self, **fields: object) -> SimOrder:
        """Register an accepted order placed now; it is matched from the next candle on."""
        now = self.now()
        cid = str(fields["client_order_id"])
        order = SimOrder(
            exchange_order_id=self.order_ids(cid) if self.order_ids else str(self._next_order),
            created_at=now,
            updated_at=now,
            next_ms=to_epoch_ms(now),
            **fields,  # type: ignore[arg-type]
        )
        self._next_order += 1
        self._orders[order.exchange_order_id] = order
        self._by_client_id[order.client_order_id] = order.exchange_order_id
        return order

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
        """Validate, then fill at once (market / crossing limit) or rest with funds locked.

        A `limit_maker` that would cross is refused (it may only make); a `stop_loss_limit`
        sell needs its trigger below the last price and its limit at or below the trigger.
        Every refusal happens before any state changes, so a refused call leaves the exchange
        exactly as it was.
        """
        with self._lock:
            self._match()
            check_client_order_ids(symbol, self._by_client_id, client_order_id)
            market = self.market(symbol)
            profile = self._profile(symbol)
            amount, limit, trigger = check_order(
                market, profile, side, type, amount, price, stop_price
            )
            last, bid, ask = self._quote(symbol)
            scale = 10**profile.price_decimals
            fill_price = immediate_price(
                symbol,
                side,
                type,
                limit,
                trigger,
                market=self._market_price(symbol, side),
                last=last,
                bid=bid / scale,
                ask=ask / scale,
            )
            check_notional(market, side, amount, fill_price or limit)
            fee = market.taker_fee if fill_price is not None else market.maker_fee
            need = self._cost(market, side, amount, fill_price or limit, fee)
            self._check_funds(symbol, side, amount, need)
            order = self._new_order(
                client_order_id=client_order_id,
                symbol=symbol,
                side=side,
                type=type,
                amount=amount,
                price=limit if type != "market" else None,
                stop_price=trigger,
            )
            if fill_price is not None:
                self._fill(order, market, fill_price, order.created_at, taker=True)
            else:
                order.locked = need
            return order.snapshot(self.name)

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
        """A one-cancels-the-other sell: (limit_maker target leg, stop_loss_limit stop leg).

        Checked as Binance does (`sim_orders.check_oco_sell`). The amount is locked once, on
        the stop leg, which stays open exactly as long as the list has an open leg.
        """
        with self._lock:
            self._match()
            if list_client_order_id in self._list_ids:
                raise DuplicateClientOrderId(
                    f"sim: {symbol}: list client order id {list_client_order_id!r} was already "
                    "used; ids are never reused"
                )
            check_client_order_ids(
                symbol,
                self._by_client_id,
                list_client_order_id,
                target_client_order_id,
                stop_client_order_id,
            )
            market = self.market(symbol)
            last, _, _ = self._quote(symbol)
            amount, target, trigger, limit = check_oco_sell(
                market,
                self._profile(symbol),
                last,
                amount,
                target_price,
                stop_price,
                stop_limit_price,
            )
            need = self._cost(market, "sell", amount, limit, market.maker_fee)
            self._check_funds(symbol, "sell", amount, need)
            legs = {"symbol": symbol, "side": "sell", "amount": amount}
            target_leg = self._new_order(
                client_order_id=target_client_order_id,
                type="limit_maker",
                price=target,
                list_client_order_id=list_client_order_id,
                **legs,
            )
            stop_leg = self._new_order(
                client_order_id=stop_client_order_id,
                type="stop_loss_limit",
                price=limit,
                stop_price=trigger,
                list_client_order_id=list_client_order_id,
                **legs,
            )
            target_leg.sibling, stop_leg.sibling = stop_leg, target_leg
            stop_leg.locked = need
            self._list_ids.add(list_client_order_id)
            return target_leg.snapshot(self.name), stop_leg.snapshot(self.name)

    def _cost(
        self, market: Market, side: str, amount: float, price: float, fee_rate: float
    ) -> tuple[str, float]:
        """What the order takes from the balance: quote (with the fee, unless it is taken from
        the base received) for a buy, base for a sell."""
        if side == "buy":
            notional = amount * price
            return market.quote, notional + (
                0.0 if self.fees_in_received_asset else notional * fee_rate
            )
        return market.base, amount

    def _fill(
        self, order: SimOrder, market: Market, price: float, ts: datetime, *, taker: bool
    ) -> None:
        """Execute the whole order at `price`: record the fill, close it, move balances."""
        fill = order.execute(
            price,
            ts,
            fee_rate=market.taker_fee if taker else market.maker_fee,
            trade_id=self.order_ids(order.client_order_id)
            if self.order_ids
            else str(self._next_trade),
            fee_currency=market.base
            if self.fees_in_received_asset and order.side == "buy"
            else market.quote,
            taker=taker,
        )
        self._next_trade += 1
        notional = fill.amount * fill.price
        sign = 1.0 if order.side == "buy" else -1.0
        base_fee = fill.fee if fill.fee_currency == market.base else 0.0
        self._credit(market.base, sign * fill.amount - base_fee)
        self._credit(market.quote, -sign * notional - (fill.fee - base_fee))

    def _candles(self, symbol: str, start_ms: int, end_ms: int) -> pl.DataFrame:
        """Closed candles of the match timeframe with open time in [start_ms, end_ms)."""
        if self._match_tf.name == "1m":
            return self.market_data.candles_1m(symbol, start_ms, end_ms)
        return self.market_data.candles(symbol, self._match_tf, start_ms, end_ms)

    def _match(self) -> None:
        """Fill resting orders against the match-timeframe candles closed since the last call."""
        tf = self._match_tf
        closed_end = tf.floor_ms(to_epoch_ms(self.now()))  # candles opening before it closed
        resting: dict[str, list[SimOrder]] = {}
        for order in self._orders.values():
            if order.is_open and tf.ceil_ms(order.next_ms) < closed_end:
                resting.setdefault(order.symbol, []).append(order)
        for symbol, orders in resting.items():
            orders.sort(key=lambda o: int(o.exchange_order_id))
            start = min(tf.ceil_ms(o.next_ms) for o in orders)
            candles = self._candles(symbol, start, closed_end)
            market = self.market(symbol)
            for done in match_candles(orders, candles, self.slippage):
                ts = from_epoch_ms(done.ts_ms)
                self._fill(done.order, market, done.price, ts, taker=done.taker)
            for order in orders:
                if order.is_open:
                    order.next_ms = max(order.next_ms, closed_end)

    def _find(
        self, symbol: str, exchange_order_id: str | None, client_order_id: str | None
    ) -> SimOrder:
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
        Binance (-2011), because it may have filled since the caller last looked. Canceling
        either leg of an OCO cancels both (the snapshot returned is the leg asked for)."""
        with self._lock:
            self._match()
            order = self._find(symbol, exchange_order_id, client_order_id)
            if not order.is_open:
                raise OrderNotFound(
                    f"sim: {symbol}: order {order.exchange_order_id} ({order.client_order_id}) is "
                    f"{order.status}; only open orders can be canceled"
                )
            now = self.now()
            order.close("canceled", now)
            if order.sibling is not None and order.sibling.is_open:
                order.sibling.close("canceled", now)  # an OCO is canceled as a whole
            return order.snapshot(self.name)

    def fetch_open_orders(self, symbol: str | None = None) -> list[Order]:
        with self._lock:
            self._match()
            if symbol is not None:
                self.market(symbol)
            return [
                o.snapshot(self.name)
                for o in sorted(self._orders.values(), key=lambda o: int(o.exchange_order_id))
                if o.is_open and (symbol is None or o.symbol == symbol)
            ]
