"""The signal sensor: one run request per new selected signal, the store's seq as cursor.

Ticks are evaluated as the daemon does (`build_sensor_context` with the previous tick's cursor
and the code location's store resource). These do not deduplicate run keys — the daemon does,
through run storage; `test_execute_signal` covers what happens when that dedup is lost.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from awan_pipelines.execution import JOB_NAME, SIGNAL_OP, SIGNAL_TAG, SYMBOL_TAG
from awan_pipelines.sensors import SIGNAL_SENSOR, SignalSelection, make_signal_sensor
from awan_trading.live.venue_clock import clear_clock, record_clock
from tests.pipelines.signal_rows import context, signal_frame

NOW = datetime(2024, 3, 1, 12, 0, 5, tzinfo=UTC)  # five seconds after the 11:00 candle closed
LAST = datetime(2024, 3, 1, 11, tzinfo=UTC)  # open time of the candle that just closed


@pytest.fixture
def store(duckdb_defs):
    return duckdb_defs.resources["store"].get()


@pytest.fixture
def sensor(duckdb_defs) -> dg.SensorDefinition:
    ctx = context()
    selection = SignalSelection("sim", ctx.strategy, ctx.params_hash, ctx.timeframe)
    return make_signal_sensor(duckdb_defs.resolve_job_def(JOB_NAME), selection, clock=lambda: NOW)


def tick(sensor, defs, instance, cursor: str | None):
    with dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"store": defs.resources["store"]}
    ) as ctx:
        return sensor.evaluate_tick(ctx)


def test_nothing_new(sensor, duckdb_defs, instance, store):
    first = tick(sensor, duckdb_defs, instance, None)
    assert first.run_requests == []
    assert first.cursor == "0"
    assert "no new signal" in first.skip_message

    store.insert_signals("sim", signal_frame([("BTC/USDT", LAST, "buy", 42_000.0)]))
    seen = tick(sensor, duckdb_defs, instance, None)
    again = tick(sensor, duckdb_defs, instance, seen.cursor)
    assert again.run_requests == []
    assert again.cursor == seen.cursor


def test_two_new_items(sensor, duckdb_defs, instance, store):
    frame = signal_frame([("BTC/USDT", LAST, "buy", 42_000.0), ("ETH/USDT", LAST, "sell", 3_000.0)])
    store.insert_signals("sim", frame)
    result = tick(sensor, duckdb_defs, instance, None)

    by_key = {r.run_key: r for r in result.run_requests}
    assert set(by_key) == set(frame["signal_id"])  # run key = signal id
    stored = store.signals_after(0)
    for row in stored.iter_rows(named=True):
        request = by_key[row["signal_id"]]
        assert request.tags[SYMBOL_TAG] == row["symbol"]  # what the per-symbol limit keys on
        assert request.tags[SIGNAL_TAG] == row["signal_id"]
        assert request.run_config["ops"][SIGNAL_OP]["config"] == {
            "signal_id": row["signal_id"],
            "seq": row["seq"],
        }
    assert result.cursor == str(stored["seq"].max())


def test_cursor_advances_past_what_was_requested(sensor, duckdb_defs, instance, store):
    store.insert_signals("sim", signal_frame([("BTC/USDT", LAST, "buy", 42_000.0)]))
    first = tick(sensor, duckdb_defs, instance, None)
    assert len(first.run_requests) == 1

    newer = signal_frame([("SOL/USDT", LAST, "buy", 100.0)])
    store.insert_signals("sim", newer)
    second = tick(sensor, duckdb_defs, instance, first.cursor)
    assert [r.run_key for r in second.run_requests] == newer["signal_id"].to_list()
    assert int(second.cursor) > int(first.cursor)


def test_only_fresh_signals_of_the_traded_strategy(sensor, duckdb_defs, instance, store):
    """A backfill's history and other strategies' signals are read past, never executed."""
    fresh = signal_frame([("BTC/USDT", LAST, "buy", 42_000.0)])
    stale = signal_frame([("BTC/USDT", LAST - timedelta(hours=2), "buy", 41_000.0)])
    other = signal_frame([("BTC/USDT", LAST, "buy", 42_000.0)], context("ema_trend"))
    for frame in (stale, other, fresh):
        store.insert_signals("sim", frame)
    store.insert_signals("binance", signal_frame([("ETH/USDT", LAST, "buy", 3_000.0)]))

    result = tick(sensor, duckdb_defs, instance, None)
    assert [r.run_key for r in result.run_requests] == fresh["signal_id"].to_list()
    assert result.cursor == str(store.signals_after(0)["seq"].max())


def test_the_location_runs_the_sensor_by_default(duckdb_defs):
    sensor = duckdb_defs.resolve_sensor_def(SIGNAL_SENSOR)
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert sensor.job_name == JOB_NAME
    assert sensor.minimum_interval_seconds < 5  # ticks on every pass of the daemon (5 s)


# --- "now" from the signals' source ---------------------------------------------------------


def source_sensor(defs, exchange: str = "sim") -> dg.SensorDefinition:
    """The sensor as the location builds it: no clock given, so "now" comes from the store."""
    ctx = context()
    selection = SignalSelection(exchange, ctx.strategy, ctx.params_hash, ctx.timeframe)
    return make_signal_sensor(defs.resolve_job_def(JOB_NAME), selection)


def test_a_replays_signals_are_fresh_on_the_replay_clock(duckdb_defs, instance, store):
    """A sensor-mode replay of March 2024 records its clock: its signals execute."""
    frame = signal_frame([("BTC/USDT", LAST, "buy", 42_000.0)])
    store.insert_signals("sim", frame)
    record_clock(store, "sim", LAST + timedelta(hours=1))  # the replay at the candle's close
    result = tick(source_sensor(duckdb_defs), duckdb_defs, instance, None)
    assert [r.run_key for r in result.run_requests] == frame["signal_id"].to_list()

    # The replay ended (or never ran): the same signal is history on the wall clock.
    clear_clock(store, "sim")
    stale = tick(source_sensor(duckdb_defs), duckdb_defs, instance, None)
    assert stale.run_requests == [] and "1 stale" in stale.skip_message


def test_a_replay_that_died_long_ago_makes_nothing_fresh(duckdb_defs, instance, store):
    """The recorded clock moves on with the wall clock: a replay killed hours ago leaves a
    row, but its clock is hours past the signals by now."""
    store.insert_signals("sim", signal_frame([("BTC/USDT", LAST, "buy", 42_000.0)]))
    long_ago = datetime.now(UTC) - timedelta(hours=3)
    store.record_venue_clock("sim", LAST + timedelta(hours=1), long_ago)
    result = tick(source_sensor(duckdb_defs), duckdb_defs, instance, None)
    assert result.run_requests == [] and "1 stale" in result.skip_message


def test_a_live_venue_is_judged_on_the_wall_clock_whatever_the_store_holds(
    duckdb_defs, instance, store
):
    """Only the sim replays history: a clock row for a real venue is never believed."""
    store.insert_signals("binance", signal_frame([("BTC/USDT", LAST, "buy", 42_000.0)]))
    store.record_venue_clock("binance", LAST + timedelta(hours=1))
    result = tick(source_sensor(duckdb_defs, "binance"), duckdb_defs, instance, None)
    assert result.run_requests == [] and "1 stale" in result.skip_message

    fresh = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    now = signal_frame([("ETH/USDT", fresh, "buy", 3_000.0)])
    store.insert_signals("binance", now)
    live = tick(source_sensor(duckdb_defs, "binance"), duckdb_defs, instance, result.cursor)
    assert [r.run_key for r in live.run_requests] == now["signal_id"].to_list()
