"""Cache-first fetching through ccxt into the real DuckDB store: stored candles are never
requested again, only the missing head and tail are."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from polars.testing import assert_frame_equal

from awan_trading.exchange.cache_first import fetch_cache_first
from awan_trading.exchange.ccxt_exchange import CcxtExchange
from awan_trading.exchange.emulator import EmulatorServer, make_state
from awan_trading.exchange.sim_market import SimMarket
from awan_trading.market.timeframes import to_epoch_ms
from awan_trading.storage import open_store

SEED = 11
KLINES = "/api/v3/klines"
START = datetime(2024, 5, 1, tzinfo=UTC)


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(make_state(seed=SEED)) as server:
        yield server


@pytest.fixture
def store(tmp_path):
    store = open_store(f"duckdb:///{tmp_path / 'awan.duckdb'}", migrate=True)
    yield store
    store.close()


def klines_starts(server: EmulatorServer) -> list[int]:
    return [int(r.params["startTime"]) for r in server.state.requests if r.path == KLINES]


def test_stored_candles_are_not_fetched_again_only_the_tail(emulator, store) -> None:
    exchange = CcxtExchange("binance", api_url=emulator.url, api_key=f"k-{uuid.uuid4().hex}")
    sim = SimMarket(SEED)
    end = START + timedelta(days=1)

    first = fetch_cache_first(exchange, store, "BTC/USDT", "1m", START, end)
    assert_frame_equal(first, sim.candles("BTC/USDT", "1m", START, end))
    assert len(klines_starts(emulator)) == 2  # 1440 candles: two pages

    again = fetch_cache_first(exchange, store, "BTC/USDT", "1m", START, end)
    assert_frame_equal(again, first)
    assert len(klines_starts(emulator)) == 2  # nothing requested

    later = end + timedelta(hours=3)
    grown = fetch_cache_first(exchange, store, "BTC/USDT", "1m", START, later)
    assert_frame_equal(grown, sim.candles("BTC/USDT", "1m", START, later))
    assert klines_starts(emulator)[2:] == [to_epoch_ms(end)]  # only the tail, one page

    earlier = START - timedelta(hours=2)
    widened = fetch_cache_first(exchange, store, "BTC/USDT", "1m", earlier, later)
    assert_frame_equal(widened, sim.candles("BTC/USDT", "1m", earlier, later))
    assert klines_starts(emulator)[3:] == [to_epoch_ms(earlier)]  # only the head
    stored = store.read_candles("binance", "BTC/USDT", "1m", earlier, later)
    assert_frame_equal(stored, widened)


def test_venue_key_separates_stores_of_different_exchanges(emulator, store) -> None:
    exchange = CcxtExchange("binance", api_url=emulator.url, api_key=f"k-{uuid.uuid4().hex}")
    end = START + timedelta(hours=1)
    fetch_cache_first(exchange, store, "ETH/USDT", "5m", START, end, venue="emulator")
    assert store.read_candles("binance", "ETH/USDT", "5m", START, end).is_empty()
    assert store.read_candles("emulator", "ETH/USDT", "5m", START, end).height == 12
