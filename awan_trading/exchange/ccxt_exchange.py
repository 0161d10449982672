"""The `Exchange` protocol over any ccxt exchange: paced, retried, validated, secret-safe.

ccxt gives one API over a hundred exchanges but leaves the dangerous parts to the caller: it
does not retry, its throttle is per instance, its exceptions are its own, it passes malformed
replies through, and its DEBUG log prints request headers (the API key). This module owns
those parts once:

- every call acquires the account's shared token bucket (`rate_limit.shared_limiter`) with the
  endpoint's cost from ccxt's own API table, and a 429/418 pauses the whole account for the
  exchange's `Retry-After`;
- ccxt exceptions become the awan taxonomy (`ccxt_mapping.map_error`); reads are retried on transient
  errors with exponential back-off and jitter, permanent errors never;
- an order (plain, stop, or an OCO list) is never placed twice: after a transient failure it
  is looked up by its client order id(s) and adopted; only a definite "not found" allows a
  resubmission, with the SAME ids, which the exchange refuses to duplicate (`ccxt_orders`);
- candles are paginated (1000 a page), only closed ones are kept (by the exchange's clock) and
  every page must pass `ensure_valid`, so bad data is refused as `BadExchangeData` naming the
  symbol, time and rule;
- the API key and secret are registered with the log redactor and ccxt's logger gets a
  redacting filter, so neither reaches a log line or an exception message.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import ccxt
import polars as pl
from ccxt.base.decimal_to_precision import TICK_SIZE

from awan_trading.errors import CandleValidationError
from awan_trading.exchange import ccxt_mapping as mapping
from awan_trading.exchange.base import Balance, Market, Ticker
from awan_trading.exchange.ccxt_orders import CcxtOrders
from awan_trading.exchange.errors import (
    BadExchangeData,
    InvalidOrder,
)
from awan_trading.exchange.rate_limit import RetryPolicy, TokenBucket, shared_limiter
from awan_trading.logs import get_logger, redact, register_secrets
from awan_trading.market.schema import empty_candles
from awan_trading.market.timeframes import (
    Timeframe,
    TimeframeError,
    from_epoch_ms,
    parse_timeframe,
    to_epoch_ms,
)
from awan_trading.market.validation import ensure_valid

T = TypeVar("T")
log = get_logger(__name__)

WIRE_LOGGER = "awan_trading.exchange.ccxt_wire"
PAGE_LIMIT = 1000  # Binance's and most exchanges' maximum candles per klines request
TIME_RESYNC_S = 600.0
DEFAULT_429_PAUSE_S = 1.0
DEFAULT_418_PAUSE_S = 120.0


class _RedactingFilter(logging.Filter):
    """Rewrites each ccxt wire record to its redacted text before any handler sees it.

    Handlers (pytest's capture, a file handler someone adds) may not use awan's redacting
    formatter, so the record itself must already be clean.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        return True


_wire = logging.getLogger(WIRE_LOGGER)
if not any(isinstance(f, _RedactingFilter) for f in _wire.filters):
    _wire.addFilter(_RedactingFilter())


class CcxtExchange(CcxtOrders):
    """One ccxt exchange account behind the `Exchange` protocol.

    `api_url` points every REST endpoint at another host (the loopback emulator);
    `timeout` is in seconds. Instances of the same (exchange, endpoint, account) share one
    rate limiter, so any number of them may run in one process.
    """

    # Reads (a close's candles, the managed symbols' open orders) may run on several threads
    # at once: the rate limiter is thread-safe, the last raw reply is kept per thread
    # (`_local`), the HTTP session's pool is too, and a signed request carries its own
    # timestamp (no shared nonce).
    threadsafe_reads = True

    def __init__(
        self,
        exchange_id: str,
        *,
        api_key: str | None = None,
        secret: str | None = None,
        api_url: str | None = None,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        order_lookup_delay: float = 0.5,
        limiter_capacity: float = 1.0,
    ) -> None:
        factory = getattr(ccxt, exchange_id, None)
        if not (isinstance(factory, type) and issubclass(factory, ccxt.Exchange)):
            raise InvalidOrder(f"unknown ccxt exchange id {exchange_id!r}")
        register_secrets([api_key, secret])
        self.name = exchange_id
        self.retry = retry or RetryPolicy()
        self.order_lookup_delay = order_lookup_delay
        options: dict[str, Any] = {"warnOnFetchOpenOrdersWithoutSymbol": False}
        if exchange_id.startswith("binance"):
            # One exchangeInfo call for load_markets: spot only, no currencies or margin look-ups.
            options |= {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False}
            options |= {"fetchMargins": False}
        config: dict[str, Any] = {
            "timeout": int(timeout * 1000),
            "enableRateLimit": True,
            "options": options,
        }
        if api_key:
            config |= {"apiKey": api_key, "secret": secret or ""}
        self._client: ccxt.Exchange = factory(config)
        if api_url:
            self._client.urls["api"] = mapping.rewrite_urls(self._client.urls["api"], api_url)
        self._client.logger = _wire
        account = hashlib.sha256(api_key.encode()).hexdigest()[:16] if api_key else "public"
        endpoint = urlsplit(api_url).netloc if api_url else "default"
        self.limiter: TokenBucket = shared_limiter(
            (exchange_id, endpoint, account),
            rate=1000.0 / float(self._client.rateLimit or 1000.0),
            capacity=limiter_capacity,
        )
        self._local = threading.local()
        self._install_hooks()
        self._markets: dict[str, Market] | None = None
        self._list_ids: dict[tuple[str, int], str] = {}
        self._time_offset_ms: int | None = None
        self._time_synced_at = 0.0

    # --- plumbing ------------------------------------------------------------------------

    def _install_hooks(self) -> None:
        """Route ccxt's per-request throttle to the shared bucket; catch Retry-After."""
        client, limiter, local = self._client, self.limiter, self._local
        original = client.handle_errors

        def throttle(cost: float | None = None) -> None:
            limiter.acquire(1.0 if cost is None else cost, max_wait=self.retry.max_retry_after)

        def handle_errors(code: int, reason: str, url: str, method: str, headers: Any, *rest):
            if code in (418, 429):
                default = DEFAULT_418_PAUSE_S if code == 418 else DEFAULT_429_PAUSE_S
                seconds = mapping.retry_after_seconds(headers, default)
                local.retry_after = seconds
                limiter.pause(seconds, f"HTTP {code} from {self.name}")
            return original(code, reason, url, method, headers, *rest)

        def parse_json(body: str) -> Any:
            # ccxt turns an unparseable body into None and may then hand the raw text to its
            # parsers, which yields empty or garbled results instead of an error.
            local.raw_json = None
            if not isinstance(body, str) or not client.is_json_encoded_object(body):
                return None
            try:
                local.raw_json = json.loads(body)
            except ValueError:
                raise ccxt.BadResponse(
                    f"{self.name}: reply is not valid JSON: {body[:80]!r}"
                ) from None
            return local.raw_json

        client.throttle = throttle
        client.handle_errors = handle_errors
        client.parse_json = parse_json

    def _once(self, what: str, fn: Callable[[], T]) -> T:
        """`fn()` with ccxt's and parsing errors turned into the awan taxonomy."""
        self._local.retry_after = None
        try:
            return fn()
        except ccxt.BaseError as exc:
            raise mapping.map_error(exc, f"{self.name}: {what}", self._local.retry_after) from None
        except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:
            detail = redact(f"{type(exc).__name__}: {exc}")
            raise BadExchangeData(f"{self.name}: {what}: malformed reply ({detail})") from None

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        """A read: `_once`, retried on transient errors by the policy."""
        return self.retry.call(lambda: self._once(what, fn), what=what)

    # --- markets and time ----------------------------------------------------------------

    def markets(self) -> dict[str, Market]:
        if self._markets is None:
            raw = self._call("load_markets", self._client.load_markets)
            tick_size = self._client.precisionMode == TICK_SIZE
            markets = {}
            for symbol, info in raw.items():
                market = mapping.to_market(symbol, info, tick_size=tick_size)
                if market is not None:
                    markets[symbol] = market
            self._markets = markets
        return dict(self._markets)

    def _require_market(self, symbol: str) -> Market:
        market = self.markets().get(symbol)
        if market is None:
            raise InvalidOrder(f"{self.name}: unknown or untradeable symbol {symbol!r}")
        return market

    def _now_ms(self) -> int:
        """The exchange's clock: local time plus the offset measured by `fetch_time`."""
        if self._time_offset_ms is None or time.monotonic() - self._time_synced_at > TIME_RESYNC_S:
            before = time.time()
            server = self._call("fetch_time", self._client.fetch_time)
            if not isinstance(server, int | float) or not math.isfinite(server):
                raise BadExchangeData(f"{self.name}: fetch_time: server time {server!r}")
            local = (before + time.time()) / 2.0
            self._time_offset_ms = int(server - local * 1000.0)
            self._time_synced_at = time.monotonic()
        return int(time.time() * 1000.0) + self._time_offset_ms

    def now(self) -> datetime:
        return from_epoch_ms(self._now_ms())

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
        """Closed candles with open time in [start, end), every page validated.

        Pages follow each other by the last open time seen, so exchange gaps stay gaps and a
        page that does not move forward (an exchange ignoring `startTime`) is refused instead
        of looping. `validate=False` (the live feed validates what it gets with each window's
        last row) skips the candle rules' query per page — about a third of a one-candle
        request's CPU — but not the page's structural checks, its order or its progress.
        """
        try:
            tf = parse_timeframe(timeframe)
        except TimeframeError as exc:
            raise InvalidOrder(f"{self.name}: {symbol}: {exc}") from None
        self._require_market(symbol)
        since = tf.ceil_ms(to_epoch_ms(start))
        stop = min(to_epoch_ms(end), tf.floor_ms(self._now_ms()))
        what = f"fetch_ohlcv {symbol} {tf}"
        context = f"{self.name} {symbol} {tf}"
        frames: list[pl.DataFrame] = []
        while since < stop:
            page = self._call(
                what,
                lambda since=since: self._client.fetch_ohlcv(symbol, tf.name, since, PAGE_LIMIT),
            )
            page = mapping.check_ohlcv_page(page, f"{self.name}: {what}")
            mapping.check_raw_order(getattr(self._local, "raw_json", None), symbol, tf)
            if not page:
                break
            if page[0][0] < since:
                raise BadExchangeData(
                    f"refused exchange candles: {context}: asked for candles from "
                    f"{from_epoch_ms(since).isoformat()}, got one at "
                    f"{from_epoch_ms(page[0][0]).isoformat()} (overlap or ignored startTime)"
                )
            frame = mapping.ohlcv_frame([row for row in page if row[0] < stop], symbol)
            try:  # page by page: stop fetching from a source that sent bad data
                frames.append(ensure_valid(frame, tf, context=context) if validate else frame)
            except CandleValidationError as exc:
                raise BadExchangeData(f"refused exchange candles: {exc}") from exc
            since = tf.next_open_ms(page[-1][0])
        if len(frames) == 1:  # the live loop's case: a concat of one frame still costs a query
            return frames[0]
        return pl.concat(frames) if frames else empty_candles()

    def first_candle_at(
        self, symbol: str, timeframe: Timeframe | str, since: datetime
    ) -> datetime | None:
        """Open time of the first closed candle at or after `since` (one one-candle request).

        Binance-style venues answer a `startTime` before the listing with the first candles
        they have, so a fetch can jump over empty years instead of paging through them.
        """
        try:
            tf = parse_timeframe(timeframe)
        except TimeframeError as exc:
            raise InvalidOrder(f"{self.name}: {symbol}: {exc}") from None
        self._require_market(symbol)
        first = -(-to_epoch_ms(since) // tf.ms) * tf.ms
        closed_end = tf.floor_ms(self._now_ms())
        if first >= closed_end:
            return None
        what = f"first_candle_at {symbol} {tf}"
        page = self._call(what, lambda: self._client.fetch_ohlcv(symbol, tf.name, first, 1))
        page = mapping.check_ohlcv_page(page, f"{self.name}: {what}")
        if not page:
            return None
        ts = page[0][0]
        if ts < first:
            raise BadExchangeData(
                f"refused exchange candles: {self.name} {symbol} {tf}: asked for candles from "
                f"{from_epoch_ms(first).isoformat()}, got one at "
                f"{from_epoch_ms(ts).isoformat()} (ignored startTime)"
            )
        return from_epoch_ms(ts) if ts < closed_end else None

    def fetch_ticker(self, symbol: str) -> Ticker:
        self._require_market(symbol)
        raw = self._call(f"fetch_ticker {symbol}", lambda: self._client.fetch_ticker(symbol))
        return mapping.to_ticker(symbol, raw, f"{self.name}: fetch_ticker {symbol}")

    def fetch_balance(self) -> Balance:
        raw = self._call("fetch_balance", self._client.fetch_balance)
        return mapping.to_balance(raw, f"{self.name}: fetch_balance")
