"""The hot cache against real Redis: the shared server on 6379 and one this test kills.

Both caches (Redis and in-process) run the same behavioural checks, because code above them
must not care which one it got.
"""

from __future__ import annotations

import socket
import subprocess
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
import redis

from awan_trading.storage.cache import CircuitBreaker, HotCache, RedisCache
from awan_trading.storage.duckdb_store import DuckDBStore
from awan_trading.storage.hot import recent_candles, write_candles
from awan_trading.storage.memory_cache import MemoryCache
from tests.conftest import require_service
from tests.integration.test_store_contract import T0, candles

MINUTE = timedelta(minutes=1)
SHARED_REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture
def shared_redis() -> Iterator[str]:
    client = redis.Redis.from_url(SHARED_REDIS, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        require_service("Redis", str(exc))
    prefix = f"awan_test_{uuid.uuid4().hex[:10]}"
    yield prefix
    for key in client.scan_iter(match=f"{prefix}:*"):
        client.delete(key)
    client.close()


@pytest.fixture(params=["redis", "memory"])
def cache(request: pytest.FixtureRequest) -> Iterator[HotCache]:
    if request.param == "memory":
        yield MemoryCache(capacity=50)
        return
    prefix = request.getfixturevalue("shared_redis")
    c = RedisCache(SHARED_REDIS, prefix=prefix, capacity=50)
    yield c
    c.close()


def test_candle_window_append_revise_and_capacity(cache: HotCache) -> None:
    assert cache.get_candles("sim", "BTC/USDT", "1m", 10) is None
    assert cache.append_candles("sim", "BTC/USDT", "1m", candles("BTC/USDT", T0, 3)) is False
    window = candles("BTC/USDT", T0, 30)
    cache.set_candles("sim", "BTC/USDT", "1m", window)
    assert cache.append_candles("sim", "BTC/USDT", "1m", candles("BTC/USDT", T0 + 30 * MINUTE, 1))
    revised = candles("BTC/USDT", T0 + 30 * MINUTE, 2, base=500)  # last one revised + one new
    assert cache.append_candles("sim", "BTC/USDT", "1m", revised)
    got = cache.get_candles("sim", "BTC/USDT", "1m", 5)
    assert got is not None and got.tail(2).equals(revised)
    assert got.head(3).equals(window.tail(3))
    for i in range(32, 140):
        cache.append_candles("sim", "BTC/USDT", "1m", candles("BTC/USDT", T0 + i * MINUTE, 1))
    window = cache.get_candles("sim", "BTC/USDT", "1m", 500)
    assert window is not None and window.height == 50
    assert window["ts"][-1] == T0 + 139 * MINUTE


def test_a_gap_drops_the_window_instead_of_hiding_it(cache: HotCache) -> None:
    cache.set_candles("sim", "BTC/USDT", "1m", candles("BTC/USDT", T0, 10))
    assert not cache.append_candles(
        "sim", "BTC/USDT", "1m", candles("BTC/USDT", T0 + 12 * MINUTE, 1)
    )
    assert cache.get_candles("sim", "BTC/USDT", "1m", 10) is None


def test_append_revises_from_the_head_and_drops_on_an_impossible_revision(
    cache: HotCache,
) -> None:
    window = candles("BTC/USDT", T0, 5)
    cache.set_candles("sim", "BTC/USDT", "1m", window)
    whole = candles("BTC/USDT", T0, 6, base=300)  # revises every cached candle, adds one
    assert cache.append_candles("sim", "BTC/USDT", "1m", whole)
    assert cache.get_candles("sim", "BTC/USDT", "1m", 10).equals(whole)
    before_head = candles("BTC/USDT", T0 - MINUTE, 2)
    assert not cache.append_candles("sim", "BTC/USDT", "1m", before_head)
    assert cache.get_candles("sim", "BTC/USDT", "1m", 10) is None
    cache.set_candles("sim", "BTC/USDT", "1m", window)
    shorter = candles("BTC/USDT", T0 + 2 * MINUTE, 2)  # would end before the cached last
    assert not cache.append_candles("sim", "BTC/USDT", "1m", shorter)
    assert cache.get_candles("sim", "BTC/USDT", "1m", 10) is None


def test_monthly_windows_append_and_revise_on_the_calendar(cache: HotCache) -> None:
    opens = [datetime(2024, m, 1, tzinfo=UTC) for m in range(1, 8)]  # months of 28–31 days

    def months(first: int, n: int, base: float = 100.0) -> pl.DataFrame:
        frame = candles("BTC/USDT", T0, n, base=base)
        ts = pl.Series("ts", opens[first : first + n]).dt.cast_time_unit("ms")
        return frame.with_columns(ts=ts)

    cache.set_candles("sim", "BTC/USDT", "1M", months(0, 3))  # Jan, Feb, Mar
    assert cache.append_candles("sim", "BTC/USDT", "1M", months(3, 1))  # Apr follows Mar
    revised = months(3, 2, base=500)  # April revised, May new
    assert cache.append_candles("sim", "BTC/USDT", "1M", revised)
    got = cache.get_candles("sim", "BTC/USDT", "1M", 10)
    assert got is not None and got["ts"].to_list() == opens[:5]
    assert got.tail(2).equals(revised)
    # July after May skips June: the window is dropped rather than hiding the gap.
    assert not cache.append_candles("sim", "BTC/USDT", "1M", months(6, 1))
    assert cache.get_candles("sim", "BTC/USDT", "1M", 10) is None


def test_indicators_signals_priorities(cache: HotCache) -> None:
    from awan_trading.domain.signals import SignalRecord

    cache.set_indicators("sim", "BTC/USDT", "1m", {"rsi_14": 31.5, "sma_20": 101.25})
    assert cache.get_indicators("sim", "BTC/USDT", "1m") == {"rsi_14": 31.5, "sma_20": 101.25}
    assert cache.get_indicators("sim", "ETH/USDT", "1m") is None
    for i in range(3):
        signal = SignalRecord(f"s{i}", "x", "p1", "sim", "BTC/USDT", "1m", T0, "buy", 1.0)
        cache.publish_signal(signal, seq=i + 1)
    entries = cache.signals_since()
    assert [e[1]["signal_id"] for e in entries] == ["s0", "s1", "s2"]
    assert [e[1]["signal_id"] for e in cache.signals_since(entries[0][0])] == ["s1", "s2"]
    cache.set_priorities({"BTC/USDT": 2.0, "ETH/USDT": 5.0, "SOL/USDT": 1.0})
    assert cache.top_pairs(2) == [("ETH/USDT", 5.0), ("BTC/USDT", 2.0)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_redis(port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    client = redis.Redis(port=port, socket_timeout=0.5)
    for _ in range(200):
        try:
            client.ping()
            return proc
        except redis.ConnectionError:
            if proc.poll() is not None:
                raise
            subprocess.run(["sleep", "0.05"], check=True)
    raise AssertionError("redis-server did not start")


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_redis_killed_mid_use_falls_back_and_recovers(tmp_path) -> None:
    port = _free_port()
    server = _start_redis(port)
    clock = FakeClock()
    breaker = CircuitBreaker("test", threshold=1, cooldown=30, clock=clock)
    cache = RedisCache(f"redis://127.0.0.1:{port}/0", prefix="t", capacity=100, breaker=breaker)
    store = DuckDBStore(tmp_path / "s.duckdb")
    store.migrate()
    try:
        written = [candles("BTC/USDT", T0, 60)]
        write_candles(store, cache, "sim", "BTC/USDT", "1m", written[0])
        assert cache.get_candles("sim", "BTC/USDT", "1m", 60) is not None  # warmed on write

        server.kill()
        server.wait()
        for i in range(60, 65):  # the live loop keeps writing while Redis is gone
            written.append(candles("BTC/USDT", T0 + i * MINUTE, 1, base=100 + i * 0.5))
            write_candles(store, cache, "sim", "BTC/USDT", "1m", written[-1])
        assert breaker.state == "open"
        got = recent_candles(store, cache, "sim", "BTC/USDT", "1m", 65)
        assert got.equals(pl.concat(written))  # nothing lost: served by the store

        server = _start_redis(port)  # restarted empty (no persistence)
        clock.now += 31  # cool-down over: the next call probes Redis again
        assert recent_candles(store, cache, "sim", "BTC/USDT", "1m", 65).equals(got)
        assert breaker.state == "closed"
        cached = cache.get_candles("sim", "BTC/USDT", "1m", 65)
        assert cached is not None and cached.equals(got)  # refilled from the store
    finally:
        server.kill()
        server.wait()
        cache.close()


def test_candle_ttl_survives_revisions_and_trimming(shared_redis: str) -> None:
    cache = RedisCache(SHARED_REDIS, prefix=shared_redis, capacity=3, candle_ttl=1234)
    key = cache._candles_key("sim", "BTC/USDT", "1m")
    try:
        cache.set_candles("sim", "BTC/USDT", "1m", candles("BTC/USDT", T0, 3))
        for i in range(3, 8):  # trims past 2 x capacity
            assert cache.append_candles(
                "sim", "BTC/USDT", "1m", candles("BTC/USDT", T0 + i * MINUTE, 1)
            )
            assert 0 < cache.client.ttl(key) <= 1234
        assert cache.append_candles(
            "sim", "BTC/USDT", "1m", candles("BTC/USDT", T0 + 7 * MINUTE, 1, base=9)
        )  # a revision rewrites the string with SET, which clears the TTL
        assert 0 < cache.client.ttl(key) <= 1234
        got = cache.get_candles("sim", "BTC/USDT", "1m", 10)
        assert got is not None and got["ts"].to_list() == [T0 + i * MINUTE for i in (5, 6, 7)]
    finally:
        cache.close()


@pytest.fixture
def private_redis() -> Iterator[tuple[int, subprocess.Popen]]:
    """A redis-server of this test's own, free to flush, kill and disconnect."""
    port = _free_port()
    server = _start_redis(port)
    yield port, server
    server.kill()
    server.wait()


def test_append_reloads_the_script_after_a_script_flush(private_redis) -> None:
    port, _ = private_redis
    cache = RedisCache(f"redis://127.0.0.1:{port}/0", prefix="t", capacity=100)
    full = candles("BTC/USDT", T0, 5)
    try:
        cache.set_candles("sim", "BTC/USDT", "1m", full.head(3))
        cache.client.script_flush()  # a fresh server: the script was never loaded
        assert cache.append_candles("sim", "BTC/USDT", "1m", full[3:4])
        cache.client.script_flush()  # as after a restart with the connection kept
        assert cache.append_candles("sim", "BTC/USDT", "1m", full[4:5])
        assert cache.get_candles("sim", "BTC/USDT", "1m", 10).equals(full)
        assert cache.breaker.failures == 0
    finally:
        cache.close()


def test_a_dropped_connection_is_one_miss_then_reconnects(private_redis) -> None:
    port, _ = private_redis
    cache = RedisCache(f"redis://127.0.0.1:{port}/0", prefix="t", capacity=100)
    admin = redis.Redis(port=port, socket_timeout=2)
    full = candles("BTC/USDT", T0, 4)
    try:
        cache.set_candles("sim", "BTC/USDT", "1m", full.head(3))
        assert cache.get_candles("sim", "BTC/USDT", "1m", 3) is not None
        admin.client_kill_filter(_type="normal", skipme=True)  # the server drops the cache
        assert cache.get_candles("sim", "BTC/USDT", "1m", 3) is None  # a miss, never a raise
        assert cache.breaker.failures == 1
        assert cache.get_candles("sim", "BTC/USDT", "1m", 3) is not None  # reconnected
        admin.client_kill_filter(_type="normal", skipme=True)
        assert not cache.append_candles("sim", "BTC/USDT", "1m", full[3:4])
        assert cache.append_candles("sim", "BTC/USDT", "1m", full[3:4])  # reconnected
        assert cache.get_candles("sim", "BTC/USDT", "1m", 10).equals(full)
        assert cache.breaker.failures == 0
    finally:
        admin.close()
        cache.close()


def test_a_server_that_never_answers_times_out_into_a_miss() -> None:
    with socket.socket() as silent:  # accepts connections (backlog), never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        cache = RedisCache(f"redis://127.0.0.1:{port}/0", prefix="t", timeout=0.05)
        try:
            assert cache.get_candles("sim", "BTC/USDT", "1m", 10) is None
            assert not cache.append_candles("sim", "BTC/USDT", "1m", candles("BTC/USDT", T0, 1))
            assert cache.breaker.failures == 2
        finally:
            cache.close()


def test_threads_sharing_one_cache_get_their_own_answers(shared_redis: str) -> None:
    cache = RedisCache(SHARED_REDIS, prefix=shared_redis, capacity=100)
    symbols = [f"S{i}/USDT" for i in range(4)]
    try:
        for i, symbol in enumerate(symbols):
            cache.set_candles("sim", symbol, "1m", candles(symbol, T0, 10 + i, base=100 * i))

        def work(i: int) -> bool:
            symbol = symbols[i]
            for j in range(200):
                got = cache.get_candles("sim", symbol, "1m", 100)
                expected = candles(symbol, T0, 10 + i + j, base=100 * i).tail(100)
                if got is None or not got.equals(expected):
                    return False
                later = candles(symbol, T0, 11 + i + j, base=100 * i).tail(1)
                if not cache.append_candles("sim", symbol, "1m", later):
                    return False
            return True

        with ThreadPoolExecutor(len(symbols)) as pool:
            assert all(pool.map(work, range(len(symbols))))
        assert cache.breaker.failures == 0
    finally:
        cache.close()


def test_awan_cache_warm_rebuilds_from_the_store(tmp_path, shared_redis) -> None:
    from typer.testing import CliRunner

    from awan_trading.cli import app

    exchange = f"{shared_redis}-ex"  # unique: the CLI writes under the default prefix
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    store = DuckDBStore(tmp_path / "w.duckdb")
    store.migrate()
    store.upsert_candles(exchange, "1m", candles("BTC/USDT", T0, 40))
    args = ["cache", "warm", "--url", url, "--exchange", exchange, "-s", "BTC/USDT", "-t", "1m"]
    result = CliRunner().invoke(app, [*args, "--redis-url", SHARED_REDIS])
    assert result.exit_code == 0, result.output
    reader = RedisCache(SHARED_REDIS, prefix="awan")
    try:
        assert reader.get_candles(exchange, "BTC/USDT", "1m", 40).equals(
            candles("BTC/USDT", T0, 40)
        )
    finally:
        reader.client.delete(reader._candles_key(exchange, "BTC/USDT", "1m"))
        reader.close()
    down = CliRunner().invoke(app, [*args, "--redis-url", "redis://:hunter22@127.0.0.1:1/0"])
    assert down.exit_code == 2 and "unreachable" in down.output and "hunter22" not in down.output
