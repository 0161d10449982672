"""The polars ⇄ store IO manager: partitions in, partitions out, atomically.

Assets return frames and never talk to the store; this module decides what a partition means in
the store (a per-symbol [start, end) window), replaces exactly that window in one transaction,
and loads exactly the window (plus look-back) a downstream asset asked for. The metadata a
partition shows is computed by the assets, per partition (`awan_pipelines.metadata`). What an asset holds
— candles, indicators, signals — and its timeframe come from the asset's definition metadata,
so one IO manager serves every asset.
"""

from __future__ import annotations

from datetime import datetime

import dagster as dg
import polars as pl

from awan_pipelines.partitions import DATE, SYMBOL, dimensions, windows_by_symbol
from awan_pipelines.resources import ExchangeResource, StoreResource
from awan_trading.errors import DataError
from awan_trading.indicators import OUTPUT_COLUMNS
from awan_trading.market.schema import NUMERIC_COLUMNS
from awan_trading.storage import CandleProvenance

KIND = "awan/kind"
TIMEFRAME = "awan/timeframe"
STRATEGY = "awan/strategy"
CANDLES, INDICATORS, SIGNALS = "candles", "indicators", "signals"


def _windows(
    context: dg.OutputContext | dg.InputContext,
) -> dict[str, list[tuple[datetime, datetime]]]:
    if not context.has_asset_partitions:
        raise DataError(
            f"{context.asset_key.to_user_string()}: the store IO manager needs partitioned assets"
        )
    return windows_by_symbol(list(context.asset_partition_keys))


def _in_windows(
    frame: pl.DataFrame, symbol: str, windows: list[tuple[datetime, datetime]]
) -> pl.Expr:
    inside = pl.lit(False)
    for start, end in windows:
        inside = inside | pl.col("ts").is_between(start, end, closed="left")
    return (pl.col("symbol") == symbol) & inside


def _provenance(
    context: dg.OutputContext, symbol: str, start: datetime, end: datetime
) -> CandleProvenance:
    """This run and the partition key (`first...last` for a range) of one written window, as
    recorded with the candles so `awan lineage` and the `trades` metadata can name the run."""
    keys = sorted(
        str(k)
        for k in context.asset_partition_keys
        if dimensions(k)[SYMBOL] == symbol
        and start.date().isoformat() <= dimensions(k)[DATE] < end.date().isoformat()
    )
    key = keys[0] if len(keys) == 1 else f"{keys[0]}...{keys[-1]}"
    return CandleProvenance.dagster_run(context.run_id, key)


def _join_indicators(candles: pl.DataFrame, values: pl.DataFrame) -> pl.DataFrame:
    """Candles with their indicator columns; warm-up rows (no stored values) get nulls."""
    if values.is_empty():
        return candles.with_columns(
            [pl.lit(None, dtype=pl.Float64).alias(c) for c in OUTPUT_COLUMNS]
        )
    values = values.with_columns(pl.col("ts").dt.cast_time_unit("ms"))
    joined = candles.join(values, on=["symbol", "ts"], how="left")
    return joined.with_columns(
        [pl.lit(None, dtype=pl.Float64).alias(c) for c in OUTPUT_COLUMNS if c not in joined.columns]
    )


class StoreIOManager(dg.ConfigurableIOManager):
    """Writes and reads partitioned candle, indicator and signal frames through the store."""

    store: StoreResource
    exchange: ExchangeResource

    def handle_output(self, context: dg.OutputContext, obj: pl.DataFrame) -> None:
        meta = context.definition_metadata or {}
        kind, timeframe = meta.get(KIND), meta.get(TIMEFRAME)
        windows = _windows(context)
        outside = obj
        for symbol, spans in windows.items():
            outside = outside.filter(~_in_windows(outside, symbol, spans))
        if outside.height:
            first = outside.row(0, named=True)
            raise DataError(
                f"{context.asset_key.to_user_string()}: {outside.height} row(s) outside the partitions "
                f"being written, first {first.get('symbol')} {first.get('ts')}"
            )
        store, venue = self.store.get(), self.exchange.name
        written = 0
        for symbol, spans in windows.items():
            for start, end in spans:
                part = obj.filter(_in_windows(obj, symbol, [(start, end)]))
                if kind == CANDLES:
                    written += store.replace_candles(
                        venue, symbol, timeframe, start, end, part,
                        provenance=_provenance(context, symbol, start, end),
                    )  # fmt: skip
                elif kind == INDICATORS:
                    # Only the indicator columns: the candles already live in their own table.
                    written += store.write_indicators(
                        venue, timeframe, part.drop(NUMERIC_COLUMNS, strict=False)
                    )
                elif kind == SIGNALS:
                    # Signals are facts with derived ids: a re-run inserts nothing new and nothing
                    # is deleted, so the execution sensor's cursor never sees a signal twice.
                    written += store.insert_signals(venue, part)
                else:
                    raise DataError(
                        f"{context.asset_key.to_user_string()}: unknown awan/kind {kind!r}"
                    )
        # Row counts, times and previews are the asset's, per partition (awan_pipelines.metadata);
        # what was written is known per window here, so it is shown only when a run writes one
        # partition — on a range run Dagster would copy a run-wide count onto every partition.
        if len(context.asset_partition_keys) == 1:
            context.add_output_metadata({"rows_written": written})

    def load_input(self, context: dg.InputContext) -> pl.DataFrame:
        upstream = context.upstream_output
        meta = (upstream.definition_metadata if upstream is not None else None) or {}
        kind, timeframe = meta.get(KIND), meta.get(TIMEFRAME)
        store, venue = self.store.get(), self.exchange.name
        parts = []
        for symbol, spans in _windows(context).items():
            for start, end in spans:
                if kind == CANDLES:
                    parts.append(store.read_candles(venue, symbol, timeframe, start, end))
                elif kind == INDICATORS:
                    candles = store.read_candles(venue, symbol, timeframe, start, end)
                    values = store.read_indicators(venue, symbol, timeframe, start, end)
                    parts.append(_join_indicators(candles, values))
                elif kind == SIGNALS:
                    parts.append(
                        store.read_signals(venue, symbol, timeframe, meta[STRATEGY], start, end)
                    )
                else:
                    raise DataError(
                        f"{context.asset_key.to_user_string()}: unknown awan/kind {kind!r}"
                    )
        return pl.concat(parts, how="diagonal_relaxed") if parts else pl.DataFrame()
