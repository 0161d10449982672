"""Randomized kill runs of the order path: `python benchmarks/crash_runs.py [runs] [first seed]`.

Each run kills the executor at a random fault point (`AWAN_FAULT=crash_after:<point>:<n>`),
restarts it against the same loopback emulator and a fresh PostgreSQL database, and counts
orders per signal leg, protective lists per open position and store-vs-exchange
disagreements (`awan_trading.testing.crash`). Prints one line per run and the totals.
Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust), as the integration tests do.
"""

from __future__ import annotations

import sys
import tempfile
import uuid
from collections import Counter
from pathlib import Path

from scratch import postgres_store

from awan_trading.testing.crash import run_kill


def main(runs: int = 50, first_seed: int = 1000) -> int:
    totals: Counter[str] = Counter()
    points: Counter[str] = Counter()
    failed = []
    for seed in range(first_seed, first_seed + runs):
        name = f"awan_crash_{uuid.uuid4().hex[:8]}"
        with postgres_store(name) as url, tempfile.TemporaryDirectory() as work:
            r = run_kill(seed, Path(work), url)
        points[r.fault.split(":")[1]] += 1
        totals.update(
            runs=1, killed=int(r.killed), restarts_finished=int(r.finished), legs=r.legs,
            legs_with_one_order=r.legs_with_one_order, open_positions=r.open_positions,
            positions_with_one_list=r.positions_with_one_list, stray_lists=r.stray_lists,
            disagreements=len(r.disagreements),
        )  # fmt: skip
        print(f"seed {seed}: {r.fault:<26} killed={r.killed} ok={r.ok} "
              f"legs {r.legs_with_one_order}/{r.legs} lists {r.positions_with_one_list}/"
              f"{r.open_positions} stray {r.stray_lists} disagreements {len(r.disagreements)}",
              flush=True)  # fmt: skip
        if not r.ok:
            failed.append((seed, r.disagreements))
    print("fault points:", dict(sorted(points.items())))
    print("totals:", dict(totals))
    for seed, problems in failed:
        print(f"FAILED seed {seed}: {problems}")
    return 1 if failed else 0


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    raise SystemExit(main(*args))
