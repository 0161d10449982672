"""Every asset and check of the code location, in process, on the sim exchange and DuckDB."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
import polars as pl
import pytest

from awan_pipelines.definitions import build_definitions
from awan_pipelines.partitions import partition_key
from awan_pipelines.resources import ExchangeResource
from awan_trading.indicators import add_indicators
from awan_trading.market.validation import findings_frame

RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


def run_range(
    defs: dg.Definitions,
    instance,
    first: str,
    last: str,
    symbols: tuple[str, str],
    job: str = "ingest_job",
):
    """Materialize a rectangle of day × symbol partitions in one run, as a backfill would."""
    return defs.resolve_job_def(job).execute_in_process(
        instance=instance,
        tags={RANGE_START: f"{first}|{symbols[0]}", RANGE_END: f"{last}|{symbols[1]}"},
        raise_on_error=False,
    )


def stored(defs: dg.Definitions):
    return defs.resources["store"].get()


def test_definitions_load(duckdb_defs):
    dg.Definitions.validate_loadable(duckdb_defs)
    keys = {k.to_user_string() for k in duckdb_defs.resolve_asset_graph().get_all_asset_keys()}
    assert {
        "ohlcv_1h",
        "indicators_1h",
        "signals_1h_boll_stoch",
        "signals_1h_ema_trend",
        "pair_ranking",
        "backtest_boll_stoch",
        "backtest_ema_trend",
    } <= keys


def test_one_partition_writes_exactly_its_day(duckdb_defs, instance):
    result = duckdb_defs.resolve_job_def("ingest_job").execute_in_process(
        instance=instance,
        partition_key=partition_key("2024-01-03", "ETH/USDT"),
        raise_on_error=False,
    )
    assert result.success
    candles = stored(duckdb_defs).read_candles("sim", "ETH/USDT", "1h")
    assert candles.height == 24
    assert candles["ts"].min() == datetime(2024, 1, 3, tzinfo=UTC)
    assert findings_frame(candles, "1h").is_empty()
    materialization = result.asset_materializations_for_node("ohlcv_1h")[0]
    assert materialization.metadata["dagster/row_count"].value == 24
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["candle_rules"] and checks["no_gaps"] and checks["fresh"]


def test_backfill_range_runs_as_one_run_and_rerun_is_idempotent(duckdb_defs, instance):
    first = run_range(duckdb_defs, instance, "2024-01-01", "2024-01-04", ("BTC/USDT", "ETH/USDT"))
    assert first.success
    store = stored(duckdb_defs)
    before = store.read_candles("sim", ["BTC/USDT", "ETH/USDT"], "1h")
    assert before.height == 2 * 4 * 24
    per_partition = {
        e.partition: e.metadata for e in first.asset_materializations_for_node("ohlcv_1h")
    }
    assert len(per_partition) == 8
    day = per_partition["2024-01-03|ETH/USDT"]
    assert day["dagster/row_count"].value == 24
    assert day["first_ts"].value == datetime(2024, 1, 3, tzinfo=UTC).timestamp()
    assert not any(name.startswith("run_") for name in day)
    again = run_range(duckdb_defs, instance, "2024-01-02", "2024-01-03", ("BTC/USDT", "ETH/USDT"))
    assert again.success
    assert store.read_candles("sim", ["BTC/USDT", "ETH/USDT"], "1h").equals(before)

    # each window records the run and the partition range that wrote it: the re-run owns the
    # days it rewrote, the first run the others
    def writer(day: int) -> tuple[str | None, str | None]:
        write = store.candle_write("sim", "ETH/USDT", "1h", datetime(2024, 1, day, 5, tzinfo=UTC))
        return write.run_id, write.partition_key

    assert writer(1) == writer(4) == (first.run_id, "2024-01-01|ETH/USDT...2024-01-04|ETH/USDT")
    assert writer(2) == writer(3) == (again.run_id, "2024-01-02|ETH/USDT...2024-01-03|ETH/USDT")


def test_partition_by_partition_indicators_equal_the_whole_series(duckdb_defs, instance):
    days = [f"2024-01-{d:02d}" for d in range(1, 29)]
    assert run_range(duckdb_defs, instance, days[0], days[-1], ("BTC/USDT", "BTC/USDT")).success
    store = stored(duckdb_defs)
    whole = add_indicators(store.read_candles("sim", "BTC/USDT", "1h"))
    # Recompute the last days one partition at a time, as a daily schedule would.
    for day in days[-3:]:
        result = duckdb_defs.resolve_job_def("ingest_job").execute_in_process(
            instance=instance, partition_key=partition_key(day, "BTC/USDT")
        )
        assert result.success
    per_partition = store.read_indicators(
        "sim",
        "BTC/USDT",
        "1h",
        datetime(2024, 1, 26, tzinfo=UTC),
        datetime(2024, 1, 29, tzinfo=UTC),
    )
    expected = whole.filter(pl.col("ts") >= datetime(2024, 1, 26, tzinfo=UTC)).select(
        per_partition.columns
    )
    assert per_partition.height == 72
    for column in ("bb_mid", "ema_slow", "rsi", "stochrsi_k", "atr", "macd_signal"):
        got, want = per_partition[column].to_numpy(), expected[column].to_numpy()
        assert got == pytest.approx(want, rel=1e-9, abs=1e-9), column


def test_signals_are_stored_with_ids_and_checks_pass(duckdb_defs, instance):
    days = ("2024-01-01", "2024-01-31")
    result = run_range(duckdb_defs, instance, *days, ("BTC/USDT", "ETH/USDT"))
    assert result.success
    signal_checks = {
        (e.asset_key.to_user_string(), e.check_name): e.passed
        for e in result.get_asset_check_evaluations()
        if e.asset_key.to_user_string().startswith("signals_")
    }
    assert signal_checks == {
        (f"signals_1h_{s}", c): True
        for s in ("boll_stoch", "ema_trend")
        for c in ("unique_signal_ids", "on_valid_candles")
    }
    store = stored(duckdb_defs)
    signals = store.read_signals("sim", ["BTC/USDT", "ETH/USDT"], "1h", "boll_stoch")
    assert signals.height > 0
    assert signals["signal_id"].n_unique() == signals.height
    assert set(signals["side"]) <= {"buy", "sell"}


def test_reports_show_metrics_and_plots(duckdb_defs, instance):
    assert run_range(
        duckdb_defs, instance, "2024-01-01", "2024-01-31", ("BTC/USDT", "ETH/USDT")
    ).success
    result = duckdb_defs.resolve_job_def("reports_job").execute_in_process(instance=instance)
    assert result.success
    meta = result.asset_materializations_for_node("backtest_boll_stoch")[0].metadata
    assert meta["equity_curve"].value.startswith("![equity](data:image/png;base64,")
    assert meta["entries_exits"].value.startswith("![chart](data:image/png;base64,")
    shown = {r.data["metric"]: r.data["value"] for r in meta["metrics"].value.records}
    assert {"total_return", "sharpe", "max_drawdown", "trades"} <= set(shown)
    assert shown["total_return"].endswith(" %") and shown["win_rate"].endswith(" %")
    # Key metrics are numeric entries of their own, so the UI plots them over time.
    for name in ("total_return_pct", "max_drawdown_pct", "sharpe"):
        assert isinstance(meta[name], dg.FloatMetadataValue), name
    assert meta["trade_count"].value == len(meta["trades"].value.records) > 0
    assert {c.name for c in meta["trades"].value.schema.columns} >= {"symbol", "entry", "return"}
    # The window it really covered: the stored candles of January, not "the last 30 days".
    assert meta["window_start"].value == datetime(2024, 1, 2, tzinfo=UTC).timestamp()
    assert meta["window_end"].value == datetime(2024, 1, 31, 23, tzinfo=UTC).timestamp()
    checks = {
        (e.asset_key.to_user_string(), e.check_name): e.passed
        for e in result.get_asset_check_evaluations()
    }
    assert checks[("backtest_boll_stoch", "equity_never_negative")]
    ranking = (
        result.asset_materializations_for_node("pair_ranking")[0].metadata["ranking"].value.records
    )
    assert all(r.data["symbol"] in {"BTC/USDT", "ETH/USDT"} for r in ranking)


class CorruptingExchange(ExchangeResource):
    """The sim exchange with one broken candle per day: high below low at 05:00."""

    def get(self):
        sim = super().get()

        class Broken:
            name = sim.name
            now = staticmethod(sim.now)

            @staticmethod
            def fetch_ohlcv(symbol, timeframe, start, end):
                frame = sim.fetch_ohlcv(symbol, timeframe, start, end)
                bad = pl.col("ts").dt.hour() == 5
                return frame.with_columns(
                    pl.when(bad).then(pl.col("low") - 1).otherwise(pl.col("high")).alias("high")
                )

        return Broken()


def test_bad_candles_never_reach_the_store_and_downstream_does_not_run(
    duckdb_defs, instance, config, settings
):
    key = partition_key("2024-01-05", "BTC/USDT")
    assert (
        duckdb_defs.resolve_job_def("ingest_job")
        .execute_in_process(instance=instance, partition_key=key)
        .success
    )
    store = stored(duckdb_defs)
    candles_before = store.read_candles("sim", "BTC/USDT", "1h")
    indicators_before = store.read_indicators("sim", "BTC/USDT", "1h")
    corrupted = build_definitions(config, settings, {"exchange": CorruptingExchange()})
    # 01-05 is stored and reused (cache-first); 01-04 and 01-06 come broken from the exchange.
    result = run_range(corrupted, instance, "2024-01-04", "2024-01-06", ("BTC/USDT", "BTC/USDT"))
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    assert "4 validation error(s) on 2 candle(s); nothing was stored" in str(
        failure.step_failure_data.user_failure_data.description
    )
    assert result.asset_materializations_for_node("indicators_1h") == []
    assert store.read_candles("sim", "BTC/USDT", "1h").equals(candles_before)
    assert store.read_indicators("sim", "BTC/USDT", "1h").equals(indicators_before)


class LaggingExchange(ExchangeResource):
    """An exchange whose clock says the running day is four hours ahead of its last candle."""

    def get(self):
        sim = super().get()

        class Lagging:
            name = sim.name

            @staticmethod
            def now():
                return datetime(2024, 1, 10, 12, tzinfo=UTC)

            @staticmethod
            def fetch_ohlcv(symbol, timeframe, start, end):
                return sim.fetch_ohlcv(
                    symbol, timeframe, start, min(end, datetime(2024, 1, 10, 8, tzinfo=UTC))
                )

        return Lagging()


def test_stale_running_day_fails_the_blocking_freshness_check_and_stops_downstream(
    instance, config, settings
):
    lagging = build_definitions(config, settings, {"exchange": LaggingExchange()})
    result = lagging.resolve_job_def("ingest_job").execute_in_process(
        instance=instance,
        partition_key=partition_key("2024-01-10", "BTC/USDT"),
        raise_on_error=False,
    )
    assert not result.success
    fresh = next(e for e in result.get_asset_check_evaluations() if e.check_name == "fresh")
    assert not fresh.passed
    assert fresh.metadata["lag_seconds"].value == 4 * 3600
    assert result.asset_materializations_for_node("indicators_1h") == []


REQUESTS: list[tuple] = []  # Dagster re-initialises resources per run: record globally


class CountingExchange(ExchangeResource):
    """The sim exchange, recording every candle request in `REQUESTS`."""

    def get(self):
        sim = super().get()

        class Counting:
            name = sim.name
            now = staticmethod(sim.now)

            @staticmethod
            def fetch_ohlcv(symbol, timeframe, start, end):
                REQUESTS.append((symbol, start, end))
                return sim.fetch_ohlcv(symbol, timeframe, start, end)

        return Counting()


def test_stored_candles_are_not_fetched_again(instance, config, settings):
    REQUESTS.clear()
    defs = build_definitions(config, settings, {"exchange": CountingExchange()})
    assert run_range(defs, instance, "2024-01-01", "2024-01-02", ("BTC/USDT", "BTC/USDT")).success
    assert [
        ("BTC/USDT", datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 3, tzinfo=UTC))
    ] == REQUESTS
    assert run_range(defs, instance, "2024-01-01", "2024-01-03", ("BTC/USDT", "BTC/USDT")).success
    assert REQUESTS[1:] == [
        ("BTC/USDT", datetime(2024, 1, 3, tzinfo=UTC), datetime(2024, 1, 4, tzinfo=UTC))
    ]


def test_gap_count_reaches_the_materialization(duckdb_defs, instance):
    result = duckdb_defs.resolve_job_def("ingest_job").execute_in_process(
        instance=instance, partition_key=partition_key("2024-01-02", "BTC/USDT")
    )
    (materialization,) = result.asset_materializations_for_node("ohlcv_1h")
    assert materialization.metadata["gaps"].value == 0
    assert materialization.metadata["dagster/row_count"].value == 24
