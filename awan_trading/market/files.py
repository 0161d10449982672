"""Reading and writing candle Parquet files with clear errors.

Files are the interchange format between `awan fetch`, `awan validate`, `awan backtest` and
other tools (freqtrade-style `BASE_QUOTE-TF.parquet` names, a `timeframe` column), so a missing,
unreadable or wrongly shaped file must end in one sentence naming the file, not a traceback.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import polars as pl

from awan_trading.errors import DataError
from awan_trading.market.schema import CANDLE_COLUMNS, CANDLE_SCHEMA, to_candles
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


class CandleFileWriter:
    """Stream candles into one Parquet file in bounded memory, all or nothing.

    Rows go to a hidden temp file in the destination folder (same file system, so the final
    `os.replace` is atomic) through a pyarrow `ParquetWriter`, buffered into row groups of
    about `row_group_rows`; only `commit()` moves the file into place. `abort()` (or leaving
    the `with` block on an exception) deletes the temp file, so a failed fetch leaves neither a
    half-written file nor litter. The written file reads back exactly as `write_candle_file`
    would have written the concatenated frames (same columns, dtypes and `timeframe` column).
    """

    def __init__(
        self, path: Path | str, timeframe: Timeframe | str, *, row_group_rows: int = 32_768
    ) -> None:
        # Row groups of ~32k rows keep the buffer a few MB while the footer (held until
        # close) stays small: ~800 row groups for 50 years of 1m.
        # pyarrow.parquet is imported here, not at module level: the CLI imports this module
        # and must start fast.
        import pyarrow.parquet as pq

        self.path = Path(path)
        self.rows = 0
        self._tf = parse_timeframe(timeframe)
        self._row_group_rows = row_group_rows
        self._pending: list[pl.DataFrame] = []
        self._pending_rows = 0
        schema_frame = self._with_timeframe(pl.DataFrame(schema=CANDLE_SCHEMA))
        self._schema = schema_frame.to_arrow().schema
        handle, temp = tempfile.mkstemp(
            dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".part"
        )
        os.close(handle)
        self._temp: Path | None = Path(temp)
        try:
            self._writer = pq.ParquetWriter(self._temp, self._schema, compression="zstd")
        except BaseException:
            self._temp.unlink(missing_ok=True)
            raise

    def _with_timeframe(self, frame: pl.DataFrame) -> pl.DataFrame:
        return frame.select(CANDLE_COLUMNS).with_columns(pl.lit(self._tf.name).alias("timeframe"))

    def write(self, frame: pl.DataFrame) -> None:
        """Append candles (already sorted after everything written so far)."""
        if self._temp is None:
            raise DataError(f"{self.path}: writer already closed")
        if frame.is_empty():
            return
        self._pending.append(frame)
        self._pending_rows += frame.height
        self.rows += frame.height
        if self._pending_rows >= self._row_group_rows:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        table = self._with_timeframe(pl.concat(self._pending)).to_arrow().cast(self._schema)
        self._pending, self._pending_rows = [], 0
        self._writer.write_table(table, row_group_size=table.num_rows)

    def commit(self) -> Path:
        """Finish the file and move it into place (atomically replacing an older one)."""
        if self._temp is None:
            raise DataError(f"{self.path}: writer already closed")
        try:
            self._flush()
            self._writer.close()
            os.replace(self._temp, self.path)
        except BaseException:
            self.abort()
            raise
        self._temp = None
        return self.path

    def abort(self) -> None:
        """Drop everything written: close the writer and delete the temp file."""
        if self._temp is None:
            return
        self._pending, self._pending_rows = [], 0
        try:
            self._writer.close()
        finally:
            self._temp.unlink(missing_ok=True)
            self._temp = None

    def __enter__(self) -> CandleFileWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        # A committed writer has nothing left to drop; anything else is thrown away.
        self.abort()
