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

# Integer `ts` columns come in seconds (pandas, CSV exports), milliseconds (exchanges, ccxt),
# microseconds or nanoseconds (Arrow/pandas int64 views). The unit is read from the magnitude:
# for candle times between 1990 and 2100 the four ranges are a factor > 150 apart, so a column
# whose smallest and largest value fall in the same range has exactly one reading. Anything
# else (a mix of units, times near 1970, far-future values) is refused rather than guessed.
EPOCH_UNITS: dict[str, tuple[int, str]] = {
    "s": (1, "seconds"),
    "ms": (1_000, "milliseconds"),
    "us": (1_000_000, "microseconds"),
    "ns": (1_000_000_000, "nanoseconds"),
}
_PLAUSIBLE_S = (631_152_000, 4_102_444_800)  # 1990-01-01 and 2100-01-01 UTC, epoch seconds


def empty_candles() -> pl.DataFrame:
    """A zero-row frame with the candle schema (what a fetch of an empty range returns)."""
    return pl.DataFrame(schema=CANDLE_SCHEMA)


def epoch_unit(ts: pl.Series, source: str = "frame") -> str:
    """The unit (`s`, `ms`, `us` or `ns`) of integer epoch times, judged by their magnitude.

    Raises `DataError` when the values fit no single unit for times between 1990 and 2100,
    saying which units are accepted. An empty or all-null column reads as milliseconds.
    """
    lo, hi = ts.min(), ts.max()
    if lo is None or hi is None:
        return "ms"
    for unit, (per_second, _) in EPOCH_UNITS.items():
        if _PLAUSIBLE_S[0] * per_second <= lo and hi < _PLAUSIBLE_S[1] * per_second:  # type: ignore[operator]
            return unit
    accepted = ", ".join(name for _, name in EPOCH_UNITS.values())
    raise DataError(
        f"{source}: integer column 'ts' runs from {lo} to {hi}, which is not one epoch unit "
        f"for times between 1990 and 2100; accepted: epoch {accepted}, or a datetime column"
    )


def to_candles(
    frame: pl.DataFrame,
    *,
    symbol: str | None = None,
    source: str = "frame",
    epoch: str = "ms",
) -> pl.DataFrame:
    """Coerce a frame to the candle schema, or raise `DataError` naming what is wrong.

    Accepts naive timestamps (taken as UTC), other time units and integer prices, because
    exchanges and files disagree on those; refuses missing columns and values that cannot be
    cast, because guessing there would hide bad data. Integer `ts` is epoch milliseconds, the
    convention inside awan; `epoch="auto"` (what file readers pass, since a file's author may
    have used any unit) reads s/ms/µs/ns from the magnitude (`epoch_unit`). `symbol` fills a missing symbol column.
    Extra columns (e.g. `timeframe` in the shared Parquet files) are dropped.

    A frame already in the schema (same columns, order and dtypes) is returned as it is: the
    cast `select` would change nothing and costs ~0.25 ms on a 2-core box, paid at every
    candle close by each fetched page and by validation.
    """
    if frame.schema == CANDLE_SCHEMA:
        return frame
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
        unit = epoch_unit(frame.get_column("ts"), source) if epoch == "auto" else epoch
        ts_expr = (
            pl.from_epoch(pl.col("ts").cast(pl.Int64), time_unit=unit)  # type: ignore[arg-type]
            .dt.cast_time_unit("ms")
            .dt.replace_time_zone("UTC")
        )
    else:
        raise DataError(
            f"{source}: column 'ts' has type {ts}; expected a datetime or integer epoch "
            "seconds, milliseconds, microseconds or nanoseconds"
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
