"""The feed's fetch of one close: the sim's many-symbol call gives exactly what one call per
symbol gives, close after close, and the in-process cache keeps each window in one piece."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from awan_trading.errors import CandleValidationError
from awan_trading.exchange import SimExchange, SimMarket
from awan_trading.exchange.base import BatchCandles
from awan_trading.indicators import IndicatorParams
from awan_trading.live.feed import CandleFeed, FeedUpdate
from awan_trading.storage import open_store
from awan_trading.storage.memory_cache import MemoryCache

SYMBOLS = ["BTC/USDT", "ETH/USDT", "C001/USDT", "C002/USDT", "C003/USDT"]
START = datetime(2024, 3, 1, 2, 30, tzinfo=UTC)  # crosses the sim's block edge at 02:40


class _OneByOne:
    """The sim with only the per-symbol `fetch_ohlcv`, as every real venue is."""

    def __init__(self, sim: SimExchange) -> None:
        self._sim = sim

    def fetch_ohlcv(self, *args: Any, **kwargs: Any) -> pl.DataFrame:
        return self._sim.fetch_ohlcv(*args, **kwargs)


class _Clock:
    def __init__(self) -> None:
        self.at = START

    def __call__(self) -> datetime:
        return self.at


def _updates(exchange_of: Any, tmp_path: Path, closes: int) -> list[FeedUpdate]:
    clock = _Clock()
    exchange = exchange_of(SimExchange(SimMarket(5), clock=clock))
    store = open_store(f"duckdb:///{tmp_path / 'feed.duckdb'}", migrate=True)
    feed = CandleFeed(exchange, store, MemoryCache(capacity=60), venue="sim", symbols=SYMBOLS,
                      timeframe="1m", params=IndicatorParams(), rows=3)  # fmt: skip
    updates = []
    with store.held():  # type: ignore[attr-defined]
        for i in range(closes):
            clock.at = START + timedelta(minutes=i + 1, seconds=1)
            if i == 5:  # two symbols miss a close (a slow venue): the next fetch is longer
                feed.symbols = tuple(SYMBOLS[2:])
            elif i == 6:
                feed.symbols = tuple(SYMBOLS)
            updates.append(feed.advance(START + timedelta(minutes=i + 1)))
    return updates


def test_one_call_for_all_symbols_gives_what_one_call_per_symbol_gives(tmp_path: Path) -> None:
    assert isinstance(SimExchange(SimMarket(5)), BatchCandles)
    assert not isinstance(_OneByOne(SimExchange(SimMarket(5))), BatchCandles)
    together = _updates(lambda sim: sim, tmp_path / "a", closes=20)
    one_by_one = _updates(_OneByOne, tmp_path / "b", closes=20)
    for a, b in zip(together, one_by_one, strict=True):
        assert a.ready == b.ready
        assert a.candles.equals(b.candles)
        assert a.indicators.equals(b.indicators)
    assert together[0].candles.height == len(SYMBOLS) * together[0].candles["ts"].n_unique()
    counts = dict(together[6].candles.group_by("symbol").len().iter_rows())
    assert counts == {"BTC/USDT": 2, "ETH/USDT": 2, "C001/USDT": 1, "C002/USDT": 1,
                      "C003/USDT": 1}  # BTC and ETH fetch the candle they missed, too  # fmt: skip
    assert together[-1].ready == tuple(SYMBOLS)


@pytest.mark.parametrize("appends", [1, 50, 200])
def test_a_cached_window_stays_one_chunk_and_bounded(appends: int) -> None:
    cache = MemoryCache(capacity=100)
    market = SimMarket(5)
    t0 = int(START.timestamp() * 1000)
    cache.set_candles("sim", "BTC/USDT", "1m", market.candles_1m("BTC/USDT", t0, t0 + 60_000))
    for i in range(1, appends + 1):
        minute = t0 + i * 60_000
        new = market.candles_1m("BTC/USDT", minute, minute + 60_000)
        assert cache.append_candles("sim", "BTC/USDT", "1m", new)
    window = cache.get_candles("sim", "BTC/USDT", "1m", 1000)
    assert window is not None and window.n_chunks() == 1
    expected = market.candles_1m("BTC/USDT", t0, t0 + (appends + 1) * 60_000).tail(100)
    assert window.equals(expected)


class _Tampering:
    """The sim, one symbol's candles broken at one close (`breakage`), per-symbol calls."""

    def __init__(self, sim: SimExchange, breakage: str) -> None:
        self._sim, self.breakage, self.armed = sim, breakage, False

    def fetch_ohlcv(self, symbol: str, *args: Any, validate: bool = True) -> pl.DataFrame:
        assert validate is False  # the feed validates what it gets itself
        candles = self._sim.fetch_ohlcv(symbol, *args)
        if not self.armed or symbol != "ETH/USDT":
            return candles
        if self.breakage == "duplicate":  # the window's last candle again, then the new one
            previous = self._sim.fetch_ohlcv(symbol, "1m", START, START + timedelta(minutes=1))
            return pl.concat([previous.tail(1), candles])
        if self.breakage == "broken":
            return candles.with_columns(high=pl.col("low") / 2)
        return candles.reverse()  # "out_of_order": two new candles, the later one first


@pytest.mark.parametrize("breakage", ["duplicate", "broken", "out_of_order"])
def test_a_bad_candle_from_the_venue_is_refused_and_nothing_is_written(
    tmp_path: Path, breakage: str
) -> None:
    """The feed validates what the venue sent together with each window's last row: a
    candle already in the window, a broken one, or new candles out of order refuse the
    close (naming the symbol), and neither the store nor the cache changes."""
    clock = _Clock()
    venue = _Tampering(SimExchange(SimMarket(5), clock=clock), breakage)
    store = open_store(f"duckdb:///{tmp_path / 'feed.duckdb'}", migrate=True)
    cache = MemoryCache(capacity=60)
    feed = CandleFeed(venue, store, cache, venue="sim", symbols=SYMBOLS[:2], timeframe="1m",
                      params=IndicatorParams(), rows=3)  # fmt: skip
    clock.at = START + timedelta(minutes=1, seconds=1)
    first = feed.advance(START + timedelta(minutes=1))
    assert first.ready == tuple(SYMBOLS[:2])
    before = store.read_candles("sim", SYMBOLS[:2], "1m")
    window = cache.get_candles("sim", "ETH/USDT", "1m", 1000)
    venue.armed = True
    clock.at = START + timedelta(minutes=3, seconds=1)  # two new candles each
    with pytest.raises(CandleValidationError, match="ETH/USDT"):
        feed.advance(START + timedelta(minutes=3))
    assert store.read_candles("sim", SYMBOLS[:2], "1m").equals(before)
    assert cache.get_candles("sim", "ETH/USDT", "1m", 1000).equals(window)
    venue.armed = False  # the venue mends: the same close goes through
    update = feed.advance(START + timedelta(minutes=3))
    assert update.ready == tuple(SYMBOLS[:2]) and update.candles.height == 4
