"""`make demo`'s job, end to end on a fresh home: it must work for a newcomer."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from awan_pipelines import demo
from awan_pipelines.run_limits import DEMO_MAX_RUNTIME_S
from awan_pipelines.runs import code_location
from awan_trading.config import load_config
from awan_trading.logs import AWAN_LOGGERS
from awan_trading.storage import open_store

CONFIG = """
[universe]
symbols = ["ETH/USDT"]
timeframes = ["1h"]
history_start = 2024-01-01
"""


def test_demo_backfills_reports_and_leaves_runs_for_the_ui(tmp_path, monkeypatch, capsys):
    (tmp_path / "awan.toml").write_text(CONFIG)
    for name in ("AWAN_STORE_URL", "AWAN_REDIS_URL", "AWAN_TELEGRAM_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWAN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("AWAN_CONFIG_FILE", str(tmp_path / "awan.toml"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    assert demo.run_demo(days=2) == 0
    captured = capsys.readouterr()
    out = captured.out
    # Quiet by default: awan's progress and tables only, no third-party (dagster, alembic…)
    # record below WARNING on stderr.
    info_loggers = re.findall(r"\[(?:info|debug)\s*\].*?\[([\w.]+)\]", captured.err)
    assert all(name.partition(".")[0] in AWAN_LOGGERS for name in info_loggers), captured.err
    assert "ingest run" in out and "reports run" in out and "dagster dev -w workspace.yaml" in out
    assert (tmp_path / "dagster" / "dagster.yaml").exists()
    demo_toml = tmp_path / "home" / "demo.toml"
    assert f"AWAN_CONFIG_FILE={demo_toml}" in out.replace("\n", "")
    first_day = (datetime.now(UTC) - timedelta(days=2)).date()
    # The UI's partitions start where the demo's data does.
    assert load_config(demo_toml).universe.history_start == first_day
    with dg.DagsterInstance.from_config(str(tmp_path / "dagster")) as instance:
        runs = {r.job_name: r for r in instance.get_runs()}
        assert set(runs) == {"ingest_job", "reports_job"}
        # Its runs execute in process: only their maximum runtime lets the monitoring daemon
        # end them if the demo is killed.
        assert {r.tags[dg.MAX_RUNTIME_SECONDS_TAG] for r in runs.values()} == {
            str(DEMO_MAX_RUNTIME_S)
        }
        assert runs["ingest_job"].tags["awan/symbol"] == "ETH/USDT"
        # They are the code location's runs: its origin, and the snapshot a code server
        # serves now — what the UI needs to show them on the timeline and re-execute them
        # without a "different version" warning.
        with code_location(instance) as location:
            (repository,) = location.get_repositories().values()
            for name, run in runs.items():
                assert run.remote_job_origin.location_name == "awan"
                assert run.remote_job_origin.repository_origin.repository_name == repository.name
                assert (
                    run.job_snapshot_id == repository.get_full_job(name).identifying_job_snapshot_id
                )
    store = open_store(f"duckdb:///{tmp_path / 'home' / 'awan.duckdb'}")
    try:
        assert store.read_candles("sim", "ETH/USDT", "1h").height == 48
    finally:
        store.close()


def test_demo_with_a_bad_config_exits_2_with_one_line(tmp_path, monkeypatch, capsys):
    (tmp_path / "awan.toml").write_text("[universe]\nsymbols = 'BTC'\n")
    monkeypatch.setenv("AWAN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("AWAN_CONFIG_FILE", str(tmp_path / "awan.toml"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    with pytest.raises(SystemExit) as exited:
        demo.main()
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "universe.symbols" in err and "Traceback" not in err
