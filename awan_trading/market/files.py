"""Reading and writing candle Parquet files with clear errors.

Files are the interchange format between `awan fetch`, `awan validate`, `awan backtest` and
other tools (freqtrade-style `BASE_QUOTE-TF.parquet` names, a `timeframe` column), so a missing,
unreadable or wrongly shaped file must end in one sentence naming the file, not a traceback.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from awan_trading.errors import DataError
from awan_trading.market.schema import CANDLE_COLUMNS, to_candles
from awan_trading.market.timeframes import Timeframe, parse_timeframe


def candle_file_name(symbol: str, timeframe: Timeframe | str) -> str:
    """`BTC/USDT`, `1m` → `BTC_USDT-1m.parquet` (the naming freqtrade users know).

    A month is written `1Mo`: on a case-insensitive filesystem (macOS, Windows) `-1M` and `-1m`
    would be the same file, and a monthly fetch would overwrite the minutes. The `timeframe`
    column inside still says `1M`.
    """
    tf = parse_timeframe(timeframe)
    suffix = tf.name if tf.is_fixed else f"{tf.name}o"
    return f"{symbol.replace('/', '_')}-{suffix}.parquet"


def read_candle_file(path: Path | str) -> tuple[pl.DataFrame, Timeframe | None]:
    """The candles of a Parquet file and the timeframe its `timeframe` column names, if any."""
    file = Path(path)
    if not file.exists():
        raise DataError(f"{file}: no such file")
    if file.is_dir():
        raise DataError(f"{file}: is a directory, expected a Parquet file")
    try:
        raw = pl.read_parquet(file)
    except Exception as exc:  # polars raises several types for unreadable files
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{file}: not a readable Parquet file ({first_line})") from None
    timeframe: Timeframe | None = None
    if "timeframe" in raw.columns:
        values = raw.get_column("timeframe").drop_nulls().unique().to_list()
        if len(values) > 1:
            raise DataError(
                f"{file}: column 'timeframe' holds several values {sorted(values)}; expected one"
            )
        if values:
            timeframe = parse_timeframe(str(values[0]))
    return to_candles(raw, source=str(file), epoch="auto"), timeframe


def write_candle_file(frame: pl.DataFrame, path: Path | str, timeframe: Timeframe | str) -> Path:
    """Write candles plus a `timeframe` column, zstd-compressed, creating parent folders."""
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    tf = parse_timeframe(timeframe)
    frame.select(CANDLE_COLUMNS).with_columns(pl.lit(tf.name).alias("timeframe")).write_parquet(
        file, compression="zstd"
    )
    return file
