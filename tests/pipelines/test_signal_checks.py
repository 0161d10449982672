"""The blocking signal checks: duplicate ids, and signals on missing or broken candles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl

from awan_pipelines.assets.features import ON_VALID_CANDLES_CHECK, UNIQUE_IDS_CHECK, signal_checks
from awan_trading.exchange.sim import SimExchange
from awan_trading.exchange.sim_market import SimMarket
from awan_trading.market.timeframes import parse_timeframe
from awan_trading.signals import SIGNAL_SCHEMA

H1 = parse_timeframe("1h")
T0 = datetime(2024, 1, 2, tzinfo=UTC)


def candles() -> pl.DataFrame:
    return SimExchange(SimMarket(42)).fetch_ohlcv("BTC/USDT", H1, T0, T0 + timedelta(hours=10))


def signals(*hours: int, ids: list[str] | None = None) -> pl.DataFrame:
    ids = ids or [f"id{h}" for h in hours]
    return pl.DataFrame(
        {
            "signal_id": ids,
            "strategy": ["boll_stoch"] * len(hours),
            "params_hash": ["p"] * len(hours),
            "symbol": ["BTC/USDT"] * len(hours),
            "timeframe": ["1h"] * len(hours),
            "ts": [T0 + timedelta(hours=h) for h in hours],
            "side": ["buy"] * len(hours),
            "price": [1.0] * len(hours),
            "score": [0.0] * len(hours),
        },
        schema=SIGNAL_SCHEMA,
    )


def results(sigs: pl.DataFrame, frame: pl.DataFrame) -> dict[str, tuple[bool, dict]]:
    return {
        r.check_name: (r.passed, {k: v.value for k, v in r.metadata.items()})
        for r in signal_checks(sigs, frame, H1)
    }


def test_signals_on_valid_candles_pass():
    out = results(signals(1, 5, 9), candles())
    assert out[UNIQUE_IDS_CHECK][0] and out[ON_VALID_CANDLES_CHECK][0]


def test_duplicate_signal_ids_fail():
    out = results(signals(1, 2, ids=["same", "same"]), candles())
    assert out[UNIQUE_IDS_CHECK] == (False, {"signals": 2, "duplicates": 2})


def test_signal_on_a_missing_candle_fails():
    out = results(signals(1, 12), candles())  # hour 12 is outside the candles
    assert out[ON_VALID_CANDLES_CHECK] == (False, {"signals_on_bad_or_missing_candles": 1})


def test_signal_on_a_broken_candle_fails():
    frame = candles().with_columns(
        pl.when(pl.col("ts") == T0 + timedelta(hours=3))
        .then(pl.col("low") - 5)
        .otherwise(pl.col("high"))
        .alias("high")
    )
    out = results(signals(3, 4), frame)
    assert out[ON_VALID_CANDLES_CHECK] == (False, {"signals_on_bad_or_missing_candles": 1})
    assert out[UNIQUE_IDS_CHECK][0]


def test_no_signals_pass_both_checks():
    out = results(signals(), candles())
    assert out[UNIQUE_IDS_CHECK][0] and out[ON_VALID_CANDLES_CHECK][0]
