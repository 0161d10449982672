"""The production `redis.conf` on a real redis-server: it loads, and it does what it says.

The compose `redis` service runs `redis-server /usr/local/etc/redis/redis.conf --requirepass …`.
Here the same file runs on a private server (only the port, bind address and data directory
are overridden, as the container's differ from this machine's): its limits are in force, a
restart comes back with the data (AOF), and under memory pressure only keys with a TTL — the
hot cache's — are evicted, while TTL-less keys such as a Celery queue survive.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

from tests.conftest import require_service

pytestmark = pytest.mark.redis

CONF = Path(__file__).resolve().parents[2] / "redis.conf"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def server(data: Path, *overrides: str) -> Iterator[redis.Redis]:
    """redis-server on `redis.conf` with `data` as its directory; stopped with SHUTDOWN, as
    `docker compose stop` ends it (SIGTERM: Redis flushes the AOF and exits)."""
    if shutil.which("redis-server") is None:
        require_service("redis-server", "the binary is not installed")
    port = _free_port()
    process = subprocess.Popen(
        [
            *("redis-server", str(CONF), "--port", str(port), "--bind", "127.0.0.1"),
            *("--dir", str(data), *overrides),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port, socket_timeout=2)
    try:
        for _ in range(200):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if process.poll() is not None:
                    raise AssertionError("redis-server refused redis.conf") from None
                time.sleep(0.05)
        yield client
    finally:
        client.close()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_redis_conf_loads_with_its_limits(tmp_path):
    with server(tmp_path) as client:
        config = client.config_get("*")
    assert int(config["maxmemory"]) == 512 * 1024 * 1024
    assert config["maxmemory-policy"] == "volatile-lru"
    assert config["appendonly"] == "yes"
    assert config["appendfsync"] == "everysec"
    assert config["save"] == ""


def test_a_restart_comes_back_warm(tmp_path):
    with server(tmp_path) as client:
        client.set("awan:candles:BTC/USDT", b"window", ex=3600)
        client.rpush("dagster", b"queued step")
    with server(tmp_path) as client:
        assert client.get("awan:candles:BTC/USDT") == b"window"
        assert 0 < client.ttl("awan:candles:BTC/USDT") <= 3600
        assert client.lrange("dagster", 0, -1) == [b"queued step"]


def test_memory_pressure_evicts_cache_keys_never_queues(tmp_path):
    # The file's policy with a small limit, so that pressure takes seconds to build.
    with server(tmp_path, "--maxmemory", "4mb", "--appendonly", "no") as client:
        for i in range(50):
            client.rpush("dagster", b"q" * 1000 + str(i).encode())
        payload = b"c" * 10_000
        for i in range(2_000):  # ~20 MB of cache windows with a TTL, five times the limit
            client.set(f"awan:candles:{i}", payload, ex=3600)
        assert client.info("stats")["evicted_keys"] > 0
        assert client.llen("dagster") == 50
        assert client.dbsize() < 2_000 + 1
