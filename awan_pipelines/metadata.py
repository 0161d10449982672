"""What the UI shows on each partition's materialization: that partition's own rows.

Dagster copies an output's metadata onto every partition a run materializes, so metadata
computed from the whole frame of a range run (row count, first/last ts, a preview) would show
the run's totals and one symbol's rows on every partition. Assets therefore attach metadata
per partition key with `context.add_asset_metadata(..., partition_key=key)`, computed from the
rows of that key alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import dagster as dg
import polars as pl

from awan_pipelines.partitions import DATE, SYMBOL, dimensions

PREVIEW_ROWS = 5
_TYPES = {
    pl.Float64: "float",
    pl.Float32: "float",
    pl.Int64: "int",
    pl.Int32: "int",
    pl.Boolean: "bool",
}


def table(records: list[dict], columns: Mapping[str, str]) -> dg.MetadataValue:
    """A table entry: the UI renders it with a header per column and scrolls wide tables."""
    return dg.MetadataValue.table(
        records=[dg.TableRecord(r) for r in records],
        schema=dg.TableSchema(columns=[dg.TableColumn(n, kind) for n, kind in columns.items()]),
    )


def frame_table(frame: pl.DataFrame) -> dg.MetadataValue:
    """Every column of `frame` (times as `YYYY-MM-DD HH:MM` UTC text, floats as numbers)."""
    shown = frame.with_columns(pl.col(pl.Datetime).dt.strftime("%Y-%m-%d %H:%M"))
    columns = {
        name: next((kind for t, kind in _TYPES.items() if dtype == t), "string")
        for name, dtype in shown.schema.items()
    }
    return table(shown.to_dicts(), columns)


def rows_of(frame: pl.DataFrame, key: str | dg.MultiPartitionKey) -> pl.DataFrame:
    """The rows of one day × symbol partition (`ts` within the UTC day, that symbol)."""
    dims = dimensions(key)
    if frame.is_empty():
        return frame
    day = datetime.fromisoformat(dims[DATE]).date()
    return frame.filter((pl.col("symbol") == dims[SYMBOL]) & (pl.col("ts").dt.date() == day))


def rows_metadata(rows: pl.DataFrame) -> dict[str, dg.MetadataValue]:
    """Row count, first and last `ts` as timestamps, and a preview of the first rows."""
    meta: dict[str, dg.MetadataValue] = {"dagster/row_count": dg.MetadataValue.int(rows.height)}
    if rows.height:
        meta["first_ts"] = dg.MetadataValue.timestamp(rows["ts"].min())
        meta["last_ts"] = dg.MetadataValue.timestamp(rows["ts"].max())
        meta["preview"] = frame_table(rows.sort("ts").head(PREVIEW_ROWS))
    return meta


def add_partition_metadata(
    context: dg.AssetExecutionContext,
    frame: pl.DataFrame,
    extra: Mapping[str, Mapping[str, object]] | None = None,
) -> None:
    """Attach each materialized partition's own metadata (plus `extra[key]`, if any)."""
    for key in context.partition_keys:
        meta: dict[str, object] = dict(rows_metadata(rows_of(frame, key)))
        meta.update((extra or {}).get(str(key), {}))
        context.add_asset_metadata(meta, partition_key=key)
