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

PREVIEW_ROWS = 3


def table(records: list[dict], columns: Mapping[str, str]) -> dg.MetadataValue:
    """A table entry with its schema, which the UI renders as a table."""
    return dg.MetadataValue.table(
        records=[dg.TableRecord(r) for r in records],
        schema=dg.TableSchema(columns=[dg.TableColumn(n, kind) for n, kind in columns.items()]),
    )


def preview_table(frame: pl.DataFrame) -> dg.MetadataValue:
    """The first rows, transposed: one line per column, one value column per row.

    A frame has up to ~20 columns (candles plus indicators) and the UI's metadata panel is
    narrow, so a row-per-record table hides most of them off to the right; a line per column
    shows every column, whatever the width. Times are `YYYY-MM-DD HH:MM` UTC.
    """
    shown = frame.with_columns(pl.col(pl.Datetime).dt.strftime("%Y-%m-%d %H:%M"))
    rows = list(shown.iter_rows())
    labels = [f"row {i + 1}" for i in range(len(rows))]
    records = [
        {"column": name, **{label: _cell(row[i]) for label, row in zip(labels, rows, strict=True)}}
        for i, name in enumerate(shown.columns)
    ]
    return table(records, {"column": "string", **dict.fromkeys(labels, "string")})


def _cell(value: object) -> str:
    if value is None:
        return "null"
    return f"{value:.6g}" if isinstance(value, float) else str(value)


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
        meta["preview"] = preview_table(rows.sort("ts").head(PREVIEW_ROWS))
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
