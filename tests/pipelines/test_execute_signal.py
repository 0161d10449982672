"""The `execute_signal` job on the sim exchange and DuckDB, in a real Dagster instance.

What a person sees: the `trades` materialization on *this* signal's partition, whose metadata
leads back to the signal, its candle, the strategy parameters and the run that stored the
candle — and never a secret. What must hold whatever Dagster does: a signal delivered twice
(the daemon's run-key dedup lost with a wiped instance database) reaches the exchange once.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest
from typer.testing import CliRunner

from awan_pipelines.assets.market import ohlcv_key
from awan_pipelines.assets.trading import POSITIONS, TRADES
from awan_pipelines.definitions import build_definitions
from awan_pipelines.execution import JOB_NAME, SYMBOL_TAG, signal_run_request
from awan_pipelines.partitions import partition_key
from awan_pipelines.resources import TelegramResource
from awan_pipelines.sensors import SignalSelection, make_signal_sensor
from awan_trading.cli import app
from awan_trading.config import load_settings
from awan_trading.domain.ids import client_order_id
from awan_trading.market.timeframes import from_epoch_ms, parse_timeframe, to_epoch_ms
from awan_trading.storage import open_store
from tests.pipelines.execution_fixtures import share, sim_venue
from tests.pipelines.signal_rows import context, signal_frame

CANDLE = datetime(2024, 3, 1, 10, tzinfo=UTC)  # open of the candle that signalled
NOW = CANDLE + timedelta(hours=1, seconds=3)  # just after it closed
DAY, SYMBOL = "2024-03-01", "BTC/USDT"
PARTITION = str(partition_key(DAY, SYMBOL))
DAY_SPAN = timedelta(days=1)
API_KEY = "exec-test-api-key-5f1e"
API_SECRET = "exec-test-api-secret-9a2c"
BOT_TOKEN = "123456:exec-test-bot-token-77"


@pytest.fixture
def venue():
    return sim_venue(lambda: NOW)


@pytest.fixture
def defs(config, settings, venue, request) -> dg.Definitions:
    """The code location with one shared sim venue that is configured with credentials (the
    sim ignores them; the point is that none of them can surface in metadata)."""
    exchange = share(request.node.name, venue)
    exchange = exchange.model_copy(update={"api_key": API_KEY, "api_secret": API_SECRET})
    return build_definitions(
        config,
        settings,
        {"exchange": exchange, "telegram": TelegramResource(token=BOT_TOKEN, chat_id="1")},
    )


@pytest.fixture
def store(defs):
    return defs.resources["store"].get()


def store_candles(defs: dg.Definitions, instance: dg.DagsterInstance) -> str:
    """Materialize the signal's candle partition in `instance`; the run's id."""
    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance, partition_key=PARTITION, asset_selection=[ohlcv_key("1h")]
    )
    assert result.success
    return result.run_id


def insert_signal(store, venue, side: str = "buy") -> dict:
    price = venue.fetch_ohlcv(SYMBOL, "1h", CANDLE, CANDLE + timedelta(hours=1))["close"][0]
    store.insert_signals("sim", signal_frame([(SYMBOL, CANDLE, side, price)]))
    return store.signals_after(0).row(-1, named=True)


def execute(defs: dg.Definitions, instance: dg.DagsterInstance, request: dg.RunRequest):
    """One run as the daemon launches it for the sensor's request."""
    return defs.resolve_job_def(JOB_NAME).execute_in_process(
        run_config=request.run_config, tags=request.tags, instance=instance
    )


def trade_records(instance: dg.DagsterInstance):
    return instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=TRADES, asset_partitions=[PARTITION]), limit=10
    ).records


def test_one_signal_executes_and_its_trade_links_back(defs, instance, store, venue):
    candle_run = store_candles(defs, instance)
    row = insert_signal(store, venue)
    result = execute(defs, instance, signal_run_request(row))
    assert result.success
    assert result.dagster_run.tags[SYMBOL_TAG] == SYMBOL

    cid = client_order_id(row["signal_id"], "entry")
    assert venue.created[cid] == 1
    order = store.orders().filter(client_order_id=cid).row(0, named=True)
    assert order["status"] == "filled"

    [record] = trade_records(instance)  # on this signal's partition
    assert record.run_id == result.run_id
    meta = {k: v.value for k, v in record.asset_materialization.metadata.items()}
    ctx = context()
    assert meta["signal_id"] == row["signal_id"]
    assert meta["candle_ts"] == CANDLE.isoformat()
    assert meta["strategy"] == ctx.strategy
    assert meta["params_hash"] == ctx.params_hash
    assert meta["client_order_id"] == cid
    assert meta["exchange_order_id"] == order["exchange_order_id"] != ""
    assert meta["fill_price"] == pytest.approx(order["average"])
    assert meta["fee"] == pytest.approx(order["fee"]) and meta["fee"] > 0
    assert meta["candle_run"] == candle_run  # the run that stored the candle's partition
    written = f"Dagster run {candle_run} (partition {PARTITION}) at "
    assert meta["candle_writer"].startswith(written)

    positions = instance.get_latest_materialization_event(POSITIONS).asset_materialization
    table = positions.metadata["positions"].value
    [held] = [r.data for r in table.records]
    assert held["symbol"] == SYMBOL and held["amount"] == pytest.approx(order["filled"])
    assert 0 < held["stop_price"] < held["entry_price"] == pytest.approx(order["average"])
    assert "unrealized_pnl" in held

    # No secret anywhere in what this run recorded (materializations, logs, op metadata).
    text = " ".join(str(e) for e in instance.all_logs(result.run_id))
    for secret in (API_KEY, API_SECRET, BOT_TOKEN):
        assert secret not in text


def test_lineage_names_the_run_that_wrote_the_candle(defs, instance, store, venue, monkeypatch):
    candle_run = store_candles(defs, instance)
    write = store.candle_write("sim", SYMBOL, "1h", CANDLE)  # the lookup `awan lineage` makes
    assert (write.run_id, write.partition_key) == (candle_run, PARTITION)
    assert (write.start, write.end) == (CANDLE.replace(hour=0), CANDLE.replace(hour=0) + DAY_SPAN)
    row = insert_signal(store, venue)
    assert execute(defs, instance, signal_run_request(row)).success
    cid = client_order_id(row["signal_id"], "entry")

    monkeypatch.setenv("AWAN_STORE_URL", store.url)
    result = CliRunner().invoke(app, ["lineage", cid])
    assert result.exit_code == 0, result.output
    text = result.output
    assert f"order {cid}" in text and f"entry signal: {row['signal_id']}" in text
    assert f"candle written by Dagster run {candle_run} (partition {PARTITION}) at " in text
    assert f"dagster: asset ohlcv_1h partition {PARTITION}" in text

    # a later run of the same partition rewrites the candle: lineage follows the newest writer
    rerun = store_candles(defs, instance)
    assert store.candle_write("sim", SYMBOL, "1h", CANDLE).run_id == rerun != candle_run
    as_json = json.loads(CliRunner().invoke(app, ["lineage", cid, "--json"]).output)
    assert as_json["entry_signal"]["candle_write"]["run_id"] == rerun


def test_same_signal_twice_and_after_a_wiped_instance_places_one_order(
    defs, instance, store, venue
):
    row = insert_signal(store, venue)
    request = signal_run_request(row)
    cid = client_order_id(row["signal_id"], "entry")

    first = execute(defs, instance, request)
    second = execute(defs, instance, request)  # a re-launch with the same run key
    assert first.success and second.success
    assert venue.created[cid] == 1
    assert second.output_for_node("place_order").outcome == "already_done"
    assert len(trade_records(instance)) == 1  # the re-delivery is an observation, not a trade

    # A wiped instance database: no runs, no cursor. The sensor delivers the signal again and
    # the daemon has nothing to dedup it against; the store's intent guard still holds.
    ctx = context()
    sensor = make_signal_sensor(
        defs.resolve_job_def(JOB_NAME),
        SignalSelection("sim", ctx.strategy, ctx.params_hash, ctx.timeframe),
        clock=lambda: NOW,
    )
    with dg.instance_for_test() as fresh:
        with dg.build_sensor_context(
            instance=fresh, cursor=None, resources={"store": defs.resources["store"]}
        ) as tick_context:
            [again] = sensor.evaluate_tick(tick_context).run_requests
        assert again.run_key == row["signal_id"]
        third = execute(defs, fresh, again)
        assert third.success
        assert third.output_for_node("place_order").outcome == "already_done"
    assert venue.created[cid] == 1
    entries = store.orders().filter(client_order_id=cid)
    assert entries.height == 1 and entries["status"][0] == "filled"


def test_a_run_config_that_does_not_match_the_store_places_nothing(defs, instance, store, venue):
    row = insert_signal(store, venue)
    forged = signal_run_request({**row, "signal_id": "0" * 32})
    result = defs.resolve_job_def(JOB_NAME).execute_in_process(
        run_config=forged.run_config, instance=instance, raise_on_error=False
    )
    assert not result.success
    assert sum(venue.created.values()) == 0
    assert store.orders().height == 0


def test_the_definitions_run_execution_in_process(config, settings):
    job = build_definitions(config, settings).resolve_job_def(JOB_NAME)
    assert job.executor_def.name == dg.in_process_executor.name


# --- sensor mode vs inline ------------------------------------------------------------------

# ETH/USDT enters on the 19:00 candle's buy signal and is stopped out at 00:00 on the sim.
REPLAY = ("2024-03-10T17:00:00+00:00", "2024-03-11T02:00:00+00:00")


def replay(config, home, execution: str, instance=None):
    """`awan live` replaying REPLAY on the sim with its store under `home`; the store.

    In sensor mode this test is the Dagster daemon: after each close it ticks the signal
    sensor on the replay clock and runs each requested execute_signal run in `instance`, on
    the loop's exchange, before the loop goes on to the next close.
    """
    from awan_trading.live.runner import build_loop, plan_from
    from awan_trading.storage.hot import open_cache

    settings = load_settings(home=home)
    store = open_store(settings.resolved_store_url(), migrate=True)
    plan = plan_from(config, execution=execution, start=REPLAY[0], end=REPLAY[1])
    loop, clock = build_loop(plan, config, store, open_cache(""))
    if execution == "inline":
        loop.run_replay(clock, plan.start, plan.end)
        return store

    defs = build_definitions(
        config, settings, {"exchange": share(f"parity-{home}", loop.executor.exchange)}
    )
    ctx = context()
    sensor = make_signal_sensor(
        defs.resolve_job_def(JOB_NAME),
        SignalSelection("sim", ctx.strategy, ctx.params_hash, ctx.timeframe),
        clock=clock.now,
    )
    cursor, launched = None, []
    # `run_replay`'s steps, one at a time: after each close, one sensor tick and its runs,
    # before the next close (what the loop's sensor mode waits for in a replay). One thread:
    # the embedded store is a file that one process writes at a time.
    tf = parse_timeframe(plan.timeframe)
    opens = tf.opens_ms(to_epoch_ms(plan.start), to_epoch_ms(plan.end))
    closes = [from_epoch_ms(tf.add_ms(t, 1)) for t in opens]
    clock.set(plan.start)
    loop.start()
    for i, close in enumerate(closes):
        clock.wait_until(close, loop.stop)
        loop.step(close, trade=i < len(closes) - 1)
        with dg.build_sensor_context(
            instance=instance, cursor=cursor, resources={"store": defs.resources["store"]}
        ) as tick_context:
            result = sensor.evaluate_tick(tick_context)
        cursor = result.cursor
        for request in result.run_requests:
            assert execute(defs, instance, request).success
            launched.append(request.run_key)
    assert launched, "the window's signal never reached the sensor"
    return store


def trades_of(store):
    from awan_trading.domain.trades import closed_trades
    from awan_trading.storage.rows import fill_from_row

    fills = [fill_from_row(row) for row in store.fills().iter_rows()]
    orders = store.orders().select(
        "client_order_id", "side", "type", "status", "amount", "filled", "average", "fee"
    )
    return closed_trades(fills, exchange="sim"), orders.sort("client_order_id").rows()


def test_sensor_mode_gives_the_same_trades_as_inline(config, settings, tmp_path, instance):
    inline_trades, inline_orders = trades_of(replay(config, tmp_path / "inline", "inline"))
    sensor_trades, sensor_orders = trades_of(
        replay(config, tmp_path / "sensor", "sensor", instance)
    )
    assert len(inline_trades) == 1  # the window's round trip: entry signal, then the stop
    assert sensor_trades == inline_trades
    assert sensor_orders == inline_orders
