"""Signal rows and their ids: deterministic, Binance-safe, and tied to the candle that caused them."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import polars as pl
import pytest

from awan_trading.errors import DataError
from awan_trading.signals import (
    SIGNAL_SCHEMA,
    SignalContext,
    generate_signals,
    infer_timeframe,
    populate_signals,
    signal_id,
)
from awan_trading.strategies import get_strategy

TS = datetime(2024, 1, 1, 12, tzinfo=UTC)


def test_signal_id_is_deterministic_short_and_order_id_safe() -> None:
    sid = signal_id("boll_stoch", "abcd", "BTC/USDT", "1h", TS, "buy")
    assert sid == signal_id("boll_stoch", "abcd", "BTC/USDT", "1h", 1704110400000, "buy")
    assert re.fullmatch(r"[0-9a-f]{32}", sid)
    others = {
        signal_id("boll_stoch", "abcd", "BTC/USDT", "1h", TS, "sell"),
        signal_id("boll_stoch", "abce", "BTC/USDT", "1h", TS, "buy"),
        signal_id("boll_stoch", "abcd", "ETH/USDT", "1h", TS, "buy"),
        signal_id("boll_stoch", "abcd", "BTC/USDT", "4h", TS, "buy"),
        signal_id("ema_trend", "abcd", "BTC/USDT", "1h", TS, "buy"),
        signal_id("boll_stoch", "abcd", "BTC/USDT", "1h", 1704110460000, "buy"),
    }
    assert sid not in others and len(others) == 6


def test_signals_match_the_populated_frame(btc_30m: pl.DataFrame) -> None:
    strategy = get_strategy("ema_trend")
    signals = generate_signals(btc_30m, strategy)
    assert signals.schema == pl.Schema(SIGNAL_SCHEMA)
    frame = populate_signals(btc_30m, strategy)
    buys = signals.filter(pl.col("side") == "buy")
    assert (
        buys.get_column("ts").to_list()
        == frame.filter(pl.col("enter_long")).get_column("ts").to_list()
    )
    assert (
        buys.get_column("price").to_list()
        == frame.filter(pl.col("enter_long")).get_column("close").to_list()
    )
    assert signals.filter(pl.col("side") == "sell").height == frame.get_column("exit_long").sum()
    assert buys.height > 5
    assert signals.get_column("signal_id").is_unique().all()
    assert signals.get_column("params_hash").unique().to_list() == [strategy.params.params_hash()]
    assert signals.get_column("timeframe").unique().to_list() == ["30m"]
    ctx = SignalContext.of(strategy, "30m")
    first = buys.row(0, named=True)
    assert first["signal_id"] == ctx.id(first["symbol"], first["ts"], "buy")


def test_signals_are_identical_when_recomputed(xrp_5m: pl.DataFrame) -> None:
    strategy = get_strategy("boll_stoch", {"oversold": 30})
    first = generate_signals(xrp_5m, strategy)
    again = generate_signals(xrp_5m.sample(fraction=1.0, shuffle=True, seed=3), strategy)
    assert first.height > 0
    assert first.equals(again)


def test_timeframe_is_inferred_from_sparse_candles(
    xrp_1m: pl.DataFrame, btc_30m: pl.DataFrame
) -> None:
    assert infer_timeframe(xrp_1m.drop("timeframe")) == "1m"
    assert infer_timeframe(btc_30m) == "30m"
    with pytest.raises(DataError, match="mix timeframes"):
        infer_timeframe(pl.concat([xrp_1m, btc_30m]))
    with pytest.raises(DataError, match="fewer than two"):
        infer_timeframe(btc_30m.head(1).drop("timeframe"))


def _series(times: list[datetime]) -> pl.DataFrame:
    n = len(times)
    return pl.DataFrame({"symbol": ["BTC/USDT"] * n, "ts": times, "close": [1.0] * n}).with_columns(
        pl.col("ts").dt.cast_time_unit("ms")
    )


@pytest.mark.parametrize(
    ("times", "expected"),
    [
        ([datetime(2024, 1, 1, h, tzinfo=UTC) for h in (0, 8, 16)], "8h"),
        ([datetime(2024, 1, d, tzinfo=UTC) for d in (3, 6, 9)], "3d"),
        ([datetime(2024, 1, d, tzinfo=UTC) for d in (1, 8, 22)], "1w"),  # a missing week
        # Months are 28–31 days apart: Feb → Mar is 29 days in 2024, Jan → Feb 31.
        ([datetime(2024, m, 1, tzinfo=UTC) for m in (1, 2, 3, 4)], "1M"),
        ([datetime(2023, 2, 1, tzinfo=UTC), datetime(2023, 3, 1, tzinfo=UTC)], "1M"),  # 28 days
        ([datetime(2023, 12, 1, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC)], "1M"),
    ],
)
def test_long_timeframes_are_inferred_from_their_spacing(times, expected) -> None:
    assert infer_timeframe(_series(times)) == expected


def test_a_month_apart_off_the_first_of_the_month_is_not_a_monthly_series() -> None:
    times = [datetime(2024, 1, 15, tzinfo=UTC), datetime(2024, 2, 14, tzinfo=UTC)]
    with pytest.raises(DataError, match="not a supported timeframe"):
        infer_timeframe(_series(times))
