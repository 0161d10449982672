"""`open_exchange` for paper and live modes, against the loopback emulator through ccxt."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import polars as pl
import pytest

from awan_trading.config import AwanConfig, Settings
from awan_trading.errors import ConfigError
from awan_trading.exchange.emulator import EmulatorServer, make_state
from awan_trading.exchange.factory import open_exchange
from awan_trading.exchange.paper import PaperExchange, balances_from_fills

ORDER = "/api/v3/order"
KEY, SECRET = "live-key-0123456789", "live-secret-0123456789"


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(make_state(seed=5, api_key=KEY)) as server:
        yield server


def settings(**values: str) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_paper_uses_venue_prices_and_simulated_fills(emulator) -> None:
    config = AwanConfig.model_validate({"sim": {"starting_balance": {"USDT": 5000.0}}})
    paper = open_exchange("paper:binance", config, settings(), api_url=emulator.url)
    assert isinstance(paper, PaperExchange) and paper.name == "paper:binance"
    ticker = paper.fetch_ticker("BTC/USDT")
    order = paper.create_order("BTC/USDT", "buy", "market", 0.01, client_order_id="p-1")
    assert order.status == "filled" and order.filled == 0.01
    # Filled by the sim's model against the venue's price: within slippage of the real ask.
    assert ticker.ask <= order.average <= ticker.ask * (1 + config.sim.slippage_bps / 1e4) + 0.02
    assert emulator.state.count(ORDER) == 0  # nothing was sent to the venue
    balance = paper.fetch_balance()
    assert balance.free["BTC"] == 0.01
    assert balance.free["USDT"] == pytest.approx(5000.0 - order.average * 0.01 - order.fee)
    candles = paper.fetch_ohlcv(
        "ETH/USDT", "1h", datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 2, tzinfo=UTC)
    )
    assert candles.height == 24


def test_paper_balances_are_restored_from_recorded_fills(emulator) -> None:
    config = AwanConfig()
    paper = open_exchange("paper:binance", config, settings(), api_url=emulator.url)
    order = paper.create_order("ETH/USDT", "buy", "market", 0.5, client_order_id="p-2")
    fills = pl.DataFrame(
        [{"exchange": paper.name, **f.__dict__} for f in order.trades]
        + [{"exchange": "live:binance", **order.trades[0].__dict__}]  # another account's fill
    )

    class Store:
        def fills(self) -> pl.DataFrame:
            return fills

    restored = open_exchange(
        "paper:binance", config, settings(), api_url=emulator.url, store=Store()
    )
    assert restored.fetch_balance().free == pytest.approx(paper.fetch_balance().free)
    assert balances_from_fills({"USDT": 1.0}, fills.clear(), paper.name) == {"USDT": 1.0}


def test_live_refuses_without_confirmation_or_keys(emulator) -> None:
    with pytest.raises(ConfigError, match="live_confirmed"):
        open_exchange("live:binance", AwanConfig(), settings(), api_url=emulator.url)
    confirmed = AwanConfig(live_confirmed=True)
    with pytest.raises(ConfigError, match="AWAN_EXCHANGE_API_KEY"):
        open_exchange("live:binance", confirmed, settings(), api_url=emulator.url)
    with pytest.raises(ConfigError, match="not a ccxt exchange"):
        open_exchange("live:nonexistent", confirmed, settings(), api_url=emulator.url)
    with pytest.raises(ConfigError, match="unknown exchange"):
        open_exchange("demo:binance", confirmed, settings())


def test_live_places_real_orders_with_keys_from_settings(emulator) -> None:
    live = open_exchange(
        "live:binance",
        AwanConfig(live_confirmed=True),
        settings(exchange_api_key=KEY, exchange_api_secret=SECRET),
        api_url=emulator.url,
    )
    order = live.create_order("BTC/USDT", "buy", "market", 0.001, client_order_id="l-1")
    assert order.status == "filled"
    assert emulator.state.accepted == {"l-1": 1}


def test_paper_candles_of_many_symbols_are_the_venues(emulator, tmp_path) -> None:
    """The live feed asks a paper account for every symbol's tail at once (threads, over
    ccxt); the candles are the venue's. (Inherited from the sim, the one-call batch used to
    ask the paper account's market data, which has no batch, and the feed failed.)"""
    from polars.testing import assert_frame_equal

    from awan_trading.indicators import IndicatorParams
    from awan_trading.live.feed import CandleFeed
    from awan_trading.market.timeframes import to_epoch_ms
    from awan_trading.storage import open_store
    from awan_trading.storage.memory_cache import MemoryCache

    paper = open_exchange("paper:binance", AwanConfig(), settings(), api_url=emulator.url)
    symbols = ["BTC/USDT", "ETH/USDT", "SOL/USDT"]
    start, end = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, 6, tzinfo=UTC)
    venue = pl.concat([paper.venue.fetch_ohlcv(s, "1h", start, end) for s in symbols])
    assert venue.height == 18
    assert_frame_equal(paper.fetch_ohlcv_many(symbols, "1h", start, end), venue)
    store = open_store(f"duckdb:///{tmp_path / 'feed.duckdb'}", migrate=True)
    feed = CandleFeed(paper, store, MemoryCache(), venue=paper.name, symbols=symbols,
                      timeframe="1h", params=IndicatorParams(), rows=1)  # fmt: skip
    fetched = feed._fetch(symbols, to_epoch_ms(start), to_epoch_ms(end))
    assert_frame_equal(pl.concat(fetched), venue.select(fetched[0].columns))
