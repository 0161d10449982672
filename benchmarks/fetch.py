"""Candle fetch throughput: through real ccxt from the loopback emulator vs the sim directly,
and what the shared rate limiter costs per call.

- sim direct: `SimExchange.fetch_ohlcv` over the range (generation only: the ceiling).
- ccxt via emulator: `CcxtExchange.fetch_ohlcv` over the same range against the loopback
  Binance-spot emulator — the full production path: 1000-candle pages over HTTP, ccxt's
  parsing, awan's shared token bucket (binance's real rateLimit and klines cost), raw-order
  checks and candle validation per page. The result is compared with the sim's frame, so the
  number is for correct candles only. Server and client share this machine's cores.
- rate limiter: `TokenBucket.acquire` when it never has to wait (pure overhead), uncontended
  and with 2 threads on one bucket; plus the bucket's own pacing of binance klines pages.

Run: `.venv/bin/python benchmarks/fetch.py [--days N] [--repeat N]`; prints a markdown table.
"""

from __future__ import annotations

import argparse
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import ccxt
from machine import describe
from polars.testing import assert_frame_equal

from awan_trading.exchange.ccxt_exchange import CcxtExchange
from awan_trading.exchange.emulator import EmulatorServer, make_state
from awan_trading.exchange.rate_limit import TokenBucket

SEED = 42
SYMBOL = "BTC/USDT"
START = datetime(2024, 1, 1, tzinfo=UTC)


def machine() -> str:
    return describe(f"ccxt {ccxt.__version__}")


def best(fn, repeat: int) -> float:
    """Best wall time of `repeat` runs (the least disturbed by other processes)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def limiter_overhead(calls: int, threads: int) -> float:
    """Nanoseconds per `acquire` on a bucket fast enough never to make anyone wait."""
    bucket = TokenBucket(rate=1e12, capacity=1e12)
    per_thread = calls // threads

    def work() -> None:
        for _ in range(per_thread):
            bucket.acquire(0.4)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    t0 = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return (time.perf_counter() - t0) / (per_thread * threads) * 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=7, help="days of 1m candles per fetch")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    end = START + timedelta(days=args.days)
    candles = args.days * 1440

    with EmulatorServer(make_state(seed=SEED)) as server:
        sim = server.state.sim
        expected = sim.fetch_ohlcv(SYMBOL, "1m", START, end)
        sim_s = best(lambda: sim.fetch_ohlcv(SYMBOL, "1m", START, end), args.repeat)
        exchange = CcxtExchange("binance", api_url=server.url, api_key=uuid.uuid4().hex)
        fetched = exchange.fetch_ohlcv(SYMBOL, "1m", START, end)  # warm-up: markets, time
        assert_frame_equal(fetched, expected)
        waited_before = exchange.limiter.waited
        pages_before = server.state.count("/api/v3/klines")
        ccxt_s = best(lambda: exchange.fetch_ohlcv(SYMBOL, "1m", START, end), args.repeat)
        pages = (server.state.count("/api/v3/klines") - pages_before) / args.repeat
        paced_ms = (exchange.limiter.waited - waited_before) / args.repeat / pages * 1000
        klines_cost_ms = exchange._client.rateLimit * 0.4  # binance klines cost (weight 2)

    solo = limiter_overhead(200_000, 1)
    duo = limiter_overhead(200_000, 2)
    print(f"machine: {machine()}")
    print(f"range: {args.days} days of 1m {SYMBOL} candles ({candles:,}), best of {args.repeat}\n")
    print("| path | candles/s | per 1000-candle page |")
    print("| --- | ---: | ---: |")
    print(
        f"| sim direct (`SimExchange`) | {candles / sim_s:,.0f} | {sim_s / candles * 1e6:.1f} ms |"
    )
    print(
        f"| ccxt via emulator (HTTP, paced, validated) | {candles / ccxt_s:,.0f} "
        f"| {ccxt_s / pages * 1000:.1f} ms |"
    )
    print()
    print("| rate limiter | per call |")
    print("| --- | ---: |")
    print(f"| `acquire`, no wait, 1 thread | {solo:,.0f} ns |")
    print(f"| `acquire`, no wait, 2 threads on one bucket | {duo:,.0f} ns |")
    print(
        f"| pacing of binance klines pages (cost 0.4 × rateLimit {exchange._client.rateLimit} ms "
        f"= {klines_cost_ms:.0f} ms min spacing) | {paced_ms:.2f} ms waited per page |"
    )


if __name__ == "__main__":
    main()
