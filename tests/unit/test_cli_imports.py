"""The CLI's import budget: `--help` imports no heavy library, a command only what it uses.

Each case runs the `awan` entry point in a fresh interpreter (modules cached by this test
process would hide an import) and reads `sys.modules` when it exits. The command table that
`awan --help` is drawn from is checked against the commands the modules really register.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import typer.main

from awan_trading.cli.app import app
from awan_trading.cli.commands import COMMANDS
from awan_trading.cli.lazy import Placeholder

# What no `--help` may import: each costs from tens of milliseconds to seconds at start-up.
HEAVY = {
    "aiohttp", "ccxt", "dagster", "duckdb", "llvmlite", "matplotlib", "numba", "numpy", "pandas",
    "polars", "psycopg", "pyarrow", "redis", "scipy", "talib", "telegram",
}  # fmt: skip
# `awan --help` builds no command, so not even typer's pydantic adapters or the settings load.
ROOT_ONLY = {"pydantic", "pydantic_settings", "structlog"}

PROBE = """
import json, sys
report = sys.argv[2]
sys.argv = ["awan", *json.loads(sys.argv[1])]
from awan_trading.cli import app
code = 0
try:
    app()
except SystemExit as exc:
    code = exc.code
with open(report, "w") as out:
    json.dump({"code": code, "modules": sorted(sys.modules)}, out)
"""


def awan_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """This environment without AWAN_* settings, with a fresh AWAN_HOME."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWAN_")}
    return {**env, "AWAN_HOME": str(tmp_path / "home"), "COLUMNS": "120", **extra}


def run_awan(args: list[str], tmp_path: Path, **env: str) -> tuple[int, set[str], str]:
    """Exit code, top-level packages imported, and output (stdout, then stderr) of `awan ARGS`
    in a new process."""
    report = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args), str(report)],
        cwd=tmp_path,
        env=awan_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=240,
    )
    if not report.exists():
        pytest.fail(f"awan {' '.join(args)} crashed:\n{done.stderr}")
    result = json.loads(report.read_text())
    return result["code"], {m.split(".")[0] for m in result["modules"]}, done.stdout + done.stderr


def help_cases() -> list[list[str]]:
    cases = [[name, "--help"] for name in COMMANDS]
    return [*cases, ["db", "status", "--help"], ["cache", "warm", "--help"]]


def test_awan_help_lists_every_command_and_imports_nothing_heavy(tmp_path: Path) -> None:
    code, modules, _ = run_awan(["--help"], tmp_path)
    assert code == 0
    assert not modules & (HEAVY | ROOT_ONLY), sorted(modules & (HEAVY | ROOT_ONLY))
    assert not any(m.startswith("awan_trading.cli.") for m in modules)


@pytest.mark.parametrize("args", help_cases(), ids=" ".join)
def test_command_help_imports_nothing_heavy(args: list[str], tmp_path: Path) -> None:
    code, modules, stderr = run_awan(args, tmp_path)
    assert code == 0, stderr
    assert not modules & HEAVY, sorted(modules & HEAVY)


def test_the_table_matches_the_registered_commands() -> None:
    """Every registered command is listed, with its docstring's first paragraph as help, and
    every command (sub-groups' included) sets logging up through `awan_command`."""
    import importlib

    for entry in COMMANDS.values():
        importlib.import_module(f"awan_trading.cli.{entry.module}")
    group = typer.main.get_command(app)
    registered = {n: c for n, c in group.commands.items() if not isinstance(c, Placeholder)}
    assert list(registered) and set(registered) == set(COMMANDS)
    for name, command in registered.items():
        first = inspect.cleandoc(command.help or "").split("\n\n")[0].replace("\n", " ")
        assert first == COMMANDS[name].help, name
    callbacks = [info.callback for info in app.registered_commands]
    for sub in app.registered_groups:
        callbacks += [info.callback for info in sub.typer_instance.registered_commands]
    assert len(callbacks) >= len(COMMANDS)
    for callback in callbacks:
        assert getattr(callback, "awan_command", False), callback


@pytest.fixture
def candle_file(tmp_path: Path, btc_30m: pl.DataFrame) -> Path:
    path = tmp_path / "btc.parquet"
    btc_30m.write_parquet(path)
    return path


def test_validate_imports_polars_but_no_indicator_backtest_or_exchange(
    tmp_path: Path, candle_file: Path
) -> None:
    code, modules, stderr = run_awan(["validate", str(candle_file), "--timeframe", "30m"], tmp_path)
    assert code == 0, stderr
    assert "polars" in modules
    assert not modules & {"talib", "numba", "matplotlib", "ccxt", "dagster", "duckdb"}


def test_indicators_imports_talib_but_no_backtester(tmp_path: Path, candle_file: Path) -> None:
    out = tmp_path / "ind.parquet"
    code, modules, stderr = run_awan(["indicators", str(candle_file), str(out)], tmp_path)
    assert code == 0 and out.exists(), stderr
    assert "talib" in modules
    assert not modules & {"numba", "matplotlib", "ccxt", "dagster", "duckdb"}


def test_backtest_imports_matplotlib_only_to_draw(tmp_path: Path, candle_file: Path) -> None:
    base = ["backtest", "--data", str(candle_file), "--json"]
    code, modules, stderr = run_awan([*base, "--out", str(tmp_path / "a"), "--no-plots"], tmp_path)
    assert code == 0, stderr
    assert {"numba", "talib"} <= modules
    assert not modules & {"matplotlib", "ccxt", "dagster", "duckdb"}
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [
        "equity.parquet", "metrics.json", "trades.parquet"
    ]  # fmt: skip
    # A second process finds the kernels in numba's on-disk cache: nothing is compiled again.
    code, modules, output = run_awan(
        [*base, "--out", str(tmp_path / "b")], tmp_path, NUMBA_DEBUG_CACHE="1"
    )
    assert code == 0, output
    assert "matplotlib" in modules and not modules & {"ccxt", "dagster"}
    assert (tmp_path / "b" / "chart.png").stat().st_size > 0
    assert "[cache] data loaded" in output and "[cache] data saved" not in output, output


def test_db_status_imports_the_store_only(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'awan.duckdb'}"
    code, modules, stderr = run_awan(["db", "status", "--url", url], tmp_path)
    assert code == 0, stderr
    assert "duckdb" in modules
    assert not modules & {"talib", "numba", "matplotlib", "ccxt", "dagster", "psycopg"}


def test_a_bad_setting_is_one_line_when_a_command_runs_but_help_still_works(
    tmp_path: Path, candle_file: Path
) -> None:
    """Settings load when a command runs (in `awan_command`), no longer before `--help`."""
    env = awan_env(tmp_path, AWAN_LOG_LEVEL="LOUD")
    awan = [sys.executable, "-c", "from awan_trading.cli import app; app()"]
    run = subprocess.run(
        [*awan, "validate", str(candle_file)], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "log_level" in run.stderr, run.stderr
    helped = subprocess.run(
        [*awan, "validate", "--help"], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert helped.returncode == 0 and "--strict" in helped.stdout, helped.stderr


@pytest.mark.parametrize("command", ["trades", "positions"])
def test_store_readers_load_no_kernel(command: str, tmp_path: Path) -> None:
    """Reading trades and positions needs the store, not numba (the kernel's rules are
    registered with numba by the backtest engine, not where they are defined)."""
    code, modules, stderr = run_awan([command], tmp_path)
    assert code == 0, stderr
    assert "duckdb" in modules
    assert not modules & {"numba", "talib", "matplotlib", "ccxt", "dagster"}


def test_installs_compile_bytecode() -> None:
    """Where Python may not write .pyc files (PYTHONDONTWRITEBYTECODE, the image), only the
    bytecode compiled at install time spares every start compiling from source."""
    root = Path(__file__).resolve().parents[2]
    makefile = (root / "Makefile").read_text()
    assert re.search(r"^export UV_COMPILE_BYTECODE := 1$", makefile, re.M)
    install = re.search(r"^install:.*\n((?:\t.*\n)+)", makefile, re.M)
    assert install and "compileall -q awan_trading awan_pipelines" in install.group(1)
    dockerfile = (root / "Dockerfile").read_text()
    assert re.search(r"\bUV_COMPILE_BYTECODE=1\b", dockerfile)
    assert re.search(r"^RUN python -m compileall -q awan_trading awan_pipelines$", dockerfile, re.M)
