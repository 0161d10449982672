"""The production Dagster instance: `dagster.prod.yaml` on dagster-postgres, real PostgreSQL.

The instance is built exactly as the deployed webserver, daemon and code server build it: a
`DAGSTER_HOME` whose `dagster.yaml` is the repository's `dagster.prod.yaml`, with only
`DAGSTER_PG_URL` in the environment. A partitioned range of the awan assets then runs on it,
and the run, its materializations and check results are read back from PostgreSQL's own tables
— what the UI shows after a restart — not from the Python objects that produced them.
"""

from __future__ import annotations

import json

import dagster as dg
import pytest
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage

from awan_pipelines.definitions import build_definitions
from tests.conftest import PgDatabase
from tests.pipelines.test_assets import CorruptingExchange, run_range

pytestmark = pytest.mark.postgres

DAYS = ("2024-01-01", "2024-01-02")
SYMBOLS = ("BTC/USDT", "ETH/USDT")
PARTITIONS = {f"{d}|{s}" for d in DAYS for s in SYMBOLS}


def test_prod_instance_config_loads_postgres_storage_and_queued_runs(prod_instance):
    assert isinstance(prod_instance.run_storage, PostgresRunStorage)
    assert isinstance(prod_instance.event_log_storage, PostgresEventLogStorage)
    coordinator = prod_instance.run_coordinator
    assert isinstance(coordinator, QueuedRunCoordinator)
    assert coordinator.get_run_queue_config().max_concurrent_runs == 8
    limits = coordinator.get_run_queue_config().tag_concurrency_limits
    assert {"key": "awan/symbol", "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in limits


def test_partitioned_backfill_is_recorded_in_postgres(
    pg_defs, prod_instance, dagster_db: PgDatabase
):
    result = run_range(pg_defs, prod_instance, *DAYS, SYMBOLS)
    assert result.success
    run_id = result.run_id

    with dagster_db.connect() as conn:
        runs = conn.execute("SELECT run_id, pipeline_name, status FROM runs").fetchall()
        assert runs == [(run_id, "ingest_job", "SUCCESS")]
        tags = dict(
            conn.execute("SELECT key, value FROM run_tags WHERE run_id = %s", (run_id,)).fetchall()
        )
        assert tags["dagster/asset_partition_range_start"] == "2024-01-01|BTC/USDT"
        assert tags["dagster/asset_partition_range_end"] == "2024-01-02|ETH/USDT"
        rows = conn.execute(
            "SELECT asset_key, partition FROM event_logs "
            "WHERE run_id = %s AND dagster_event_type = 'ASSET_MATERIALIZATION'",
            (run_id,),
        ).fetchall()
        by_asset: dict[str, set[str]] = {}
        for asset_key, partition in rows:
            by_asset.setdefault(json.loads(asset_key)[0], set()).add(partition)
        assert by_asset == {
            "ohlcv_1h": PARTITIONS,
            "indicators_1h": PARTITIONS,
            "signals_1h_boll_stoch": PARTITIONS,
            "signals_1h_ema_trend": PARTITIONS,
        }
        checks = conn.execute(
            "SELECT check_name, execution_status FROM asset_check_executions WHERE run_id = %s",
            (run_id,),
        ).fetchall()
        assert {name for name, _ in checks} == {
            "candle_rules",
            "no_gaps",
            "fresh",
            "no_null_after_warmup",
            "unique_signal_ids",
            "on_valid_candles",
        }
        assert {status for _, status in checks} == {"SUCCEEDED"}
        step_events = conn.execute(
            "SELECT count(*) FROM event_logs WHERE run_id = %s AND dagster_event_type = 'STEP_SUCCESS'",
            (run_id,),
        ).fetchone()[0]
        assert step_events == 4

    # A new process (here: a new instance from the same DAGSTER_HOME) sees the same history:
    # the partition status the UI draws comes from these tables.
    with dg.DagsterInstance.get() as reopened:
        assert [r.run_id for r in reopened.get_runs(dg.RunsFilter(job_name="ingest_job"))] == [
            run_id
        ]
        materialized = reopened.get_materialized_partitions(dg.AssetKey("signals_1h_boll_stoch"))
        assert materialized == PARTITIONS


def test_failed_run_and_its_error_are_recorded_in_postgres(
    config, settings, prod_instance, dagster_db: PgDatabase, monkeypatch, pg_database
):
    # Production wiring (store URL through EnvVar), with an exchange that corrupts candles.
    monkeypatch.setenv("AWAN_STORE_URL", pg_database.url)
    corrupted = build_definitions(config, settings, {"exchange": CorruptingExchange()})
    result = run_range(corrupted, prod_instance, "2024-01-04", "2024-01-04", SYMBOLS)
    assert not result.success
    with dagster_db.connect() as conn:
        status = conn.execute(
            "SELECT status FROM runs WHERE run_id = %s", (result.run_id,)
        ).fetchone()[0]
        assert status == "FAILURE"
        failures = conn.execute(
            "SELECT event FROM event_logs WHERE run_id = %s AND dagster_event_type = 'STEP_FAILURE'",
            (result.run_id,),
        ).fetchall()
        assert len(failures) == 1
        assert "nothing was stored" in failures[0][0]
        materialized = conn.execute(
            "SELECT count(*) FROM event_logs WHERE run_id = %s "
            "AND dagster_event_type = 'ASSET_MATERIALIZATION'",
            (result.run_id,),
        ).fetchone()[0]
        assert materialized == 0
