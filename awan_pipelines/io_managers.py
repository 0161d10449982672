"""The polars ⇄ store IO manager: partitions in, partitions out, atomically.

Assets return frames and never talk to the store; this module decides what a partition means in
the store (a per-symbol [start, end) window), replaces exactly that window in one transaction,
and loads exactly the window (plus look-back) a downstream asset asked for. What an asset holds
— candles, indicators, signals — and its timeframe come from the asset's definition metadata,
so one IO manager serves every asset.
"""

from __future__ import annotations

from datetime import datetime

import dagster as dg
import polars as pl

from awan_pipelines.partitions import windows_by_symbol
from awan_pipelines.resources import ExchangeResource, StoreResource
from awan_trading.errors import DataError
from awan_trading.indicators import OUTPUT_COLUMNS
from awan_trading.market.schema import NUMERIC_COLUMNS

KIND = "awan/kind"
TIMEFRAME = "awan/timeframe"
STRATEGY = "awan/strategy"
CANDLES, INDICATORS, SIGNALS = "candles", "indicators", "signals"


def frame_metadata(frame: pl.DataFrame) -> dict[str, dg.MetadataValue]:
    """Row count, first/last ts and a preview: what the UI shows for each materialization.

    Gaps are counted by the `ohlcv` asset, which has already validated the frame; the IO
    manager does not validate it a second time.

    For a run over several partitions Dagster copies output metadata onto every partition, so
    the IO manager then labels these as the run's (`run_*`) and the asset adds each partition's
    own row count and time span (`partition_metadata`).
    """
    meta: dict[str, dg.MetadataValue] = {"dagster/row_count": dg.MetadataValue.int(frame.height)}
    if frame.height and "ts" in frame.columns:
        meta["first_ts"] = dg.MetadataValue.text(str(frame["ts"].min()))
        meta["last_ts"] = dg.MetadataValue.text(str(frame["ts"].max()))
    if "symbol" in frame.columns:
        meta["symbols"] = dg.MetadataValue.text(
            ", ".join(sorted(frame["symbol"].unique().to_list()))
        )
    preview = frame.head(5).with_columns(pl.col(pl.Datetime).dt.strftime("%Y-%m-%d %H:%M"))
    meta["preview"] = dg.MetadataValue.md(_markdown_table(preview))
    return meta


def partition_metadata(context: dg.AssetExecutionContext, frame: pl.DataFrame) -> None:
    """Each partition's own row count and first/last ts, when a run covers several."""
    keys = context.partition_keys
    if len(keys) <= 1:
        return
    spans: dict[str, tuple[int, object, object]] = {}
    if frame.height:
        per_day = frame.group_by(pl.col("ts").dt.strftime("%Y-%m-%d").alias("day"), "symbol").agg(
            pl.len().alias("rows"),
            pl.col("ts").min().alias("first"),
            pl.col("ts").max().alias("last"),
        )
        spans = {
            f"{r['day']}|{r['symbol']}": (r["rows"], r["first"], r["last"])
            for r in per_day.iter_rows(named=True)
        }
    for key in keys:
        rows, first, last = spans.get(key, (0, None, None))
        meta: dict[str, object] = {"dagster/row_count": dg.MetadataValue.int(rows)}
        if first is not None:
            meta |= {"first_ts": str(first), "last_ts": str(last)}
        context.add_asset_metadata(meta, partition_key=key)


def _markdown_table(frame: pl.DataFrame) -> str:
    if frame.is_empty():
        return "_no rows_"
    head = "| " + " | ".join(frame.columns) + " |"
    rule = "| " + " | ".join("---" for _ in frame.columns) + " |"
    rows = ["| " + " | ".join(_cell(v) for v in row) + " |" for row in frame.iter_rows()]
    return "\n".join([head, rule, *rows])


def _cell(value: object) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


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
                    written += store.replace_candles(venue, symbol, timeframe, start, end, part)
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
        meta = {
            **frame_metadata(obj),
            "rows_written": written,
        }
        if len(context.asset_partition_keys) > 1:
            meta = {f"run_{k.removeprefix('dagster/')}": v for k, v in meta.items()}
        context.add_output_metadata(meta)

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
