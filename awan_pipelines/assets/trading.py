"""`trades` and `positions`: what the execution job did, in the asset graph after `signals`.

Lineage in the UI reads ohlcv → indicators → signals → trades → positions. `trades` is
partitioned like the signals (day × symbol) and is only ever reported by an `execute_signal`
run, never computed: one materialization per order placed, on the partition of the candle
that caused it, whose metadata ties the order back to the signal, the candle, the strategy
parameters and the run that wrote the candle (from the store's record of candle writes). A
signal that placed nothing (refused, or a re-delivery resumed) leaves an observation instead,
so the partition's history shows it without counting it as a trade. `positions` is a
projection of the fills: the execution job reports it after each order, and materializing it
by hand marks the open positions to the market again (amount, entry, stop, target,
unrealized PnL at the bid).

Metadata carries ids, prices and run links only: nothing from a resource's config, so an API
key or bot token can never reach the UI through here.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

import dagster as dg

from awan_pipelines.assets.features import signals_key
from awan_pipelines.partitions import DATE, SYMBOL, partition_key
from awan_pipelines.resources import ExchangeResource, StoreResource
from awan_pipelines.versions import code_version
from awan_trading.domain import positions as domain_positions
from awan_trading.domain.positions import Position
from awan_trading.domain.signals import SignalRecord
from awan_trading.exchange.base import Exchange
from awan_trading.execution import executor, exits, sizing
from awan_trading.storage import Store

TRADES = dg.AssetKey("trades")
POSITIONS = dg.AssetKey("positions")
GROUP = "trading"
# Outcomes of `Executor.execute` that put an order on the exchange: a trades materialization.
PLACED = ("filled", "placed")
POSITION_COLUMNS = {
    "symbol": "string",
    "amount": "float",
    "entry_price": "float",
    "stop_price": "float",
    "target_price": "float",
    "mark_price": "float",
    "unrealized_pnl": "float",
    "entry_signal_id": "string",
}


def build_trading_assets(
    signal_keys: list[dg.AssetKey], partitions: dg.MultiPartitionsDefinition
) -> list[dg.AssetSpec | dg.AssetsDefinition]:
    """`trades` (downstream of the traded strategy's signals) and `positions`."""
    trades = dg.AssetSpec(
        TRADES,
        deps=signal_keys,
        partitions_def=partitions,
        group_name=GROUP,
        kinds={"duckdb"},
        # What an order looks like follows the executor and its sizing/exit rules.
        code_version=code_version(executor, sizing, exits),
        description=(
            "Orders placed for signals, one materialization per order on the signal's "
            "candle partition; reported by execute_signal runs."
        ),
    )

    @dg.asset(
        key=POSITIONS,
        deps=[TRADES],
        group_name=GROUP,
        code_version=code_version(domain_positions),
        kinds={"duckdb"},
        description="Open positions from the fills: amount, entry, stop, target, unrealized PnL.",
    )
    def positions(store: StoreResource, exchange: ExchangeResource) -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata=positions_metadata(store.get(), exchange.get()))

    return [trades, positions]


def execution_partition(
    partitions: dg.MultiPartitionsDefinition, signal: SignalRecord
) -> str | None:
    """The `date|symbol` partition of the signal's candle, or None when it has none (a symbol
    no longer in the universe, a day before `history_start`)."""
    day = signal.ts.astimezone(UTC).date().isoformat()
    dims = {d.name: d.partitions_def for d in partitions.partitions_defs}
    if signal.symbol not in dims[SYMBOL].get_partition_keys():
        return None
    if day < dims[DATE].start.date().isoformat():
        return None
    return str(partition_key(day, signal.symbol))


def latest_run_id(
    instance: dg.DagsterInstance, key: dg.AssetKey, partition: str | None
) -> str | None:
    """The run that last materialized `key`'s `partition` in this instance, if any."""
    if partition is None:
        return None
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1
    ).records
    return records[0].run_id if records else None


def _run_link(run_id: str | None, absent: str) -> dg.MetadataValue:
    return dg.MetadataValue.dagster_run(run_id) if run_id else dg.MetadataValue.text(absent)


def candle_writer(
    instance: dg.DagsterInstance,
    store: Store,
    signal: SignalRecord,
    candles_key: dg.AssetKey,
    partition: str | None,
) -> tuple[str | None, str]:
    """(the Dagster run that wrote the signal's candle, who wrote it and when, in words).

    The store records each candle write with its writer (`Store.candle_write`), so this is
    the run whose candle the strategy saw even when a later run of the partition or an
    `awan fetch` rewrote others. A candle stored before writes were recorded falls back to
    the run that last materialized its partition in this instance.
    """
    write = store.candle_write(signal.exchange, signal.symbol, signal.timeframe, signal.ts)
    if write is not None:
        return write.run_id, write.describe()
    run_id = latest_run_id(instance, candles_key, partition)
    if run_id is None:
        return None, "no write of this candle on record"
    return run_id, f"no write on record; Dagster run {run_id} last materialized {partition}"


def trade_metadata(
    instance: dg.DagsterInstance,
    store: Store,
    signal: SignalRecord,
    result: Any,
    candles_key: dg.AssetKey,
    partition: str | None,
) -> dict[str, Any]:
    """Signal, candle, strategy, order and fill of one execution, with links to the run that
    wrote the candle and the one that materialized the signal's partition."""
    order = result.order
    candle_run, written_by = candle_writer(instance, store, signal, candles_key, partition)
    signals_run = latest_run_id(instance, signals_key(signal.timeframe, signal.strategy), partition)
    meta: dict[str, Any] = {
        "outcome": result.outcome,
        "signal_id": signal.signal_id,
        "candle_ts": signal.ts.astimezone(UTC).isoformat(),
        "symbol": signal.symbol,
        "side": signal.side,
        "strategy": signal.strategy,
        "params_hash": signal.params_hash,
        "timeframe": signal.timeframe,
        "signal_price": float(signal.price),
        "client_order_id": result.client_order_id or "",
        "exchange_order_id": (order.exchange_order_id if order else None) or "",
        "status": order.status if order else "",
        "amount": float(order.filled) if order else 0.0,
        "fill_price": float(order.average or 0.0) if order else 0.0,
        "fee": float(order.fee) if order else 0.0,
        "fee_currency": order.fee_currency if order else "",
        "candle_run": _run_link(candle_run, "candle not stored by a Dagster run"),
        "candle_writer": written_by,
        "signals_run": _run_link(signals_run, "signal not stored by a Dagster run"),
    }
    if result.refusal is not None:
        meta["refusal"] = f"{result.refusal.reason}: {result.refusal.message}"
    return meta


def trade_event(
    instance: dg.DagsterInstance,
    store: Store,
    signal: SignalRecord,
    result: Any,
    candles_key: dg.AssetKey,
    partition: str | None,
) -> dg.AssetMaterialization | dg.AssetObservation:
    """A materialization when this execution placed an order; an observation otherwise."""
    meta = trade_metadata(instance, store, signal, result, candles_key, partition)
    if result.outcome in PLACED:
        description = f"{signal.side} {signal.symbol}: {meta['client_order_id']}"
        return dg.AssetMaterialization(
            TRADES, partition=partition, metadata=meta, description=description
        )
    return dg.AssetObservation(
        TRADES,
        partition=partition,
        metadata=meta,
        description=f"{signal.side} {signal.symbol}: {result.outcome}, no new order",
    )


def position_rows(store: Store, exchange: Exchange) -> list[dict[str, Any]]:
    """Open positions of `exchange`, marked at the bid (what a market exit would get)."""
    rows = []
    for position in sorted(store.positions(exchange.name), key=lambda p: p.symbol):
        if not position.is_open:
            continue
        mark = _bid(exchange, position)
        rows.append(
            {
                "symbol": position.symbol,
                "amount": position.amount,
                "entry_price": position.entry_price,
                "stop_price": position.stop_price,
                "target_price": position.target_price,
                "mark_price": mark,
                "unrealized_pnl": position.unrealized_pnl(mark),
                "entry_signal_id": position.signal_id or "",
            }
        )
    return rows


def _bid(exchange: Exchange, position: Position) -> float:
    try:
        return float(exchange.fetch_ticker(position.symbol).bid)
    except Exception:  # a venue hiccup must not fail the report: mark at entry, say so
        return position.entry_price


def positions_metadata(store: Store, exchange: Exchange) -> dict[str, Any]:
    rows = position_rows(store, exchange)
    records = [
        dg.TableRecord({k: (v if v != float("inf") else None) for k, v in r.items()}) for r in rows
    ]
    return {
        "open_positions": len(rows),
        "unrealized_pnl": float(sum(r["unrealized_pnl"] for r in rows)),
        "positions": dg.MetadataValue.table(
            records=records,
            schema=dg.TableSchema(
                columns=[dg.TableColumn(n, t) for n, t in POSITION_COLUMNS.items()]
            ),
        ),
        "marked_at": exchange.now().isoformat(),
    }


def positions_materialization(store: Store, exchange: Exchange) -> dg.AssetMaterialization:
    return dg.AssetMaterialization(POSITIONS, metadata=positions_metadata(store, exchange))
