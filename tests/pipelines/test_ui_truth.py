"""What the Dagster UI shows: per-partition metadata, lineage, automation, executor, run tags."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
import polars as pl

from awan_pipelines.assets.features import nulls_after_warmup
from awan_pipelines.automation import AUTOMATION_SENSOR
from awan_pipelines.partitions import partition_key
from awan_trading.indicators import DEFAULT_PARAMS, add_indicators
from tests.pipelines.test_assets import run_range, stored


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def test_each_partition_of_a_two_symbol_range_run_shows_its_own_rows(duckdb_defs, instance):
    result = run_range(duckdb_defs, instance, "2024-01-01", "2024-01-03", ("BTC/USDT", "ETH/USDT"))
    assert result.success
    for asset in ("ohlcv_1h", "indicators_1h", "signals_1h_ema_trend"):
        events = {e.partition: e.metadata for e in result.asset_materializations_for_node(asset)}
        assert len(events) == 6, asset
        for key, meta in events.items():
            day, symbol = key.split("|")
            assert not any(name.startswith("run_") for name in meta), (asset, key)
            # Times are timestamps (the UI formats them), within this partition's day.
            first, last = meta.get("first_ts"), meta.get("last_ts")
            if asset != "signals_1h_ema_trend" or first is not None:
                assert isinstance(first, dg.TimestampMetadataValue), (asset, key)
                assert _day(first.value) == day and _day(last.value) == day
            preview = meta.get("preview")
            if preview is not None:
                fields = {r.data["column"]: r.data for r in preview.value.records}
                values = [v for k, v in fields["symbol"].items() if k != "column"]
                assert set(values) == {symbol}, (asset, key)
                days = {v[:10] for k, v in fields["ts"].items() if k != "column"}
                assert days == {day}
        if asset != "signals_1h_ema_trend":
            assert {m["dagster/row_count"].value for m in events.values()} == {24}
    # Every column of the frame is in the preview, indicators included.
    meta = {
        e.partition: e.metadata for e in result.asset_materializations_for_node("indicators_1h")
    }
    columns = {r.data["column"] for r in meta["2024-01-02|ETH/USDT"]["preview"].value.records}
    assert {"symbol", "ts", "close", "bb_upper", "stochrsi_k", "macd_hist"} <= columns
    store_rows = stored(duckdb_defs).read_signals(
        "sim",
        "ETH/USDT",
        "1h",
        "ema_trend",
        datetime(2024, 1, 2, tzinfo=UTC),
        datetime(2024, 1, 3, tzinfo=UTC),
    )
    signals = {
        e.partition: e.metadata
        for e in result.asset_materializations_for_node("signals_1h_ema_trend")
    }
    assert signals["2024-01-02|ETH/USDT"]["dagster/row_count"].value == store_rows.height


def test_lineage_reads_ohlcv_indicators_signals_reports(duckdb_defs):
    graph = duckdb_defs.resolve_asset_graph()

    def parents(key: str) -> set[str]:
        return {k.to_user_string() for k in graph.get(dg.AssetKey(key)).parent_keys}

    assert parents("indicators_1h") == {"ohlcv_1h"}
    assert parents("signals_1h_boll_stoch") == {"indicators_1h"}
    # Backtests decide on the stored signals and fill at the candles' prices.
    assert parents("backtest_boll_stoch") == {"signals_1h_boll_stoch", "ohlcv_1h"}
    assert parents("backtest_ema_trend") == {"signals_1h_ema_trend", "ohlcv_1h"}
    assert parents("pair_ranking") == {"signals_1h_boll_stoch"}
    versions = {k.to_user_string(): graph.get(k).code_version for k in graph.get_all_asset_keys()}
    assert all(versions.values()), versions


def test_code_version_follows_the_strategy_parameters(config, settings):
    from awan_pipelines.definitions import build_definitions

    base = build_definitions(config, settings).resolve_asset_graph()
    changed = config.model_copy(
        update={"strategy": config.strategy.model_copy(update={"params": {"stop_loss": 0.05}})}
    )
    other = build_definitions(changed, settings).resolve_asset_graph()
    key = dg.AssetKey("signals_1h_boll_stoch")
    assert base.get(key).code_version != other.get(key).code_version
    ohlcv = dg.AssetKey("ohlcv_1h")
    assert base.get(ohlcv).code_version == other.get(ohlcv).code_version


def requested(result, defs) -> dict[str, set[str | None]]:
    """Asset → partitions requested by one tick (`{None}` for an unpartitioned asset)."""
    return {
        key.to_user_string(): set(result.get_requested_partitions(key))
        for key in defs.resolve_asset_graph().get_all_asset_keys()
        if result.get_num_requested(key)
    }


def execute_requested(defs, instance, wanted: dict[str, set[str | None]]) -> None:
    """Materialize what a tick requested, as the sensor's runs would."""
    job = defs.resolve_implicit_global_asset_job_def()
    partitioned = {k for k, v in wanted.items() if v != {None}}
    for key in sorted({p for k in partitioned for p in wanted[k]}):
        subset = job.get_subset(asset_selection={dg.AssetKey(k) for k in partitioned})
        assert subset.execute_in_process(instance=instance, partition_key=key).success
    rest = {dg.AssetKey(k) for k in wanted if k not in partitioned}
    if rest:
        assert job.get_subset(asset_selection=rest).execute_in_process(instance=instance).success


def test_a_materialized_candle_partition_flows_to_features_and_reports(duckdb_defs, instance):
    """The automation sensor's ticks, on a real instance: after a new day of candles, that
    day's indicators, then its signals, then the reports — one link per tick, since a look-back
    mapping keeps Dagster from planning a child into its parent's run."""
    history = run_range(duckdb_defs, instance, "2024-01-01", "2024-01-04", ("ETH/USDT", "ETH/USDT"))
    assert history.success
    tick = dg.evaluate_automation_conditions(defs=duckdb_defs, instance=instance)
    execute_requested(duckdb_defs, instance, requested(tick, duckdb_defs))
    tick = dg.evaluate_automation_conditions(
        defs=duckdb_defs, instance=instance, cursor=tick.cursor
    )
    assert requested(tick, duckdb_defs) == {}  # settled: nothing new

    day = "2024-01-05|ETH/USDT"
    candles = duckdb_defs.resolve_job_def("candles_job").execute_in_process(
        instance=instance, partition_key=partition_key("2024-01-05", "ETH/USDT")
    )
    assert candles.success
    seen = []
    for _ in range(4):
        tick = dg.evaluate_automation_conditions(
            defs=duckdb_defs, instance=instance, cursor=tick.cursor
        )
        wanted = requested(tick, duckdb_defs)
        seen.append(wanted)
        execute_requested(duckdb_defs, instance, wanted)
    assert seen == [
        {"indicators_1h": {day}},
        {"signals_1h_boll_stoch": {day}, "signals_1h_ema_trend": {day}},
        {"backtest_boll_stoch": {None}, "backtest_ema_trend": {None}, "pair_ranking": {None}},
        {},
    ]
    sensor = duckdb_defs.resolve_sensor_def(AUTOMATION_SENSOR)
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING


def test_candles_whose_look_back_is_missing_wait(duckdb_defs, instance):
    """Indicators need their look-back days: a lone day of candles requests nothing."""
    first = dg.evaluate_automation_conditions(defs=duckdb_defs, instance=instance)
    assert (
        duckdb_defs.resolve_job_def("candles_job")
        .execute_in_process(
            instance=instance, partition_key=partition_key("2024-01-05", "ETH/USDT")
        )
        .success
    )
    tick = dg.evaluate_automation_conditions(
        defs=duckdb_defs, instance=instance, cursor=first.cursor
    )
    assert requested(tick, duckdb_defs) == {}


def test_every_job_and_the_ui_materialize_run_in_process(duckdb_defs, instance):
    implicit = duckdb_defs.resolve_implicit_global_asset_job_def()
    assert implicit.executor_def is dg.in_process_executor
    for job in ("candles_job", "ingest_job", "reports_job"):
        assert duckdb_defs.resolve_job_def(job).executor_def is dg.in_process_executor
    # What the UI's "Materialize" launches: the implicit asset job, for one partition.
    result = implicit.get_subset(asset_selection={dg.AssetKey("ohlcv_1h")}).execute_in_process(
        instance=instance, partition_key="2024-01-02|BTC/USDT"
    )
    engine = [
        e.message
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.ENGINE_EVENT and e.message
    ]
    assert any(m.startswith("Executing steps in process") for m in engine), engine


def test_schedule_runs_carry_the_symbol_tag_the_instance_limits(duckdb_defs, instance):
    import yaml

    from tests.pipelines.conftest import ROOT

    limits = yaml.safe_load((ROOT / "dagster.yaml").read_text())["run_coordinator"]["config"][
        "tag_concurrency_limits"
    ]
    limited = {limit["key"] for limit in limits}
    schedule = duckdb_defs.resolve_schedule_def("ingest_today")
    context = dg.build_schedule_context(
        instance=instance, scheduled_execution_time=datetime(2024, 3, 5, 13, 25, tzinfo=UTC)
    )
    requests = list(schedule(context))
    assert {(r.partition_key, r.tags["awan/symbol"]) for r in requests} == {
        ("2024-03-05|BTC/USDT", "BTC/USDT"),
        ("2024-03-05|ETH/USDT", "ETH/USDT"),
    }
    assert "awan/symbol" in limited


def test_no_null_after_warmup_finds_a_hole(duckdb_defs, instance):
    days = ("2024-01-01", "2024-01-03")
    assert run_range(duckdb_defs, instance, *days, ("BTC/USDT", "BTC/USDT")).success
    candles = stored(duckdb_defs).read_candles("sim", "BTC/USDT", "1h")
    computed = add_indicators(candles, DEFAULT_PARAMS)
    own = computed.filter(pl.col("ts") >= datetime(2024, 1, 3, tzinfo=UTC))
    assert nulls_after_warmup(computed, own, DEFAULT_PARAMS).is_empty()
    # The first rows of the series are warm-up: nulls there are not a finding.
    assert nulls_after_warmup(computed, computed.head(10), DEFAULT_PARAMS).is_empty()
    hole = datetime(2024, 1, 3, 7, tzinfo=UTC)
    broken = computed.with_columns(
        pl.when(pl.col("ts") == hole).then(None).otherwise(pl.col("rsi")).alias("rsi")
    )
    found = nulls_after_warmup(broken, own, DEFAULT_PARAMS)
    assert found["ts"].to_list() == [hole]
