"""The sim's many-symbol path: one call for a close's candles of every symbol, equal to one
call per symbol byte for byte, and a remembered block that never changes a candle."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from awan_trading.exchange import InvalidOrder, SimExchange, SimMarket
from awan_trading.exchange.base import BatchCandles
from awan_trading.market.timeframes import to_epoch_ms

MIN = 60_000
# 2024-03-01T02:40 UTC is a block boundary of the sim's Brownian bridge (a multiple of 2048
# epoch minutes): windows around it use two blocks, windows after it a new one
BOUNDARY = to_epoch_ms(datetime(2024, 3, 1, 2, 40, tzinfo=UTC))
SYMBOLS = ["BTC/USDT", "ETH/BTC", "C007/USDT", "XRP/USDT"]


def _bytes(frame: pl.DataFrame) -> bytes:
    """The frame's values as bytes, so 'equal' means byte-identical (-0.0 and 0.0 differ)."""
    numbers = frame.select(pl.col("ts").dt.epoch("ms").cast(pl.Float64), pl.exclude("symbol", "ts"))
    return "|".join(frame["symbol"]).encode() + numbers.to_numpy().tobytes()


@pytest.mark.parametrize(
    ("timeframe", "start", "end"),
    [
        ("1m", BOUNDARY - 519 * MIN, BOUNDARY),  # a warm-up window
        ("1m", BOUNDARY - MIN, BOUNDARY),  # the last minute of a block
        ("1m", BOUNDARY, BOUNDARY + MIN),  # the first of the next
        ("1m", BOUNDARY - 3 * MIN, BOUNDARY + 5 * MIN),
        ("5m", BOUNDARY - 60 * MIN, BOUNDARY + 61 * MIN),
        ("1h", BOUNDARY - 2 * 1440 * MIN, BOUNDARY + 1440 * MIN),
        ("1m", BOUNDARY, BOUNDARY),  # empty
    ],
)
def test_many_symbols_in_one_call_equal_one_call_per_symbol(
    timeframe: str, start: int, end: int
) -> None:
    one_by_one = pl.concat([SimMarket(3).candles(s, timeframe, start, end) for s in SYMBOLS])
    together = SimMarket(3).candles_many(SYMBOLS, timeframe, start, end)
    assert together.schema == one_by_one.schema
    assert together.height == one_by_one.height == len(SYMBOLS) * together["ts"].n_unique()
    assert _bytes(together) == _bytes(one_by_one)


def test_minute_by_minute_equals_one_fetch_across_a_block_boundary() -> None:
    """The live loop's pattern (one minute per call, the block remembered) against a fresh
    market generating the whole span at once."""
    warm = SimMarket(3)
    edges = range(BOUNDARY - 30 * MIN, BOUNDARY + 31 * MIN, MIN)
    steps = pl.concat(
        [warm.candles_many(SYMBOLS[:2], "1m", a, b) for a, b in itertools.pairwise(edges)]
    )
    fresh = SimMarket(3)
    whole = pl.concat([fresh.candles(s, "1m", edges[0], edges[-1]) for s in SYMBOLS[:2]])
    assert _bytes(steps.sort("symbol", "ts")) == _bytes(whole.sort("symbol", "ts"))
    assert len(warm._last_block) == 2  # one remembered block per symbol, not per call


def test_price_at_is_the_open_of_its_minute() -> None:
    market = SimMarket(3)
    for at in (BOUNDARY - MIN, BOUNDARY, BOUNDARY + 17 * MIN + 59_999):
        minute = at // MIN * MIN
        assert (
            market.price_at("ETH/BTC", at)
            == market.candles_1m("ETH/BTC", minute, minute + MIN)["open"][0]
        )


def test_a_malformed_symbol_is_refused_even_for_an_empty_window() -> None:
    with pytest.raises(Exception, match="invalid symbol 'btc/usdt'"):
        SimMarket(3).candles_many(["BTC/USDT", "btc/usdt"], "1m", BOUNDARY, BOUNDARY)


class _Clock:
    def __init__(self, now: datetime) -> None:
        self.at = now

    def __call__(self) -> datetime:
        return self.at


def test_the_exchange_fetches_many_symbols_as_fetch_ohlcv_does_each() -> None:
    now = datetime(2024, 3, 1, 2, 43, 30, tzinfo=UTC)  # the 02:43 candle has not closed
    ex = SimExchange(SimMarket(3), clock=_Clock(now))
    assert isinstance(ex, BatchCandles)
    start, end = now - timedelta(minutes=10), now + timedelta(minutes=5)
    together = ex.fetch_ohlcv_many(SYMBOLS, "1m", start, end)
    one_by_one = pl.concat([ex.fetch_ohlcv(s, "1m", start, end) for s in SYMBOLS])
    assert _bytes(together) == _bytes(one_by_one)
    assert together["ts"].max() == datetime(2024, 3, 1, 2, 42, tzinfo=UTC)
    assert ex.fetch_ohlcv_many(SYMBOLS, "1m", now, end).is_empty()
    with pytest.raises(InvalidOrder, match="BTCUSDT"):
        ex.fetch_ohlcv_many(["BTC/USDT", "BTCUSDT"], "1m", start, end)
    with pytest.raises(InvalidOrder, match="7x"):
        ex.fetch_ohlcv_many(SYMBOLS, "7x", start, end)
