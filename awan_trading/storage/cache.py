"""The hot cache: the last candles, latest indicators, a signals stream and pair priorities.

Redis only makes the live loop fast; correctness never depends on it (no fill, order or
position lives only here). So every Redis call goes through a circuit breaker: a cache that
is down or slow is logged once, bypassed for a cool-down, probed again, and never raises into
the trading path — callers see a miss and read the store. Without `AWAN_REDIS_URL` the same
interface is served in-process by `MemoryCache`.

Candle layout (chosen by `benchmarks/store.py`): one Redis string per (exchange, symbol,
timeframe) holding fixed-width 48-byte little-endian records (ts ms int64 + OHLCV float64).
Reading the last N candles is one GETRANGE and a zero-parse `numpy.frombuffer`; appending is
one Lua call that also checks continuity, so a candle missed while Redis was unreachable
invalidates the key instead of leaving a silent hole.
"""

from __future__ import annotations

import functools
import hashlib
import os
import struct
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

import numpy as np
import polars as pl

from awan_trading.domain.signals import SignalRecord
from awan_trading.errors import ConfigError
from awan_trading.logs import get_logger, register_secrets
from awan_trading.market.schema import TS_DTYPE
from awan_trading.market.timeframes import EPOCH, parse_timeframe
from awan_trading.masking import url_passwords
from awan_trading.storage.base import mask_url

if TYPE_CHECKING:  # redis-py itself is imported by `RedisCache`: without a Redis URL, never
    from redis.connection import AbstractConnection

T = TypeVar("T")
log = get_logger(__name__)

RECORD = np.dtype(
    [("ts", "<i8"), ("open", "<f8"), ("high", "<f8"), ("low", "<f8"), ("close", "<f8"),
     ("volume", "<f8")]
)  # fmt: skip
RECORD_SIZE = RECORD.itemsize  # 48
DEFAULT_CAPACITY = 1000
DAY = 86_400

# KEYS[1]: candle string. ARGV: records, first ts, the open right before `first` (the caller
# knows the grid, so months need no calendar here), capacity, ttl seconds, last ts.
# Returns 1 appended/revised, 0 no window cached, -1 continuity broken (key dropped).
_APPEND_LUA = """
local key = KEYS[1]
local rec, first, prev = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local cap, ttl, size = tonumber(ARGV[4]), tonumber(ARGV[5]), 48
local newest = tonumber(ARGV[6])
local len = redis.call('STRLEN', key)
if len == 0 then return 0 end
local last = struct.unpack('<i8', redis.call('GETRANGE', key, len - size, len - size + 7))
if last == prev then  -- the common case, the next candle: 4 calls in all
  len = redis.call('APPEND', key, rec)
else
  local head = struct.unpack('<i8', redis.call('GETRANGE', key, 0, 7))
  if first >= head and first <= last and newest >= last then
    -- records are sorted: binary-search how many open before `first` (at most ~11 reads)
    local lo, hi = 0, len / size
    while lo < hi do
      local mid = math.floor((lo + hi) / 2)
      local at = struct.unpack('<i8', redis.call('GETRANGE', key, mid * size, mid * size + 7))
      if at < first then lo = mid + 1 else hi = mid end
    end
    local keep = lo * size
    if keep > 0 then
      rec = redis.call('GETRANGE', key, 0, keep - 1) .. rec
    end
    redis.call('SET', key, rec)
    len = #rec
  else
    redis.call('DEL', key)
    return -1
  end
end
if len > 2 * cap * size then
  redis.call('SET', key, redis.call('GETRANGE', key, len - cap * size, len - 1))
end
redis.call('EXPIRE', key, ttl)
return 1
"""
_APPEND_SHA = hashlib.sha1(_APPEND_LUA.encode()).hexdigest()


_PACK = struct.Struct("<q5d")
MILLISECOND = timedelta(milliseconds=1)


def encode_records(frame: pl.DataFrame) -> bytes:
    """Candle-schema rows → contiguous 48-byte records."""
    if frame.height <= 4:  # the live loop's new candle: `rows()` costs 3 µs, an expression 60
        return b"".join(
            _PACK.pack(
                (r["ts"] - EPOCH) // MILLISECOND,
                r["open"],
                r["high"],
                r["low"],
                r["close"],
                r["volume"],
            )
            for r in frame.rows(named=True)
        )
    rows = np.empty(frame.height, dtype=RECORD)
    rows["ts"] = frame["ts"].dt.epoch("ms").to_numpy()
    for name in RECORD.names[1:]:
        rows[name] = frame[name].to_numpy()
    return rows.tobytes()


def decode_records(symbol: str, payload: bytes) -> pl.DataFrame:
    """48-byte records → a candle-schema frame, without a per-row loop.

    One transposing copy makes every field contiguous; then two Series (ts, and the five
    float fields back to back, sliced) and `to_frame().hstack` build the frame. For 500 rows
    that is ~30 µs, where `pl.from_numpy` of the record array plus `pl.DataFrame([...])`
    costs ~70: polars' per-Series and frame-constructor overheads dominate at this size.
    """
    fields = np.frombuffer(payload, dtype="<f8").reshape(-1, len(RECORD.names)).T.copy()
    n = fields.shape[1]
    ts = pl.Series("ts", fields[0].view("<i8")).cast(TS_DTYPE)
    values = pl.Series("values", fields[1:].ravel())  # contiguous: no copy
    columns = [ts, *(values.slice(i * n, n).alias(name) for i, name in _VALUE_FIELDS)]
    return _symbol_column(symbol, n).to_frame().hstack(columns)


_VALUE_FIELDS = tuple(enumerate(RECORD.names[1:]))


@functools.lru_cache(maxsize=256)
def _symbol_column(symbol: str, height: int) -> pl.Series:
    # polars Series have value semantics, so frames can share one; building it is ~8 µs
    # (new_from_index; pl.repeat(eager=True) costs ~120 µs)
    return pl.Series("symbol", [symbol], dtype=pl.String).new_from_index(0, height)


def is_contiguous(frame: pl.DataFrame, timeframe: str) -> bool:
    """True when the rows are consecutive candles of `timeframe` (no gap, no repeat)."""
    if frame.height < 2:
        return True
    epoch = pl.col("ts").dt.epoch("ms")
    follows = parse_timeframe(timeframe).next_open_expr(epoch).shift(1) == epoch
    return bool(frame.select(follows.slice(1).all()).item())


class CircuitBreaker:
    """Closed → open after `threshold` consecutive failures → one probe after `cooldown`."""

    def __init__(
        self,
        name: str,
        threshold: int = 3,
        cooldown: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name, self.threshold, self.cooldown, self.clock = name, threshold, cooldown, clock
        self.failures = 0
        self.opened_at: float | None = None
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "half-open" if self.clock() >= self.opened_at + self.cooldown else "open"

    def allow(self) -> bool:
        with self._lock:
            if self.opened_at is None:
                return True
            if self.clock() >= self.opened_at + self.cooldown:
                self.opened_at = self.clock()  # let exactly one probe through per cool-down
                return True
            return False

    def success(self) -> None:
        with self._lock:
            if self.opened_at is not None:
                log.info("cache recovered", cache=self.name)
            self.failures, self.opened_at = 0, None

    def failure(self, error: BaseException) -> None:
        with self._lock:
            self.failures += 1
            if self.opened_at is not None or self.failures >= self.threshold:
                if self.opened_at is None:
                    log.warning("cache unavailable, bypassing", cache=self.name, error=str(error))
                self.opened_at = self.clock()


@runtime_checkable
class HotCache(Protocol):
    """What the live loop and the pipelines ask of a cache. Nothing here ever raises."""

    capacity: int

    def set_candles(self, exchange: str, symbol: str, timeframe: str, frame: pl.DataFrame) -> None:
        """Make `frame` (a complete, contiguous tail from the store) the cached window."""
        ...

    def append_candles(
        self, exchange: str, symbol: str, timeframe: str, frame: pl.DataFrame
    ) -> bool:
        """Extend the window; False when there was none or continuity broke (key dropped)."""
        ...

    def get_candles(
        self, exchange: str, symbol: str, timeframe: str, n: int
    ) -> pl.DataFrame | None: ...

    def set_indicators(
        self, exchange: str, symbol: str, timeframe: str, values: dict[str, float]
    ) -> None: ...

    def get_indicators(
        self, exchange: str, symbol: str, timeframe: str
    ) -> dict[str, float] | None: ...

    def publish_signal(self, signal: SignalRecord, seq: int) -> None: ...

    def signals_since(self, last_id: str = "0-0", count: int = 100) -> list[tuple[str, dict]]: ...

    def set_priorities(self, scores: dict[str, float]) -> None: ...

    def top_pairs(self, n: int) -> list[tuple[str, float]]: ...

    def available(self) -> bool: ...

    def clear(self) -> None: ...


def _key(*parts: str) -> str:
    return ":".join(parts)


class RedisCache:
    """`HotCache` on Redis; every call degrades to a miss/no-op when Redis misbehaves.

    The two calls the live loop makes per candle, `get_candles` and `append_candles`, skip
    redis-py's client call path and talk over one dedicated `Connection` of their own
    (`send_command`/`read_response`, serialised by a lock): checking a connection out of
    the pool and back, and the retry wrapper around it, cost about half a round trip on this
    path (a PING is ~50-75 µs through `Redis.ping`, ~15-30 µs on a held connection). The
    connection carries the client's settings (socket timeouts included), is dropped on any
    error so the next call reconnects, and is replaced in a forked child. Everything else
    goes through the client and its pool.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "awan",
        capacity: int = DEFAULT_CAPACITY,
        timeout: float = 0.25,
        breaker: CircuitBreaker | None = None,
        candle_ttl: int = 7 * DAY,
        signal_stream_len: int = 10_000,
    ) -> None:
        self.url = mask_url(url)
        register_secrets(url_passwords(url))  # redis-py's errors may quote the URL
        self.prefix, self.capacity, self.candle_ttl = prefix, capacity, candle_ttl
        self.signal_stream_len = signal_stream_len
        self.breaker = breaker or CircuitBreaker(f"redis {self.url}")
        import redis
        from redis.backoff import NoBackoff
        from redis.exceptions import NoScriptError
        from redis.retry import Retry

        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._no_script = NoScriptError
        try:
            self.client = redis.Redis.from_url(
                url,
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                retry=Retry(NoBackoff(), 0),
                retry_on_timeout=False,
            )
        except ValueError as exc:  # a malformed URL is the user's config, not a Redis outage
            raise ConfigError(
                f"invalid Redis URL {self.url!r} (AWAN_REDIS_URL / --redis-url): "
                f"{mask_url(str(exc))}"
            ) from None
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._conn = self._connection()

    def _connection(self) -> AbstractConnection:
        pool = self.client.connection_pool
        return pool.connection_class(**pool.connection_kwargs)  # connects on first use

    def _command(self, *args: object, script: str | None = None) -> Any:
        """One command on the dedicated connection; on any error it is dropped and re-raised.

        With `script`, the command is an EVALSHA of it: on NOSCRIPT (Redis restarted or its
        script cache flushed) the script is loaded and the command retried once.
        """
        if self._pid != os.getpid():  # a forked child must not share its parent's socket
            self._pid, self._lock, self._conn = os.getpid(), threading.Lock(), self._connection()
        with self._lock:
            conn = self._conn
            try:
                conn.send_command(*args)
                try:
                    return conn.read_response()
                except self._no_script:
                    if script is None:
                        raise
                conn.send_command("SCRIPT", "LOAD", script)
                conn.read_response()
                conn.send_command(*args)
                return conn.read_response()
            except BaseException:
                conn.disconnect()
                raise

    def _safe(self, call: Callable[[], T], default: T) -> T:
        if not self.breaker.allow():
            return default
        try:
            result = call()
        except self._errors as exc:
            self.breaker.failure(exc)
            return default
        self.breaker.success()
        return result

    def _candles_key(self, exchange: str, symbol: str, timeframe: str) -> str:
        return _key(self.prefix, "candles", exchange, symbol, timeframe)

    def set_candles(self, exchange: str, symbol: str, timeframe: str, frame: pl.DataFrame) -> None:
        key = self._candles_key(exchange, symbol, timeframe)
        tail = frame.tail(self.capacity)
        if tail.is_empty() or not is_contiguous(tail, timeframe):
            self._safe(lambda: self.client.delete(key), 0)
            return
        payload = encode_records(tail)
        self._safe(lambda: self.client.set(key, payload, ex=self.candle_ttl), None)

    def append_candles(
        self, exchange: str, symbol: str, timeframe: str, frame: pl.DataFrame
    ) -> bool:
        key = self._candles_key(exchange, symbol, timeframe)
        if frame.is_empty():
            return True
        if not is_contiguous(frame, timeframe):
            self._safe(lambda: self.client.delete(key), 0)
            return False
        payload = encode_records(frame)
        first = _PACK.unpack_from(payload, 0)[0]
        newest = _PACK.unpack_from(payload, len(payload) - RECORD_SIZE)[0]
        prev = parse_timeframe(timeframe).add_ms(first, -1)
        args = [payload, first, prev, self.capacity, self.candle_ttl, newest]
        evalsha = ("EVALSHA", _APPEND_SHA, 1, key, *args)
        return self._safe(lambda: self._command(*evalsha, script=_APPEND_LUA), 0) == 1

    def get_candles(
        self, exchange: str, symbol: str, timeframe: str, n: int
    ) -> pl.DataFrame | None:
        key = self._candles_key(exchange, symbol, timeframe)
        size = min(n, self.capacity) * RECORD_SIZE  # the string holds up to 2x capacity
        payload = self._safe(lambda: self._command("GETRANGE", key, -size, -1), None)
        if not payload:
            return None
        return decode_records(symbol, payload)

    def _ind_key(self, exchange: str, symbol: str, timeframe: str) -> str:
        return _key(self.prefix, "indicators", exchange, symbol, timeframe)

    def set_indicators(
        self, exchange: str, symbol: str, timeframe: str, values: dict[str, float]
    ) -> None:
        key = self._ind_key(exchange, symbol, timeframe)

        def call() -> None:
            pipe = self.client.pipeline(transaction=True)
            pipe.delete(key).hset(key, mapping={k: repr(float(v)) for k, v in values.items()})
            pipe.expire(key, DAY).execute()

        self._safe(call, None)

    def get_indicators(self, exchange: str, symbol: str, timeframe: str) -> dict[str, float] | None:
        raw = self._safe(
            lambda: self.client.hgetall(self._ind_key(exchange, symbol, timeframe)), {}
        )
        return {k.decode(): float(v) for k, v in raw.items()} or None

    def publish_signal(self, signal: SignalRecord, seq: int) -> None:
        fields = {"seq": seq, "signal_id": signal.signal_id, "symbol": signal.symbol,
                  "side": signal.side, "ts": signal.ts.isoformat()}  # fmt: skip
        stream = _key(self.prefix, "signals")
        self._safe(lambda: self.client.xadd(stream, fields, maxlen=self.signal_stream_len), None)

    def signals_since(self, last_id: str = "0-0", count: int = 100) -> list[tuple[str, dict]]:
        stream = _key(self.prefix, "signals")
        rows = self._safe(lambda: self.client.xrange(stream, f"({last_id}", "+", count), [])
        return [
            (sid.decode(), {k.decode(): v.decode() for k, v in data.items()}) for sid, data in rows
        ]

    def set_priorities(self, scores: dict[str, float]) -> None:
        key = _key(self.prefix, "pair_priority")

        def call() -> None:
            pipe = self.client.pipeline(transaction=True)
            pipe.delete(key)
            if scores:
                pipe.zadd(key, scores)
            pipe.expire(key, DAY).execute()

        self._safe(call, None)

    def top_pairs(self, n: int) -> list[tuple[str, float]]:
        key = _key(self.prefix, "pair_priority")
        rows = self._safe(lambda: self.client.zrevrange(key, 0, n - 1, withscores=True), [])
        return [(member.decode(), float(score)) for member, score in rows]

    def available(self) -> bool:
        """One PING through the breaker: for start-up checks and `awan cache warm`."""
        return bool(self._safe(self.client.ping, False))

    def clear(self) -> None:
        """Delete every key under this cache's prefix (tests, `awan cache warm --reset`)."""

        def call() -> None:
            for key in self.client.scan_iter(match=f"{self.prefix}:*", count=1000):
                self.client.delete(key)

        self._safe(call, None)

    def close(self) -> None:
        with self._lock:
            self._conn.disconnect()
        self.client.close()
