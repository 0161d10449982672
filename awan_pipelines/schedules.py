"""Schedules: keep today's partitions current, refresh the reports nightly.

The ingest schedule asks for the running day's partition of every symbol every few minutes;
each request replaces that day's window, so repeated ticks are idempotent and the day fills up
as candles close. A run that dies without reporting is ended by the monitoring daemon after
`INGEST_TODAY_MAX_RUNTIME_S`, so it cannot hold a run slot for good. Reports (backtests,
ranking) are cheap but not urgent: once a night.
"""

from __future__ import annotations

import dagster as dg

from awan_pipelines.partitions import partition_key
from awan_pipelines.run_limits import INGEST_TODAY_MAX_RUNTIME_S, max_runtime_tags

INGEST_CRON = "*/5 * * * *"
REPORTS_CRON = "30 0 * * *"


def build_schedules(
    ingest_job: str, reports_job: str, symbols: list[str]
) -> list[dg.ScheduleDefinition]:
    @dg.schedule(
        job_name=ingest_job,
        cron_schedule=INGEST_CRON,
        execution_timezone="UTC",
        name="ingest_today",
    )
    def ingest_today(context: dg.ScheduleEvaluationContext):
        tick = context.scheduled_execution_time
        day = tick.strftime("%Y-%m-%d")
        for symbol in symbols:
            yield dg.RunRequest(
                run_key=f"{day}|{symbol}|{tick:%H%M}",
                partition_key=partition_key(day, symbol),
                tags={
                    "awan/trigger": "ingest_today",
                    **max_runtime_tags(INGEST_TODAY_MAX_RUNTIME_S),
                },
            )

    nightly = dg.ScheduleDefinition(
        name="nightly_reports",
        job_name=reports_job,
        cron_schedule=REPORTS_CRON,
        execution_timezone="UTC",
    )
    return [ingest_today, nightly]
