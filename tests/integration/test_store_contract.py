"""One contract, two backends: every Store method against real PostgreSQL and DuckDB files.

PostgreSQL gets a fresh database per test session and xdist worker (dropped after); DuckDB a
fresh file per test. A backend that passes here can replace the other behind the IO manager.
"""

from __future__ import annotations

import math
import os
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import polars as pl
import psycopg
import pytest

from awan_trading.domain.ids import client_order_id
from awan_trading.domain.orders import Fill, Order, Submitted, Traded, apply, apply_all
from awan_trading.domain.positions import Position
from awan_trading.domain.signals import OrderIntent, SignalRecord
from awan_trading.errors import CandleValidationError, DataError
from awan_trading.market.schema import CANDLE_SCHEMA
from awan_trading.market.timeframes import TimeframeError, to_epoch_ms
from awan_trading.storage import (
    BotEvent,
    EquitySnapshot,
    Store,
    StoreError,
    StoreWindowError,
    open_store,
)
from tests.conftest import require_service

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3"
T0 = datetime(2024, 3, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def candles(symbol: str, start: datetime, n: int, step: timedelta = MINUTE, base: float = 100.0):
    """n valid consecutive candles starting at `start`."""
    ts = [start + i * step for i in range(n)]
    close = [base + i * 0.5 for i in range(n)]
    return pl.DataFrame(
        {
            "symbol": [symbol] * n,
            "ts": ts,
            "open": close,
            "high": [c + 1 for c in close],
            "low": [c - 1 for c in close],
            "close": close,
            "volume": [10.0 + i for i in range(n)],
        }
    ).with_columns(pl.col("ts").dt.cast_time_unit("ms"))


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh database for this session and worker, dropped at the end."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"awan_test_{worker}_{uuid.uuid4().hex[:8]}"
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True)
    except psycopg.OperationalError as exc:
        require_service("PostgreSQL", str(exc))
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


TABLES = (
    "candles, candle_series, indicators, signals, order_intents, orders, fills, positions, equity_snapshots, "
    "bot_events, heartbeats, venue_clocks, control_requests, candle_writes"
)


@pytest.fixture(params=["duckdb", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path) -> Iterator[Store]:
    if request.param == "duckdb":
        s = open_store(f"duckdb:///{tmp_path / 'awan.duckdb'}", migrate=True)
    else:
        url = request.getfixturevalue("pg_url")
        s = open_store(url, migrate=True)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"TRUNCATE {TABLES}")
    yield s
    s.close()


def test_migrate_is_idempotent_and_status_reports_version(store: Store) -> None:
    assert store.migrate() == []
    status = store.status()
    assert status["version"] == status["latest"] >= 1
    assert status["pending"] == []
    assert status["backend"] in {"duckdb", "postgres"}


def test_replace_writes_exactly_the_window_and_rerun_is_noop(store: Store) -> None:
    day = timedelta(days=1)
    store.replace_candles("sim", "BTC/USDT", "1m", T0, T0 + day, candles("BTC/USDT", T0, 30))
    neighbour = candles("BTC/USDT", T0 + day, 5, base=500)
    store.replace_candles("sim", "BTC/USDT", "1m", T0 + day, T0 + 2 * day, neighbour)
    fresh = candles("BTC/USDT", T0 + 10 * MINUTE, 10, base=200)
    for _ in range(2):  # re-running the same partition changes nothing
        assert store.replace_candles("sim", "BTC/USDT", "1m", T0, T0 + day, fresh) == 10
        got = store.read_candles("sim", "BTC/USDT", "1m")
        assert got.schema == pl.Schema(CANDLE_SCHEMA)
        assert got.height == 15
        assert got.head(10).equals(fresh)
        assert got.tail(5).equals(neighbour)


def test_replace_refuses_rows_outside_window_or_of_another_symbol(store: Store) -> None:
    frame = candles("BTC/USDT", T0, 10)
    with pytest.raises(StoreWindowError, match="outside the window"):
        store.replace_candles("sim", "BTC/USDT", "1m", T0, T0 + 5 * MINUTE, frame)
    with pytest.raises(StoreWindowError, match="ETH/USDT"):
        store.replace_candles(
            "sim", "BTC/USDT", "1m", T0, T0 + MINUTE * 20, candles("ETH/USDT", T0, 3)
        )
    assert store.read_candles("sim", "BTC/USDT", "1m").is_empty()


def test_upsert_overwrites_by_key_and_reads_filter_and_sort(store: Store) -> None:
    both = pl.concat([candles("ETH/USDT", T0, 20, base=50), candles("BTC/USDT", T0, 20)])
    assert store.upsert_candles("sim", "1m", both) == 40
    changed = candles("BTC/USDT", T0 + 5 * MINUTE, 3, base=900)
    store.upsert_candles("sim", "1m", changed)
    store.upsert_candles("binance", "1m", candles("BTC/USDT", T0, 2, base=10))
    store.upsert_candles("sim", "5m", candles("BTC/USDT", T0, 2, step=5 * MINUTE, base=10))
    got = store.read_candles(
        "sim", ["ETH/USDT", "BTC/USDT"], "1m", T0 + 5 * MINUTE, T0 + 8 * MINUTE
    )
    assert got["symbol"].to_list() == ["BTC/USDT"] * 3 + ["ETH/USDT"] * 3
    assert got.head(3).equals(changed)
    assert store.read_candles("sim", "BTC/USDT", "1m").height == 20
    assert store.latest_candle_ts("sim", "BTC/USDT", "1m") == T0 + 19 * MINUTE
    assert store.latest_candle_ts("sim", "XRP/USDT", "1m") is None
    assert store.read_candles("sim", "XRP/USDT", "1m").schema == pl.Schema(CANDLE_SCHEMA)


@pytest.mark.parametrize(
    ("mutate", "error"),
    [
        (lambda f: f.with_columns(pl.lit(float("nan")).alias("close")), CandleValidationError),
        (lambda f: f.drop("volume"), DataError),
        (lambda f: f.with_columns(pl.lit("x").alias("open")), DataError),
        (lambda f: pl.concat([f, f.tail(1)]), CandleValidationError),
    ],
    ids=["nan-price", "missing-column", "text-price", "duplicate-ts"],
)
def test_bad_candles_are_refused_and_write_nothing(store: Store, mutate, error) -> None:
    good = candles("BTC/USDT", T0, 10)
    store.replace_candles("sim", "BTC/USDT", "1m", T0, T0 + timedelta(days=1), good)
    bad = mutate(candles("BTC/USDT", T0, 10, base=300))
    with pytest.raises(error):
        store.replace_candles("sim", "BTC/USDT", "1m", T0, T0 + timedelta(days=1), bad)
    with pytest.raises(error):
        store.upsert_candles("sim", "1m", bad)
    assert store.read_candles("sim", "BTC/USDT", "1m").equals(good)


def test_unknown_timeframe_is_refused(store: Store) -> None:
    with pytest.raises(TimeframeError):
        store.upsert_candles("sim", "7m", candles("BTC/USDT", T0, 3))
    assert store.read_candles("sim", "BTC/USDT", "7m").is_empty()


def test_indicators_round_trip_wide(store: Store) -> None:
    base = candles("BTC/USDT", T0, 5)
    wide = base.select(
        "symbol", "ts", pl.col("close").alias("sma_3"), (pl.col("close") * 0).alias("rsi_14")
    ).with_columns(
        pl.when(pl.int_range(5) < 2).then(float("nan")).otherwise("sma_3").alias("sma_3")
    )
    store.write_indicators("sim", "1m", wide)
    store.write_indicators("sim", "1m", wide.with_columns(pl.col("rsi_14") + 1))
    got = store.read_indicators("sim", "BTC/USDT", "1m", T0, T0 + 10 * MINUTE)
    assert got.columns == ["symbol", "ts", "rsi_14", "sma_3"]
    assert got["rsi_14"].to_list() == [1.0] * 5
    assert got["sma_3"].to_list()[:2] == [None, None]
    assert got["sma_3"].to_list()[2:] == base["close"].to_list()[2:]


def _signal(signal_id: str, minute: int) -> SignalRecord:
    return SignalRecord(
        signal_id, "boll_stoch", "p1", "sim", "BTC/USDT", "1m", T0 + minute * MINUTE, "buy", 100.0
    )


def test_signals_are_idempotent_and_readable_after_a_cursor(store: Store) -> None:
    first = store.insert_signal(_signal("s-1", 0))
    assert first is not None
    assert store.insert_signal(_signal("s-1", 0)) is None
    second = store.insert_signal(_signal("s-2", 1))
    assert second is not None and second > first
    assert store.signals_after(0)["signal_id"].to_list() == ["s-1", "s-2"]
    newer = store.signals_after(first)
    assert newer["signal_id"].to_list() == ["s-2"]
    assert newer["ts"][0] == T0 + MINUTE
    assert store.signals_after(second).is_empty()


SID = "ab" * 16
ENTRY = client_order_id(SID, "entry")


def test_order_intent_second_attempt_is_detected(store: Store) -> None:
    intent = OrderIntent(ENTRY, SID, "sim", "BTC/USDT", "buy", "market", 0.5, None, T0)
    assert store.record_order_intent(intent) is True
    assert store.record_order_intent(intent) is False
    # a second intent for the same client order id is refused even if it differs
    assert store.record_order_intent(OrderIntent(ENTRY, SID, "sim", "BTC/USDT", "buy", "limit",
                                                 0.7, 99.0, T0 + MINUTE)) is False  # fmt: skip
    assert store.get_order_intent(ENTRY) == intent
    assert store.get_order_intent("nope") is None
    stop = OrderIntent(client_order_id(SID, "stop"), SID, "sim", "BTC/USDT", "sell",
                       "stop_loss_limit", 0.5, 94.0, T0, stop_price=95.0)  # fmt: skip
    assert store.record_order_intent(stop) is True
    assert store.get_order_intent(stop.client_order_id) == stop


def test_intent_and_its_order_row_are_one_write_and_only_for_the_first_attempt(
    store: Store,
) -> None:
    intent = OrderIntent(ENTRY, SID, "sim", "BTC/USDT", "buy", "market", 0.5, None, T0)
    assert store.record_order_intent(intent, Order.from_intent(intent)) is True
    rows = store.orders(client_order_id=ENTRY)
    assert rows["status"].to_list() == ["intent"] and rows["amount"].to_list() == [0.5]
    # the order moves on; a second attempt writes neither the intent nor the row
    store.record_order(apply(Order.from_intent(intent), Submitted(T0 + MINUTE)))
    other = replace(intent, amount=0.9)
    assert store.record_order_intent(other, Order.from_intent(other)) is False
    rows = store.orders(client_order_id=ENTRY)
    assert rows["status"].to_list() == ["submitted"] and rows["amount"].to_list() == [0.5]
    assert store.get_order_intent(ENTRY) == intent
    assert store.orders(client_order_id="nope").is_empty()


def test_an_order_row_recorded_before_its_intent_is_upserted_by_the_intent(store: Store) -> None:
    """A row without an intent (a venue report recorded first) does not make the intent a
    second attempt; the intent's row replaces it, keeping the first creation time."""
    intent = OrderIntent(ENTRY, SID, "sim", "BTC/USDT", "buy", "limit", 0.5, 99.0, T0 + MINUTE)
    early = replace(Order.from_intent(intent), created_at=T0, signal_id=None, amount=0.4)
    store.record_order(early)
    assert store.get_order_intent(ENTRY) is None
    assert store.record_order_intent(intent, Order.from_intent(intent)) is True
    assert store.get_order_intent(ENTRY) == intent
    rows = store.orders(client_order_id=ENTRY)
    assert rows.height == 1 and rows["amount"].to_list() == [0.5]
    assert rows["signal_id"].to_list() == [SID] and rows["created_at"].to_list() == [T0]
    assert store.record_order_intent(intent, Order.from_intent(intent)) is False


def test_an_intent_the_table_refuses_is_an_error_not_a_second_attempt(store: Store) -> None:
    bad = OrderIntent(ENTRY, SID, None, "BTC/USDT", "buy", "market", 0.5, None, T0)  # type: ignore[arg-type]
    with pytest.raises(StoreError):
        store.record_order_intent(bad, Order.from_intent(bad))
    assert store.get_order_intent(ENTRY) is None and store.orders().is_empty()
    good = replace(bad, exchange="sim")
    assert store.record_order_intent(good, Order.from_intent(good)) is True


def test_a_signal_and_its_intent_are_one_write(store: Store) -> None:
    """`record_signal_intent`: (new seq, recorded) for a new signal and intent; a signal
    already stored is not stored again, and an intent already recorded is a second attempt
    that writes neither its order row nor anything else."""
    signal = replace(_signal(SID, 0), signal_id=SID)
    intent = OrderIntent(ENTRY, SID, "sim", "BTC/USDT", "buy", "market", 0.5, None, T0)
    seq, recorded = store.record_signal_intent(signal, intent, Order.from_intent(intent))
    assert seq is not None and recorded is True
    assert store.signals_after(0)["signal_id"].to_list() == [SID]
    assert store.orders(client_order_id=ENTRY)["status"].to_list() == ["intent"]
    assert store.get_order_intent(ENTRY) == intent
    other = replace(intent, amount=0.9)
    assert store.record_signal_intent(signal, other, Order.from_intent(other)) == (None, False)
    assert store.orders(client_order_id=ENTRY)["amount"].to_list() == [0.5]
    # a signal stored before (a Dagster run's, a close decided again): only the intent is new
    later = _signal("s-later", 1)
    assert store.insert_signal(later) is not None
    exit_ = OrderIntent(client_order_id(SID, "exit"), "s-later", "sim", "BTC/USDT", "sell",
                        "market", 0.5, None, T0 + MINUTE)  # fmt: skip
    assert store.record_signal_intent(later, exit_, Order.from_intent(exit_)) == (None, True)
    assert store.signals_after(0)["signal_id"].to_list() == [SID, "s-later"]
    assert store.orders()["client_order_id"].sort().to_list() == sorted(
        [ENTRY, exit_.client_order_id]
    )


def test_a_signal_whose_intent_the_table_refuses_is_not_stored_either(store: Store) -> None:
    """One transaction: an intent the table refuses (a NOT NULL) leaves no signal row."""
    bad = OrderIntent(ENTRY, SID, None, "BTC/USDT", "buy", "market", 0.5, None, T0)  # type: ignore[arg-type]
    with pytest.raises(StoreError):
        store.record_signal_intent(_signal(SID, 0), bad, Order.from_intent(bad))
    assert store.signals_after(0).is_empty() and store.get_order_intent(ENTRY) is None


def _fill(trade_id: str, side: str, amount: float, price: float, minute: int = 0) -> Fill:
    cid = ENTRY if side == "buy" else client_order_id("cd" * 16, "exit")
    return Fill(trade_id, "x-1", cid, "BTC/USDT", side, amount, price, amount * price * 0.001,  # type: ignore[arg-type]
                "USDT", T0 + minute * MINUTE, True)  # fmt: skip


def test_orders_move_through_their_statuses(store: Store) -> None:
    intent = OrderIntent(ENTRY, SID, "sim", "BTC/USDT", "buy", "market", 0.5, None, T0)
    order = Order.from_intent(intent)
    store.record_order(order)
    rows = store.orders()
    assert rows.height == 1 and rows["status"][0] == "intent"
    assert rows["exchange_order_id"][0] is None and rows["signal_id"][0] == SID
    done = apply_all(order, [Submitted(T0), Traded(_fill("t-1", "buy", 0.5, 100.0, 1))])
    # a venue snapshot knows no signal id: the recorded one is kept
    store.record_order(replace(done, signal_id=None))
    rows = store.orders()
    assert rows.height == 1 and rows["status"][0] == "filled" and rows["filled"][0] == 0.5
    assert rows["exchange_order_id"][0] == "x-1" and rows["signal_id"][0] == SID
    assert rows["updated_at"][0] == T0 + MINUTE and rows["created_at"][0] == T0
    assert store.orders(["accepted", "partially_filled"]).is_empty()
    assert store.orders(["filled"])["client_order_id"].to_list() == [ENTRY]
    assert apply(order, Submitted(T0)).status == "submitted"


def test_an_order_row_and_its_new_fills_are_one_write(store: Store) -> None:
    intent = OrderIntent(ENTRY, SID, "sim", "BTC/USDT", "buy", "market", 1.0, None, T0)
    first, second = _fill("t-1", "buy", 0.5, 100.0, 1), _fill("t-2", "buy", 0.5, 101.0, 2)
    half = apply_all(Order.from_intent(intent), [Submitted(T0), Traded(first)])
    assert store.record_order(half, [first]) == [first]
    done = apply(half, Traded(second))
    assert store.record_order(done, [first, second]) == [second]  # t-1 is not new
    assert store.fills(client_order_id=ENTRY)["trade_id"].to_list() == ["t-1", "t-2"]
    assert store.orders(client_order_id=ENTRY)["status"].to_list() == ["filled"]
    assert store.record_order(done) == []


def test_a_fill_is_recorded_once_per_exchange_and_trade_id(store: Store) -> None:
    intent = OrderIntent(ENTRY, SID, "sim", "BTC/USDT", "buy", "market", 1.0, None, T0)
    first, second = _fill("t-1", "buy", 0.5, 100.0, 1), _fill("t-2", "buy", 0.5, 101.0, 2)
    order = apply(Order.from_intent(intent), Submitted(T0))
    # the same trade twice in one call is one new fill
    assert store.record_order(order, [first, first]) == [first]
    assert store.record_fill("sim", first) is False
    assert store.record_order(order, [second, first, second]) == [second]
    assert store.record_order(order, [first, second]) == []
    assert store.fills(exchange="sim")["trade_id"].to_list() == ["t-1", "t-2"]
    # another account's trade with the same id is another fill
    assert store.record_fill("other", first) is True
    assert store.record_fill("other", first) is False
    assert store.fills(exchange="other")["trade_id"].to_list() == ["t-1"]
    rows = store.orders()
    assert rows.height == 1 and rows["status"].to_list() == ["submitted"]


def test_an_order_row_is_updated_in_place(store: Store) -> None:
    intent = OrderIntent(ENTRY, SID, "sim", "BTC/USDT", "buy", "limit", 1.0, 99.0, T0)
    store.record_order_intent(intent, Order.from_intent(intent))
    fill = replace(_fill("t-1", "buy", 0.4, 98.0, 1), exchange_order_id="x-9")
    part = apply_all(Order.from_intent(intent), [Submitted(T0), Traded(fill)])
    assert store.record_order(part, [fill]) == [fill]
    later = replace(part, exchange_order_id=None, signal_id=None, updated_at=T0 + 5 * MINUTE)
    assert store.record_order(later) == []
    rows = store.orders()
    assert rows.height == 1
    row = rows.row(0, named=True)
    assert (row["status"], row["filled"], row["average"]) == ("partially_filled", 0.4, 98.0)
    assert (row["exchange_order_id"], row["signal_id"]) == ("x-9", SID)  # kept, not erased
    assert (row["created_at"], row["updated_at"]) == (T0, T0 + 5 * MINUTE)
    assert rows.equals(store.orders(["partially_filled"]))
    assert store.orders(client_order_id=ENTRY).equals(rows)


def test_fills_positions_equity(store: Store) -> None:
    fill = _fill("t-1", "buy", 0.5, 100.0)
    assert store.record_fill("sim", fill) is True
    assert store.record_fill("sim", fill) is False
    rows = store.fills("BTC/USDT")
    assert rows["client_order_id"].to_list() == [ENTRY]
    assert rows["exchange_order_id"].to_list() == ["x-1"]
    assert store.fills(exchange="other").is_empty()
    assert store.fills(client_order_id=ENTRY)["trade_id"].to_list() == ["t-1"]
    assert store.fills(exchange="sim", client_order_id="nope").is_empty()

    position = Position.from_fills([fill], exchange="sim")
    position.stop_price, position.signal_ts = 95.0, to_epoch_ms(T0 - MINUTE)
    store.save_position(position)
    assert store.positions("sim") == [position]
    position.stop_price, position.high_water = 97.0, 104.0
    position.stop_client_order_id = client_order_id(SID, "stop", 1)
    store.save_position(position)
    assert store.positions("sim") == [position]
    with pytest.raises(DataError, match="exchange"):
        store.save_position(Position("BTC/USDT", 1.0))
    store.delete_position("sim", "BTC/USDT")
    assert store.positions() == []

    store.record_equity(EquitySnapshot("sim", T0, 1000.0, 500.0))
    store.record_equity(EquitySnapshot("sim", T0, 1001.0, 501.0))
    curve = store.equity_curve("sim")
    assert curve["equity"].to_list() == [1001.0]


def test_positions_are_a_projection_rebuilt_from_fills(store: Store) -> None:
    for f in (_fill("t-1", "buy", 0.5, 100.0), _fill("t-2", "buy", 0.5, 110.0, 1)):
        store.record_fill("sim", f)
    store.record_fill("other", _fill("t-1", "buy", 9.0, 1.0))  # another account's fills
    (first,) = store.rebuild_positions("sim")
    assert (first.amount, first.entry_price, first.signal_id) == (1.0, 105.0, SID)
    first.stop_price, first.high_water = 99.0, 120.0  # the manager's levels
    store.save_position(first)
    store.record_fill("sim", _fill("t-3", "sell", 0.4, 120.0, 2))
    (rebuilt,) = store.rebuild_positions("sim")
    assert rebuilt.amount == pytest.approx(0.6) and rebuilt.realized_pnl > 0
    assert (rebuilt.stop_price, rebuilt.high_water) == (99.0, 120.0)  # kept over the rebuild
    assert store.positions("sim") == [rebuilt]
    store.record_fill("sim", _fill("t-4", "sell", 0.6, 90.0, 3))
    assert store.rebuild_positions("sim") == [] and store.positions("sim") == []


def test_a_rebuild_records_sell_minimums_and_closes_what_is_left_below_them(
    store: Store,
) -> None:
    store.record_fill("sim", _fill("t-1", "buy", 1.0, 100.0))
    store.record_fill("sim", _fill("t-2", "sell", 0.9995, 110.0, 1))  # 0.0005 left
    (open_,) = store.rebuild_positions("sim")  # no minimum known: the rest is a position
    assert open_.amount == pytest.approx(0.0005) and store.sell_minimums("sim") == {}
    minimums = {"BTC/USDT": 0.001, "ETH/USDT": 0.01}  # ETH has no fills: not recorded
    assert store.rebuild_positions("sim", minimums) == [] and store.positions("sim") == []
    assert store.sell_minimums("sim") == {"BTC/USDT": 0.001}
    assert store.sell_minimums("other") == {}
    # A later rebuild without them (a process that never read the venue's markets) agrees.
    assert store.rebuild_positions("sim") == []
    store.rebuild_positions("sim", {"BTC/USDT": 0.0001})  # the venue's rule changed
    assert store.sell_minimums("sim") == {"BTC/USDT": 0.0001}
    assert [p.amount for p in store.positions("sim")] == [pytest.approx(0.0005)]


def test_venue_clock_is_recorded_replaced_and_cleared(store: Store) -> None:
    assert store.venue_clock("sim") is None
    store.record_venue_clock("sim", T0, T0 + MINUTE)
    store.record_venue_clock("sim", T0 + MINUTE, T0 + 2 * MINUTE)
    assert store.venue_clock("sim") == (T0 + MINUTE, T0 + 2 * MINUTE)
    assert store.venue_clock("binance") is None
    store.record_venue_clock("sim", None)
    assert store.venue_clock("sim") is None


def test_events_heartbeat_and_controls(store: Store) -> None:
    store.record_event(BotEvent("live", "start", "started", ts=T0))
    store.record_event(BotEvent("live", "tick", "tick 1", ts=T0 + MINUTE))
    assert store.events("live")["kind"].to_list() == ["start", "tick"]
    assert store.last_heartbeat("live") is None
    store.heartbeat("live", "ok", at=T0)
    store.heartbeat("live", "paused", at=T0 + MINUTE)
    assert store.last_heartbeat("live") == (T0 + MINUTE, "paused")

    pause = store.request_control("live", "pause", requested_by="telegram:42")
    exit_ = store.request_control("live", "force_exit", symbol="BTC/USDT")
    pending = store.pending_controls("live")
    assert [(r.id, r.action, r.symbol) for r in pending] == [
        (pause, "pause", None),
        (exit_, "force_exit", "BTC/USDT"),
    ]
    store.mark_control_handled(pause)
    assert [r.id for r in store.pending_controls("live")] == [exit_]
    assert not math.isnan(store.pending_controls("live")[0].ts.timestamp())


def test_bulk_upsert_matches_row_by_row_semantics(store: Store) -> None:
    """Backfill-sized upserts take a different SQL path on PostgreSQL; same result."""
    old = candles("BTC/USDT", T0, 8_000)
    store.upsert_candles("sim", "1m", old)
    new = candles("BTC/USDT", T0 + 4_000 * MINUTE, 8_000, base=2_000)  # 4k changed, 4k new
    unchanged = old.head(2_000)
    assert store.upsert_candles("sim", "1m", pl.concat([unchanged, new])) == 10_000
    got = store.read_candles("sim", "BTC/USDT", "1m")
    assert got.equals(pl.concat([old.head(4_000), new]))


def _signal_frame(n: int, side: str = "buy") -> pl.DataFrame:
    return pl.DataFrame(
        {
            "signal_id": [f"bulk-{side}-{i}" for i in range(n)],
            "strategy": ["boll_stoch"] * n,
            "params_hash": ["p1"] * n,
            "symbol": ["BTC/USDT" if i % 2 else "ETH/USDT" for i in range(n)],
            "timeframe": ["1m"] * n,
            "ts": [T0 + (n - i) * MINUTE for i in range(n)],  # newest first on purpose
            "side": [side] * n,
            "price": [100.0 + i for i in range(n)],
            "score": [i / n for i in range(n)],
        }
    ).with_columns(pl.col("ts").dt.cast_time_unit("ms"))


def test_bulk_signals_are_inserted_once_in_time_order(store: Store) -> None:
    frame = _signal_frame(500)
    assert store.insert_signals("sim", frame) == 500
    assert store.insert_signals("sim", frame) == 0
    assert store.insert_signals("sim", pl.concat([frame.head(10), _signal_frame(5, "sell")])) == 5
    after = store.signals_after(0, limit=10_000)
    assert after.height == 505
    assert after["seq"].is_sorted()
    buys = after.filter(pl.col("side") == "buy")
    assert buys["ts"].is_sorted()  # seq follows candle time, not the order rows were given in
    read = store.read_signals("sim", "BTC/USDT", "1m", "boll_stoch", T0, T0 + 100 * MINUTE)
    assert read.height == 50 + 2 and read["ts"].is_sorted()  # odd i > 400, plus 2 of the sells
    assert read.row(0, named=True)["exchange"] == "sim"
    latest = store.latest_signals("sim", "1m", "boll_stoch")
    assert set(latest["symbol"]) == {"BTC/USDT", "ETH/USDT"}


def test_bulk_signals_with_a_bad_side_write_nothing(store: Store) -> None:
    bad = _signal_frame(3).with_columns(side=pl.Series(["buy", "hold", "buy"]))
    with pytest.raises(DataError, match="side 'hold' is not buy or sell"):
        store.insert_signals("sim", bad)
    assert store.signals_after(0).is_empty()
