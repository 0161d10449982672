"""The ccxt connector's reads, through the real ccxt library, against the loopback emulator."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from polars.testing import assert_frame_equal

from awan_trading.errors import CandleValidationError
from awan_trading.exchange import ccxt_exchange
from awan_trading.exchange.ccxt_exchange import WIRE_LOGGER, CcxtExchange
from awan_trading.exchange.emulator import EmulatorServer, make_state
from awan_trading.exchange.errors import (
    AuthenticationError,
    BadExchangeData,
    ExchangeUnavailable,
    RateLimited,
)
from awan_trading.exchange.rate_limit import RetryPolicy
from awan_trading.exchange.sim_market import SimMarket
from awan_trading.indicators import IndicatorParams
from awan_trading.live.feed import CandleFeed
from awan_trading.storage import open_store
from awan_trading.storage.memory_cache import MemoryCache

SEED = 7
KLINES = "/api/v3/klines"
JAN = datetime(2024, 1, 1, tzinfo=UTC)
FAST = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05, max_retry_after=5.0)


@pytest.fixture
def api_key() -> str:
    # A fresh account per test: the rate limiter is shared per (exchange, endpoint, account),
    # so a ban scripted in one test must not hold another test's calls.
    return f"key-{uuid.uuid4().hex}"


@pytest.fixture
def emulator(api_key: str) -> Iterator[EmulatorServer]:
    with EmulatorServer(make_state(seed=SEED, api_key=api_key)) as server:
        yield server


def connect(server: EmulatorServer, api_key: str, **options: object) -> CcxtExchange:
    options = {"timeout": 1.5, "retry": FAST, **options}
    return CcxtExchange(
        "binance", api_key=api_key, secret="s3cret-" + api_key, api_url=server.url, **options
    )


def test_a_month_of_1m_candles_through_pagination_equals_the_sim(emulator, api_key) -> None:
    exchange = connect(emulator, api_key, timeout=10.0)
    end = datetime(2024, 2, 1, tzinfo=UTC)
    fetched = exchange.fetch_ohlcv("BTC/USDT", "1m", JAN, end)
    expected = SimMarket(SEED).candles("BTC/USDT", "1m", JAN, end)
    assert fetched.height == 31 * 1440
    assert_frame_equal(fetched, expected)
    assert emulator.state.count(KLINES) == 45  # ceil(44640 / 1000) pages


def test_higher_timeframes_and_unaligned_ranges(emulator, api_key) -> None:
    exchange = connect(emulator, api_key)
    start, end = JAN + timedelta(minutes=7), JAN + timedelta(days=3, minutes=1)
    fetched = exchange.fetch_ohlcv("ETH/USDT", "1h", start, end)
    assert_frame_equal(fetched, SimMarket(SEED).candles("ETH/USDT", "1h", start, end))
    assert fetched["ts"].min() == JAN + timedelta(hours=1)


def test_only_closed_candles_are_returned(api_key) -> None:
    start = datetime(2024, 3, 1, 12, 0, 30, tzinfo=UTC)
    with EmulatorServer(make_state(seed=SEED, api_key=api_key, start=start)) as server:
        exchange = connect(server, api_key)
        before = server.state.sim.now()
        fetched = exchange.fetch_ohlcv(
            "BTC/USDT", "1m", start - timedelta(hours=2), start + timedelta(hours=2)
        )
        after = server.state.sim.now()
    last = fetched["ts"].max()
    # The emulator, like Binance, also sent the forming candle; it must not come back.
    assert last + timedelta(minutes=1) <= after
    assert last >= before.replace(second=0, microsecond=0) - timedelta(minutes=1)
    assert fetched.height == fetched["ts"].n_unique()


def test_first_candle_probe_costs_one_request_and_ignores_the_forming_candle(api_key) -> None:
    start = datetime(2024, 3, 1, 12, 0, 30, tzinfo=UTC)
    with EmulatorServer(make_state(seed=SEED, api_key=api_key, start=start)) as server:
        exchange = connect(server, api_key)
        # The emulator's sim has candles at every minute, so the first one is `since` rounded up.
        since = datetime(2024, 2, 1, 0, 0, 20, tzinfo=UTC)
        assert exchange.first_candle_at("BTC/USDT", "1m", since) == datetime(
            2024, 2, 1, 0, 1, tzinfo=UTC
        )
        assert server.state.count(KLINES) == 1
        # From the forming minute on there is no closed candle yet: None, and no request.
        forming = server.state.sim.now().replace(second=0, microsecond=0)
        assert exchange.first_candle_at("BTC/USDT", "1m", forming) is None
        assert server.state.count(KLINES) == 1


def test_markets_carry_precision_limits_and_min_notional(emulator, api_key) -> None:
    markets = connect(emulator, api_key).markets()
    sim = emulator.state.sim
    for symbol in ("BTC/USDT", "ETH/USDT", "XRP/USDT"):
        ours, theirs = markets[symbol], sim.market(symbol)
        assert ours.price_increment == theirs.price_increment
        assert ours.amount_increment == theirs.amount_increment
        assert ours.min_amount == theirs.min_amount
        assert ours.min_notional == theirs.min_notional > 0
    assert emulator.state.count("/api/v3/exchangeInfo") == 1


def test_ticker_and_balance(emulator, api_key) -> None:
    exchange = connect(emulator, api_key)
    ticker = exchange.fetch_ticker("BTC/USDT")
    assert 0 < ticker.bid < ticker.ask and ticker.bid <= ticker.last <= ticker.ask
    balance = exchange.fetch_balance()
    assert balance.free["USDT"] == 100_000.0 and balance.used["USDT"] == 0.0


@pytest.mark.parametrize(
    "kind",
    ["rate_limit", "server_error", "internal_error", "slow", "lost_reply", "dropped_reply"],
)
def test_transient_faults_are_retried_and_succeed(emulator, api_key, kind) -> None:
    exchange = connect(emulator, api_key)
    end = JAN + timedelta(hours=20)  # two pages
    emulator.faults.add(kind, KLINES, times=2, retry_after=0.2, delay=2.0)
    fetched = exchange.fetch_ohlcv("BTC/USDT", "1m", JAN, end)
    assert_frame_equal(fetched, SimMarket(SEED).candles("BTC/USDT", "1m", JAN, end))
    assert emulator.faults.pending() == 0
    assert emulator.state.count(KLINES) == 2 + 2


def test_418_backs_off_for_retry_after_then_succeeds(emulator, api_key) -> None:
    exchange = connect(emulator, api_key)
    emulator.faults.add("ban", KLINES, retry_after=1.0)
    fetched = exchange.fetch_ohlcv("BTC/USDT", "1m", JAN, JAN + timedelta(hours=1))
    assert fetched.height == 60
    assert any(reason.startswith("HTTP 418") and s == 1.0 for reason, s in exchange.limiter.pauses)
    banned, retried = [r for r in emulator.state.requests if r.path == KLINES]
    assert banned.fault == "ban" and retried.fault is None
    assert retried.at - banned.at >= 1.0  # a lower bound: the retry waited out Retry-After


def test_a_long_ban_is_raised_and_holds_every_caller_of_the_account(emulator, api_key) -> None:
    exchange = connect(emulator, api_key)
    exchange.markets()
    emulator.faults.add("ban", KLINES, retry_after=120.0)
    with pytest.raises(RateLimited) as info:
        exchange.fetch_ohlcv("BTC/USDT", "1m", JAN, JAN + timedelta(hours=1))
    assert info.value.retry_after == pytest.approx(120.0)
    seen = len(emulator.state.requests)
    # Another connector of the same account (same process) does not even send a request.
    other = connect(emulator, api_key)
    assert other.limiter is exchange.limiter
    with pytest.raises(RateLimited):
        other.fetch_ticker("BTC/USDT")
    assert len(emulator.state.requests) == seen
    assert emulator.state.count(KLINES) == 1


def test_a_permanent_error_is_not_retried(emulator, api_key) -> None:
    wrong = connect(emulator, "wrong-" + api_key)
    with pytest.raises(AuthenticationError):
        wrong.fetch_balance()
    assert emulator.state.count("/api/v3/account") == 1


def test_retries_give_up_after_the_attempt_budget(emulator, api_key) -> None:
    exchange = connect(emulator, api_key)
    exchange.markets()
    emulator.faults.add("server_error", "/api/v3/ticker/24hr", times=10)
    with pytest.raises(ExchangeUnavailable, match="502"):
        exchange.fetch_ticker("BTC/USDT")
    assert emulator.state.count("/api/v3/ticker/24hr") == FAST.attempts


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("malformed", "not valid JSON"),
        ("negative_price", "non_positive_price"),
        ("out_of_order", "out_of_order"),
    ],
)
def test_malformed_candles_are_refused_with_a_clear_error(emulator, api_key, kind, message) -> None:
    exchange = connect(emulator, api_key)
    exchange.markets()
    emulator.faults.add(kind, KLINES)
    with pytest.raises(BadExchangeData, match=message) as info:
        exchange.fetch_ohlcv("BTC/USDT", "1m", JAN, JAN + timedelta(days=1))
    assert "BTC/USDT" in str(info.value)
    assert emulator.state.count(KLINES) == 1  # bad data is permanent: not fetched again


@pytest.mark.parametrize(
    ("kind", "refused"), [("negative_price", "feed"), ("out_of_order", "venue")]
)
def test_the_live_feed_validates_what_the_venue_sent_once(
    emulator, api_key, tmp_path, kind, refused
) -> None:
    """The feed asks the connector not to validate (`validate=False`) and validates the
    candles itself with each window's last row: a broken candle is still refused — by the
    feed's validation, naming the symbol and the rule — and the page's order is still
    checked by the connector. Nothing reaches the store."""
    exchange = connect(emulator, api_key)
    store = open_store(f"duckdb:///{tmp_path / 'feed.duckdb'}", migrate=True)
    feed = CandleFeed(exchange, store, MemoryCache(), venue="binance", symbols=["BTC/USDT"],
                      timeframe="1m", params=IndicatorParams(), rows=2)  # fmt: skip
    close = exchange.now().replace(second=0, microsecond=0)
    assert feed.advance(close - timedelta(minutes=3)).ready == ("BTC/USDT",)
    emulator.faults.add(kind, KLINES)
    before = store.read_candles("binance", "BTC/USDT", "1m")
    expected = CandleValidationError if refused == "feed" else BadExchangeData
    with pytest.raises(expected, match=kind.replace("negative", "non_positive")) as info:
        feed.advance(close)
    assert "BTC/USDT" in str(info.value)
    assert store.read_candles("binance", "BTC/USDT", "1m").equals(before)


@pytest.mark.parametrize("value", ["101.5", None])
def test_a_candle_value_that_is_not_a_number_is_refused(emulator, api_key, value) -> None:
    """ccxt passes a value it cannot parse through; it must not slip past the direct
    frame constructor (`ccxt_mapping.ohlcv_frame`) into the candles."""
    exchange = connect(emulator, api_key)
    exchange.markets()
    fetch = exchange._client.fetch_ohlcv

    def damaged(*args: object, **kwargs: object) -> list[list[object]]:
        page = fetch(*args, **kwargs)
        page[3][2] = value  # the 4th candle's high
        return page

    exchange._client.fetch_ohlcv = damaged
    with pytest.raises(
        BadExchangeData, match=r"BTC/USDT 2024-01-01T00:03:00.* non_finite: high=null"
    ):
        exchange.fetch_ohlcv("BTC/USDT", "1m", JAN, JAN + timedelta(hours=1))


def test_a_negative_ticker_price_is_refused(emulator, api_key) -> None:
    exchange = connect(emulator, api_key)
    exchange.markets()
    emulator.faults.add("negative_price", "/api/v3/ticker/24hr")
    with pytest.raises(BadExchangeData, match="last"):
        exchange.fetch_ticker("BTC/USDT")


def test_api_key_and_secret_never_reach_logs_or_errors(emulator, api_key, caplog) -> None:
    secret = "s3cret-" + api_key
    caplog.set_level(logging.DEBUG)
    exchange = connect(emulator, api_key)
    errors: list[str] = []
    exchange.fetch_balance()
    exchange.create_order("BTC/USDT", "buy", "market", 0.001, client_order_id="leak-1")
    emulator.faults.add("internal_error", "/api/v3/account", times=10)
    emulator.faults.add("lost_reply", "/api/v3/order", method="POST", delay=2.0)
    exchange.create_order("BTC/USDT", "buy", "market", 0.001, client_order_id="leak-2")
    for call in (exchange.fetch_balance, connect(emulator, "bad-" + api_key).fetch_balance):
        try:
            call()
        except Exception as exc:
            errors += [str(exc), repr(exc)]
    assert len(errors) == 4
    wire = [r for r in caplog.records if r.name == WIRE_LOGGER]
    assert any("X-MBX-APIKEY" in r.getMessage() for r in wire)  # the header was logged...
    text = caplog.text + "\n".join(errors) + "\n".join(r.getMessage() for r in caplog.records)
    assert api_key not in text and secret not in text  # ...but never its value


@pytest.mark.parametrize(
    ("timeframe", "start", "end", "opens"),
    [
        # Mondays from 2024-01-01; a start inside a week begins at the next Monday.
        ("1w", JAN + timedelta(days=2), datetime(2024, 3, 5, tzinfo=UTC), 9),
        # Calendar months across the leap February, into the next year.
        ("1M", datetime(2023, 11, 1, tzinfo=UTC), datetime(2024, 4, 1, tzinfo=UTC), 5),
    ],
)
def test_weekly_and_monthly_candles_page_on_their_grid(
    emulator, api_key, monkeypatch, timeframe, start, end, opens
) -> None:
    exchange = connect(emulator, api_key, timeout=10.0)
    # Two candles a page, so each page's `since` is the previous page's last open + one
    # candle: 31, 30 or 29 days later for months, never a fixed 30.
    monkeypatch.setattr(ccxt_exchange, "PAGE_LIMIT", 2)
    fetched = exchange.fetch_ohlcv("BTC/USDT", timeframe, start, end)
    assert fetched.height == opens
    assert_frame_equal(fetched, SimMarket(SEED).candles("BTC/USDT", timeframe, start, end))
    assert emulator.state.count(KLINES) == -(-opens // 2)
