"""Translating ccxt's world into awan's: exceptions onto the taxonomy, dicts onto records.

Kept apart from the connector because it is pure (no I/O) and is where the rules live that
decide safety: which ccxt error may be retried, and which reply is refused as bad data rather
than handed on to a strategy or the executor. Every check names what was wrong, so a refused
reply can be traced to the exchange, the call and the field.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import replace
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import ccxt
import polars as pl

from awan_trading.domain.ids import signal_id_of
from awan_trading.domain.orders import Fill, Order, OrderStatus, OrderType
from awan_trading.exchange.base import Balance, Market, Ticker
from awan_trading.exchange.errors import (
    AuthenticationError,
    BadExchangeData,
    DuplicateClientOrderId,
    ExchangeError,
    ExchangeTimeout,
    ExchangeUnavailable,
    InsufficientFunds,
    InvalidOrder,
    OrderNotFound,
    PermanentExchangeError,
    RateLimited,
)
from awan_trading.logs import redact
from awan_trading.market.schema import CANDLE_SCHEMA
from awan_trading.market.timeframes import Timeframe, from_epoch_ms


def retry_after_seconds(headers: Any, default: float) -> float:
    """Seconds from a `Retry-After` header (delta-seconds or HTTP date), else `default`."""
    value = headers.get("Retry-After") if headers is not None else None
    if value is None:
        return default
    try:
        return max(float(value), 0.0)
    except ValueError:
        try:
            return max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
        except (TypeError, ValueError):
            return default


def rewrite_urls(urls: Any, base: str) -> Any:
    """Every URL in ccxt's `urls['api']` moved onto `base` (scheme+host+port), path kept."""
    if isinstance(urls, dict):
        return {k: rewrite_urls(v, base) for k, v in urls.items()}
    if isinstance(urls, str) and "://" in urls:
        parts = urlsplit(urls)
        return base.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else "")
    return urls


def map_error(exc: ccxt.BaseError, where: str, retry_after: float | None) -> ExchangeError:
    """The awan error for a ccxt exception; the message is redacted.

    Order matters: ccxt's hierarchy nests (OrderNotFound is an InvalidOrder, every
    NetworkError is an OperationFailed, BadResponse is an OperationFailed but means bad data).
    Any other `OperationFailed` — notably Binance's 5xx `-1001` — is transient; any other
    `ExchangeError` is permanent, so an unknown refusal of an order is never retried.
    """
    detail = redact(f"{where}: {type(exc).__name__}: {exc}")
    if isinstance(exc, ccxt.OrderNotFound):
        return OrderNotFound(detail)
    if isinstance(exc, ccxt.InsufficientFunds):
        return InsufficientFunds(detail)
    if isinstance(exc, ccxt.DuplicateOrderId) or (
        isinstance(exc, ccxt.InvalidOrder) and "Duplicate order" in str(exc)
    ):
        return DuplicateClientOrderId(detail)
    if isinstance(exc, ccxt.InvalidOrder | ccxt.BadRequest | ccxt.ArgumentsRequired):
        return InvalidOrder(detail)
    if isinstance(exc, ccxt.AuthenticationError):
        return AuthenticationError(detail)
    if isinstance(exc, ccxt.BadResponse):
        return BadExchangeData(detail)
    if isinstance(exc, ccxt.DDoSProtection | ccxt.RateLimitExceeded):
        return RateLimited(detail, retry_after=retry_after)
    if isinstance(exc, ccxt.RequestTimeout):
        return ExchangeTimeout(detail)
    if isinstance(exc, ccxt.OperationFailed):
        return ExchangeUnavailable(detail)
    return PermanentExchangeError(detail)


def _number(value: Any, what: str, *, positive: bool = False, optional: bool = False) -> float:
    if value is None and optional:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadExchangeData(f"{what}: expected a finite number, got {value!r}")
    if value < 0 or (positive and value == 0):
        raise BadExchangeData(
            f"{what}: expected a {'positive' if positive else 'non-negative'} number, got {value!r}"
        )
    return float(value)


def to_market(symbol: str, info: dict[str, Any], *, tick_size: bool) -> Market | None:
    """The `Market` of a ccxt market, or None for one that cannot be traded safely here
    (not spot, or without price/amount precision to round orders to)."""
    if info.get("spot") is False:
        return None
    precision = info.get("precision") or {}
    price_p, amount_p = precision.get("price"), precision.get("amount")
    if price_p is None or amount_p is None:
        return None

    def increment(value: float) -> float:
        return float(value) if tick_size else 10.0 ** -float(value)

    limits = info.get("limits") or {}
    amount_inc = increment(amount_p)
    return Market(
        symbol=symbol,
        base=str(info.get("base")),
        quote=str(info.get("quote")),
        price_increment=increment(price_p),
        amount_increment=amount_inc,
        min_amount=float((limits.get("amount") or {}).get("min") or amount_inc),
        min_notional=float((limits.get("cost") or {}).get("min") or 0.0),
        maker_fee=float(info.get("maker") or 0.0),
        taker_fee=float(info.get("taker") or 0.0),
        active=info.get("active") is not False,
    )


def check_ohlcv_page(page: Any, where: str) -> list[list[Any]]:
    """A klines page as rows of [ts, o, h, l, c, v]; malformed shapes are refused.

    Values themselves (negative, NaN, null, order) are judged by candle validation, which
    names the symbol, time and rule; here only what validation cannot see is checked.
    """
    if not isinstance(page, list):
        raise BadExchangeData(f"{where}: malformed klines reply (got {type(page).__name__})")
    rows = []
    for row in page:
        if not isinstance(row, list | tuple) or len(row) < 6:
            raise BadExchangeData(f"{where}: malformed candle {redact(repr(row))[:120]}")
        if isinstance(row[0], bool) or not isinstance(row[0], int | float):
            raise BadExchangeData(f"{where}: candle open time {row[0]!r} is not a number")
        rows.append([int(row[0]), *row[1:6]])
    return rows


def _plain_numbers(rows: list[list[Any]]) -> bool:
    """Every o/h/l/c/v value is an int or a float (not a bool, string or None)."""
    return all(type(v) is float or type(v) is int for r in rows for v in r[1:6])


def ohlcv_frame(rows: list[list[Any]], symbol: str) -> pl.DataFrame:
    """Checked klines rows as a frame in the candle schema (values judged by validation).

    Rows of plain numbers — every well-formed reply — become the frame in one constructor
    with the target dtypes: ~0.1 ms for two rows on a 2-core box, where the generic
    build-then-cast path costs ~0.4 ms, paid for each symbol's new candles at every close.
    Anything else (a string, None, a bool) takes that path, which turns what is not a number
    into null, so validation refuses the candle as `non_finite` naming the field.
    """
    if _plain_numbers(rows):
        try:
            return pl.DataFrame(
                [[symbol] * len(rows), *zip(*rows, strict=True)] if rows else None,
                schema=CANDLE_SCHEMA,
                orient="col",
            )
        except (TypeError, ValueError, OverflowError):
            pass  # e.g. an int beyond 64 bits: the checked path below decides
    columns = list(CANDLE_SCHEMA)
    data: dict[str, list[Any]] = {"symbol": [symbol] * len(rows), "ts": [r[0] for r in rows]}
    for i, column in enumerate(columns[2:], start=1):
        data[column] = [r[i] if isinstance(r[i], int | float) else None for r in rows]
    frame = pl.DataFrame(data, schema_overrides={"ts": pl.Int64}, strict=False)
    return frame.select(
        pl.col("symbol").cast(pl.String),
        pl.col("ts").cast(pl.Datetime("ms")).dt.replace_time_zone("UTC"),
        *[pl.col(c).cast(pl.Float64) for c in columns[2:]],
    )


def check_raw_order(raw: Any, symbol: str, timeframe: Timeframe) -> None:
    """Refuse a klines reply whose open times do not strictly increase *as sent*.

    ccxt sorts candles before returning them, which would hide an exchange that shuffles or
    repeats rows; the raw reply (captured by the connector) is what is judged here.
    """
    if not isinstance(raw, list):
        return
    times = [row[0] for row in raw if isinstance(row, list | tuple) and row]
    for before, after in itertools.pairwise(times):
        if not (isinstance(before, int) and isinstance(after, int)) or after <= before:
            rule = "duplicate_ts" if after == before else "out_of_order"
            raise BadExchangeData(
                f"refused exchange candles: {symbol} {timeframe}: {rule} at "
                f"{from_epoch_ms(int(after)).isoformat()} (after {from_epoch_ms(int(before)).isoformat()})"
            )


def to_ticker(symbol: str, raw: Any, where: str) -> Ticker:
    if not isinstance(raw, dict):
        raise BadExchangeData(f"{where}: malformed ticker reply")
    last = _number(raw.get("last"), f"{where}: last", positive=True)
    bid = _number(raw.get("bid") or last, f"{where}: bid", positive=True)
    ask = _number(raw.get("ask") or last, f"{where}: ask", positive=True)
    if bid > ask:
        raise BadExchangeData(f"{where}: bid {bid} above ask {ask}")
    ts = raw.get("timestamp")
    _number(ts, f"{where}: timestamp", positive=True)
    return Ticker(symbol=symbol, ts=from_epoch_ms(int(ts)), bid=bid, ask=ask, last=last)


def to_balance(raw: Any, where: str) -> Balance:
    if not isinstance(raw, dict) or not isinstance(raw.get("free"), dict):
        raise BadExchangeData(f"{where}: malformed balance reply")
    free, used = {}, {}
    for currency, amount in raw["free"].items():
        free[currency] = _number(amount, f"{where}: free {currency}", optional=True)
        used[currency] = _number(
            (raw.get("used") or {}).get(currency), f"{where}: used {currency}", optional=True
        )
    return Balance(free=free, used=used)


def to_status(status: str, filled: float, amount: float, where: str) -> OrderStatus:
    """ccxt's order status → the domain's: the one place a ccxt status is interpreted.

    ccxt folds Binance's NEW and PARTIALLY_FILLED into 'open'; the filled amount tells them
    apart. A 'canceled' order keeps whatever it filled first (its `filled` says how much).
    """
    if status == "open":
        return "partially_filled" if filled > 0.0 else "accepted"
    if status == "closed":
        return "filled"
    if status in ("canceled", "rejected", "expired"):
        return status  # type: ignore[return-value]
    raise BadExchangeData(f"{where}: unknown order status {status!r}")


def _fill(raw: dict[str, Any], order: Order, where: str) -> Fill:
    fee = raw.get("fee") or {}
    return Fill(
        trade_id=str(raw.get("id")),
        exchange_order_id=str(order.exchange_order_id),
        client_order_id=order.client_order_id,
        symbol=order.symbol,
        side=order.side,
        amount=_number(raw.get("amount"), f"{where}: fill amount", positive=True),
        price=_number(raw.get("price"), f"{where}: fill price", positive=True),
        fee=_number(fee.get("cost"), f"{where}: fill fee", optional=True),
        fee_currency=str(fee.get("currency") or order.fee_currency),
        ts=from_epoch_ms(int(raw.get("timestamp") or order.updated_at.timestamp() * 1000)),
        taker=raw.get("takerOrMaker") != "maker",
    )


# Binance's own order types (ccxt's `info.type`), which ccxt folds into 'limit' on spot.
VENUE_TYPES: dict[str, OrderType] = {
    "MARKET": "market",
    "LIMIT": "limit",
    "STOP_LOSS_LIMIT": "stop_loss_limit",
    "LIMIT_MAKER": "limit_maker",
}


def order_type(raw: dict[str, Any], where: str) -> OrderType:
    """The domain type of a ccxt order: the venue's own type where ccxt folded it away
    (a Binance STOP_LOSS_LIMIT or LIMIT_MAKER arrives as 'limit'), else ccxt's unified one.

    An order type awan does not place (someone's TAKE_PROFIT_LIMIT by hand) keeps ccxt's
    unified type, so one foreign order never makes a whole open-orders listing unreadable.
    """
    info = raw.get("info")
    venue = info.get("type") if isinstance(info, dict) else None
    if isinstance(venue, str) and venue.upper() in VENUE_TYPES:
        return VENUE_TYPES[venue.upper()]
    unified = raw.get("type")
    if unified == "limit" and raw.get("stopLossPrice") is not None:
        return "stop_loss_limit"  # venues whose info type ccxt does not pass through
    if unified in ("market", "limit"):
        return unified  # type: ignore[return-value]
    raise BadExchangeData(f"{where}: unsupported order type {unified!r}")


def order_list_id(raw: Any) -> int | None:
    """Binance's `orderListId` of an order (ccxt keeps it in `info`): None for no list (-1)."""
    info = raw.get("info") if isinstance(raw, dict) else None
    number = info.get("orderListId") if isinstance(info, dict) else None
    if isinstance(number, str) and number.lstrip("-").isdigit():
        number = int(number)
    return (
        number if isinstance(number, int) and not isinstance(number, bool) and number >= 0 else None
    )


def to_order(
    raw: Any,
    symbol: str,
    where: str,
    exchange: str,
    *,
    list_client_order_id: str | None = None,
) -> Order:
    """An `Order` from ccxt's unified order dict; anything implausible is `BadExchangeData`.

    `list_client_order_id` is the order list (OCO) the order is a leg of: Binance's order
    replies carry only the list's numeric id, so the connector resolves it and passes it in.
    """
    if not isinstance(raw, dict):
        raise BadExchangeData(f"{where}: malformed order reply")
    if not raw.get("id"):
        raise BadExchangeData(f"{where}: order reply without an id")
    if symbol and raw.get("symbol") != symbol:
        raise BadExchangeData(f"{where}: reply is for {raw.get('symbol')!r}, not {symbol!r}")
    status = raw.get("status")
    side = raw.get("side")
    if side not in ("buy", "sell"):
        raise BadExchangeData(f"{where}: unsupported side {side!r}")
    type_ = order_type(raw, where)
    created = raw.get("timestamp")
    if isinstance(created, int | float) and created <= 0:
        # Binance's reply to placing a stop has no creation time but `workingTime` -1 (not
        # triggered yet), which ccxt takes as the timestamp; the transaction time is it.
        created = raw.get("lastUpdateTimestamp")
    created = _number(created, f"{where}: timestamp", positive=True)
    updated = raw.get("lastUpdateTimestamp") or raw.get("lastTradeTimestamp") or created
    fees = [f for f in (raw.get("fees") or [raw.get("fee")]) if f]
    fee_currency = next((str(f["currency"]) for f in fees if f.get("currency")), "")
    average = raw.get("average")
    amount = _number(raw.get("amount"), f"{where}: amount", positive=True)
    filled = _number(raw.get("filled"), f"{where}: filled", optional=True)
    client_order_id = str(raw.get("clientOrderId") or "")
    stop_price = None
    if type_ == "stop_loss_limit":
        trigger = raw.get("triggerPrice", raw.get("stopLossPrice"))
        stop_price = _number(trigger, f"{where}: stop price", positive=True)
    order = Order(
        client_order_id=client_order_id,
        exchange_order_id=str(raw["id"]),
        exchange=exchange,
        symbol=str(raw["symbol"]),
        side=side,
        type=type_,
        amount=amount,
        price=(
            _number(raw.get("price"), f"{where}: price", positive=True)
            if type_ != "market"
            else None
        ),
        status=to_status(status, filled, amount, where),
        filled=filled,
        average=None if not average else _number(average, f"{where}: average", positive=True),
        fee=float(sum(_number(f.get("cost"), f"{where}: fee", optional=True) for f in fees)),
        fee_currency=fee_currency or str(raw["symbol"]).split("/")[-1],
        created_at=from_epoch_ms(int(created)),
        updated_at=from_epoch_ms(int(updated)),
        stop_price=stop_price,
        signal_id=signal_id_of(client_order_id),
        list_client_order_id=list_client_order_id,
    )
    trades = tuple(_fill(t, order, where) for t in raw.get("trades") or [] if isinstance(t, dict))
    if order.filled > order.amount * (1 + 1e-9):
        raise BadExchangeData(f"{where}: filled {order.filled} exceeds amount {order.amount}")
    return replace(order, trades=trades)


def list_entries(reply: Any, where: str) -> list[tuple[str, int, str]]:
    """(market id, orderListId, listClientOrderId) of each order list in a Binance reply
    (one list, or a list of them, as `GET orderList` / `openOrderList` send)."""
    items = reply if isinstance(reply, list) else [reply]
    entries = []
    for item in items:
        if not isinstance(item, dict):
            raise BadExchangeData(f"{where}: malformed order list {redact(repr(item))[:120]}")
        number, cid = item.get("orderListId"), item.get("listClientOrderId")
        market_id = item.get("symbol")
        if not (isinstance(number, int) and isinstance(cid, str) and cid):
            raise BadExchangeData(f"{where}: order list without orderListId/listClientOrderId")
        if not isinstance(market_id, str):
            raise BadExchangeData(f"{where}: order list {cid} without a symbol")
        entries.append((market_id, number, cid))
    return entries


def check_legs(
    legs: list[Order],
    *,
    list_client_order_id: str,
    target_client_order_id: str,
    stop_client_order_id: str,
    where: str,
) -> tuple[Order, Order]:
    """(target, stop) from the two legs of one OCO, each of the right type, id and list."""
    by_id = {leg.client_order_id: leg for leg in legs}
    target, stop = by_id.get(target_client_order_id), by_id.get(stop_client_order_id)
    if len(legs) != 2 or target is None or stop is None:
        raise BadExchangeData(
            f"{where}: OCO legs {sorted(by_id)} are not "
            f"[{target_client_order_id!r}, {stop_client_order_id!r}]"
        )
    for leg, kind in ((target, "limit_maker"), (stop, "stop_loss_limit")):
        if leg.type != kind or leg.list_client_order_id != list_client_order_id:
            raise BadExchangeData(
                f"{where}: leg {leg.client_order_id} is a {leg.type} of list "
                f"{leg.list_client_order_id!r}, expected a {kind} of {list_client_order_id!r}"
            )
    return target, stop
