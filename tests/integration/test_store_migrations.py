"""Upgrading a PostgreSQL store that holds data: version 2 (text-keyed candles) → 3 (series id).

The upgrade rewrites the candles table, so it is tested on a database that really is at
version 2, with candles of two exchanges and timeframes in it, not only on an empty schema.
"""

from __future__ import annotations

import psycopg
import pytest

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
    assert v2_store.status()["pending"] == [3]
    assert v2_store.migrate() == [3]
    assert v2_store.status()["pending"] == []
    got = v2_store.read_candles("sim", ["ETH/USDT", "BTC/USDT"], "1m")
    want = [candles("BTC/USDT", T0, 30), candles("ETH/USDT", T0, 20, base=50)]
    assert got.equals(want[0].vstack(want[1]))
    assert v2_store.read_candles("binance", "BTC/USDT", "1m").equals(
        candles("BTC/USDT", T0, 10, base=7)
    )
    # the upgraded table takes new writes, and the named view shows them
    v2_store.upsert_candles("sim", "1m", candles("SOL/USDT", T0, 5))
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
