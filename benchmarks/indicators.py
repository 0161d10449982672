"""Benchmark: awan's indicator set vs raw TA-Lib on numpy vs the `ta` library (pandas).

Run with `.venv/bin/python benchmarks/indicators.py`. Two workloads: one symbol × 1M candles
and 100 symbols × 10k candles, both as polars candle frames. The same indicator set everywhere
(Bollinger 20/2, EMA 9 and 21, RSI 14, Stochastic RSI 14/3/3, ATR 14, MACD 12/26/9):

- awan: `add_indicators(frame)` — includes grouping, numpy views and the polars columns out.
- raw TA-Lib: the same TA-Lib calls on numpy arrays prepared in advance (per symbol on
  pre-split arrays for the multi-symbol case), STOCH applied to RSI; no polars at all.
- ta: `ta`'s pandas indicator classes on a pandas frame per symbol. It is slow, so it runs on a
  slice and its time is scaled linearly to the full size (stated in the output).

Timings are best of N. Goals (issue 3): awan ≤ 1.3× raw TA-Lib, ≥ 50× faster than ta.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
import polars as pl
import talib
from machine import describe
from ta.momentum import RSIIndicator, StochRSIIndicator
from ta.trend import MACD, EMAIndicator
from ta.volatility import AverageTrueRange, BollingerBands

from awan_trading.indicators import add_indicators

REPEAT = 7
TA_REPEAT = 3


def candles(symbols: int, rows: int, seed: int = 7) -> pl.DataFrame:
    """A deterministic random-walk candle frame, symbols in contiguous time-ordered runs."""
    rng = np.random.default_rng(seed)
    n = symbols * rows
    close = 100 * np.exp(np.cumsum(rng.normal(0, 1e-3, n)))
    wick = close * np.abs(rng.normal(0, 1e-3, n))
    start = np.datetime64("2024-01-01T00:00", "ms")
    ts = np.tile(start + np.arange(rows) * np.timedelta64(60_000, "ms"), symbols)
    return pl.DataFrame(
        {
            "symbol": np.repeat([f"S{i:03d}/USDT" for i in range(symbols)], rows),
            "ts": pl.Series(ts).dt.replace_time_zone("UTC"),
            "open": close,
            "high": close + wick,
            "low": close - wick,
            "close": close,
            "volume": np.ones(n),
        }
    )


def raw_talib(close: np.ndarray, high: np.ndarray, low: np.ndarray) -> list[np.ndarray]:
    upper, mid, lower = talib.BBANDS(close, 20, 2.0, 2.0, 0)
    rsi = talib.RSI(close, 14)
    k, d = talib.STOCH(rsi, rsi, rsi, 14, 3, 0, 3, 0)
    macd, signal, hist = talib.MACD(close, 12, 26, 9)
    return [
        lower,
        mid,
        upper,
        talib.EMA(close, 9),
        talib.EMA(close, 21),
        rsi,
        k,
        d,
        talib.ATR(high, low, close, 14),
        macd,
        signal,
        hist,
    ]


def ta_library(frame: pd.DataFrame) -> list[pd.Series]:
    close, high, low = frame["close"], frame["high"], frame["low"]
    bands = BollingerBands(close, 20, 2)
    stoch = StochRSIIndicator(close, 14, 3, 3)
    macd = MACD(close, 26, 12, 9)
    return [
        bands.bollinger_lband(),
        bands.bollinger_mavg(),
        bands.bollinger_hband(),
        EMAIndicator(close, 9).ema_indicator(),
        EMAIndicator(close, 21).ema_indicator(),
        RSIIndicator(close, 14).rsi(),
        stoch.stochrsi_k(),
        stoch.stochrsi_d(),
        AverageTrueRange(high, low, close, 14).average_true_range(),
        macd.macd(),
        macd.macd_signal(),
        macd.macd_diff(),
    ]


def best(fn: Callable[[], object], repeat: int = REPEAT) -> float:
    fn()  # warm caches and lazy imports
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def workload(symbols: int, rows: int, ta_rows: int) -> dict[str, float | str]:
    frame = candles(symbols, rows)
    split = [
        tuple(part[c].to_numpy().copy() for c in ("close", "high", "low"))
        for part in frame.partition_by("symbol", maintain_order=True)
    ]
    awan = best(lambda: add_indicators(frame))
    raw = best(lambda: [raw_talib(*arrays) for arrays in split])
    ta_slice = [
        part.head(ta_rows).to_pandas()
        for part in frame.partition_by("symbol", maintain_order=True)[: max(1, symbols // 10)]
    ]
    ta_measured = best(lambda: [ta_library(p) for p in ta_slice], TA_REPEAT)
    ta_candles = sum(len(p) for p in ta_slice)
    ta_scaled = ta_measured * (symbols * rows) / ta_candles
    return {
        "workload": f"{symbols} symbol(s) × {rows:,} candles",
        "awan": awan,
        "raw": raw,
        "ta": ta_scaled,
        "ta_note": f"measured on {ta_candles:,} candles ({ta_measured:.3f} s), scaled ×"
        f"{symbols * rows / ta_candles:g}",
    }


def machine() -> str:
    c_version = talib.__ta_version__
    c_version = c_version.decode() if isinstance(c_version, bytes) else c_version
    return describe(
        f"polars {pl.__version__}",
        f"numpy {np.__version__}",
        f"TA-Lib {talib.__version__} (C {c_version})",
    )


def main() -> None:
    warnings.filterwarnings("ignore")
    results = [workload(1, 1_000_000, 100_000), workload(100, 10_000, 10_000)]
    print(f"Machine: {machine()}\n")
    print(f"Best of {REPEAT} (ta: best of {TA_REPEAT}); the full 12-column indicator set.\n")
    print("| workload | awan | raw TA-Lib | ta (pandas) | awan / raw TA-Lib | ta / awan |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        print(
            f"| {r['workload']} | {r['awan'] * 1e3:.1f} ms | {r['raw'] * 1e3:.1f} ms "
            f"| {r['ta'] * 1e3:,.0f} ms* | {r['awan'] / r['raw']:.2f}× "
            f"| {r['ta'] / r['awan']:.0f}× |"
        )
    print()
    for r in results:
        print(f"* ta, {r['workload']}: {r['ta_note']} (linear in candles).")
    print("\nGoals: awan / raw TA-Lib ≤ 1.3×; ta / awan ≥ 50×.")
    for r in results:
        ok = r["awan"] / r["raw"] <= 1.3 and r["ta"] / r["awan"] >= 50
        print(f"- {r['workload']}: {'met' if ok else 'MISSED'}")


if __name__ == "__main__":
    main()
