"""Sensor mode: the loop writes signals and waits; someone else executes them; same trades.

A thread plays the Dagster sensor and execution job: it reads `signals_after(cursor)` and hands
each signal to its own `Executor` over the same store and exchange, as a run of the execution
job would. The replay advances only once every signal of a close has an order or a refusal, so
the trades equal the backtest's on the same window, however late the executing side is.
"""

from __future__ import annotations

import threading
from pathlib import Path

from awan_trading.backtest.window import backtest_window, like_live_config
from awan_trading.config import AwanConfig
from awan_trading.domain.signals import SignalRecord
from awan_trading.domain.trades import closed_trades
from awan_trading.exchange.factory import open_exchange
from awan_trading.live.runner import build_executor, build_loop, plan_from, run_replay
from awan_trading.storage import open_store
from awan_trading.storage.memory_cache import MemoryCache
from awan_trading.storage.rows import fill_from_row

START, END = "2024-03-01T20:00", "2024-03-02T03:00"


def test_a_sensor_mode_replay_waits_for_execution_and_trades_like_the_backtest(
    tmp_path: Path,
) -> None:
    config = AwanConfig()
    plan = plan_from(config, mode="sim", execution="sensor", symbols="BTC/USDT,ETH/USDT",
                     timeframe="5m", strategy="boll_stoch", start=START, end=END)  # fmt: skip
    store = open_store(f"duckdb:///{tmp_path / 'live.duckdb'}", migrate=True)
    loop, clock = build_loop(plan, config, store, MemoryCache())
    job = build_executor(plan, config, loop.feed.exchange, store, clock)  # the "Dagster" side
    done = threading.Event()
    executed: list[str] = []

    def sensor() -> None:
        job.reconcile()
        cursor = 0
        while not done.is_set():
            for row in store.signals_after(cursor).iter_rows(named=True):
                cursor = row.pop("seq")
                job.execute(SignalRecord(**row))
                executed.append(row["signal_id"])
            done.wait(0.2)  # a sensor's tick: slower than the loop, on purpose

    worker = threading.Thread(target=sensor, daemon=True)
    worker.start()
    try:
        reports = run_replay(loop, clock, plan)
    finally:
        done.set()
        worker.join(timeout=30)
    signals = [r.signal_id for report in reports for r in report.signals]
    assert signals and executed == signals  # every signal, in the loop's order, once
    fills = [fill_from_row(r) for r in store.fills(exchange="sim").iter_rows()]
    [trade] = closed_trades(fills, exchange="sim")
    exchange = open_exchange("sim", config)
    [expected] = backtest_window(
        exchange, plan.symbols, plan.timeframe, plan.start, plan.end, plan.strategy,  # type: ignore[arg-type]
        like_live_config(config, exchange, plan.symbols),
    ).trades.to_dicts()  # fmt: skip
    assert (trade.entry_price, trade.exit_price, trade.amount) == (
        expected["entry_price"], expected["exit_price"], expected["amount"],
    )  # fmt: skip
