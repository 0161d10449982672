"""Secrets never reach what Dagster shows or stores: the UI, run events, metadata or logs.

The code location runs with production wiring — every secret arrives through `EnvVar` — with
real secret values in the environment: a store password (trust auth ignores it), exchange API
keys, a Telegram bot token and a Redis password. Each value is unique per test, so finding it
anywhere is a leak. Where it must not be: the repository snapshot the webserver serves (which
names the variables instead), every event and run record in the dagster-postgres instance, the
captured compute logs, the console output, and the awan store itself. Failure paths count too.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from dagster._core.remote_representation.external_data import (
    RepositorySnap,
    ResourceConfigEnvVarSnap,
)
from psycopg import sql

from awan_pipelines.definitions import build_definitions
from tests.conftest import PgDatabase
from tests.pipelines.test_assets import run_range

pytestmark = pytest.mark.postgres

SYMBOLS = ("BTC/USDT", "ETH/USDT")


@pytest.fixture
def secrets(pg_database: PgDatabase, settings, monkeypatch) -> dict[str, str]:
    """Unique secret values placed in the production environment variables.

    Depends on `settings`, whose fixture clears `AWAN_STORE_URL`: this one must set it after.
    """
    tag = uuid.uuid4().hex[:12]
    values = {
        "store_password": f"StorePw{tag}",
        "api_key": f"ApiKey{tag}",
        "api_secret": f"ApiSecret{tag}",
        "telegram_token": f"123456:TgToken{tag}",
        "redis_password": f"RedisPw{tag}",
    }
    monkeypatch.setenv(
        "AWAN_STORE_URL",
        f"postgresql://postgres:{values['store_password']}@127.0.0.1:5432/{pg_database.name}",
    )
    monkeypatch.setenv("AWAN_EXCHANGE_API_KEY", values["api_key"])
    monkeypatch.setenv("AWAN_EXCHANGE_API_SECRET", values["api_secret"])
    monkeypatch.setenv("AWAN_TELEGRAM_TOKEN", values["telegram_token"])
    # This Redis has no password: the cache's AUTH fails and its breaker bypasses it — a failure
    # path that must not print the URL either.
    monkeypatch.setenv("AWAN_REDIS_URL", f"redis://:{values['redis_password']}@127.0.0.1:6379/0")
    return values


def assert_no_secret(text: str, secrets: dict[str, str], where: str) -> None:
    leaked = [name for name, value in secrets.items() if value in text]
    assert not leaked, f"{', '.join(leaked)} leaked into {where}"


def dump_database(db: PgDatabase) -> str:
    """Every row of every table, as text: what anyone with read access to the database sees."""
    parts = []
    with db.connect() as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
        ).fetchall()
        assert tables, f"no tables in {db.name}"
        for (table,) in tables:
            query = sql.SQL("SELECT t::text FROM {} t").format(sql.Identifier(table))
            parts += [row[0] for row in conn.execute(query).fetchall()]
    return "\n".join(parts)


def captured_logs(home: Path) -> str:
    """The compute logs Dagster captured for runs under this DAGSTER_HOME (stdout/stderr)."""
    files = [p for p in home.rglob("*") if p.is_file() and p.suffix in {".out", ".err"}]
    return "\n".join(p.read_text(errors="replace") for p in files)


def test_the_ui_shows_env_var_names_never_values(secrets, config, settings):
    defs = build_definitions(config, settings)
    snap = RepositorySnap.from_def(defs.get_repository_def())
    assert_no_secret(dg.serialize_value(snap), secrets, "the repository snapshot")
    resources = {r.name: r.configured_values for r in snap.resources}
    shown = {
        (name, key): value.name
        for name, values in resources.items()
        for key, value in values.items()
        if isinstance(value, ResourceConfigEnvVarSnap)
    }
    assert shown == {
        ("store", "url"): "AWAN_STORE_URL",
        ("exchange", "api_key"): "AWAN_EXCHANGE_API_KEY",
        ("exchange", "api_secret"): "AWAN_EXCHANGE_API_SECRET",
        ("telegram", "token"): "AWAN_TELEGRAM_TOKEN",
        ("cache", "redis_url"): "AWAN_REDIS_URL",
    }
    # The IO manager holds the store and exchange as nested resources, not copies of their config.
    assert set(resources["store_io_manager"]) <= {"store", "exchange"}
    assert_no_secret(repr(defs.resources), secrets, "the resources' repr")


def test_runs_on_postgres_leak_no_secret(
    secrets, config, settings, prod_instance, dagster_db: PgDatabase, pg_database, capfd
):
    defs = build_definitions(config, settings)
    ingest = run_range(defs, prod_instance, "2024-01-01", "2024-01-02", SYMBOLS)
    assert ingest.success
    reports = defs.resolve_job_def("reports_job").execute_in_process(instance=prod_instance)
    assert reports.success
    console = capfd.readouterr()

    for run in (ingest, reports):
        records = [dg.serialize_value(e) for e in prod_instance.all_logs(run.run_id)]
        assert any("ASSET_MATERIALIZATION" in r for r in records)
        assert_no_secret("\n".join(records), secrets, f"the events of {run.job_def.name}")
        dagster_run = prod_instance.get_run_by_id(run.run_id)
        assert_no_secret(dg.serialize_value(dagster_run), secrets, "the run record")
    instance_rows = dump_database(dagster_db)
    assert "dagster/row_count" in instance_rows  # the materialization metadata is in there
    assert_no_secret(instance_rows, secrets, "the dagster-postgres database")
    logs = captured_logs(Path(prod_instance.root_directory))
    assert "fetched" in logs  # the asset's own log lines were captured
    assert_no_secret(logs, secrets, "the captured compute logs")
    assert "RUN_SUCCESS" in console.err
    assert_no_secret(console.out + console.err, secrets, "the console output")
    assert_no_secret(dump_database(pg_database), secrets, "the awan store")


def test_a_store_that_refuses_the_connection_fails_without_the_password(
    secrets, config, settings, prod_instance, pg_database, monkeypatch, capfd
):
    missing = f"{pg_database.name}_missing"
    monkeypatch.setenv(
        "AWAN_STORE_URL",
        f"postgresql://postgres:{secrets['store_password']}@127.0.0.1:5432/{missing}",
    )
    defs = build_definitions(config, settings)
    result = run_range(defs, prod_instance, "2024-01-01", "2024-01-01", SYMBOLS)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    error = dg.serialize_value(failure.step_failure_data.error)
    assert missing in error  # the error says what went wrong…
    assert_no_secret(error, secrets, "the step failure")  # …without the password
    records = "\n".join(dg.serialize_value(e) for e in prod_instance.all_logs(result.run_id))
    assert_no_secret(records, secrets, "the failed run's events")
    console = capfd.readouterr()
    assert_no_secret(console.out + console.err, secrets, "the console output")
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{missing}").close()
