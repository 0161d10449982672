"""A backfill on Dagster's Celery executor: two real workers, the real Redis and PostgreSQL.

The deployment's path end to end, on one machine: a dagster-postgres instance (the repository's
`dagster.prod.yaml`) and a PostgreSQL store shared by every process; two
`celery -A awan_pipelines.celery_app worker` processes on a Redis database of this test's own;
`ingest_celery_job` loaded through its code pointer (`awan_pipelines.definitions`, as workers
load it) and run as the backfill daemon splits a single-run backfill — one run per symbol over
the whole date range, launched together. Then the store and the instance are read back with
SQL: every day × symbol partition's 1440 candles exactly once, its indicators, one
materialization per partition and asset, and the step events that name the worker that ran
each step (both did).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import dagster as dg
import pytest
import redis
from dagster._serdes import deserialize_value

from awan_pipelines.scale_out import BROKER_ENV, CELERY_JOB
from awan_trading.storage import open_store
from tests.conftest import PgDatabase, require_service
from tests.pipelines.celery_workers import celery_workers, claim_redis_db, release_redis_db

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SYMBOLS = ("BTC/USDT", "ETH/USDT")
DAYS = ("2024-01-01", "2024-01-02", "2024-01-03")
PER_DAY = 1440
DAGSTER = Path(sys.executable).with_name("dagster")
RUN_TIMEOUT_S = 240
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
CONFIG = """
[universe]
exchange = "sim"
symbols = ["BTC/USDT", "ETH/USDT"]
timeframes = ["1m"]
history_start = 2024-01-01

[strategy]
name = "boll_stoch"
timeframe = "1m"
"""


@pytest.fixture
def broker_db():
    """A Redis database number of this test's own (the broker's keys are fixed names)."""
    try:
        redis.Redis(host="127.0.0.1", port=6379, socket_timeout=2).ping()
    except redis.RedisError as exc:
        require_service("Redis", str(exc))
    db, token = claim_redis_db()
    yield db
    release_redis_db(db, token)


@pytest.fixture
def deployment(tmp_path, monkeypatch, pg_databases, broker_db):
    """The environment every process gets — this test's, and the workers' — as compose gives
    the code server and the celery-worker service the same `x-awan-env`."""
    store, dagster_db = pg_databases("store"), pg_databases("dagster")
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.prod.yaml", home / "dagster.yaml")
    config = tmp_path / "awan.toml"
    config.write_text(CONFIG)
    env = {
        "DAGSTER_HOME": str(home),
        "DAGSTER_PG_URL": dagster_db.dagster_url,
        "AWAN_HOME": str(tmp_path / "awan_home"),
        "AWAN_CONFIG_FILE": str(config),
        "AWAN_STORE_URL": store.url,
        BROKER_ENV: f"redis://127.0.0.1:6379/{broker_db}",
        "AWAN_LOG_LEVEL": "WARNING",
    }
    for key in [k for k in os.environ if k.startswith(("AWAN_", "DAGSTER_CELERY_"))]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    open_store(store.url, migrate=True).close()
    # The instance's schema exists before the runs start, as the webserver and daemon create it
    # in a deployment (two runs creating it at once retry against each other).
    with dg.DagsterInstance.get():
        pass
    return {"env": {**os.environ, **env}, "store": store, "dagster": dagster_db}


def run_backfill(env: dict[str, str], logs: Path) -> list[int | str]:
    """One run per symbol over all days, launched together (a single-run backfill's split),
    each in a process of its own as the run launcher starts runs: `dagster job execute`
    loads `ingest_celery_job` through its code pointer, whose executor sends each step to the
    workers."""
    processes = []
    for symbol in SYMBOLS:
        tags = {RANGE_START: f"{DAYS[0]}|{symbol}", RANGE_END: f"{DAYS[-1]}|{symbol}"}
        log = (logs / f"run-{symbol.replace('/', '_')}.log").open("wb")
        command = [str(DAGSTER), "job", "execute", "-m", "awan_pipelines.definitions"]
        command += ["-a", "defs", "-j", CELERY_JOB, "--tags", json.dumps(tags)]
        processes.append(
            (
                subprocess.Popen(
                    command,
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                ),
                log,
            )
        )
    codes = []
    try:
        deadline = time.monotonic() + RUN_TIMEOUT_S
        for process, log in processes:
            try:
                codes.append(process.wait(timeout=max(deadline - time.monotonic(), 1)))
            except subprocess.TimeoutExpired:
                codes.append(f"still running after {RUN_TIMEOUT_S} s")
            log.close()
    finally:
        for process, _ in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    return codes


def test_backfill_on_two_celery_workers_lands_every_partition_once(deployment, tmp_path):
    began = time.monotonic()
    logs = tmp_path / "logs"
    with celery_workers(2, deployment["env"], logs) as workers:
        ready = time.monotonic() - began
        codes = run_backfill(deployment["env"], logs)
    elapsed = time.monotonic() - began
    output = "\n".join(p.read_text(errors="replace")[-3000:] for p in sorted(logs.iterdir()))
    assert codes == [0] * len(SYMBOLS), output
    assert all(w.process.returncode is not None for w in workers)

    # The store: each partition's candles exactly once, and its indicators.
    store: PgDatabase = deployment["store"]
    with store.connect() as conn:
        candles = conn.execute(
            "SELECT symbol, ts::date::text, count(*), count(DISTINCT ts) FROM candles_named "
            "WHERE timeframe = '1m' GROUP BY 1, 2 ORDER BY 1, 2"
        ).fetchall()
        indicators = conn.execute(
            "SELECT symbol, ts::date::text, count(DISTINCT ts), count(DISTINCT name) "
            "FROM indicators WHERE timeframe = '1m' GROUP BY 1, 2 ORDER BY 1, 2"
        ).fetchall()
    expected = [(s, d) for s in sorted(SYMBOLS) for d in DAYS]
    assert candles == [(s, d, PER_DAY, PER_DAY) for s, d in expected]
    assert [(s, d) for s, d, _, _ in indicators] == expected
    assert all(ts == PER_DAY and names >= 10 for _, _, ts, names in indicators), indicators

    # The instance (PostgreSQL): both runs succeeded, one materialization per partition and
    # asset, and every step executed in a Celery worker — both workers took steps.
    dagster_db: PgDatabase = deployment["dagster"]
    with dagster_db.connect() as conn:
        runs = conn.execute("SELECT run_id, pipeline_name, status FROM runs").fetchall()
        materializations = conn.execute(
            "SELECT asset_key, partition FROM event_logs "
            "WHERE dagster_event_type = 'ASSET_MATERIALIZATION'"
        ).fetchall()
        engine_events = conn.execute(
            "SELECT event FROM event_logs WHERE dagster_event_type = 'ENGINE_EVENT' "
            "AND event LIKE %s",
            ("%in celery worker%",),
        ).fetchall()
    assert [(job, status) for _, job, status in runs] == [(CELERY_JOB, "SUCCESS")] * len(SYMBOLS)
    per_partition = Counter((json.loads(k)[0], p) for k, p in materializations)
    partitions = {f"{d}|{s}" for s in SYMBOLS for d in DAYS}
    assets = {asset for asset, _ in per_partition}
    assert {"ohlcv_1m", "indicators_1m"} <= assets
    assert per_partition == Counter({(a, p): 1 for a in assets for p in partitions})
    steps_by_worker: Counter[str] = Counter()
    for (raw,) in engine_events:
        event = deserialize_value(raw, dg.EventLogEntry).dagster_event
        worker = event.engine_event_data.metadata["Celery worker"].value
        steps_by_worker[worker.split("@")[0]] += 1
    # 2 runs × (ohlcv, indicators, signals per strategy) steps, each in exactly one worker.
    assert sum(steps_by_worker.values()) == len(SYMBOLS) * len(assets)
    assert set(steps_by_worker) == {"w1", "w2"}, steps_by_worker
    print(f"workers ready in {ready:.1f} s; backfill done in {elapsed:.1f} s: {steps_by_worker}")
