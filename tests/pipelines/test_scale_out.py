"""`ingest_celery_job` is opt-in, and the runs' executor and the workers' app agree.

The two-worker backfill itself is `test_celery_backfill.py`; these are the cheap guarantees
around it: without a broker nothing changes (every job stays in process), with one the job
exists with dagster-celery's executor, and the config it carries names environment variables
instead of holding the broker's password.
"""

from __future__ import annotations

import importlib

import dagster as dg
import pytest
from dagster._serdes import serialize_value
from dagster_celery.executor import CeleryExecutor

from awan_pipelines.definitions import INGEST_JOB, build_definitions
from awan_pipelines.scale_out import (
    BACKEND_ENV,
    BROKER_ENV,
    CELERY_JOB,
    QUEUE,
    executor_config,
)

BROKER = "redis://:s3cret-broker-pw@redis.example:6379/1"


def test_without_a_broker_there_is_no_celery_job_and_runs_stay_in_process(
    config, settings, monkeypatch
):
    monkeypatch.delenv(BROKER_ENV, raising=False)
    defs = build_definitions(config, settings)
    names = {job.name for job in defs.resolve_all_job_defs()}
    assert INGEST_JOB in names and CELERY_JOB not in names
    assert defs.resolve_job_def(INGEST_JOB).executor_def.name == dg.in_process_executor.name


def test_with_a_broker_the_celery_job_runs_the_ingest_assets_on_celery(
    config, settings, monkeypatch
):
    monkeypatch.setenv(BROKER_ENV, BROKER)
    monkeypatch.delenv(BACKEND_ENV, raising=False)
    defs = build_definitions(config, settings)
    celery_job = defs.resolve_job_def(CELERY_JOB)
    ingest_job = defs.resolve_job_def(INGEST_JOB)
    assert celery_job.executor_def.name == "awan_celery"
    assert ingest_job.executor_def.name == dg.in_process_executor.name, "the default is kept"
    steps = lambda job: {node.name for node in job.graph.node_defs}  # noqa: E731
    assert steps(celery_job) == steps(ingest_job)
    # The executor's config names the variable; what the job carries to the UI (its snapshot)
    # and to every worker (its code pointer) holds no password.
    assert executor_config()["broker"] == {"env": BROKER_ENV}
    assert "s3cret-broker-pw" not in serialize_value(celery_job.get_job_snapshot())


# Reloading the module registers dagster-celery's task on a second app of the same name.
@pytest.mark.filterwarnings("ignore::celery.exceptions.DuplicateTaskNameWarning")
def test_the_workers_app_is_the_executors_app(monkeypatch):
    """Broker, backend, queue and settings the workers use equal those the runs submit with."""
    monkeypatch.setenv(BROKER_ENV, BROKER)
    monkeypatch.setenv(BACKEND_ENV, "redis://:s3cret-broker-pw@redis.example:6379/2")
    import awan_pipelines.celery_app as celery_app

    celery_app = importlib.reload(celery_app)
    app = celery_app.app
    assert app.conf.broker_url == BROKER
    assert app.conf.result_backend.endswith("/2")
    assert [q.name for q in app.conf.task_queues] == [QUEUE]
    assert app.conf.task_acks_late is True
    assert app.conf.worker_prefetch_multiplier == 1
    assert "awan_pipelines.definitions" in app.conf.include
    assert "execute_plan" in app.tasks
    # The run side builds its app from the same resolved config.
    config = celery_app.resolved_config()
    runs = CeleryExecutor.for_cli(
        broker=config["broker"],
        backend=config["backend"],
        include=config["include"],
        config_source=config["config_source"],
    )
    assert runs.broker == app.conf.broker_url
    assert runs.backend == app.conf.result_backend
