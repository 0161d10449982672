"""`awan db` / `awan cache`: bad addresses end in one line, and a status command creates nothing."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from awan_trading.cli import app

runner = CliRunner()
AWAN = Path(sys.executable).with_name("awan")


def _one_line_exit_2(result, *needles: str) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1, line
    for needle in needles:
        assert needle in line, line
    return line


def _dead_port() -> int:
    """A local port nothing listens on (bound then released, so connecting is refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_dead_postgres_port_is_one_line_naming_host_port_not_the_password(tmp_path):
    port = _dead_port()
    url = f"postgresql://bob:hunter2-secret@127.0.0.1:{port}/awan"
    env = {**os.environ, "AWAN_STORE_URL": url}
    # A real process: the pool's warnings came from background threads through logging.
    done = subprocess.run(
        [str(AWAN), "db", "status"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"127.0.0.1:{port}" in lines[0] and "Connection refused" in lines[0]
    assert "hunter2-secret" not in done.stderr + done.stdout
    assert list(tmp_path.iterdir()) == []


def test_a_garbage_redis_url_is_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AWAN_REDIS_URL", "garbage")
    monkeypatch.setenv("AWAN_STORE_URL", f"duckdb:///{tmp_path / 'store.duckdb'}")
    _one_line_exit_2(runner.invoke(app, ["cache", "warm"]), "invalid Redis URL 'garbage'")
    masked = "http://user:pa55word@h:1/0"
    line = _one_line_exit_2(
        runner.invoke(app, ["cache", "warm", "--redis-url", masked]), "invalid Redis URL"
    )
    assert "pa55word" not in line
    assert list(tmp_path.iterdir()) == []


def test_db_status_creates_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AWAN_STORE_URL", raising=False)
    monkeypatch.setenv("AWAN_HOME", str(tmp_path / "home"))
    result = runner.invoke(app, ["db", "status"])
    assert result.exit_code == 0, result.output
    assert "no database file yet" in result.stdout and "0 (latest" in result.stdout
    assert list(tmp_path.iterdir()) == []
    migrated = runner.invoke(app, ["db", "migrate"])
    assert migrated.exit_code == 0, migrated.output
    store = tmp_path / "home" / "awan.duckdb"
    before = store.stat().st_mtime_ns, sorted(p.name for p in store.parent.iterdir())
    status = runner.invoke(app, ["db", "status"])
    assert status.exit_code == 0 and "pending migrations │ none" in status.stdout
    assert (store.stat().st_mtime_ns, sorted(p.name for p in store.parent.iterdir())) == before


def test_a_multi_line_driver_error_still_prints_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AWAN_REDIS_URL", raising=False)
    store = tmp_path / "store.duckdb"
    import duckdb

    duckdb.connect(str(store)).close()  # a database without awan's tables: DuckDB's catalog
    monkeypatch.setenv("AWAN_STORE_URL", f"duckdb:///{store}")  # error spans several lines
    _one_line_exit_2(runner.invoke(app, ["cache", "warm"]), "Table with name candles")
