"""The live loop: candle close → order acknowledged, and replay throughput with 100 symbols.

1. **Latency**, inline mode (`awan live --execution inline`), per signal's order: from the
   candle close the loop wakes for (the start of `LiveLoop.step` for that close; in a replay
   the clock is already at the close) to the exchange's acknowledgement of that signal's order
   (its `create_order` returning: the venue accepted it, and for a market order reported the
   fill). Counted: every entry and exit order of a signal (`e…`/`x…` client order ids), not
   the protective lists or risk exits. In between, for that close: the candles fetched
   (missing tail only) and validated, indicators updated, the position manager's look at the
   venue (protective fills) and the control table, `decide`, the signals stored, and per
   order the risk check, sizing and the intent with its order row (one transaction), plus
   every earlier order of the same close up to its acknowledgement and its fills and order
   row recorded. Not in the figure
   (done after every order of the close was acknowledged): the orders' fills' follow-ups
   (positions projection, protective OCO, notification), trailing and protecting the other
   positions, the candles' and indicators' store and cache writes, the pair ranking, the
   heartbeat. Against the in-process sim, and against the loopback Binance emulator through
   the real ccxt library (HTTP on 127.0.0.1; the emulator runs in a process of its own, as a
   venue does, on the replay clock shared through memory); both run the same window, so
   they place the same orders. The loop is driven as the `awan live` daemon drives it
   (`LiveLoop.run_live`, on the replay clock): the store is held open from a second before
   each close through its step and released between closes. Store: DuckDB, or with
   `--store postgresql` a scratch database on the local PostgreSQL server (the production
   store; its single-row writes cost a third of DuckDB's on the order path). The
   emulator's client gets a rate limiter that never waits, so the figure is the loop's and
   the HTTP round trips', not Binance's request budget.
2. **Throughput**: a sim replay of 100 symbols on 1m (the loop's whole pipeline, inline,
   boll_stoch): candles per second, peak RSS (VmHWM: `ru_maxrss`, the process's peak so far,
   so this runs first and the emulator's ccxt is imported only after it) and CPU share
   (process CPU time / wall time).

Run: `.venv/bin/python benchmarks/live.py [--days 3] [--hours 2] [--store postgresql]`.
"""

from __future__ import annotations

import argparse
import multiprocessing
import queue
import resource
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from machine import cpu_model
from scratch import postgres_store

from awan_trading.config import AwanConfig
from awan_trading.domain.ids import parse_client_order_id
from awan_trading.live.clock import ReplayClock
from awan_trading.live.feed import CandleFeed
from awan_trading.live.loop import LiveLoop
from awan_trading.live.runner import build_executor, build_loop, plan_from, run_replay
from awan_trading.market.timeframes import from_epoch_ms, to_epoch_ms
from awan_trading.storage import Store, open_store
from awan_trading.storage.memory_cache import MemoryCache

SYMBOLS_2 = "BTC/USDT,ETH/USDT,SOL/USDT,BNB/USDT"
API_KEY = "bench-key-0123456789abcdef"
SIGNAL_LEGS = ("entry", "exit")  # a signal's own order (not a protective leg or a risk exit)
STARTUP: list[float] = []  # orders of the first close after start-up (`_instrument`), ms


def _instrument(loop: LiveLoop, orders: list[str]) -> list[float]:
    """Record, for each signal's order, the time from the start of the step of its candle close
    to the moment the exchange's `create_order` returned (the acknowledgement); its client
    order id goes to `orders`. The daemon's first close after start-up fetches every symbol's
    whole warm-up window (519 candles each) before it decides: an order of that close is
    counted in `orders` but its time goes to `STARTUP`, not into the figure."""
    latencies: list[float] = []
    started = [0.0]
    steps = [0]
    step = loop.step
    exchange = loop.executor.exchange  # type: ignore[attr-defined]
    create_order = exchange.create_order

    def timed_step(close: Any, **kw: Any) -> Any:
        started[0] = time.perf_counter()
        steps[0] += 1
        return step(close, **kw)

    def timed_create_order(symbol: str, side: str, type: str, *args: Any, **kw: Any) -> Any:
        report = create_order(symbol, side, type, *args, **kw)
        if type == "market" and parse_client_order_id(kw["client_order_id"]).leg in SIGNAL_LEGS:
            took = (time.perf_counter() - started[0]) * 1000.0
            (STARTUP if steps[0] == 1 else latencies).append(took)
            orders.append(kw["client_order_id"])
        return report

    loop.step = timed_step  # type: ignore[method-assign]
    exchange.create_order = timed_create_order
    return latencies


@contextmanager
def _store(kind: str, tmp: Path, label: str) -> Iterator[Store]:
    """The replay's store: a DuckDB file (the embedded default; held open by the replay) or a
    scratch PostgreSQL database (the production store), dropped afterwards."""
    if kind == "duckdb":
        yield open_store(f"duckdb:///{tmp / f'{label}.duckdb'}", migrate=True)
        return
    with postgres_store(f"awan_bench_live_{label}") as url:
        store = open_store(url)
        try:
            yield store
        finally:
            store.close()


def latency_sim(days: int, tmp: Path, orders: list[str], store_kind: str) -> list[float]:
    config = AwanConfig()
    plan = plan_from(config, mode="sim", symbols=SYMBOLS_2, timeframe="1m",
                     start="2024-03-01", end=f"2024-03-{1 + days:02d}")  # fmt: skip
    with _store(store_kind, tmp, "sim") as store:
        loop, clock = build_loop(plan, config, store, MemoryCache())
        latencies = _instrument(loop, orders)
        _run_as_the_daemon(loop, clock, plan.start, plan.end)  # type: ignore[arg-type]
    return latencies


def _run_as_the_daemon(loop: LiveLoop, clock: ReplayClock, start: datetime, end: datetime) -> None:
    """Drive the loop as `awan live` drives it (`LiveLoop.run_live`: the store held from a
    second before each close through its step, released between closes) on the replay
    clock, from `start` until the close at `end`. Ticks come once a candle: the sim and the
    emulator match resting orders on closed 1m candles, so a tick inside the minute would
    find nothing new."""
    clock.set(start)

    def until_end(report: Any) -> None:
        if report.close >= end:
            loop.stop.set()

    loop.run_live(clock, tick=loop.tf.ms / 1000.0, on_step=until_end)


class _SharedClock(ReplayClock):
    """The replay clock, mirrored into shared memory for the emulator's process."""

    def __init__(self, start: datetime, shared: Any) -> None:
        self.shared = shared
        super().__init__(start)
        shared.value = to_epoch_ms(start)

    def set(self, when: datetime) -> None:
        super().set(when)
        self.shared.value = to_epoch_ms(when)


def _serve_emulator(shared: Any, symbols: tuple[str, ...], timeframe: str, urls: Any) -> None:
    """The emulator in its own process (a venue is not the trader's process: its work must
    not take the loop's GIL), on the loop's replay clock read from shared memory."""
    from awan_trading.exchange.emulator import EmulatorServer, make_state

    config = AwanConfig()
    state = make_state(seed=config.sim.seed, symbols=symbols, api_key=API_KEY,
                       balances=dict(config.sim.starting_balance), fee_rate=config.sim.fee_rate,
                       slippage_bps=config.sim.slippage_bps,
                       clock=lambda: from_epoch_ms(shared.value))  # fmt: skip
    state.sim.match_timeframe = timeframe
    with EmulatorServer(state) as server:
        urls.put(server.url)
        threading.Event().wait()  # until the parent terminates this process


def _venue_url(venue: Any, urls: Any) -> str:
    """The emulator's URL once it listens; an emulator that died says so at once."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            return str(urls.get(timeout=0.5))
        except queue.Empty:
            if not venue.is_alive():
                raise RuntimeError(f"the emulator process exited ({venue.exitcode})") from None
    raise RuntimeError("the emulator process did not listen within 120 s")


def latency_emulator(days: int, tmp: Path, orders: list[str], store_kind: str) -> list[float]:
    config = AwanConfig()
    plan = plan_from(config, mode="sim", symbols=SYMBOLS_2, timeframe="1m",
                     start="2024-03-01", end=f"2024-03-{1 + days:02d}")  # fmt: skip
    assert plan.start is not None and plan.end is not None
    context = multiprocessing.get_context("spawn")
    shared, urls = context.Value("q", 0, lock=False), context.Queue()
    clock = _SharedClock(plan.start, shared)
    venue = context.Process(target=_serve_emulator, daemon=True,
                            args=(shared, plan.symbols, plan.timeframe, urls))  # fmt: skip
    venue.start()
    try:
        with _store(store_kind, tmp, "emu") as store:
            return _emulator_replay(plan, config, clock, _venue_url(venue, urls), store, orders)
    finally:
        venue.terminate()
        venue.join(timeout=30)


def _emulator_replay(
    plan: Any, config: AwanConfig, clock: _SharedClock, url: str, store: Store, orders: list[str]
) -> list[float]:
    # imported here: the throughput run comes first and its peak RSS is the process's, which
    # must be `awan live`'s on the sim — ccxt is not part of that
    from awan_trading.exchange.ccxt_exchange import CcxtExchange

    # A bucket that never waits: the figure is the loop's and the HTTP round trips', not
    # Binance's request budget (the limiter is bound when the connector is built).
    exchange = CcxtExchange("binance", api_key=API_KEY, secret="s", api_url=url,
                            order_lookup_delay=0.0, limiter_capacity=1e9)  # fmt: skip
    # ccxt's idea of "now" is the server's, synced every few minutes of wall time; in a
    # replay the server's clock jumps a minute per close, so the client reads the replay's
    exchange._now_ms = lambda: to_epoch_ms(clock.now())  # type: ignore[method-assign]
    feed = CandleFeed(exchange, store, MemoryCache(), venue="binance", symbols=plan.symbols,
                      timeframe=plan.timeframe, params=plan.strategy.indicator_params(),
                      rows=plan.strategy.lookback)  # fmt: skip
    executor = build_executor(plan, config, exchange, store, clock)
    loop = LiveLoop(feed, plan.strategy, store, MemoryCache(), executor, bot="bench",
                    execution="inline",
                    max_open_positions=config.risk.max_open_positions)  # fmt: skip
    latencies = _instrument(loop, orders)
    _run_as_the_daemon(loop, clock, plan.start, plan.end)
    return latencies


def throughput(hours: int, tmp: Path) -> dict[str, float]:
    config = AwanConfig()
    symbols = [f"C{i:03d}/USDT" for i in range(100)]  # the sim prices any BASE/QUOTE
    plan = plan_from(config, mode="sim", symbols=",".join(symbols), timeframe="1m",
                     start="2024-03-01", end=f"2024-03-01T{hours:02d}:00")  # fmt: skip
    store = open_store(f"duckdb:///{tmp / 'many.duckdb'}", migrate=True)
    loop, clock = build_loop(plan, config, store, MemoryCache())
    marks: list[tuple[float, float]] = []  # (wall, cpu) after each close

    def mark(_report: Any) -> None:
        marks.append((time.perf_counter(), time.process_time()))

    reports = run_replay(loop, clock, plan, on_step=mark)  # type: ignore[arg-type]
    # The first close fetches every symbol's whole warm-up window (519 candles each): the
    # steady state is measured from the end of that close on.
    candles = sum(r.candles for r in reports[1:])
    wall, cpu = marks[-1][0] - marks[0][0], marks[-1][1] - marks[0][1]
    return {
        "closes": len(reports) - 1,
        "candles": candles,
        "candles_per_s": candles / wall,
        "ms_per_close": wall / (len(reports) - 1) * 1000.0,
        "wall_s": wall,
        "cpu_share": cpu / wall,
        "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }


def _pct(values: list[float]) -> str:
    if not values:
        return "no orders"
    a = np.asarray(values)
    return (f"n={a.size} p50 {np.percentile(a, 50):.1f} ms, p99 {np.percentile(a, 99):.1f} ms, "
            f"max {a.max():.1f} ms")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=3, help="latency replay length (1m candles)")
    parser.add_argument("--hours", type=int, default=2, help="throughput replay length")
    parser.add_argument("--part", choices=("all", "latency", "throughput"), default="all")
    parser.add_argument(
        "--store", choices=("duckdb", "postgresql"), default="duckdb",
        help="the latency replays' store: the embedded DuckDB file (default) or a scratch "
        "database on the PostgreSQL server at 127.0.0.1:5432 (the production store)",
    )  # fmt: skip
    args = parser.parse_args()
    print(f"machine: {cpu_model()}")
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        if args.part != "latency":
            t = throughput(args.hours, tmp)  # first: the peak RSS is the process's so far
            print(
                f"100 symbols × 1m sim replay, steady state: {t['closes']} closes, "
                f"{t['candles']:,} candles in {t['wall_s']:.1f} s = {t['candles_per_s']:,.0f} "
                f"candles/s ({t['ms_per_close']:.0f} ms per close); peak RSS "
                f"{t['rss_mib']:.0f} MiB; CPU share {t['cpu_share']:.0%}"
            )
        if args.part != "throughput":
            sim_orders: list[str] = []
            emu_orders: list[str] = []
            store = args.store
            print(f"close → order acknowledged, sim, {store} store:              "
                  f"{_pct(latency_sim(args.days, tmp, sim_orders, store))}")  # fmt: skip
            print(f"close → order acknowledged, emulator via ccxt, {store} store: "
                  f"{_pct(latency_emulator(args.days, tmp, emu_orders, store))}")  # fmt: skip
            same = "yes" if sim_orders == emu_orders else "NO"
            print(f"same orders (client order ids, in order) in both: {same}")
            if STARTUP:
                print("orders of the first close after start-up (warm-up windows fetched), "
                      f"sim then emulator: {', '.join(f'{t:.1f} ms' for t in STARTUP)}")  # fmt: skip


if __name__ == "__main__":
    main()
