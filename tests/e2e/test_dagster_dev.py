"""End to end: a real `dagster dev` (webserver + daemon), a backfill through GraphQL, lineage back.

This is the path a user takes in the UI: launch a backfill of 2 days × 2 symbols, watch it
finish, and follow a signal asset's lineage back to the candles. It runs against a fresh
DAGSTER_HOME and a fresh DuckDB store, on a free port, and stops the server with SIGINT.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from awan_trading.storage import open_store

ROOT = Path(__file__).resolve().parents[2]
ASSETS = ["ohlcv_1h", "indicators_1h", "signals_1h_boll_stoch"]
CONFIG = """
[universe]
symbols = ["BTC/USDT", "ETH/USDT"]
timeframes = ["1h"]
history_start = 2024-01-01
[strategy]
name = "boll_stoch"
timeframe = "1h"
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _restore_signals() -> None:
    # Background shells may hand children an ignored SIGTERM/SIGINT (seen on CI machines).
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def graphql(port: int, query: str, variables: dict | None = None) -> dict:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as reply:
        payload = json.loads(reply.read())
    assert "errors" not in payload, payload
    return payload["data"]


@pytest.fixture
def dagster_dev(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    (tmp_path / "awan.toml").write_text(CONFIG)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWAN_")}
    env.update(
        DAGSTER_HOME=str(home),
        AWAN_HOME=str(tmp_path / "awan_home"),
        AWAN_CONFIG_FILE=str(tmp_path / "awan.toml"),
    )
    port = free_port()
    log = (tmp_path / "dagster.log").open("w")
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "dagster"),
            "dev",
            "-w",
            str(ROOT / "workspace.yaml"),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=_restore_signals,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError((tmp_path / "dagster.log").read_text()[-3000:]) from None
                time.sleep(1)
        yield port, tmp_path
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


LAUNCH = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
  }
}"""
STATUS = """
query($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    ... on PartitionBackfill { status numPartitions }
    ... on PythonError { message }
  }
}"""
RUNS = """
query { runsOrError { ... on Runs { results { runId status tags { key value } } } } }"""
LINEAGE = """
query($keys: [AssetKeyInput!]) {
  assetNodes(assetKeys: $keys) { assetKey { path } dependencyKeys { path } partitionKeysByDimension { name partitionKeys } }
}"""


@pytest.mark.timeout(900)
def test_backfill_through_graphql_and_lineage_back_to_ohlcv(dagster_dev):
    port, tmp_path = dagster_dev
    params = {
        "partitionsByAssets": [
            {
                "assetKey": {"path": [key]},
                "partitions": {
                    "range": {"start": "2024-01-01|BTC/USDT", "end": "2024-01-02|ETH/USDT"}
                },
            }
            for key in ASSETS
        ]
    }
    launched = graphql(port, LAUNCH, {"params": params})["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    backfill_id = launched["backfillId"]

    deadline, status = time.monotonic() + 600, None
    while time.monotonic() < deadline:
        status = graphql(port, STATUS, {"id": backfill_id})["partitionBackfillOrError"]
        if status["status"] in {
            "COMPLETED",
            "COMPLETED_SUCCESS",
            "FAILED",
            "COMPLETED_FAILED",
            "CANCELED",
        }:
            break
        time.sleep(2)
    assert status is not None and status["status"] in {"COMPLETED", "COMPLETED_SUCCESS"}, status
    runs = graphql(port, RUNS)["runsOrError"]["results"]
    backfill_runs = [
        r for r in runs if {"key": "dagster/backfill", "value": backfill_id} in r["tags"]
    ]
    assert backfill_runs and all(r["status"] == "SUCCESS" for r in backfill_runs), runs

    nodes = {
        n["assetKey"]["path"][0]: n
        for n in graphql(port, LINEAGE, {"keys": [{"path": [k]} for k in ASSETS]})["assetNodes"]
    }
    assert [d["path"] for d in nodes["signals_1h_boll_stoch"]["dependencyKeys"]] == [
        ["indicators_1h"]
    ]
    assert [d["path"] for d in nodes["indicators_1h"]["dependencyKeys"]] == [["ohlcv_1h"]]
    dims = {d["name"]: d["partitionKeys"] for d in nodes["ohlcv_1h"]["partitionKeysByDimension"]}
    assert dims["symbol"] == ["BTC/USDT", "ETH/USDT"]

    store = open_store(f"duckdb:///{tmp_path / 'awan_home' / 'awan.duckdb'}")
    try:
        candles = store.read_candles("sim", ["BTC/USDT", "ETH/USDT"], "1h")
        assert candles.height == 2 * 2 * 24
    finally:
        store.close()
