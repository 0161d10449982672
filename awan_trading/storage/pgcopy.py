"""PostgreSQL binary COPY encoding of candle frames, vectorized with numpy.

COPY is the fastest way into PostgreSQL, but feeding it row by row from Python would spend
more time in the interpreter than in the server. A candle row is all fixed-width fields
(series id, timestamp, five doubles), so a numpy structured array with big-endian fields
*is* the wire format: filled column-wise, then `tobytes()`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl

HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
TRAILER = b"\xff\xff"
PG_EPOCH_MS = 946_684_800_000  # 2000-01-01T00:00:00Z, PostgreSQL's timestamp zero
_FLOATS = ("open", "high", "low", "close", "volume")
CANDLE_COPY_COLUMNS = "series_id, ts, " + ", ".join(_FLOATS)

_ROW = np.dtype(
    [("nfields", ">i2"), ("series_id_len", ">i4"), ("series_id", ">i4"),
     ("ts_len", ">i4"), ("ts", ">i8")]
    + [field for name in _FLOATS for field in ((f"{name}_len", ">i4"), (name, ">f8"))]
)  # fmt: skip
# Field counts and lengths are the same in every row: copying a prepared row is 20x cheaper
# than filling those eight columns of a million-row array one by one.
_TEMPLATE = np.zeros(1, dtype=_ROW)
_TEMPLATE["nfields"] = 2 + len(_FLOATS)
_TEMPLATE["series_id_len"] = 4
_TEMPLATE["ts_len"] = 8
for _name in _FLOATS:
    _TEMPLATE[f"{_name}_len"] = 8


def encode_candles(candles: pl.DataFrame, series_ids: Mapping[str, int]) -> bytes:
    """A complete `COPY … FROM STDIN (FORMAT BINARY)` payload for `CANDLE_COPY_COLUMNS`.

    `series_ids` maps each symbol of the (candle-schema, NULL-free) frame to its series id.
    """
    rows = np.repeat(_TEMPLATE, candles.height)
    symbols = candles["symbol"]
    if symbols.n_unique() == 1:
        rows["series_id"] = series_ids[symbols[0]]
    else:
        ids = symbols.replace_strict(dict(series_ids), return_dtype=pl.Int32)
        rows["series_id"] = ids.to_numpy()
    rows["ts"] = (candles["ts"].dt.epoch("ms").to_numpy() - PG_EPOCH_MS) * 1000
    for name in _FLOATS:
        rows[name] = candles[name].to_numpy()
    return HEADER + rows.tobytes() + TRAILER
