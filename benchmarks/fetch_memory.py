"""`awan fetch` peak memory and throughput over growing ranges (sim, 1m, one symbol).

Each range runs `awan fetch --out TMPDIR` in a fresh child process; its peak RSS comes from
`os.wait4` (the child's own `ru_maxrss`, so earlier runs do not mask later ones) and its
throughput is candles written / CPU time of the whole command (start-up included; CPU
time rather than wall time, because the cores are shared with other jobs). Memory that
does not grow with the range is the point: streaming keeps one window per symbol in memory.

Run: `.venv/bin/python benchmarks/fetch_memory.py [--days 31 --days 365 --days 1826]`; prints a
markdown table.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from machine import describe

START = date(2019, 1, 1)
SYMBOL = "BTC/USDT"


def run_fetch(days: int, out: Path) -> tuple[float, float, float]:
    """(peak RSS in MiB, wall seconds, CPU seconds) of one `awan fetch` over `days` of 1m."""
    end = START + timedelta(days=days)
    awan = Path(sys.executable).with_name("awan")
    args = [str(awan), "fetch", "--exchange", "sim", "--symbols", SYMBOL, "--timeframe", "1m",
            "--start", START.isoformat(), "--end", end.isoformat(), "--out", str(out)]  # fmt: skip
    t0 = time.perf_counter()
    child = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - t0
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"awan fetch over {days} days exited {child.returncode}")
    cpu = usage.ru_utime + usage.ru_stime  # robust to other jobs sharing the cores
    return usage.ru_maxrss / 1024.0, wall, cpu  # Linux reports ru_maxrss in KiB


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, action="append")
    days_list = parser.parse_args().days or [31, 365, 1826]
    print(f"machine: {describe()}")
    print("| range | candles | peak RSS | wall | CPU | candles per CPU-second |")
    print("| --- | --- | --- | --- | --- | --- |")
    for days in days_list:
        with tempfile.TemporaryDirectory() as tmp:
            rss, wall, cpu = run_fetch(days, Path(tmp))
        candles = days * 1440
        print(
            f"| {days} days | {candles:,} | {rss:,.0f} MiB | {wall:.1f} s | {cpu:.1f} s "
            f"| {candles / cpu:,.0f} |"
        )


if __name__ == "__main__":
    main()
