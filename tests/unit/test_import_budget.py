"""What `awan live` imports: a replay through the real command, in a fresh interpreter.

The live loop's peak memory is mostly start-up imports (README, benchmark "live loop, sim
replay, 100 symbols"). Libraries the loop never calls must stay out of it: pandas (TA-Lib would
import it: `indicators.talib_import`), numba and llvmlite (the backtest engine's compiler:
`awan_trading.jitable`), pyarrow (the DuckDB store hands DuckDB polars' own buffers through
the Arrow PyCapsule stream: `storage.duckdb_store.ArrowStream`), redis without a Redis URL (`storage.cache`), python-telegram-bot
without a bot token (`notify`), ccxt on the sim (`exchange.factory`), matplotlib (backtest
plots), and Dagster (`awan_trading` never imports it). A fresh interpreter is the only honest
place to look: the test process itself has imported all of these already.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

NOT_IMPORTED = (
    "pandas", "pyarrow", "numba", "llvmlite", "scipy", "redis", "telegram", "httpx", "ccxt", "matplotlib",
    "dagster",
)  # fmt: skip

_REPLAY = """
import json, sys
from awan_trading.cli import app
try:
    app(sys.argv[1:], standalone_mode=False)
finally:
    print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def _replay_modules(tmp_path: Path) -> set[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWAN_")}
    env.update(AWAN_STORE_URL=f"duckdb:///{tmp_path / 'live.duckdb'}", AWAN_HOME=str(tmp_path))
    args = ["live", "--mode", "sim", "--symbols", "BTC/USDT,ETH/USDT", "--timeframe", "1m",
            "--start", "2024-03-01T00:00", "--end", "2024-03-01T00:05"]  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", _REPLAY, *args], cwd=tmp_path, env=env, capture_output=True,
        text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "replayed 5 close(s)" in done.stdout, done.stdout
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_a_sim_replay_imports_none_of_the_libraries_the_loop_does_not_call(
    tmp_path: Path,
) -> None:
    modules = _replay_modules(tmp_path)
    assert {"awan_trading", "polars", "duckdb", "talib"} <= modules  # it did run the loop
    assert sorted(modules & set(NOT_IMPORTED)) == []
