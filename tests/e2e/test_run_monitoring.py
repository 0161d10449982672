"""End to end: a run whose process is SIGKILLed mid-run ends, and its run slot comes back.

A real `dagster dev` (webserver, daemon, code server) on a fresh instance whose dagster.yaml is
the repository's, with two test-only changes: the monitoring daemon polls every second, and the
queued coordinator runs one run at a time, so a run left STARTED would block every later run.

The crash: the demo's ingest run executes in process (no code server watches it) and the whole
process is SIGKILLed as the run's first step starts. Only the monitoring daemon
can end that run, through the run's maximum runtime (`dagster/max_runtime`). A run launched
meanwhile waits in the queue behind it, then starts and succeeds. (A launched run whose worker
alone dies is failed by the code server that spawned it, monitoring or not.)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import yaml

from tests.e2e.test_dagster_dev import _restore_signals, free_port, graphql

ROOT = Path(__file__).resolve().parents[2]
CONFIG = """
[universe]
symbols = ["BTC/USDT", "ETH/USDT"]
timeframes = ["1h"]
history_start = 2023-01-01
[strategy]
name = "boll_stoch"
timeframe = "1h"
"""
# 59 days of one symbol: a run of four steps, each over 59 partitions, so it is surely still
# going when it is killed as its first step starts. (Every partition adds planned-materialization
# events written before the run starts, so a longer range only makes the test slower.)
FIRST, LAST, SYMBOL = "2023-01-01", "2023-02-28", "BTC/USDT"
LONG_RANGE = (f"{FIRST}|{SYMBOL}", f"{LAST}|{SYMBOL}")
# The in-process run's own limit; the daemon must fail it once this has passed.
DEMO_MAX_RUNTIME_S = 15
DEADLINE_S = 90

LAUNCH = """
mutation($params: ExecutionParams!) {
  launchPipelineExecution(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}"""

# Runs the demo's ingest in process against the instance, as `make demo` does.
DEMO_SCRIPT = textwrap.dedent(
    f"""
    import dagster as dg
    from awan_pipelines.demo import run_ingest
    from awan_pipelines.runs import code_location

    instance = dg.DagsterInstance.get()
    with code_location(instance) as location:
        run_ingest(instance, location, "{FIRST}", "{LAST}", "{SYMBOL}",
                   max_runtime_s={DEMO_MAX_RUNTIME_S})
    """
)


@pytest.fixture
def monitored_dagster_dev(tmp_path) -> Iterator[tuple[int, Path, dict[str, str]]]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    instance_config = yaml.safe_load((ROOT / "dagster.yaml").read_text())
    # Only the pace changes; whether monitoring is on, and how, comes from the repository.
    instance_config.setdefault("run_monitoring", {})["poll_interval_seconds"] = 1
    instance_config["run_coordinator"]["config"]["max_concurrent_runs"] = 1
    (home / "dagster.yaml").write_text(yaml.safe_dump(instance_config))
    (tmp_path / "awan.toml").write_text(CONFIG)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWAN_")}
    env.update(
        DAGSTER_HOME=str(home),
        AWAN_HOME=str(tmp_path / "awan_home"),
        AWAN_CONFIG_FILE=str(tmp_path / "awan.toml"),
    )
    port = free_port()
    log_path = tmp_path / "dagster.log"
    log = log_path.open("w")
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
        deadline = time.monotonic() + 150
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(log_path.read_text()[-3000:]) from None
                time.sleep(1)
        yield port, home, env
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def launch_ingest(port: int, start: str, end: str) -> str:
    params = {
        "selector": {
            "repositoryLocationName": "awan",
            "repositoryName": "__repository__",
            "pipelineName": "ingest_job",
        },
        "executionMetadata": {
            "tags": [
                {"key": "dagster/asset_partition_range_start", "value": start},
                {"key": "dagster/asset_partition_range_end", "value": end},
            ]
        },
    }
    launched = graphql(port, LAUNCH, {"params": params})["launchPipelineExecution"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    return launched["run"]["runId"]


def wait_for(predicate, what: str, timeout: float = DEADLINE_S):
    """Poll `predicate` until it returns something truthy; fail naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"gave up waiting for {what}")


def status(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterRunStatus:
    run = instance.get_run_by_id(run_id)
    assert run is not None
    return run.status


def finished(instance: dg.DagsterInstance, run_id: str) -> bool:
    run = instance.get_run_by_id(run_id)
    return run is not None and run.is_finished


def mid_run(instance: dg.DagsterInstance, run_id: str) -> bool:
    """A step is executing and the run has not ended."""
    events = instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_START)
    return bool(events) and status(instance, run_id) == dg.DagsterRunStatus.STARTED


def worker_pid(instance: dg.DagsterInstance, run_id: str) -> int | None:
    """The run worker's pid, from the engine event it writes when it starts."""
    for event in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        data = event.dagster_event.engine_event_data if event.dagster_event else None
        if data and "pid" in data.metadata:
            return int(data.metadata["pid"].value)
    return None


def messages(instance: dg.DagsterInstance, run_id: str) -> str:
    return "\n".join(e.message or "" for e in instance.all_logs(run_id))


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_killed_runs_fail_and_free_their_slot(monitored_dagster_dev):
    port, home, env = monitored_dagster_dev
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        # The demo's in-process run is killed with its process: nothing but the daemon
        # watches it, and a queued run waits behind its slot.
        demo = subprocess.Popen(
            [sys.executable, "-c", DEMO_SCRIPT],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_restore_signals,
        )
        try:
            zombie = wait_for(
                lambda: next(
                    (
                        r.run_id
                        for r in instance.get_runs(
                            dg.RunsFilter(tags={"awan/trigger": "demo"}), limit=1
                        )
                        if mid_run(instance, r.run_id)
                    ),
                    None,
                ),
                "the demo run to be mid-run",
                timeout=120,
            )
        finally:
            demo.kill()  # SIGKILL: no chance to report anything
            demo.wait()
        assert status(instance, zombie) == dg.DagsterRunStatus.STARTED

        queued = launch_ingest(port, "2023-06-01|BTC/USDT", "2023-06-01|BTC/USDT")
        wait_for(lambda: finished(instance, zombie), "the daemon to end the killed run")
        assert status(instance, zombie) == dg.DagsterRunStatus.FAILURE
        assert "maximum runtime" in messages(instance, zombie)
        wait_for(lambda: finished(instance, queued), "the queued run to finish", 120)
        assert status(instance, queued) == dg.DagsterRunStatus.SUCCESS
        # It started only after the killed run had given its slot back.
        zombie_record = instance.get_run_record_by_id(zombie)
        queued_record = instance.get_run_record_by_id(queued)
        assert zombie_record and queued_record
        assert queued_record.start_time >= zombie_record.end_time
    finally:
        instance.dispose()
