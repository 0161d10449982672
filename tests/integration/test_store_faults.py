"""Faults the stores must survive: a killed PostgreSQL backend, two writers, leaked secrets.

The backend is terminated while the write is provably mid-transaction (its DELETE has
removed rows and is blocked on one row this test holds locked), so "no partial window" is
tested, not hoped for.
"""

from __future__ import annotations

import multiprocessing as mp
import threading
from datetime import timedelta

import polars as pl
import psycopg
import pytest
from typer.testing import CliRunner

from awan_trading.cli import app
from awan_trading.storage import StoreUnavailableError, open_store
from awan_trading.storage.duckdb_store import DuckDBStore
from awan_trading.storage.postgres import PostgresStore
from tests.integration.test_store_contract import T0, candles, pg_url  # noqa: F401

DAY = timedelta(days=1)


def _wait_for_blocked_delete(admin: psycopg.Connection, dbname: str) -> int:
    for _ in range(500):
        row = admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock' "
            "AND query LIKE 'DELETE FROM candles%%'",
            (dbname,),
        ).fetchone()
        if row:
            return row[0]
        threading.Event().wait(0.02)
    raise AssertionError("the replace never blocked on the locked row")


def _terminate_mid_replace(url: str, store: PostgresStore, new: pl.DataFrame) -> list:
    """Run a replace, kill its backend while its DELETE is half done; return its outcome."""
    dbname = url.rsplit("/", 1)[1]
    outcome: list = []
    holder = psycopg.connect(url)
    # lock the window's LAST row: the DELETE has removed the earlier rows when it blocks
    holder.execute(
        "SELECT 1 FROM candles WHERE ts = %s AND series_id = "
        "(SELECT id FROM candle_series WHERE symbol = 'BTC/USDT') FOR UPDATE",
        (T0 + 59 * timedelta(minutes=1),),
    )

    def write() -> None:
        try:
            outcome.append(store.replace_candles("sim", "BTC/USDT", "1m", T0, T0 + DAY, new))
        except StoreUnavailableError as exc:
            outcome.append(exc)

    worker = threading.Thread(target=write)
    worker.start()
    with psycopg.connect(url, autocommit=True) as admin:
        pid = _wait_for_blocked_delete(admin, dbname)
        assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]
        holder.rollback()  # release the row so a retry can proceed
        holder.close()
    worker.join(timeout=60)
    return outcome


@pytest.fixture
def pg_store(pg_url: str):  # noqa: F811
    store = open_store(pg_url, migrate=True)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("TRUNCATE candles")
    yield store
    store.close()


def test_terminated_backend_leaves_no_partial_window_and_retry_succeeds(pg_url, pg_store):  # noqa: F811
    old = candles("BTC/USDT", T0, 60)
    pg_store.replace_candles("sim", "BTC/USDT", "1m", T0, T0 + DAY, old)
    new = candles("BTC/USDT", T0, 30, base=700)
    single_try = PostgresStore(pg_url, attempts=1)
    try:
        outcome = _terminate_mid_replace(pg_url, single_try, new)
        assert len(outcome) == 1 and isinstance(outcome[0], StoreUnavailableError)
        assert pg_store.read_candles("sim", "BTC/USDT", "1m").equals(old)  # all or nothing
        assert single_try.replace_candles("sim", "BTC/USDT", "1m", T0, T0 + DAY, new) == 30
    finally:
        single_try.close()
    assert pg_store.read_candles("sim", "BTC/USDT", "1m").equals(new)


def test_terminated_backend_is_retried_transparently(pg_url, pg_store):  # noqa: F811
    pg_store.replace_candles("sim", "BTC/USDT", "1m", T0, T0 + DAY, candles("BTC/USDT", T0, 60))
    new = candles("BTC/USDT", T0, 45, base=900)
    assert _terminate_mid_replace(pg_url, pg_store, new) == [45]
    assert pg_store.read_candles("sim", "BTC/USDT", "1m").equals(new)


def test_concurrent_migrations_apply_once(pg_url):  # noqa: F811
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    stores = [PostgresStore(pg_url) for _ in range(3)]
    results: list[list[int]] = []
    threads = [threading.Thread(target=lambda s=s: results.append(s.migrate())) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [m.version for m in stores[0].migrations(timescale_available=False)]
    assert every == [1, 2, 3, 4, 5, 6, 7] and sorted(results) == [[], [], every]
    assert stores[0].status()["pending"] == []
    for s in stores:
        s.close()


def test_password_never_printed(pg_url) -> None:  # noqa: F811
    secret = "s3cr3t-Pa55"
    url = pg_url.replace("postgres@", f"postgres:{secret}@")  # trust auth ignores it
    store = PostgresStore(url)
    try:
        store.migrate()
        assert secret not in repr(store.status()) and secret not in store.url
    finally:
        store.close()
    result = CliRunner().invoke(app, ["db", "status", "--url", url])
    assert result.exit_code == 0, result.output
    assert secret not in result.output and "***" in result.output

    dead = PostgresStore(f"postgresql://bob:{secret}@127.0.0.1:1/x", attempts=1, connect_timeout=1)
    try:
        with pytest.raises(StoreUnavailableError) as caught:
            dead.latest_candle_ts("sim", "BTC/USDT", "1m")
        assert secret not in str(caught.value) and "bob:***@" in str(caught.value)
    finally:
        dead.close()
    result = CliRunner().invoke(app, ["db", "status", "--url", f"mysql://bob:{secret}@h/x"])
    assert result.exit_code == 2 and secret not in result.output


def _duckdb_writer(path: str, symbol: str, start: mp.Event, rounds: int) -> None:
    store = DuckDBStore(path, lock_timeout=120)
    start.wait()
    for i in range(rounds):
        lo = T0 + i * DAY
        store.replace_candles("sim", symbol, "1m", lo, lo + DAY, candles(symbol, lo, 200))
        store.heartbeat(symbol, f"round {i}")


def test_two_processes_write_one_duckdb_file(tmp_path) -> None:
    path = str(tmp_path / "shared.duckdb")
    DuckDBStore(path).migrate()
    ctx = mp.get_context("spawn")
    start = ctx.Event()
    rounds = 15
    procs = [
        ctx.Process(target=_duckdb_writer, args=(path, symbol, start, rounds))
        for symbol in ("BTC/USDT", "ETH/USDT")
    ]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(timeout=240)
    assert [p.exitcode for p in procs] == [0, 0]
    store = DuckDBStore(path)
    for symbol in ("BTC/USDT", "ETH/USDT"):
        assert store.read_candles("sim", symbol, "1m").height == 200 * rounds
        assert store.last_heartbeat(symbol)[1] == f"round {rounds - 1}"


def test_concurrent_writers_creating_the_same_series_agree_on_one_id(pg_url, pg_store):  # noqa: F811
    """Two stores (as two processes would) create the same new series at once, in opposite
    orders: each series gets one id, and every candle is readable by a third store."""
    symbols = [f"NEW{i}/USDT" for i in range(8)]
    frames = [candles(s, T0, 30, base=10 + i) for i, s in enumerate(symbols)]
    writers = [PostgresStore(pg_url), PostgresStore(pg_url)]
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def write(store: PostgresStore, order: list[pl.DataFrame]) -> None:
        start.wait()
        try:
            store.upsert_candles("sim", "1m", pl.concat(order))
        except BaseException as exc:  # collected: the assertion below names it
            errors.append(exc)

    threads = [
        threading.Thread(target=write, args=(writers[0], frames)),
        threading.Thread(target=write, args=(writers[1], frames[::-1])),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for w in writers:
        w.close()
    assert errors == []
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute(
            "SELECT symbol, count(*) FROM candle_series WHERE symbol LIKE 'NEW%%' GROUP BY 1"
        ).fetchall()
    assert sorted(rows) == [(s, 1) for s in symbols]
    assert pg_store.read_candles("sim", symbols, "1m").equals(pl.concat(frames))
