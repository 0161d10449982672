"""`awan live` on the embedded DuckDB store: the file is held through each close, released between.

Opened per operation, a DuckDB file costs ~15 ms a statement, several of which come before a
close's order; held for the whole run, no other process (the CLI, a Dagster run) could open it.
`LiveLoop.run_live` holds it from a second before each close through that close's step. The
probe is another process opening the file, as `awan positions` would.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import datetime, timedelta
from pathlib import Path

from awan_trading.config import AwanConfig
from awan_trading.live.clock import ReplayClock
from awan_trading.live.loop import LiveLoop
from awan_trading.live.runner import build_loop, plan_from
from awan_trading.storage import open_store
from awan_trading.storage.memory_cache import MemoryCache

_PROBE = "import duckdb, sys; duckdb.connect(sys.argv[1]).close()"


def another_process_opens(path: Path) -> bool:
    done = subprocess.run([sys.executable, "-c", _PROBE, str(path)], capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0 or "lock" in done.stderr.lower(), done.stderr[-500:]
    return done.returncode == 0


class ProbingClock(ReplayClock):
    """A replay clock that, when the loop waits for a second before a close (its store still
    released), asks whether another process can open the store's file."""

    def __init__(self, start: datetime, path: Path) -> None:
        super().__init__(start)
        self.path = path
        self.between_closes: list[bool] = []

    def wait_until(self, when: datetime, stop: threading.Event) -> bool:
        if when.second == 59 and len(self.between_closes) < 2:
            self.between_closes.append(another_process_opens(self.path))
        return super().wait_until(when, stop)


def test_the_store_is_held_through_each_close_and_released_between(tmp_path: Path) -> None:
    path = tmp_path / "live.duckdb"
    store = open_store(f"duckdb:///{path}", migrate=True)
    config = AwanConfig()
    plan = plan_from(config, mode="sim", execution="inline", symbols="BTC/USDT", timeframe="1m",
                     start="2024-03-01T00:00", end="2024-03-01T00:03")  # fmt: skip
    loop, _ = build_loop(plan, config, store, MemoryCache())
    clock = ProbingClock(plan.start, path)  # type: ignore[arg-type]
    during_steps: list[bool] = []
    step = loop.step

    def probed_step(close: datetime, **kw: object) -> object:
        report = step(close, **kw)  # type: ignore[arg-type]
        during_steps.append(another_process_opens(path))
        if close >= plan.start + timedelta(minutes=2):  # type: ignore[operator]
            loop.stop.set()
        return report

    loop.step = probed_step  # type: ignore[method-assign]
    assert isinstance(loop, LiveLoop)
    loop.run_live(clock, tick=60.0)
    assert during_steps == [False, False, False]  # held: the file is the loop's
    assert clock.between_closes == [True, True]  # released: the CLI could read it
    assert another_process_opens(path)  # and after the loop stopped
