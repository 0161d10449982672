"""The compiled backtest kernel is cached by every source it inlines, not only its own file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from awan_trading import jit_cache
from awan_trading.backtest import engine


def test_digest_changes_when_an_inlined_module_changes(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    for name in ("backtest", "execution"):
        (package / name).mkdir(parents=True)
        (package / name / "mod.py").write_text("x = 1\n")
    (package / "tolerance.py").write_text("RTOL = 1e-10\n")
    files = jit_cache.kernel_source_files(package)
    assert len(files) == 3
    before = jit_cache.source_digest(files)
    (package / "execution" / "mod.py").write_text("x = 2\n")  # e.g. the sizing rule
    assert jit_cache.source_digest(jit_cache.kernel_source_files(package)) != before


def test_awan_kernels_use_the_digest_keyed_locator() -> None:
    impl = engine.simulate._cache._impl
    locator = impl.locator
    assert isinstance(locator, jit_cache.AwanCacheLocator)
    assert locator.get_source_stamp() == jit_cache.source_digest(jit_cache.kernel_source_files())
    assert Path(locator.get_cache_path()).name == locator.get_source_stamp()


def test_a_read_only_package_falls_back_to_awan_home(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("AWAN_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(
        jit_cache, "cache_roots", lambda: [Path("/proc/nope"), tmp_path / "home" / "numba-cache"]
    )
    locator = jit_cache.AwanCacheLocator.from_function(
        engine.simulate.py_func, engine.simulate.py_func.__code__.co_filename
    )
    assert locator is not None
    assert Path(locator.get_cache_path()).parent == tmp_path / "home" / "numba-cache"


def test_a_second_process_loads_the_kernel_from_the_cache(tmp_path: Path) -> None:
    script = (
        "import polars as pl, numpy as np\n"
        "from awan_trading.backtest import engine\n"
        "from awan_trading.backtest.run import backtest_frame\n"
        "from datetime import datetime, timedelta, UTC\n"
        "n = 50\n"
        "ts = [datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=i) for i in range(n)]\n"
        "px = [100.0 + (i % 7) for i in range(n)]\n"
        "f = pl.DataFrame({'symbol': ['A'] * n, 'ts': ts, 'open': px, 'high': px, 'low': px,\n"
        "    'close': px, 'volume': [1.0] * n, 'enter_long': [i % 10 == 0 for i in range(n)],\n"
        "    'exit_long': [i % 10 == 5 for i in range(n)], 'score': [0.0] * n})\n"
        "f = f.with_columns(pl.col('ts').dt.cast_time_unit('ms'))\n"
        "backtest_frame(f, timeframe='1m')\n"
        "print(sum(engine.simulate.stats.cache_hits.values()),"
        " sum(engine.simulate.stats.cache_misses.values()))\n"
    )
    runs = [
        subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
        for _ in range(2)
    ]
    hits, misses = (int(x) for x in runs[-1].stdout.split())
    assert hits >= 1 and misses == 0, runs[-1].stdout + runs[-1].stderr
