"""Upgrading stores that hold data: PostgreSQL version 2 (text-keyed candles) → 3 (series id),
and both backends → 4 (the order-path tables follow the domain records) and on to 5 (candle
provenance, empty for the candles already stored).

Upgrades rewrite tables, so each is tested on a database that really is at the older version,
with rows in it, not only on an empty schema.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import duckdb
import psycopg
import pytest

from awan_trading.domain.positions import Position
from awan_trading.market.timeframes import to_epoch_ms
from awan_trading.storage.base import Store
from awan_trading.storage.duckdb_store import DuckDBStore
from awan_trading.storage.migrations import MIGRATIONS_TABLE, load_migrations
from awan_trading.storage.postgres import PostgresStore
from tests.integration.test_store_contract import T0, candles, pg_url  # noqa: F401

V2_ROWS = "INSERT INTO candles VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"


@pytest.fixture
def v2_store(pg_url: str):  # noqa: F811
    """A store whose schema was migrated to version 2 only, then filled the old way."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    store = PostgresStore(pg_url)
    with psycopg.connect(pg_url) as conn:
        conn.execute(
            "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, "
            "applied_at timestamptz NOT NULL)"
        )
        for m in store.migrations(timescale_available=False):
            if m.version <= 2:
                conn.execute(m.sql.encode())
                conn.execute(
                    "INSERT INTO schema_migrations VALUES (%s, %s, now())", (m.version, m.name)
                )
        for exchange, symbol, timeframe, frame in (
            ("sim", "BTC/USDT", "1m", candles("BTC/USDT", T0, 30)),
            ("sim", "ETH/USDT", "1m", candles("ETH/USDT", T0, 20, base=50)),
            ("binance", "BTC/USDT", "1m", candles("BTC/USDT", T0, 10, base=7)),
        ):
            with conn.cursor() as cur:
                cur.executemany(
                    V2_ROWS,
                    [(exchange, symbol, timeframe, *row[1:]) for row in frame.iter_rows()],
                )
    yield store
    store.close()


def test_upgrade_to_series_ids_keeps_every_candle(v2_store: PostgresStore) -> None:
    assert v2_store.status()["pending"] == [3, 4, 5, 6, 7]
    assert v2_store.migrate() == [3, 4, 5, 6, 7]
    assert v2_store.status()["pending"] == []
    got = v2_store.read_candles("sim", ["ETH/USDT", "BTC/USDT"], "1m")
    want = [candles("BTC/USDT", T0, 30), candles("ETH/USDT", T0, 20, base=50)]
    assert got.equals(want[0].vstack(want[1]))
    assert v2_store.read_candles("binance", "BTC/USDT", "1m").equals(
        candles("BTC/USDT", T0, 10, base=7)
    )
    # candles stored before version 6 have no writer on record (lineage says so)
    assert v2_store.candle_write("sim", "BTC/USDT", "1m", T0) is None
    # the upgraded table takes new writes, and the named view shows them
    v2_store.upsert_candles("sim", "1m", candles("SOL/USDT", T0, 5))
    assert v2_store.candle_write("sim", "SOL/USDT", "1m", T0).writer == "unattributed"
    with psycopg.connect(v2_store._dsn) as conn:
        rows = conn.execute(
            "SELECT exchange, symbol, count(*) FROM candles_named GROUP BY 1, 2 ORDER BY 1, 2"
        ).fetchall()
        indexes = {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes")}
    assert rows == [
        ("binance", "BTC/USDT", 10), ("sim", "BTC/USDT", 30), ("sim", "ETH/USDT", 20),
        ("sim", "SOL/USDT", 5),
    ]  # fmt: skip
    assert {"candles_pkey", "candles_ts_brin"} <= indexes and "candles_v2_pkey" not in indexes


# Rows as version 1 wrote them: an open and a closed order, a fill, a position.
V1_ROWS = [
    "INSERT INTO orders VALUES ('c-open', 'sim', 'x-1', 'BTC/USDT', 'buy', 'limit', 1.0, 90.0, "
    "'open', 0.25, 90.0, 0.02, 'USDT', '2024-03-01 00:00:00+00', '2024-03-01 00:01:00+00')",
    "INSERT INTO orders VALUES ('c-done', 'sim', 'x-2', 'BTC/USDT', 'buy', 'market', 0.5, NULL, "
    "'closed', 0.5, 100.0, 0.05, 'USDT', '2024-03-01 00:00:00+00', '2024-03-01 00:00:00+00')",
    "INSERT INTO fills VALUES ('sim', 't-1', 'x-2', 'c-done', 'BTC/USDT', 'buy', 0.5, 100.0, "
    "0.05, 'USDT', '2024-03-01 00:00:00+00', true)",
    "INSERT INTO positions VALUES ('sim', 'BTC/USDT', 0.5, 100.0, 95.0, NULL, NULL, "
    "'2024-03-01 00:00:00+00', '2024-03-01 00:02:00+00')",
]


def _v1_duckdb(tmp_path: Path) -> Store:
    path = tmp_path / "v1.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(MIGRATIONS_TABLE)
        v1 = load_migrations("duckdb")[0]
        con.execute(v1.sql)
        con.execute("INSERT INTO schema_migrations VALUES (1, 'init', now())")
        for sql in V1_ROWS:
            con.execute(sql)
    return DuckDBStore(path)


def _v3_postgres(url: str) -> Store:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    store = PostgresStore(url)
    with psycopg.connect(url) as conn:
        conn.execute(MIGRATIONS_TABLE)
        for m in store.migrations(timescale_available=False):
            if m.version <= 3:
                conn.execute(m.sql.encode())
                conn.execute(
                    "INSERT INTO schema_migrations VALUES (%s, %s, now())", (m.version, m.name)
                )
        for sql in V1_ROWS:
            conn.execute(sql)
    return store


@pytest.mark.parametrize("backend", ["duckdb", "postgres"])
def test_upgrade_to_domain_records_keeps_orders_fills_and_positions(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    make: Callable[[], Store] = (
        (lambda: _v1_duckdb(tmp_path))
        if backend == "duckdb"
        else (lambda: _v3_postgres(request.getfixturevalue("pg_url")))
    )
    store = make()
    try:
        assert store.migrate() == [4, 5, 6, 7]
        orders = store.orders()
        assert dict(zip(orders["client_order_id"], orders["status"], strict=True)) == {
            "c-open": "partially_filled", "c-done": "filled",
        }  # fmt: skip
        assert orders["stop_price"].to_list() == [None, None]
        assert store.orders(["filled"])["exchange_order_id"].to_list() == ["x-2"]
        assert store.fills()["exchange_order_id"].to_list() == ["x-2"]
        (position,) = store.positions("sim")
        assert position == Position(
            "BTC/USDT", 0.5, 50.0, 100.0, to_epoch_ms(T0), 0, 95.0, math.inf, 100.0, "sim"
        )
        (rebuilt,) = store.rebuild_positions("sim")  # the projection agrees with the fill
        assert (rebuilt.amount, rebuilt.entry_price, rebuilt.stop_price) == (0.5, 100.0, 95.0)
        assert rebuilt.stake == pytest.approx(50.05)
    finally:
        store.close()
