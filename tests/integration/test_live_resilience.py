"""The live loop keeps trading when Redis dies, and SIGTERM ends it cleanly with exit 0.

Redis: a replay on a real Redis of its own (a redis-server on a free port, never the shared
one) that is killed mid-run, before the window's one round trip: the trade still happens,
equal to the backtest's, and the candles the loop wrote meanwhile are all in the store.
SIGTERM: a real `awan live` replay process is sent SIGTERM while it trades; it exits 0, says
it stopped early, and leaves no order half-placed (every recorded order got past `intent`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl

from awan_trading.backtest.window import backtest_window, like_live_config
from awan_trading.config import AwanConfig
from awan_trading.domain.trades import closed_trades
from awan_trading.exchange.factory import open_exchange
from awan_trading.live.loop import StepReport
from awan_trading.live.runner import build_loop, plan_from, run_replay
from awan_trading.storage import open_store
from awan_trading.storage.cache import RedisCache
from awan_trading.storage.rows import fill_from_row
from tests.conftest import require_service
from tests.integration.test_cache_redis import _free_port, _start_redis

START, END = "2024-03-01T20:00", "2024-03-02T03:00"  # one boll_stoch round trip on BTC/USDT
AWAN = Path(sys.executable).with_name("awan")


def test_redis_killed_mid_run_changes_no_trade(tmp_path: Path) -> None:
    port = _free_port()
    try:
        server = _start_redis(port)
    except FileNotFoundError:
        require_service("redis-server", "not installed")  # fails under CI=true
    cache = RedisCache(f"redis://127.0.0.1:{port}/0", prefix="live-test")
    config = AwanConfig()
    plan = plan_from(config, mode="sim", symbols="BTC/USDT,ETH/USDT", timeframe="5m",
                     strategy="boll_stoch", start=START, end=END)  # fmt: skip
    store = open_store(f"duckdb:///{tmp_path / 'live.duckdb'}", migrate=True)
    loop, clock = build_loop(plan, config, store, cache)
    seen: list[bool] = []

    def kill_redis_at_step_10(report: StepReport) -> None:
        seen.append(cache.get_candles("sim", "BTC/USDT", "5m", 10) is not None)
        if len(seen) == 10:
            server.kill()
            server.wait()

    try:
        reports = run_replay(loop, clock, plan, on_step=kill_redis_at_step_10)
    finally:
        server.kill()
        server.wait()
        cache.close()
    assert all(seen[:10]) and not any(seen[10:])  # Redis served the windows, then was gone
    assert len(reports) == 84
    fills = [fill_from_row(r) for r in store.fills(exchange="sim").iter_rows()]
    [trade] = closed_trades(fills, exchange="sim")
    exchange = open_exchange("sim", config)
    expected = backtest_window(
        exchange, plan.symbols, plan.timeframe, plan.start, plan.end, plan.strategy,  # type: ignore[arg-type]
        like_live_config(config, exchange, plan.symbols),
    ).trades.row(0, named=True)  # fmt: skip
    assert trade.entry_price == expected["entry_price"] and trade.amount == expected["amount"]
    assert trade.exit_price == expected["exit_price"]
    stored = store.read_candles("sim", ["BTC/USDT", "ETH/USDT"], "5m", plan.start, plan.end)
    assert stored.group_by("symbol").len().sort("symbol")["len"].to_list() == [84, 84]
    assert stored.equals(
        pl.concat([exchange.fetch_ohlcv(s, "5m", plan.start, plan.end) for s in plan.symbols])  # type: ignore[arg-type]
    )


def test_sigterm_finishes_the_order_in_flight_and_exits_0(tmp_path: Path) -> None:
    env = {**os.environ, "AWAN_STORE_URL": f"duckdb:///{tmp_path / 'live.duckdb'}",
           "AWAN_HOME": str(tmp_path), "AWAN_LOG_FORMAT": "console"}  # fmt: skip
    env.pop("AWAN_REDIS_URL", None)
    env.pop("AWAN_CONFIG_FILE", None)
    proc = subprocess.Popen(
        [str(AWAN), "live", "--mode", "sim", "--execution", "inline", "--symbols",
         "BTC/USDT,ETH/USDT", "--timeframe", "5m", "--start", "2024-03-01", "--end",
         "2024-03-15"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:  # the loop logs `reconciled` once it is about to trade
        lines.append(line)
        if "reconciled" in line and "venue=sim" in line:
            break
    time.sleep(3.0)  # let it replay some candles (and, with luck, be inside an order)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=300)
    text = "".join(lines) + out
    assert proc.returncode == 0, text
    assert "stop requested; finishing the order in flight" in text
    assert "(stopped early)" in text and "Traceback" not in text
    store = open_store(env["AWAN_STORE_URL"])
    orders = store.orders()
    assert orders.filter(pl.col("status").is_in(["intent", "submitted"])).is_empty()
    assert store.last_heartbeat("awan")[1] == "stopped"  # type: ignore[index]
