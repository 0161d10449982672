"""The emulator itself: Binance shapes, the forming candle, auth, faults, and the CLI."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from awan_trading.exchange.emulator import EmulatorServer, make_state
from awan_trading.market.timeframes import to_epoch_ms


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(make_state(seed=1, api_key="k")) as server:
        yield server


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str, dict]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as reply:
            return reply.status, reply.read().decode(), dict(reply.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), dict(exc.headers)


def test_klines_include_the_forming_candle_like_binance(emulator) -> None:
    status, body, _ = get(f"{emulator.url}/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=3")
    now = to_epoch_ms(emulator.state.sim.now())
    rows = json.loads(body)
    assert status == 200 and len(rows) == 3 and len(rows[0]) == 12
    assert rows[-1][0] == now - now % 60_000  # the still-forming minute
    assert all(isinstance(v, str) for v in rows[0][1:6])  # decimals as strings


def test_monthly_klines_open_on_the_first_and_close_at_the_months_last_millisecond(
    emulator,
) -> None:
    start = to_epoch_ms(datetime(2024, 1, 15, tzinfo=UTC))
    url = f"{emulator.url}/api/v3/klines?symbol=BTCUSDT&interval=1M&limit=3&startTime={start}"
    status, body, _ = get(url)
    rows = json.loads(body)
    months = [datetime(2024, m, 1, tzinfo=UTC) for m in (2, 3, 4, 5)]
    assert status == 200
    assert [r[0] for r in rows] == [to_epoch_ms(m) for m in months[:3]]
    assert [r[6] for r in rows] == [to_epoch_ms(m) - 1 for m in months[1:]]  # Feb has 29 days


def test_signed_endpoints_need_the_api_key(emulator) -> None:
    status, body, _ = get(f"{emulator.url}/api/v3/account")
    assert status == 401 and json.loads(body)["code"] == -2015
    status, body, _ = get(f"{emulator.url}/api/v3/account", {"X-MBX-APIKEY": "k"})
    assert status == 200 and json.loads(body)["balances"][0]["asset"] == "USDT"


def test_faults_fire_in_order_then_stop(emulator) -> None:
    emulator.faults.add("rate_limit", "/api/v3/time", retry_after=7)
    emulator.faults.add("internal_error", "/api/v3/time")
    status, _, headers = get(f"{emulator.url}/api/v3/time")
    assert status == 429 and headers["Retry-After"] == "7"
    status, body, _ = get(f"{emulator.url}/api/v3/time")
    assert status == 500 and json.loads(body)["code"] == -1001
    status, _, _ = get(f"{emulator.url}/api/v3/time")
    assert status == 200 and emulator.faults.pending() == 0
    assert [r.fault for r in emulator.state.requests] == ["rate_limit", "internal_error", None]
    with pytest.raises(ValueError, match="unknown fault"):
        emulator.faults.add("gremlins")  # type: ignore[arg-type]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_awan_emulator_command_serves_until_stopped() -> None:
    port = free_port()
    code = "from awan_trading.cli import app; app()"
    process = subprocess.Popen(
        [sys.executable, "-c", code, "emulator", "--port", str(port), "--seed", "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        body = None
        for _ in range(600):  # importing the whole CLI can take a while on a busy machine
            if process.poll() is not None:
                pytest.fail(f"awan emulator exited: {process.stdout.read().decode()}")
            try:
                _, body, _ = get(f"http://127.0.0.1:{port}/api/v3/exchangeInfo")
                break
            except OSError:
                time.sleep(0.1)
        assert body is not None, "emulator did not start"
        assert "BTCUSDT" in [s["symbol"] for s in json.loads(body)["symbols"]]
    finally:
        process.terminate()
        process.wait(timeout=10)
