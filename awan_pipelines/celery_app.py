"""The Celery app awan's workers run: `celery -A awan_pipelines.celery_app worker`.

dagster-celery ships `dagster_celery.app`, whose broker comes from a generated config file
(`dagster-celery worker start -y …` writes the resolved broker URL, password included, under
`$DAGSTER_HOME`). This module builds the same app — dagster-celery's `make_app` and its
`execute_plan` task — from `scale_out.executor_config()`, the config the runs' executor uses,
with the broker and backend resolved from the environment in memory only.
"""

from __future__ import annotations

from dagster._config import post_process_config, validate_config
from dagster_celery.executor import CeleryExecutor, celery_executor
from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_task

from awan_pipelines.scale_out import executor_config


def resolved_config() -> dict:
    """`executor_config()` validated by the executor's own schema, `{"env": …}` resolved."""
    config_type = celery_executor.config_schema.config_type
    raw = executor_config()
    checked = validate_config(config_type, raw)
    if not checked.success:
        raise ValueError(f"invalid Celery executor config: {checked.errors}")
    return post_process_config(config_type, raw).value


def _app():
    config = resolved_config()
    executor = CeleryExecutor.for_cli(
        broker=config["broker"],
        backend=config["backend"],
        include=config["include"],
        config_source=config["config_source"],
    )
    return make_app(executor.app_args())


app = _app()
execute_plan = create_task(app)
