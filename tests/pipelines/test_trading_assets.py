"""`trades` and `positions` in the asset graph: lineage ohlcv → indicators → signals → trades
→ positions, the traded strategy's signals only, and positions materialized by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from awan_pipelines.assets.features import indicators_key, signals_key
from awan_pipelines.assets.market import ohlcv_key
from awan_pipelines.assets.trading import POSITIONS, TRADES
from awan_pipelines.definitions import build_definitions
from awan_trading.domain.orders import Fill
from awan_trading.domain.positions import Position
from tests.pipelines.execution_fixtures import share, sim_venue

NOW = datetime(2024, 3, 1, 12, tzinfo=UTC)


def test_lineage_reads_ohlcv_indicators_signals_trades_positions(duckdb_defs):
    graph = duckdb_defs.resolve_asset_graph()
    traded = signals_key("1h", "boll_stoch")
    assert graph.get(TRADES).parent_keys == {traded}  # ema_trend's signals are not traded
    assert graph.get(POSITIONS).parent_keys == {TRADES}
    assert graph.get(traded).parent_keys == {indicators_key("1h")}
    assert graph.get(indicators_key("1h")).parent_keys == {ohlcv_key("1h")}

    # Same day × symbol partitions as the signals: a trade's partition is its signal's.
    assert graph.get(TRADES).partitions_def == graph.get(traded).partitions_def
    # Reported by execute_signal runs only: not something to "Materialize" in the UI.
    assert not graph.get(TRADES).is_materializable
    assert graph.get(POSITIONS).is_materializable


def test_positions_marks_open_positions_to_the_market(config, settings, instance, request):
    venue = sim_venue(lambda: NOW)
    defs = build_definitions(config, settings, {"exchange": share(request.node.name, venue)})
    store = defs.resources["store"].get()
    fill = Fill(
        "t1", "o1", "e0-" + "a" * 32, "BTC/USDT", "buy", 0.5, 60_000.0, 30.0, "USDT",
        NOW - timedelta(hours=1), True,
    )  # fmt: skip
    store.record_fill("sim", fill)
    store.rebuild_positions("sim")
    [position] = store.positions("sim")
    store.save_position(
        Position(
            **{**{f: getattr(position, f) for f in Position.__slots__}, "stop_price": 58_800.0}
        )
    )

    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance, asset_selection=[POSITIONS]
    )
    assert result.success
    meta = instance.get_latest_materialization_event(POSITIONS).asset_materialization.metadata
    [row] = [r.data for r in meta["positions"].value.records]
    bid = venue.fetch_ticker("BTC/USDT").bid
    assert row["symbol"] == "BTC/USDT"
    assert row["amount"] == pytest.approx(0.5)
    assert row["entry_price"] == pytest.approx(60_000.0)
    assert row["stop_price"] == pytest.approx(58_800.0)
    assert row["mark_price"] == pytest.approx(bid)
    assert row["unrealized_pnl"] == pytest.approx(0.5 * bid - (0.5 * 60_000.0 + 30.0))
    assert meta["open_positions"].value == 1
