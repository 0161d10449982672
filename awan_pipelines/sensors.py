"""Sensors of the awan code location: run-failure alerts to Telegram.

A failed ingest or execution run is something a trader must hear about without watching the
UI. The alert names the job and run id (to open it in the UI), the partition, the failed step
and the first line of its error. Sending goes through `TelegramResource`, which is a logged
no-op when Telegram is not configured, so the sensor itself never fails a tick for lack of it.
"""

from __future__ import annotations

from collections.abc import Mapping

import dagster as dg

from awan_pipelines.resources import TelegramResource
from awan_trading.notify import format_run_failure


def _error_text(event: dg.DagsterEvent) -> str:
    """The most telling message of a step failure: a `Failure`'s description, else the
    innermost cause (the user's exception, not Dagster's wrapper around it)."""
    data = event.step_failure_data
    if data is None:
        return event.message or ""
    if data.user_failure_data is not None and data.user_failure_data.description:
        return data.user_failure_data.description
    error = data.error
    if error is None:
        return event.message or ""
    while error.cause is not None:
        error = error.cause
    return error.message


def _partition(tags: Mapping[str, str]) -> str | None:
    """The run's partition, or its partition range (a backfill run covers many)."""
    if "dagster/partition" in tags:
        return tags["dagster/partition"]
    first, last = (tags.get(f"dagster/asset_partition_range_{end}") for end in ("start", "end"))
    return f"{first} … {last}" if first and last else None


def run_failure_text(context: dg.RunFailureSensorContext) -> str:
    """The alert for one failed run (the first failed step; a count when there are more)."""
    run = context.dagster_run
    steps = context.get_step_failure_events()
    if steps:
        step = steps[0].step_key or ""
        if len(steps) > 1:
            step += f" (+{len(steps) - 1} more)"
        error = _error_text(steps[0])
    else:
        step, error = None, context.failure_event.message or ""
    return format_run_failure(
        job=run.job_name,
        run_id=run.run_id,
        step=step,
        error=error,
        partition=_partition(run.tags),
    )


@dg.run_failure_sensor(
    name="run_failure_alert",
    description="Sends a Telegram alert naming the job, run, step and error of each failed run.",
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def run_failure_alert(context: dg.RunFailureSensorContext, telegram: TelegramResource) -> None:
    sent = telegram.notifier().send(run_failure_text(context))
    context.log.info(
        f"run failure alert for {context.dagster_run.run_id}: {'sent' if sent else 'not sent'}"
    )
