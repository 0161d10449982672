"""Schedules ask for exactly the running day's partitions, once per tick."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg

from awan_pipelines.run_limits import INGEST_TODAY_MAX_RUNTIME_S


def test_ingest_today_requests_the_running_day_of_every_symbol(duckdb_defs, instance):
    schedule = duckdb_defs.resolve_schedule_def("ingest_today")
    tick = datetime(2024, 3, 5, 13, 25, tzinfo=UTC)
    repo = duckdb_defs.get_repository_def()
    context = dg.build_schedule_context(
        instance=instance, scheduled_execution_time=tick, repository_def=repo
    )
    requests = list(schedule(context))
    assert [r.partition_key for r in requests] == ["2024-03-05|BTC/USDT", "2024-03-05|ETH/USDT"]
    assert len({r.run_key for r in requests}) == 2
    # A run that dies without reporting is ended by the monitoring daemon, not left STARTED.
    assert {r.tags[dg.MAX_RUNTIME_SECONDS_TAG] for r in requests} == {
        str(INGEST_TODAY_MAX_RUNTIME_S)
    }
    later = dg.build_schedule_context(
        instance=instance, scheduled_execution_time=tick.replace(minute=30)
    )
    assert {r.run_key for r in schedule(later)}.isdisjoint({r.run_key for r in requests})
    assert schedule.cron_schedule == "*/5 * * * *"
