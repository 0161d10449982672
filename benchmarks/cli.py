"""`awan` start-up and a year-long backtest end to end, with and without PYTHONDONTWRITEBYTECODE.

Each case runs the `awan` entry point in a fresh child process, best of N wall times (the CPU
time of that run beside it: the cores are shared, so CPU time is the steadier figure). Cases:

- `awan --help` and `awan backtest --help`;
- `awan backtest --data <1 year of 1m, one pair> --strategy boll_stoch --out DIR`, with the
  plots and with `--no-plots`; the data file is made by `awan fetch --exchange sim` (2023,
  525,600 candles) and one run before timing fills numba's on-disk cache, as any earlier run
  on the machine would have.

Environments: bytecode writable (Python caches what it compiles); and PYTHONDONTWRITEBYTECODE=1,
as in the image and many CI containers, where only the .pyc files written at install time
help. `--reference COMMIT` times the same cases on another commit's `awan_trading` (exported
with `git archive`, first on PYTHONPATH, same venv); with PYTHONDONTWRITEBYTECODE=1 the
reference runs with no .pyc at all (PYTHONPYCACHEPREFIX at an empty folder), which is what
`uv sync` without bytecode compilation gave.

`--awan PATH` times another installation's entry point, e.g. one with the runtime dependencies
only, as the image installs them (the dev venv's bench group adds pandas, which TA-Lib then
imports, and scipy, which numba then probes for BLAS):
`UV_PROJECT_ENVIRONMENT=/tmp/awan-runtime UV_COMPILE_BYTECODE=1 .tools/bin/uv sync --frozen
--no-default-groups`, then `--awan /tmp/awan-runtime/bin/awan`.

Run: `.venv/bin/python benchmarks/cli.py [--runs 5] [--reference 15f792a] [--awan PATH]`; prints a
markdown table and the load average before and after.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

from machine import describe

ROOT = Path(__file__).resolve().parents[1]
GOALS = {"--help": 0.5, "backtest --help": 0.5, "backtest": 2.0, "backtest --no-plots": 2.0}
NEW_CASES = {"backtest --no-plots"}  # not timed on --reference


def run(awan: Path, args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one `awan ARGS`; exits on a non-zero status."""
    t0 = time.perf_counter()
    child = subprocess.Popen([str(awan), *args], env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)  # fmt: skip
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - t0
    stderr = child.stderr.read().decode() if child.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"awan {' '.join(args)} failed:\n{stderr}")
    return wall, usage.ru_utime + usage.ru_stime


def best_of(
    runs: int, awan: Path, args: list[str], env: dict[str, str], cwd: Path
) -> tuple[float, float]:
    """The fastest of `runs` runs after one untimed warm-up (numba cache, .pyc, page cache)."""
    run(awan, args, env, cwd)
    return min(run(awan, args, env, cwd) for _ in range(runs))


def export_tree(commit: str, into: Path) -> Path:
    """`awan_trading` as of `commit`, for PYTHONPATH."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "awan_trading"],
                             capture_output=True, check=True).stdout  # fmt: skip
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def environments(reference: Path | None, empty: Path) -> dict[str, dict[str, str]]:
    base = {k: v for k, v in os.environ.items()
            if k not in {"PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX", "PYTHONPATH"}}  # fmt: skip
    if reference is None:
        return {"bytecode written": base, "PYTHONDONTWRITEBYTECODE=1": {
            **base, "PYTHONDONTWRITEBYTECODE": "1"}}  # fmt: skip
    ref = {**base, "PYTHONPATH": str(reference)}
    return {
        "bytecode written": ref,
        "PYTHONDONTWRITEBYTECODE=1": {
            **ref, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": str(empty)},
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--reference", help="a commit to time the same cases on")
    parser.add_argument("--awan", type=Path, default=Path(sys.executable).with_name("awan"))
    options = parser.parse_args()
    awan = options.awan
    print(f"awan: {awan}")
    print(f"machine: {describe()}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "empty").mkdir()
        data = tmp / "data"
        run(awan, ["fetch", "--exchange", "sim", "--symbols", "BTC/USDT", "--timeframe", "1m",
             "--start", "2023-01-01", "--end", "2024-01-01", "--out", str(data)],
            os.environ.copy(), tmp)  # fmt: skip
        backtest = ["backtest", "--data", str(data), "--strategy", "boll_stoch", "--out"]
        cases = {
            "--help": ["--help"],
            "backtest --help": ["backtest", "--help"],
            "backtest": [*backtest, str(tmp / "out")],
            "backtest --no-plots": [*backtest, str(tmp / "out2"), "--no-plots"],
        }
        trees: dict[str, Path | None] = {"awan": None}
        if options.reference:
            trees[options.reference] = export_tree(options.reference, tmp / "reference")
        results: dict[tuple[str, str, str], tuple[float, float]] = {}
        for tree, path in trees.items():
            for env_name, env in environments(path, tmp / "empty").items():
                for case, args in cases.items():
                    if path is not None and case in NEW_CASES:
                        continue  # the option did not exist there
                    results[tree, env_name, case] = best_of(options.runs, awan, args, env, tmp)
    head = " | ".join(f"{tree} wall (CPU)" for tree in trees)
    print(f"\n| command | environment | {head} | goal |")
    print("| --- | --- | " + "--- | " * len(trees) + "--- |")
    for case in cases:
        for env_name in ("bytecode written", "PYTHONDONTWRITEBYTECODE=1"):
            cells = " | ".join(
                "{:.2f} s ({:.2f} s)".format(*results[key]) if key in results else "n/a"
                for key in ((tree, env_name, case) for tree in trees)
            )
            print(f"| `awan {case}` | {env_name} | {cells} | < {GOALS[case]} s |")
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"best of {options.runs} runs each, after one warm-up run")


if __name__ == "__main__":
    main()
