"""Opt-in scale-out of backfills over Dagster's Celery executor (dagster-celery, Redis broker).

The location's default stays in process (see `definitions.py`): a step subprocess or a queue
hop costs more than most runs' work. When a backfill outgrows one machine, `ingest_celery_job`
runs the same assets as `ingest_job` with `celery_executor`: each step becomes a Celery task
that any worker started from `awan_pipelines.celery_app` executes. The job exists only where
`DAGSTER_CELERY_BROKER_URL` is set, so the embedded defaults show nothing that cannot run.

What the workers need, besides the broker: the same image/checkout (they load the job through
its code pointer, `awan_pipelines.definitions`), the same environment as the code location
(`AWAN_STORE_URL`, `AWAN_CONFIG_FILE`, `DAGSTER_PG_URL` …: steps read and write the shared store)
and a Dagster instance every process shares (`dagster.prod.yaml`, dagster-postgres), because a
task re-opens the run's instance from its serialized reference.

The executor config is written once here and read by both sides — the run's executor submits
tasks with it and `celery_app.py` builds the workers' Celery app from it — so the two cannot
disagree on broker, backend or queue (dagster-celery's own warning). Broker and backend are
`{"env": …}` references: the UI, the run config stored with each run and the workers' files
carry the variables' names, never a Redis password.
"""

from __future__ import annotations

import os
from typing import Any

import dagster as dg

BROKER_ENV = "DAGSTER_CELERY_BROKER_URL"
BACKEND_ENV = "DAGSTER_CELERY_BACKEND_URL"
CELERY_JOB = "ingest_celery_job"
# Every step task goes to dagster-celery's own queue (its `make_app` declares only this one).
QUEUE = "dagster"
# Workers import the code location when they start, not on their first step: a step then
# costs its work, not seconds of imports.
WORKER_IMPORTS = ["awan_pipelines.definitions"]
# The Celery app settings both sides use (dagster-celery merges them over its defaults):
# - a worker takes a step only when it can run it (prefetch 1, and a message counts against
#   that until its task ends: acks late), so a backfill's steps spread over idle workers
#   instead of queueing behind a busy one. A step that was running when its pool process was
#   killed fails its run (not redelivered: a step that kills its worker would loop); one held
#   by a worker that vanished goes to another after the broker's visibility timeout, and its
#   store write is a window replace, so running it twice leaves the same rows;
# - results are read by the run within a second; an hour of expiry keeps them from piling up
#   in the Redis that is also the hot cache.
CELERY_SETTINGS: dict[str, Any] = {
    "worker_prefetch_multiplier": 1,
    "task_acks_late": True,
    "result_expires": 3600,
    "broker_connection_retry_on_startup": True,
}


def celery_enabled() -> bool:
    """Whether this deployment has a Celery broker (and so defines `ingest_celery_job`)."""
    return bool(os.environ.get(BROKER_ENV))


def executor_config() -> dict[str, Any]:
    """The `celery_executor` config (what `execution: config:` would hold in run config).

    The backend defaults to the broker's Redis when `DAGSTER_CELERY_BACKEND_URL` is unset.
    """
    backend = BACKEND_ENV if os.environ.get(BACKEND_ENV) else BROKER_ENV
    return {
        "broker": {"env": BROKER_ENV},
        "backend": {"env": backend},
        "include": list(WORKER_IMPORTS),
        "config_source": dict(CELERY_SETTINGS),
    }


def build_celery_ingest_job(selection: dg.AssetSelection) -> dg.UnresolvedAssetJobDefinition:
    """`ingest_job`'s assets with the Celery executor, configured here rather than by each
    run's config: a backfill's range runs (and the UI's) carry no run config of their own."""
    from dagster_celery import celery_executor

    return dg.define_asset_job(
        CELERY_JOB,
        selection=selection,
        executor_def=celery_executor.configured(executor_config(), name="awan_celery"),
        description=(
            "ingest_job's assets, each step executed by a Celery worker (start them with "
            "`docker compose --profile celery up`); without workers its steps wait in the queue."
        ),
    )
