"""Fixtures for the Dagster code location: a definitions object per test on a fresh store."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from awan_pipelines.definitions import build_definitions
from awan_trading.config import AwanConfig, Settings, UniverseConfig, load_settings
from awan_trading.storage import Store, open_store
from tests.conftest import PgDatabase

ROOT = Path(__file__).resolve().parents[2]
HISTORY_START = date(2024, 1, 1)
SYMBOLS = ["BTC/USDT", "ETH/USDT"]


@pytest.fixture
def config() -> AwanConfig:
    return AwanConfig(
        universe=UniverseConfig(symbols=SYMBOLS, timeframes=["1h"], history_start=HISTORY_START)
    )


@pytest.fixture
def settings(tmp_path, monkeypatch) -> Settings:
    monkeypatch.delenv("AWAN_STORE_URL", raising=False)
    return load_settings(home=tmp_path / "home")


@pytest.fixture
def duckdb_defs(config, settings) -> Iterator[dg.Definitions]:
    yield build_definitions(config, settings)


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as inst:
        yield inst


@pytest.fixture
def pg_defs(config, settings, pg_database: PgDatabase, monkeypatch) -> Iterator[dg.Definitions]:
    """The code location wired for production on a fresh PostgreSQL database.

    `AWAN_STORE_URL` is set, so `build_resources` takes the production path (store URL read
    through `EnvVar` at run time) — the same wiring the docker deployment uses.
    """
    monkeypatch.setenv("AWAN_STORE_URL", pg_database.url)
    yield build_definitions(config, settings)


@pytest.fixture
def pg_store(pg_database: PgDatabase) -> Iterator[Store]:
    """The awan store on the test's PostgreSQL database, for asserting on what runs wrote."""
    store = open_store(pg_database.url, migrate=True)
    yield store
    store.close()


@pytest.fixture
def dagster_db(pg_databases: Callable[[str], PgDatabase]) -> PgDatabase:
    """The Dagster instance's own database, apart from the awan store (as in docker-compose)."""
    return pg_databases("dagster")


@pytest.fixture
def prod_instance(tmp_path, dagster_db: PgDatabase, monkeypatch) -> Iterator[dg.DagsterInstance]:
    """The production instance, built as the deployed processes build it: a `DAGSTER_HOME`
    whose dagster.yaml is the repository's dagster.prod.yaml, and only `DAGSTER_PG_URL` set."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.prod.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DAGSTER_PG_URL", dagster_db.dagster_url)
    with dg.DagsterInstance.get() as instance:
        yield instance
