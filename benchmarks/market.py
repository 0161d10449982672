"""Market-data throughput: sim candle generation and candle validation on 1M 1m candles.

Each awan number is printed next to a named reference measured in the same run on the same
machine, so the ratio means something on any laptop:

- generation: numpy's own random walk (`default_rng().standard_normal(n).cumsum()`) turned
  into a candle frame — the floor of what producing 1M candles can cost; the sim does far more
  (hashing per lattice cell, a Brownian bridge, volatility, wicks, tick rounding) and is
  random-access, so the interesting number is how close it stays to that floor.
- validation: a straightforward vectorized pandas implementation of the same ten rules.

Run: `.venv/bin/python benchmarks/market.py` (or `make bench`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import polars as pl
from machine import describe

from awan_trading.exchange.sim_market import MINUTE_MS, SimMarket
from awan_trading.market.schema import CANDLE_SCHEMA, NUMERIC_COLUMNS, PRICE_COLUMNS
from awan_trading.market.timeframes import parse_timeframe, to_epoch_ms
from awan_trading.market.validation import findings_frame

ROWS = 1_000_000
CHUNKS = 10
REPEATS = 3
START = to_epoch_ms(datetime(2024, 1, 1, tzinfo=UTC))


def best_seconds(run: Callable[[], object], repeats: int = REPEATS) -> float:
    """Best wall time of `repeats` runs after one warm-up (the machine is shared and noisy)."""
    run()
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        run()
        times.append(time.perf_counter() - began)
    return min(times)


# --- generation --------------------------------------------------------------------------


def random_walk_frame(rows: int = ROWS) -> pl.DataFrame:
    """The reference: a Gaussian random walk of log prices as a candle frame."""
    log_price = (
        np.log(45_000.0) + 0.0007 * np.random.default_rng().standard_normal(rows + 1).cumsum()
    )
    price = np.exp(log_price)
    ts = pl.Series("ts", START + MINUTE_MS * np.arange(rows, dtype=np.int64))
    return pl.DataFrame(
        {
            "symbol": pl.repeat("BTC/USDT", rows, dtype=pl.String, eager=True),
            "ts": ts.cast(pl.Datetime("ms")).dt.replace_time_zone("UTC"),
            "open": price[:-1],
            "high": np.maximum(price[:-1], price[1:]),
            "low": np.minimum(price[:-1], price[1:]),
            "close": price[1:],
            "volume": np.ones(rows),
        },
        schema=CANDLE_SCHEMA,
    )


def sim_one_call(market: SimMarket, rows: int = ROWS) -> pl.DataFrame:
    return market.candles_1m("BTC/USDT", START, START + rows * MINUTE_MS)


def sim_chunked(market: SimMarket, rows: int = ROWS, chunks: int = CHUNKS) -> pl.DataFrame:
    size = rows // chunks
    return pl.concat(
        [
            market.candles_1m(
                "BTC/USDT", START + i * size * MINUTE_MS, START + (i + 1) * size * MINUTE_MS
            )
            for i in range(chunks)
        ]
    )


# --- validation --------------------------------------------------------------------------


def pandas_findings(frame: pd.DataFrame, timeframe_ms: int) -> pd.DataFrame:
    """The reference: the same ten rules, written the way one would in pandas.

    Returns symbol, ts (epoch ms), rule and detail for every finding, like `findings_frame`.
    """
    ts = frame["ts"].to_numpy(dtype=np.int64)
    symbol = frame["symbol"]
    by_symbol = pd.Series(ts, index=frame.index).groupby(symbol, sort=False)
    prev_row_ts = by_symbol.shift(1).to_numpy()
    numbers = frame[NUMERIC_COLUMNS].to_numpy()
    finite = np.isfinite(numbers).all(axis=1)
    o, h, lo, c, v = (frame[col].to_numpy() for col in NUMERIC_COLUMNS)
    max_oc, min_oc = np.maximum(o, c), np.minimum(o, c)

    order = np.lexsort((np.arange(len(frame)), ts, symbol.to_numpy()))
    sorted_ts = pd.Series(ts[order])
    step = sorted_ts.groupby(symbol.to_numpy()[order], sort=False).diff().to_numpy()
    gap_rows = order[step > timeframe_ms]

    masks = {
        "duplicate_ts": frame.duplicated(["symbol", "ts"], keep="first").to_numpy(),
        "out_of_order": ts < prev_row_ts,
        "misaligned_ts": ts % timeframe_ms != 0,
        "non_finite": ~finite,
        "non_positive_price": finite & (frame[PRICE_COLUMNS].to_numpy() <= 0).any(axis=1),
        "negative_volume": finite & (v < 0),
        "high_below_open_close": finite & (h < max_oc),
        "low_above_open_close": finite & (lo > min_oc),
        "high_below_low": finite & (h < lo),
    }
    details = {
        "duplicate_ts": lambda i: "another candle of this symbol has the same ts",
        "out_of_order": lambda i: f"ts is earlier than the previous row's {prev_row_ts[i]}",
        "misaligned_ts": lambda i: "ts is not on the grid",
        "non_finite": lambda i: " ".join(
            f"{col}={numbers[i, k]}" for k, col in enumerate(NUMERIC_COLUMNS)
        ),
        "non_positive_price": lambda i: f"open={o[i]} high={h[i]} low={lo[i]} close={c[i]}",
        "negative_volume": lambda i: f"volume={v[i]}",
        "high_below_open_close": lambda i: f"high={h[i]} < max(open, close)={max_oc[i]}",
        "low_above_open_close": lambda i: f"low={lo[i]} > min(open, close)={min_oc[i]}",
        "high_below_low": lambda i: f"high={h[i]} < low={lo[i]}",
    }
    parts = []
    for rule, mask in masks.items():
        rows = np.flatnonzero(mask)
        parts.append(
            pd.DataFrame(
                {"row": rows, "rule": rule, "detail": [details[rule](i) for i in rows]},
                dtype=object,
            )
        )
    parts.append(
        pd.DataFrame(
            {
                "row": gap_rows,
                "rule": "gap",
                "detail": [
                    f"missing {int(step[k] // timeframe_ms) - 1}"
                    for k in np.flatnonzero(step > timeframe_ms)
                ],
            },
            dtype=object,
        )
    )
    found = pd.concat(parts, ignore_index=True)
    found["symbol"] = symbol.to_numpy()[found["row"].to_numpy(dtype=np.int64)]
    found["ts"] = ts[found["row"].to_numpy(dtype=np.int64)]
    return found.sort_values(["row", "rule"], kind="stable")[["symbol", "ts", "rule", "detail"]]


def corrupt(frame: pl.DataFrame, every: int = 997) -> pl.DataFrame:
    """A copy with a sprinkling of broken rows, so both validators have findings to report."""
    idx = np.arange(frame.height)
    bad = idx % every == 0
    return frame.with_columns(
        high=pl.when(pl.Series(bad)).then(pl.col("low") * 0.99).otherwise(pl.col("high")),
        volume=pl.when(pl.Series(idx % (every * 3) == 1)).then(-1.0).otherwise(pl.col("volume")),
    ).filter(pl.Series(idx % (every * 5) != 2))  # gaps


def bench_validation(frame: pl.DataFrame) -> list[tuple[str, float, str, float]]:
    """Rows/s of `findings_frame` vs the pandas reference, clean and with findings.

    Both must agree on how many findings of each rule there are, or the comparison is void.
    """
    tf = parse_timeframe("1m")
    rows = []
    for label, candles in (("clean", frame), ("with findings", corrupt(frame))):
        as_pandas = candles.with_columns(pl.col("ts").dt.epoch("ms")).to_pandas()
        ours = findings_frame(candles, tf)
        theirs = pandas_findings(as_pandas, tf.ms)
        ours_counts = dict(ours.group_by("rule").len().iter_rows())
        theirs_counts = theirs["rule"].value_counts().to_dict()
        if ours_counts != theirs_counts:
            raise SystemExit(f"validators disagree ({label}): {ours_counts} vs {theirs_counts}")
        awan_s = best_seconds(lambda c=candles: findings_frame(c, tf))
        ref_s = best_seconds(lambda p=as_pandas: pandas_findings(p, tf.ms))
        rows.append(
            (
                f"validate 1M 1m candles ({label}, {len(ours)} findings)",
                candles.height / awan_s,
                "pandas, same 10 rules",
                candles.height / ref_s,
            )
        )
    return rows


def main() -> None:
    market = SimMarket(seed=1)
    frame = sim_one_call(market)
    if not sim_chunked(market).equals(frame):
        raise SystemExit("chunked generation differs from one call: determinism is broken")
    reference_s = best_seconds(random_walk_frame)
    results = [
        (
            "sim: generate 1M 1m candles, one call",
            ROWS / best_seconds(lambda: sim_one_call(market)),
            "numpy random walk → frame",
            ROWS / reference_s,
        ),
        (
            f"sim: generate 1M 1m candles, {CHUNKS} chunks",
            ROWS / best_seconds(lambda: sim_chunked(market)),
            "numpy random walk → frame",
            ROWS / reference_s,
        ),
        *bench_validation(frame),
    ]
    print(f"machine: {describe(f'polars {pl.__version__}')}\n")
    print("| benchmark | awan rows/s | reference | reference rows/s | awan / reference |")
    print("| --- | ---: | --- | ---: | ---: |")
    for name, ours, ref_name, theirs in results:
        print(f"| {name} | {ours:,.0f} | {ref_name} | {theirs:,.0f} | {ours / theirs:.2f} |")


if __name__ == "__main__":
    main()
