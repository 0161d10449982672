"""The one candle schema every part of awan speaks.

Files, stores, exchanges and Dagster assets all hand candles around as polars frames with
exactly these columns and dtypes, so conversion happens once at the edge (`to_candles`) and
nothing downstream has to guess about time zones or integer prices.
"""

from __future__ import annotations

import polars as pl

from awan_trading.errors import DataError

TS_DTYPE = pl.Datetime("ms", "UTC")

CANDLE_SCHEMA: dict[str, pl.DataType] = {
    "symbol": pl.String(),
    "ts": TS_DTYPE,  # candle OPEN time
    "open": pl.Float64(),
    "high": pl.Float64(),
    "low": pl.Float64(),
    "close": pl.Float64(),
    "volume": pl.Float64(),
}
CANDLE_COLUMNS: list[str] = list(CANDLE_SCHEMA)
PRICE_COLUMNS: list[str] = ["open", "high", "low", "close"]
NUMERIC_COLUMNS: list[str] = [*PRICE_COLUMNS, "volume"]


def empty_candles() -> pl.DataFrame:
    """A zero-row frame with the candle schema (what a fetch of an empty range returns)."""
    return pl.DataFrame(schema=CANDLE_SCHEMA)


def to_candles(
    frame: pl.DataFrame, *, symbol: str | None = None, source: str = "frame"
) -> pl.DataFrame:
    """Coerce a frame to the candle schema, or raise `DataError` naming what is wrong.

    Accepts naive timestamps (taken as UTC), other time units and integer prices, because
    exchanges and files disagree on those; refuses missing columns and values that cannot be
    cast, because guessing there would hide bad data. `symbol` fills a missing symbol column.
    Extra columns (e.g. `timeframe` in the shared Parquet files) are dropped.
    """
    columns = set(frame.columns)
    if "symbol" not in columns and symbol is not None:
        frame = frame.with_columns(pl.lit(symbol, dtype=pl.String).alias("symbol"))
        columns.add("symbol")
    missing = [c for c in CANDLE_COLUMNS if c not in columns]
    if missing:
        raise DataError(
            f"{source}: missing candle column(s) {', '.join(missing)}; "
            f"expected {', '.join(CANDLE_COLUMNS)} (got {', '.join(frame.columns) or 'none'})"
        )
    ts = frame.schema["ts"]
    if isinstance(ts, pl.Datetime):
        ts_expr = pl.col("ts")
        ts_expr = (
            ts_expr.dt.replace_time_zone("UTC")
            if ts.time_zone is None
            else ts_expr.dt.convert_time_zone("UTC")
        )
        ts_expr = ts_expr.dt.cast_time_unit("ms")
    elif ts.is_integer():
        ts_expr = pl.col("ts").cast(pl.Int64).cast(pl.Datetime("ms")).dt.replace_time_zone("UTC")
    else:
        raise DataError(
            f"{source}: column 'ts' has type {ts}; expected a datetime or epoch milliseconds"
        )
    for col in NUMERIC_COLUMNS:
        dtype = frame.schema[col]
        if not (dtype.is_numeric() or dtype == pl.Null):
            raise DataError(f"{source}: column '{col}' has type {dtype}; expected a number")
    if not (frame.schema["symbol"] == pl.String or frame.schema["symbol"] == pl.Categorical):
        raise DataError(
            f"{source}: column 'symbol' has type {frame.schema['symbol']}; expected a string"
        )
    return frame.select(
        pl.col("symbol").cast(pl.String),
        ts_expr.alias("ts"),
        *[pl.col(c).cast(pl.Float64) for c in NUMERIC_COLUMNS],
    )
