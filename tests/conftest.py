"""Shared fixtures: the real candle files in ../shared/data and service availability rules."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import psycopg
import pytest


def _find_shared_data() -> Path:
    """`shared/` sits beside the checkout (CI copies it there) or beside the local repository
    this checkout was cloned from (a scratch clone in /tmp); AWAN_SHARED_DATA overrides."""
    if os.environ.get("AWAN_SHARED_DATA"):
        return Path(os.environ["AWAN_SHARED_DATA"])
    checkout = Path(__file__).resolve().parents[1]
    roots = [checkout]
    origin = subprocess.run(
        ["git", "-C", str(checkout), "config", "--get", "remote.origin.url"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    if origin and Path(origin).is_dir():
        roots.append(Path(origin).resolve())
    for root in roots:
        for parent in [root, *root.parents]:
            candidate = parent / "shared" / "data" / "ohlcv"
            if candidate.is_dir():
                return candidate
    return checkout.parent / "shared" / "data" / "ohlcv"


SHARED_DATA = _find_shared_data()
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _shared_file(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.exists():
        pytest.fail(f"shared test data missing: {path}")
    return path


@pytest.fixture(scope="session")
def xrp_1m() -> pl.DataFrame:
    return pl.read_parquet(_shared_file("XRP_ETH-1m.parquet"))


@pytest.fixture(scope="session")
def xrp_5m() -> pl.DataFrame:
    return pl.read_parquet(_shared_file("XRP_ETH-5m.parquet"))


@pytest.fixture(scope="session")
def btc_30m() -> pl.DataFrame:
    return pl.read_parquet(_shared_file("UNITTEST_BTC-30m.parquet"))


def require_service(name: str, reason: str) -> None:
    """Fail in CI, skip on a developer laptop, when a real service the test needs is down."""
    message = f"{name} is not reachable: {reason}"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3"


@dataclass(frozen=True)
class PgDatabase:
    """A throwaway PostgreSQL database: its name and the URLs awan and dagster-postgres use."""

    name: str

    @property
    def url(self) -> str:
        """The store URL (`AWAN_STORE_URL` form: psycopg 3, no password under trust auth)."""
        return f"postgresql://postgres@127.0.0.1:5432/{self.name}"

    @property
    def dagster_url(self) -> str:
        """The dagster-postgres URL: psycopg2 named explicitly (SQLAlchemy 2.1 would pick psycopg 3)."""
        return f"postgresql+psycopg2://postgres@127.0.0.1:5432/{self.name}"

    def connect(self) -> psycopg.Connection:
        """A plain autocommit connection, for asserting on what was stored."""
        return psycopg.connect(self.url, autocommit=True)


@pytest.fixture
def pg_databases() -> Iterator[Callable[[str], PgDatabase]]:
    """A factory of fresh databases on the real PostgreSQL, all dropped after the test.

    Names carry the xdist worker and a random suffix, so parallel workers never share one. The
    server being down fails the test in CI and skips it on a laptop (`require_service`).
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    created: list[str] = []

    def create(label: str = "db") -> PgDatabase:
        name = f"awan_{label}_{worker}_{uuid.uuid4().hex[:8]}"
        try:
            admin = psycopg.connect(PG_ADMIN_DSN, autocommit=True)
        except psycopg.OperationalError as exc:
            require_service("PostgreSQL", str(exc))
        with admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        return PgDatabase(name)

    yield create
    if created:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
            for name in created:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_database(pg_databases: Callable[[str], PgDatabase]) -> PgDatabase:
    """One fresh PostgreSQL database for this test (dropped after)."""
    return pg_databases("t")
