"""Every asset and check of the code location, in process, on the sim exchange and real PostgreSQL.

The DuckDB suite (`test_assets.py`) proves the pipeline's behaviour; this one proves the same
behaviour holds on the production store, wired the production way: `AWAN_STORE_URL` is set, so
the store resource reads its URL through `EnvVar` at run time. Each test gets a fresh database.
"""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
import polars as pl
import pytest

from awan_pipelines.definitions import build_definitions
from awan_pipelines.partitions import partition_key
from awan_trading.indicators import add_indicators
from awan_trading.market.validation import findings_frame
from awan_trading.storage import Store
from tests.pipelines.test_assets import CorruptingExchange, run_range

pytestmark = pytest.mark.postgres

BOTH = ("BTC/USDT", "ETH/USDT")


def check_keys(defs: dg.Definitions, job: str) -> set[dg.AssetCheckKey]:
    """Every asset check the job runs: new checks are covered without editing these tests."""
    return set(defs.resolve_job_def(job).asset_layer.asset_graph.asset_check_keys)


def test_production_wiring_reads_the_store_url_from_the_environment(pg_defs):
    store = pg_defs.resources["store"]
    assert isinstance(store.url, dg.EnvVar)
    assert store.url.env_var_name == "AWAN_STORE_URL"
    dg.Definitions.validate_loadable(pg_defs)


def test_one_partition_writes_exactly_its_day_and_every_check_passes(
    pg_defs, instance, pg_store: Store
):
    result = pg_defs.resolve_job_def("ingest_job").execute_in_process(
        instance=instance,
        partition_key=partition_key("2024-01-03", "ETH/USDT"),
        raise_on_error=False,
    )
    assert result.success
    candles = pg_store.read_candles("sim", "ETH/USDT", "1h")
    assert candles.height == 24
    assert candles["ts"].min() == datetime(2024, 1, 3, tzinfo=UTC)
    assert findings_frame(candles, "1h").is_empty()
    assert pg_store.read_candles("sim", "BTC/USDT", "1h").is_empty()
    materialized = {
        node: result.asset_materializations_for_node(node)[0].metadata
        for node in ("ohlcv_1h", "indicators_1h", "signals_1h_boll_stoch", "signals_1h_ema_trend")
    }
    assert materialized["ohlcv_1h"]["dagster/row_count"].value == 24
    assert materialized["ohlcv_1h"]["rows_written"].value == 24
    assert materialized["indicators_1h"]["dagster/row_count"].value == 24
    evaluations = {
        dg.AssetCheckKey(e.asset_key, e.check_name): e.passed
        for e in result.get_asset_check_evaluations()
    }
    assert set(evaluations) == check_keys(pg_defs, "ingest_job")
    assert all(evaluations.values()), evaluations


def test_backfill_range_is_one_run_and_a_rerun_is_idempotent(pg_defs, instance, pg_store: Store):
    first = run_range(pg_defs, instance, "2024-01-01", "2024-01-04", BOTH)
    assert first.success
    before = pg_store.read_candles("sim", list(BOTH), "1h")
    assert before.height == 2 * 4 * 24
    indicators_before = pg_store.read_indicators("sim", "BTC/USDT", "1h")
    signals_before = pg_store.read_signals("sim", list(BOTH), "1h", "ema_trend")
    assert indicators_before.height == 4 * 24
    again = run_range(pg_defs, instance, "2024-01-02", "2024-01-03", BOTH)
    assert again.success
    assert pg_store.read_candles("sim", list(BOTH), "1h").equals(before)
    assert pg_store.read_indicators("sim", "BTC/USDT", "1h").equals(indicators_before)
    assert pg_store.read_signals("sim", list(BOTH), "1h", "ema_trend").equals(signals_before)


def test_indicators_and_signals_are_stored_and_equal_the_whole_series(
    pg_defs, instance, pg_store: Store
):
    assert run_range(pg_defs, instance, "2024-01-01", "2024-01-24", BOTH).success
    for strategy in ("boll_stoch", "ema_trend"):
        signals = pg_store.read_signals("sim", list(BOTH), "1h", strategy)
        assert signals.height > 0, strategy
        assert signals["signal_id"].n_unique() == signals.height
        assert set(signals["side"]) <= {"buy", "sell"}
    whole = add_indicators(pg_store.read_candles("sim", "ETH/USDT", "1h"))
    # The last two days once more, one partition at a time, as the ingest schedule would.
    for day in ("2024-01-23", "2024-01-24"):
        result = pg_defs.resolve_job_def("ingest_job").execute_in_process(
            instance=instance, partition_key=partition_key(day, "ETH/USDT")
        )
        assert result.success
    start = datetime(2024, 1, 23, tzinfo=UTC)
    per_partition = pg_store.read_indicators(
        "sim", "ETH/USDT", "1h", start, datetime(2024, 1, 25, tzinfo=UTC)
    )
    expected = whole.filter(pl.col("ts") >= start).select(per_partition.columns)
    assert per_partition.height == 48
    for column in ("bb_mid", "ema_slow", "rsi", "stochrsi_k", "atr", "macd_signal"):
        got, want = per_partition[column].to_numpy(), expected[column].to_numpy()
        assert got == pytest.approx(want, rel=1e-9, abs=1e-9), column


def test_bad_candles_are_refused_and_nothing_is_stored(
    pg_defs, instance, pg_store: Store, config, settings
):
    key = partition_key("2024-01-05", "BTC/USDT")
    assert (
        pg_defs.resolve_job_def("ingest_job")
        .execute_in_process(instance=instance, partition_key=key)
        .success
    )
    candles_before = pg_store.read_candles("sim", "BTC/USDT", "1h")
    indicators_before = pg_store.read_indicators("sim", "BTC/USDT", "1h")
    signals_before = pg_store.read_signals("sim", "BTC/USDT", "1h", "ema_trend")
    assert candles_before.height == 24
    corrupted = build_definitions(config, settings, {"exchange": CorruptingExchange()})
    result = run_range(corrupted, instance, "2024-01-04", "2024-01-06", ("BTC/USDT", "BTC/USDT"))
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    assert "nothing was stored" in str(failure.step_failure_data.user_failure_data.description)
    assert result.asset_materializations_for_node("ohlcv_1h") == []
    assert result.asset_materializations_for_node("indicators_1h") == []
    assert pg_store.read_candles("sim", "BTC/USDT", "1h").equals(candles_before)
    assert pg_store.read_indicators("sim", "BTC/USDT", "1h").equals(indicators_before)
    assert pg_store.read_signals("sim", "BTC/USDT", "1h", "ema_trend").equals(signals_before)


def test_every_asset_materializes_on_postgres_reports_included(pg_defs, instance):
    ingest = run_range(pg_defs, instance, "2024-01-01", "2024-01-08", BOTH)
    assert ingest.success
    reports = pg_defs.resolve_job_def("reports_job").execute_in_process(instance=instance)
    assert reports.success
    meta = reports.asset_materializations_for_node("backtest_boll_stoch")[0].metadata
    assert meta["equity_curve"].value.startswith("![equity](data:image/png;base64,")
    metric_names = {r.data["metric"] for r in meta["metrics"].value.records}
    assert {"total_return", "sharpe", "max_drawdown", "trades"} <= metric_names
    ranking = (
        reports.asset_materializations_for_node("pair_ranking")[0].metadata["ranking"].value.records
    )
    assert {r.data["symbol"] for r in ranking} == set(BOTH)
    materialized = {
        e.asset_key for run in (ingest, reports) for e in run.get_asset_materialization_events()
    }
    # Every asset but the trading ones, which only execution runs report (one per signal).
    graph = pg_defs.resolve_asset_graph()
    expected = {k for k in graph.get_all_asset_keys() if graph.get(k).group_name != "trading"}
    assert materialized == expected
