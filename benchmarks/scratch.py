"""Scratch PostgreSQL store databases for benchmarks: made fresh, migrated, dropped after."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from awan_trading.storage import open_store

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


@contextmanager
def postgres_store(name: str) -> Iterator[str]:
    """A fresh PostgreSQL store database `name` (migrated), dropped afterwards; yields its
    URL. A database of that name left by a killed run is dropped first."""
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    try:
        open_store(url, migrate=True).close()
        yield url
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
