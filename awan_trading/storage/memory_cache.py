"""The in-process `HotCache`, used when no `AWAN_REDIS_URL` is set.

A laptop run and a single-process live loop get the same cache semantics as with Redis —
capacity, continuity checks on append, capped signal stream — so code written against the
cache behaves identically in both deployments; only the sharing across processes is lost.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque

import polars as pl

from awan_trading.domain.signals import SignalRecord
from awan_trading.market.timeframes import parse_timeframe
from awan_trading.storage.cache import DEFAULT_CAPACITY, is_contiguous

Key = tuple[str, str, str]


class MemoryCache:
    """`HotCache` in a dict; thread-safe, never raises."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY, signal_stream_len: int = 10_000) -> None:
        self.capacity = capacity
        self._candles: dict[Key, pl.DataFrame] = {}
        self._indicators: dict[Key, dict[str, float]] = {}
        self._signals: deque[tuple[str, dict]] = deque(maxlen=signal_stream_len)
        self._ids = itertools.count(1)
        self._priorities: dict[str, float] = {}
        self._lock = threading.Lock()

    def set_candles(self, exchange: str, symbol: str, timeframe: str, frame: pl.DataFrame) -> None:
        tail = frame.tail(self.capacity).rechunk()  # see `append_candles`
        with self._lock:
            if tail.is_empty() or not is_contiguous(tail, timeframe):
                self._candles.pop((exchange, symbol, timeframe), None)
            else:
                self._candles[(exchange, symbol, timeframe)] = tail

    def append_candles(
        self, exchange: str, symbol: str, timeframe: str, frame: pl.DataFrame
    ) -> bool:
        key = (exchange, symbol, timeframe)
        if frame.is_empty():
            return True
        with self._lock:
            cached = self._candles.get(key)
            if cached is None:
                return False
            tf = parse_timeframe(timeframe)
            first, newest = frame["ts"][0], frame["ts"][-1]
            head, last = cached["ts"][0], cached["ts"][-1]
            if is_contiguous(frame, timeframe) and first == tf.next_open(last):
                merged = pl.concat([cached, frame])
            elif is_contiguous(frame, timeframe) and head <= first <= last <= newest:
                merged = pl.concat([cached.filter(pl.col("ts") < first), frame])
            else:
                del self._candles[key]
                return False
            # One contiguous copy (≤ capacity rows): a concatenation keeps each appended frame
            # as a chunk of its own, and a window that gains a one-row chunk per close holds
            # hundreds of tiny allocations per symbol — the live loop's memory then grew by
            # tens of MiB per replayed hour until the window reached its capacity.
            self._candles[key] = merged.tail(self.capacity).rechunk()
            return True

    def get_candles(
        self, exchange: str, symbol: str, timeframe: str, n: int
    ) -> pl.DataFrame | None:
        with self._lock:
            cached = self._candles.get((exchange, symbol, timeframe))
        return None if cached is None else cached.tail(n)

    def set_indicators(
        self, exchange: str, symbol: str, timeframe: str, values: dict[str, float]
    ) -> None:
        with self._lock:
            self._indicators[(exchange, symbol, timeframe)] = {
                k: float(v) for k, v in values.items()
            }

    def get_indicators(self, exchange: str, symbol: str, timeframe: str) -> dict[str, float] | None:
        with self._lock:
            values = self._indicators.get((exchange, symbol, timeframe))
        return dict(values) if values else None

    def publish_signal(self, signal: SignalRecord, seq: int) -> None:
        fields = {"seq": str(seq), "signal_id": signal.signal_id, "symbol": signal.symbol,
                  "side": signal.side, "ts": signal.ts.isoformat()}  # fmt: skip
        with self._lock:
            self._signals.append((f"{next(self._ids)}-0", fields))

    def signals_since(self, last_id: str = "0-0", count: int = 100) -> list[tuple[str, dict]]:
        after = int(last_id.split("-")[0])
        with self._lock:
            rows = [(i, dict(f)) for i, f in self._signals if int(i.split("-")[0]) > after]
        return rows[:count]

    def set_priorities(self, scores: dict[str, float]) -> None:
        with self._lock:
            self._priorities = {k: float(v) for k, v in scores.items()}

    def top_pairs(self, n: int) -> list[tuple[str, float]]:
        with self._lock:
            ranked = sorted(self._priorities.items(), key=lambda kv: (-kv[1], kv[0]))
        return ranked[:n]

    def available(self) -> bool:
        return True

    def clear(self) -> None:
        with self._lock:
            self._candles.clear()
            self._indicators.clear()
            self._signals.clear()
            self._priorities.clear()

    def close(self) -> None:
        """Nothing to release."""
