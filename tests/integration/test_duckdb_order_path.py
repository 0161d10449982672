"""DuckDB's order path (storage/duckdb_orders.py): plain statements instead of ON CONFLICT.

The contract suite proves the answers match PostgreSQL's; these tests pin what only DuckDB
has: concurrent in-process transactions racing for one client order id, a commit whose
acknowledgement is lost, and that the common case really runs no ON CONFLICT statement.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import duckdb
import pytest

from awan_trading.domain.ids import client_order_id
from awan_trading.domain.orders import Fill, Order, Submitted, apply
from awan_trading.domain.signals import OrderIntent, SignalRecord
from awan_trading.storage import EquitySnapshot
from awan_trading.storage.duckdb_orders import qmarks
from awan_trading.storage.duckdb_store import DuckDBStore
from awan_trading.storage.sqlbase import INSERT_INTENT, intent_values
from tests.integration.test_store_contract import MINUTE, T0

SID = "ef" * 16
CID = client_order_id(SID, "entry")


def _intent(amount: float = 0.5) -> OrderIntent:
    return OrderIntent(CID, SID, "sim", "BTC/USDT", "buy", "market", amount, None, T0)


class _Connection:
    """A DuckDB connection that records its SQL, runs a hook before the first statement
    starting with a given prefix, and can lose COMMIT acknowledgements."""

    def __init__(self, con: duckdb.DuckDBPyConnection, store: RecordingStore) -> None:
        self._con, self._store = con, store

    def execute(self, sql: str, *args: Any) -> Any:
        self._store.sql.append(sql)
        for i, (prefix, hook) in enumerate(self._store.before):
            if sql.startswith(prefix):
                del self._store.before[i]
                hook()
                break
        result = self._con.execute(sql, *args)
        if sql == "COMMIT" and self._store.lost_commits:
            self._store.lost_commits -= 1
            raise duckdb.TransactionException("the commit went through; its reply was lost")
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


class RecordingStore(DuckDBStore):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sql: list[str] = []
        self.lost_commits = 0
        self.before: list[tuple[str, Callable[[], Any]]] = []

    @contextmanager
    def _connection(self, read_only: bool = False) -> Iterator[Any]:
        with super()._connection(read_only) as con:
            yield _Connection(con, self)


@pytest.fixture
def store(tmp_path) -> RecordingStore:
    s = RecordingStore(tmp_path / "awan.duckdb", lock_timeout=30)
    s.migrate()
    s.sql.clear()
    return s


def test_the_common_order_path_runs_no_on_conflict_statement(store: RecordingStore) -> None:
    intent = _intent()
    order = Order.from_intent(intent)
    fill = Fill("t-1", "x-1", CID, "BTC/USDT", "buy", 0.5, 100.0, 0.05, "USDT", T0, True)
    with store.held():
        assert store.record_order_intent(intent, order) is True
        assert store.record_order_intent(intent, order) is False
        assert store.record_order(apply(order, Submitted(T0)), [fill]) == [fill]
        assert store.record_order(apply(order, Submitted(T0)), [fill]) == []
        assert store.record_fill("sim", replace(fill, trade_id="t-2")) is True
        signal = SignalRecord(SID, "s", "p", "sim", "BTC/USDT", "1m", T0, "buy", 100.0)
        assert store.insert_signal(signal) is not None and store.insert_signal(signal) is None
        new = replace(signal, signal_id="cd" * 16)
        exit_ = replace(intent, client_order_id=client_order_id(new.signal_id, "exit"),
                        signal_id=new.signal_id, side="sell")  # fmt: skip
        seq, recorded = store.record_signal_intent(new, exit_, Order.from_intent(exit_))
        assert seq is not None and recorded is True
        for minute in range(2):
            store.heartbeat("live", "ok", at=T0 + minute * MINUTE)
            store.record_equity(EquitySnapshot("sim", T0, 1000.0 + minute, 500.0))
            store.record_venue_clock("sim", T0 + minute * MINUTE)
    assert [s for s in store.sql if "ON CONFLICT" in s] == []
    assert store.orders(client_order_id=CID)["status"].to_list() == ["submitted"]
    assert store.last_heartbeat("live") == (T0 + MINUTE, "ok")
    assert store.equity_curve("sim")["equity"].to_list() == [1001.0]


def test_a_retry_after_a_commit_whose_reply_was_lost_is_still_the_first_attempt(
    store: RecordingStore,
) -> None:
    store.lost_commits = 1
    intent = _intent()
    assert store.record_order_intent(intent, Order.from_intent(intent)) is True
    assert store.lost_commits == 0 and store.sql.count("COMMIT") == 2  # it did retry
    assert store.orders(client_order_id=CID)["status"].to_list() == ["intent"]
    assert store.record_order_intent(intent, Order.from_intent(intent)) is False


def test_a_retry_after_a_lost_commit_reply_records_the_signal_and_intent_once(
    store: RecordingStore,
) -> None:
    """The signal and the intent committed, the reply was lost, `_run` retried: the retry
    finds both (the portable statements), and the attempt token says the intent is ours."""
    store.lost_commits = 1
    intent = _intent()
    signal = SignalRecord(SID, "s", "p", "sim", "BTC/USDT", "1m", T0, "buy", 100.0)
    seq, recorded = store.record_signal_intent(signal, intent, Order.from_intent(intent))
    assert recorded is True and seq is None  # the retry's own signal reads as stored already
    assert store.lost_commits == 0 and store.sql.count("COMMIT") == 2
    assert store.signals_after(0)["signal_id"].to_list() == [SID]
    assert store.orders(client_order_id=CID)["status"].to_list() == ["intent"]


@pytest.mark.parametrize("round_", range(8))  # a race: one round lost it ~1 time in 4
def test_threads_racing_for_one_client_order_id_record_one_intent(tmp_path, round_) -> None:
    path = tmp_path / "awan.duckdb"
    DuckDBStore(path).migrate()
    stores = [DuckDBStore(path, lock_timeout=60) for _ in range(4)]
    start = threading.Barrier(len(stores))
    answers: dict[float, bool] = {}
    errors: list[BaseException] = []

    def attempt(store: DuckDBStore, amount: float) -> None:
        intent = _intent(amount)
        start.wait()
        try:
            answers[amount] = store.record_order_intent(intent, Order.from_intent(intent))
        except BaseException as exc:  # collected: the assertion below names it
            errors.append(exc)

    threads = [
        threading.Thread(target=attempt, args=(s, 0.1 * (i + 1))) for i, s in enumerate(stores)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    winners = [amount for amount, won in answers.items() if won]
    assert len(answers) == len(stores) and len(winners) == 1
    assert stores[0].get_order_intent(CID).amount == winners[0]
    assert stores[0].orders()["amount"].to_list() == winners  # the winner's row, only


@pytest.mark.parametrize("rival_commits_before", ["INSERT INTO order_intents", "COMMIT"])
def test_an_intent_a_concurrent_transaction_committed_first_is_a_second_attempt(
    store: RecordingStore, rival_commits_before: str
) -> None:
    """Another connection of this process inserts the same client order id and commits
    while our transaction is open: before our INSERT (which then violates the key) or
    between our INSERT and our COMMIT (which then fails, and `_run` retries). Either way
    the answer is False and neither our intent nor our order row is written."""
    rival = duckdb.connect(str(store.path), config=store.settings)
    rival.execute("BEGIN TRANSACTION")
    rival.execute(qmarks(INSERT_INTENT), list(intent_values(_intent(0.9), "rival")))
    store.before.append((rival_commits_before, lambda: rival.execute("COMMIT")))
    intent = _intent()
    try:
        assert store.record_order_intent(intent, Order.from_intent(intent)) is False
    finally:
        rival.close()
    assert store.before == []  # the rival did commit mid-transaction
    assert store.get_order_intent(CID).amount == 0.9
    assert store.orders().is_empty()
