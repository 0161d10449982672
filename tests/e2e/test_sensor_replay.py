"""End to end: a sensor-mode replay of March 2024 executed by a real `dagster dev`.

`awan live --mode sim --execution sensor --start S --end E` writes its signals on a replay
clock in the past; the signal sensor of a real `dagster dev` (daemon, queued coordinator, one
process per run) must find them fresh on that clock, and the `execute_signal` run must trade
the replay's sim account at the replay's instant. The loop waits for the run at each close,
then manages the position itself (its stop fills later), so the round trip equals the inline
replay's, fill for fill. The store is PostgreSQL: the loop and the runs are separate processes
writing one store at once, which a DuckDB file does not allow.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import polars as pl
import pytest

from awan_trading.config import AwanConfig, UniverseConfig
from awan_trading.domain.trades import closed_trades
from awan_trading.live.runner import build_loop, plan_from, run_replay
from awan_trading.storage import open_store
from awan_trading.storage.memory_cache import MemoryCache
from awan_trading.storage.rows import fill_from_row
from tests.e2e.test_dagster_dev import _restore_signals, free_port, graphql

ROOT = Path(__file__).resolve().parents[2]
# ETH/USDT enters on the 19:00 candle's buy signal and is stopped out at 00:00 on the sim.
START, END = "2024-03-10T17:00:00+00:00", "2024-03-11T02:00:00+00:00"
CONFIG = """
[universe]
symbols = ["ETH/USDT"]
timeframes = ["1h"]
history_start = 2024-01-01
[strategy]
name = "boll_stoch"
timeframe = "1h"
"""
RUNS = """
{ runsOrError(filter: {pipelineName: "execute_signal"}) {
    ... on Runs { results { runId status tags { key value } } } } }"""


def trades(store) -> list:
    fills = [fill_from_row(r) for r in store.fills(exchange="sim").iter_rows()]
    return closed_trades(fills, exchange="sim")


def inline_reference(tmp_path: Path) -> list:
    """The same window replayed inline (the loop executes itself) on a store of its own."""
    config = AwanConfig(universe=UniverseConfig(symbols=["ETH/USDT"], timeframes=["1h"]))
    store = open_store(f"duckdb:///{tmp_path / 'inline.duckdb'}", migrate=True)
    plan = plan_from(config, mode="sim", execution="inline", start=START, end=END)
    loop, clock = build_loop(plan, config, store, MemoryCache())
    run_replay(loop, clock, plan)
    return trades(store)


def finished_runs(port: int, timeout: float = 120.0) -> list[dict]:
    """The runs once none is still going: the replay moves on when its signal's order and
    protective list are recorded, while the run still notifies and records its
    materializations."""
    deadline = time.monotonic() + timeout
    while True:
        runs = graphql(port, RUNS)["runsOrError"]["results"]
        going = [
            r
            for r in runs
            if r["status"] in ("QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING")
        ]
        if not going or time.monotonic() > deadline:
            return runs
        time.sleep(1)


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.timeout(900)
def test_a_sensor_mode_replay_trades_through_dagster_dev(tmp_path: Path, pg_database) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    (tmp_path / "awan.toml").write_text(CONFIG)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWAN_", "DAGSTER_"))}
    env.update(
        DAGSTER_HOME=str(home),
        AWAN_HOME=str(tmp_path / "awan_home"),
        AWAN_CONFIG_FILE=str(tmp_path / "awan.toml"),
        AWAN_STORE_URL=pg_database.url,
    )
    bin_dir = Path(sys.executable).parent
    port = free_port()
    log = (tmp_path / "dagster.log").open("w")
    dev = subprocess.Popen(
        [str(bin_dir / "dagster"), "dev", "-w", str(ROOT / "workspace.yaml"),
         "-h", "127.0.0.1", "-p", str(port)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        preexec_fn=_restore_signals, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2):
                    break
            except OSError:
                if dev.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError((tmp_path / "dagster.log").read_text()[-3000:]) from None
                time.sleep(1)
        replay = subprocess.run(
            [str(bin_dir / "awan"), "live", "--mode", "sim", "--execution", "sensor",
             "--start", START, "--end", END],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert replay.returncode == 0, (replay.stdout + replay.stderr)[-4000:]
        runs = finished_runs(port)
    finally:
        os.killpg(dev.pid, signal.SIGINT)
        try:
            dev.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(dev.pid, signal.SIGKILL)
            dev.wait()
        log.close()

    store = open_store(pg_database.url, migrate=True)
    signals = store.signals_after(0)
    assert signals.height == 1  # the window's one entry signal, executed by one Dagster run
    [run] = runs
    assert run["status"] == "SUCCESS"
    tags = {t["key"]: t["value"] for t in run["tags"]}
    assert tags["awan/signal_id"] == signals["signal_id"][0]
    orders = store.orders()
    assert orders.filter(pl.col("status") == "accepted").is_empty()  # the OCO's legs settled
    assert store.venue_clock("sim") is None  # the replay handed the venue back to the wall clock
    sensor_trades = trades(store)
    store.close()
    [trade] = sensor_trades
    assert trade.exit_reason == "stop_loss"
    assert sensor_trades == inline_reference(tmp_path)
