"""The ingest schedule: keep today's candle partitions current.

It asks for the running day's candles of every symbol every few minutes; each request replaces
that day's window, so repeated ticks are idempotent and the day fills up as candles close.
Indicators, signals and reports follow by their automation conditions (`automation.py`). Each
run is one symbol's and carries `awan/symbol`, the tag `dagster.yaml` limits to one run per
symbol at a time, so a slow tick queues behind the previous one instead of racing it. A run
that dies without reporting is ended by the monitoring daemon after
`INGEST_TODAY_MAX_RUNTIME_S`, so it cannot hold a run slot for good.
"""

from __future__ import annotations

import dagster as dg

from awan_pipelines.partitions import partition_key
from awan_pipelines.run_limits import INGEST_TODAY_MAX_RUNTIME_S, max_runtime_tags, symbol_tags

INGEST_CRON = "*/5 * * * *"


def build_schedules(ingest_job: str, symbols: list[str]) -> list[dg.ScheduleDefinition]:
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
                    **symbol_tags(symbol),
                    **max_runtime_tags(INGEST_TODAY_MAX_RUNTIME_S),
                },
            )

    return [ingest_today]
