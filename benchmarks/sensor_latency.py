"""Signal row → execution run started, through the signal sensor under `dagster dev`.

What is measured: a fresh signal row is written to the store (as `awan live --execution sensor`
writes it); the `signal_sensor` picks it up on its next tick and requests an `execute_signal`
run; the QueuedRunCoordinator dequeues it and the DefaultRunLauncher starts its process. For
each signal the script records, from the instance (GraphQL), when the run was created (the
sensor tick) and when it started, both relative to the row's insert.

Setup: a fresh `DAGSTER_HOME` with the repository's `dagster.yaml` (SQLite, queued coordinator,
`dequeue_interval_seconds: 1`), a fresh DuckDB store, the sim exchange, and the code location
from `workspace.yaml` as `dagster dev` serves it. Signals are sent one at a time, each for its
own symbol (the per-symbol concurrency limit never queues one behind another), at a random
offset to the sensor's ticks; the next one is written after the previous run started.

Where the time goes, per run, from its events: the sensor tick (row → run created), the
queued coordinator (created → dequeued), the launch (dequeued → starting: the code server
spawns the run worker) and the run worker's start-up (starting → started: a new Python
process importing Dagster and the code location, loading the job, opening the instance).

Bytecode: `--no-bytecode` runs `dagster dev` with an empty `PYTHONPYCACHEPREFIX` and
`PYTHONDONTWRITEBYTECODE=1`, so every process compiles every module it imports from source
(a `.venv` installed without bytecode); otherwise processes read whatever `__pycache__`
exists (`.venv/bin/python -m compileall -q .venv/lib/python3.11/site-packages awan_trading
awan_pipelines` writes all of it). The load average is printed before and after: on a shared
machine it decides the figures.

Run: `.venv/bin/python benchmarks/sensor_latency.py [--signals 8] [--no-bytecode]`; prints a
markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
from machine import describe

from awan_trading.signals import SIGNAL_SCHEMA, SignalContext
from awan_trading.storage import open_store
from awan_trading.strategies import get_strategy

ROOT = Path(__file__).resolve().parents[1]
# One symbol per signal: a symbol's second signal of the same candle would be the same signal
# (same id, a run key Dagster skips), and the per-symbol limit would queue it behind the first.
SYMBOLS = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "BNB/USDT", "XRP/USDT", "ADA/USDT", "DOGE/USDT",
           "LTC/USDT"]  # fmt: skip
CONFIG = f"""
[universe]
symbols = {json.dumps(SYMBOLS)}
timeframes = ["1h"]
history_start = 2024-01-01
[strategy]
name = "boll_stoch"
timeframe = "1h"
"""
RUNS = """
query($id: String!) {
  runsOrError(filter: {tags: [{key: "awan/signal_id", value: $id}]}) {
    ... on Runs { results { runId status creationTime startTime } }
  }
}"""
EVENTS = """
query($runId: ID!) {
  logsForRun(runId: $runId, limit: 50) {
    ... on EventConnection { events { __typename ... on MessageEvent { timestamp } } }
  }
}"""
PHASES = ("RunEnqueuedEvent", "RunStartingEvent", "RunStartEvent")


def _restore_signals() -> None:
    # A background shell may hand children an ignored SIGTERM/SIGINT; `dagster dev` must stop
    # on the SIGINT sent at the end.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def graphql(port: int, query: str, variables: dict) -> dict:
    body = json.dumps({"query": query, "variables": variables}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as reply:
        payload = json.loads(reply.read())
    if "errors" in payload:
        raise RuntimeError(payload["errors"])
    return payload["data"]


def start_dev(work: Path, port: int, bytecode: bool) -> subprocess.Popen:
    home = work / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    (work / "awan.toml").write_text(CONFIG)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWAN_")}
    env.update(
        DAGSTER_HOME=str(home),
        AWAN_HOME=str(work / "awan_home"),
        AWAN_CONFIG_FILE=str(work / "awan.toml"),
    )
    if not bytecode:
        (work / "no_pycache").mkdir()
        env.update(PYTHONPYCACHEPREFIX=str(work / "no_pycache"), PYTHONDONTWRITEBYTECODE="1")
    dagster = str(Path(sys.executable).parent / "dagster")
    return subprocess.Popen(
        [dagster, "dev", "-w", str(ROOT / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)],
        cwd=ROOT,
        env=env,
        stdout=(work / "dagster.log").open("w"),
        stderr=subprocess.STDOUT,
        preexec_fn=_restore_signals,
        start_new_session=True,
    )


def wait_for_server(process: subprocess.Popen, port: int, log: Path) -> float:
    began = time.monotonic()
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2):
                return time.monotonic() - began
        except OSError:
            if process.poll() is not None or time.monotonic() - began > 180:
                raise RuntimeError(log.read_text()[-3000:]) from None
            time.sleep(0.5)


def send_signal(store_url: str, symbol: str) -> tuple[str, float]:
    """Write one fresh buy signal (the candle that closed last) for `symbol`; (id, insert time)."""
    context = SignalContext.of(get_strategy("boll_stoch"), "1h")
    now = datetime.now(UTC)
    candle = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    signal_id = context.id(symbol, candle, "buy")
    frame = pl.DataFrame(
        [
            {
                "signal_id": signal_id,
                "strategy": context.strategy,
                "params_hash": context.params_hash,
                "symbol": symbol,
                "timeframe": context.timeframe,
                "ts": candle,
                "side": "buy",
                "price": 1.0,
                "score": 0.0,
            }
        ],
        schema=SIGNAL_SCHEMA,
    )
    store = open_store(store_url, migrate=True)
    try:
        store.insert_signals("sim", frame)
        return signal_id, time.time()
    finally:
        store.close()


def wait_started(port: int, signal_id: str, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = graphql(port, RUNS, {"id": signal_id})["runsOrError"]["results"]
        if runs and runs[0]["startTime"]:
            return runs[0]
        time.sleep(0.2)
    raise RuntimeError(f"no execute_signal run started for {signal_id} within {timeout:.0f} s")


def phase_times(port: int, run_id: str) -> dict[str, float]:
    """Epoch seconds of the run's queue and launch events (1.13 logs no dequeue event: the
    launch follows it at once)."""
    events = graphql(port, EVENTS, {"runId": run_id})["logsForRun"]["events"]
    return {
        e["__typename"]: int(e["timestamp"]) / 1000 for e in events if e["__typename"] in PHASES
    }


def load_average() -> str:
    return " / ".join(f"{v:.1f}" for v in os.getloadavg())


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signals", type=int, default=len(SYMBOLS), choices=range(1, 9))
    parser.add_argument("--no-bytecode", action="store_true", help="compile every import")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="awan-sensor-latency-"))
    port = free_port()
    load_before = load_average()
    process = start_dev(work, port, bytecode=not args.no_bytecode)
    rows = []
    try:
        boot = wait_for_server(process, port, work / "dagster.log")
        store_url = f"duckdb:///{work / 'awan_home' / 'awan.duckdb'}"
        time.sleep(10)  # let the daemon's first sensor tick pass (cursor set on an empty table)
        for i in range(args.signals):
            time.sleep(random.uniform(0.0, 5.0))  # land anywhere between two ticks
            signal_id, sent = send_signal(store_url, SYMBOLS[i])
            run = wait_started(port, signal_id)
            phases = phase_times(port, run["runId"])
            print(  # per run, offsets from the row's insert: what the table summarises
                f"{signal_id[:8]}: created {run['creationTime'] - sent:.2f} s, "
                + ", ".join(
                    f"{k.removesuffix('Event')} {v - sent:.2f} s" for k, v in phases.items()
                ),
                file=sys.stderr,
            )
            enqueued = phases.get("RunEnqueuedEvent", run["creationTime"])
            starting = phases.get("RunStartingEvent", enqueued)
            rows.append(
                (run["creationTime"] - sent, starting - enqueued,
                 run["startTime"] - starting, run["startTime"] - sent)
            )  # fmt: skip
        load_after = load_average()
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    bytecode = "no bytecode" if args.no_bytecode else "bytecode as on disk"
    print(
        f"machine: {describe()}; dagster dev up in {boot:.1f} s; {len(rows)} signals; "
        f"{bytecode}; load average (1/5/15 min) {load_before} before, {load_after} after\n"
    )
    print("| measure | p50 | p90 | max |")
    print("| --- | --- | --- | --- |")
    names = (
        "signal row → run created (sensor tick)",
        "queued → launched (coordinator pass + launch call)",
        "launched → started (run worker start-up)",
        "signal row → run started",
    )
    for i, name in enumerate(names):
        values = [row[i] for row in rows]
        print(
            f"| {name} | {statistics.median(values):.1f} s | {pct(values, 0.9):.1f} s "
            f"| {max(values):.1f} s |"
        )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
