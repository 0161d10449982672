"""`make demo`'s job, end to end on a fresh home: it must work for a newcomer."""

from __future__ import annotations

import dagster as dg
import pytest

from awan_pipelines import demo
from awan_pipelines.run_limits import DEMO_MAX_RUNTIME_S
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
    out = capsys.readouterr().out
    assert "ingest run" in out and "reports run" in out and "dagster dev -w workspace.yaml" in out
    assert (tmp_path / "dagster" / "dagster.yaml").exists()
    # Its runs execute in process: only their maximum runtime lets the monitoring daemon end
    # them if the demo is killed.
    with dg.DagsterInstance.from_config(str(tmp_path / "dagster")) as instance:
        runs = instance.get_runs()
        assert len(runs) == 2
        assert {r.tags[dg.MAX_RUNTIME_SECONDS_TAG] for r in runs} == {str(DEMO_MAX_RUNTIME_S)}
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
