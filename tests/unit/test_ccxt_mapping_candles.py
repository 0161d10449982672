"""ccxt klines rows → candle frames: the direct constructor must equal the checked path, and
odd values (strings, None, bools) must still end as refused candles."""

from __future__ import annotations

from typing import Any

import pytest
from polars.testing import assert_frame_equal

from awan_trading.errors import CandleValidationError
from awan_trading.exchange import ccxt_mapping
from awan_trading.exchange.ccxt_mapping import check_ohlcv_page, ohlcv_frame
from awan_trading.market.schema import CANDLE_SCHEMA
from awan_trading.market.validation import ensure_valid

T = 1_709_294_400_000  # 2024-03-01T12:00Z


def checked_path(rows: list[list[Any]], symbol: str, monkeypatch) -> Any:
    with monkeypatch.context() as patch:
        patch.setattr(ccxt_mapping, "_plain_numbers", lambda rows: False)
        return ohlcv_frame(rows, symbol)


@pytest.mark.parametrize(
    "rows",
    [
        [],
        [[T, 1.0, 2.0, 0.5, 1.5, 10.0]],
        [[T, 1.0, 2.0, 0.5, 1.5, 10.0], [T + 60_000, 1, 2, 1, 2, 0]],  # ints too
        [[T, float("nan"), float("inf"), -1.0, 0.0, -2.0]],  # bad values: validation's job
        [[T, 2**70, 1.0, 1.0, 1.0, 1.0]],  # beyond 64 bits
        [[T + 60_000, 1.0, 2.0, 0.5, 1.5, 1.0], [T, 1.0, 2.0, 0.5, 1.5, 1.0]],  # order kept
    ],
    ids=["empty", "one", "ints", "non_finite", "huge", "unsorted"],
)
def test_plain_rows_build_the_same_frame_as_the_checked_path(rows, monkeypatch):
    frame = ohlcv_frame(rows, "BTC/USDT")
    assert frame.schema == CANDLE_SCHEMA
    assert_frame_equal(frame, checked_path(rows, "BTC/USDT", monkeypatch))


@pytest.mark.parametrize(
    ("value", "field"),
    [("1.5", "open"), (None, "high"), (True, "volume"), ([1.0], "close"), ("NaN", "low")],
)
def test_a_page_with_a_non_number_is_still_refused(value, field, monkeypatch):
    row: list[Any] = [T, 1.0, 2.0, 0.5, 1.5, 10.0]
    position = ["open", "high", "low", "close", "volume"].index(field) + 1
    row[position] = value
    page = check_ohlcv_page([[T - 60_000, 1.0, 2.0, 0.5, 1.5, 10.0], row], "binance: klines")
    frame = ohlcv_frame(page, "BTC/USDT")
    assert_frame_equal(frame, checked_path(page, "BTC/USDT", monkeypatch))
    if isinstance(value, bool):
        assert frame[field][1] == 1.0  # a bool is not refused by the frame, as before
        return
    assert frame[field][1] is None
    with pytest.raises(CandleValidationError, match=f"non_finite: {field}=null"):
        ensure_valid(frame, "1m", context="binance BTC/USDT 1m")
