"""The embedded store used from two threads of one process (the live loop reads the control
table on a thread while the close's candles are written): opening a DuckDB connection is
serialised, because DuckDB's Python client can hand a half-made database instance to a
connection opened at the same moment ("python_arrow_scan does not exist")."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest

from awan_trading.storage import duckdb_store, open_store
from awan_trading.storage.duckdb_store import DuckDBStore
from tests.integration.test_store_contract import MINUTE, T0, candles

THREADS = 4


class _OverlapWatch:
    """`duckdb.connect` that notes how many threads are inside it at once."""

    def __init__(self) -> None:
        self.connect = duckdb.connect
        self.inside = 0
        self.most = 0
        self.lock = threading.Lock()

    def __call__(self, *args: Any, **kwargs: Any) -> duckdb.DuckDBPyConnection:
        with self.lock:
            self.inside += 1
            self.most = max(self.most, self.inside)
        try:
            time.sleep(0.02)  # long enough for every thread released at once to arrive
            return self.connect(*args, **kwargs)
        finally:
            with self.lock:
                self.inside -= 1


def _at_once(work: list[Any]) -> list[BaseException]:
    """Run each callable on its own thread, released together; the exceptions they raised."""
    barrier = threading.Barrier(len(work))
    errors: list[BaseException] = []

    def run(fn: Any) -> None:
        barrier.wait()
        try:
            fn()
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(fn,)) for fn in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_threads_open_the_file_one_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(f"duckdb:///{tmp_path / 'a.duckdb'}", migrate=True)
    assert isinstance(store, DuckDBStore)
    watch = _OverlapWatch()
    monkeypatch.setattr(duckdb_store.duckdb, "connect", watch)
    rows = candles("BTC/USDT", T0, 30)
    work = [lambda: store.pending_controls("bot")] * (THREADS - 1)
    work.append(lambda: store.upsert_candles("sim", "1m", rows))
    assert _at_once(work) == []
    assert watch.most == 1  # never two threads inside duckdb.connect
    assert store.read_candles("sim", "BTC/USDT", "1m").height == 30


def test_reads_and_arrow_writes_on_many_threads_all_succeed(tmp_path: Path) -> None:
    """The live loop's pattern, many times over: each round every thread opens its own
    connection at the same instant (the file closed between rounds, so the database instance
    is made anew each time), one writing candles through an Arrow scan."""
    store = open_store(f"duckdb:///{tmp_path / 'a.duckdb'}", migrate=True)
    for round_ in range(40):
        rows = candles("BTC/USDT", T0 + round_ * 5 * MINUTE, 5)
        work = [lambda: store.pending_controls("bot")] * (THREADS - 1)
        work.append(lambda r=rows: store.upsert_candles("sim", "1m", r))
        assert _at_once(work) == [], f"round {round_}"
    assert store.read_candles("sim", "BTC/USDT", "1m").height == 200
