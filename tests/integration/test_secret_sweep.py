"""No secret, of any shape, reaches any output of any `awan` command or of the demo.

For every awkward shape a password can take (`/`, `@`, a space, `%`, `:`, unicode, and all of
them at once), every CLI command runs as its own process with the secrets in its environment —
store password, Redis password, exchange key and secret, Telegram token — on its working path
and on the failing ones (PostgreSQL on a dead port, a Redis that refuses the password, a Redis
URL that does not parse), at DEBUG level in both log formats. Then stdout, stderr, every file the
commands wrote (`.awan`, outputs, logs) and every row of the store are searched for each secret's
unique core, which also finds it percent-encoded, JSON-escaped or quoted. Failing paths are
owned elsewhere (one-line errors); here only secrets are asserted on them.

The demo runs once, on PostgreSQL, with a password holding every awkward character at once;
its output, its Dagster storage (SQLite run and event records, compute logs) and the store
are searched the same way.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from psycopg import sql

from tests.conftest import PgDatabase

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
RUNNER = Path(__file__).with_name("cli_fork_runner.py")
AWAN = Path(sys.executable).with_name("awan")
# `{}` is replaced by a unique alphanumeric core per secret; the characters around it are the
# shape under test.
SHAPES = {
    "slash": "pw/{}/x",
    "at": "pw@{}@x",
    "space": "pw {} x",
    "percent": "pw%{}%2Fx%zz",
    "colon": "pw:{}:x",
    "unicode": "pwß{}ü密",
    "everything": "p/w@ {}%3A:ü#?&=x",
}
VARIABLES = ("store", "redis", "apikey", "apisecret", "telegram")
DEAD_PG = "postgresql://postgres:{}@127.0.0.1:1/x"
KEEP_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "NUMBA_CACHE_DIR")


@dataclass(frozen=True)
class Secrets:
    """One shape's secret values, by variable, and the unique core each one carries."""

    shape: str
    values: dict[str, str]
    cores: dict[str, str]

    @classmethod
    def make(cls, shape: str) -> Secrets:
        tag = uuid.uuid4().hex[:10]
        cores = {var: f"{var}{tag}" for var in VARIABLES}
        values = {var: SHAPES[shape].format(core) for var, core in cores.items()}
        return cls(shape, values, cores)

    def env(self, home: Path, store_url: str, redis_url: str, fmt: str) -> dict[str, str]:
        """A process environment carrying every secret, as a deployment would set it."""
        env = {k: os.environ[k] for k in KEEP_ENV if k in os.environ}
        return env | {
            "AWAN_HOME": str(home),
            "AWAN_STORE_URL": store_url,
            "AWAN_REDIS_URL": redis_url,
            "AWAN_EXCHANGE_API_KEY": self.values["apikey"],
            "AWAN_EXCHANGE_API_SECRET": self.values["apisecret"],
            "AWAN_TELEGRAM_TOKEN": f"123456789:{self.values['telegram']}",
            "AWAN_TELEGRAM_CHAT_ID": "42",
            "AWAN_LOG_LEVEL": "DEBUG",
            "AWAN_LOG_FORMAT": fmt,
        }

    def store_url(self, db: PgDatabase) -> str:
        """A working URL: trust auth ignores the (percent-encoded, as libpq needs) password."""
        return (
            f"postgresql://postgres:{quote(self.values['store'], safe='')}@127.0.0.1:5432/{db.name}"
        )

    def redis_url(self) -> str:
        """Reachable Redis, but it has no password: AUTH fails and the cache is bypassed."""
        return f"redis://:{quote(self.values['redis'], safe='')}@127.0.0.1:6379/0"


def find_leaks(data: bytes, secrets: list[Secrets]) -> list[str]:
    return [
        f"{s.shape}/{var}"
        for s in secrets
        for var, core in s.cores.items()
        if core.encode() in data
    ]


def dump_database(db: PgDatabase) -> bytes:
    """Every row of every table, as text: what anyone with read access to the store sees."""
    parts: list[str] = []
    with db.connect() as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
        ).fetchall()
        for (table,) in tables:
            query = sql.SQL("SELECT t::text FROM {} t").format(sql.Identifier(table))
            parts += [row[0] for row in conn.execute(query).fetchall()]
    return "\n".join(parts).encode()


def assert_no_leak_in_files(root: Path, secrets: list[Secrets]) -> None:
    """Search every file under `root`: outputs, logs, DuckDB and SQLite files."""
    for path in (p for p in root.rglob("*") if p.is_file()):
        leaks = find_leaks(path.read_bytes(), secrets)
        assert not leaks, f"{', '.join(leaks)} leaked into {path.relative_to(root)}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def shape_jobs(s: Secrets, root: Path, db: PgDatabase, fmt: str) -> list[dict]:
    """Every command, on its working path and its failing ones, for one shape."""
    work = root / s.shape
    home = work / ".awan"
    work.mkdir(parents=True)
    good = s.env(home, s.store_url(db), s.redis_url(), fmt)
    dead_store = good | {"AWAN_STORE_URL": DEAD_PG.format(s.values["store"])}
    garbage_redis = good | {"AWAN_REDIS_URL": f"redis://:{s.values['redis']}@garbage"}
    dead_telegram = good | {"AWAN_TELEGRAM_API_URL": f"http://127.0.0.1:{free_port()}/bot"}
    candles = str(work / "out" / "BTC_USDT-1m.parquet")
    window = ["--symbols", "BTC/USDT", "--start", "2024-01-01", "--end", "2024-01-03"]
    commands = [
        # (name, wave, env, argv)
        ("fetch", 0, good, ["fetch", *window, "--out", "out"]),
        ("db-migrate", 0, good, ["db", "migrate"]),
        ("db-status-dead-env", 0, dead_store, ["db", "status"]),
        (
            "db-status-dead-url",
            0,
            good,
            ["db", "status", "--url", DEAD_PG.format(s.values["store"])],
        ),
        ("cache-warm-garbage-redis", 0, garbage_redis, ["cache", "warm"]),
        ("validate", 1, good, ["validate", candles]),
        ("resample", 1, good, ["resample", candles, "--to", "1h", "--out", "out/h.parquet"]),
        ("indicators", 1, good, ["indicators", candles, "out/ind.parquet"]),
        (
            "backtest",
            1,
            good,
            ["backtest", "--data", candles, "--strategy", "boll_stoch", "--out", "bt"],
        ),
        ("fetch-store", 1, good, ["fetch", *window, "--store"]),
        ("db-status", 2, good, ["db", "status"]),
        ("status", 2, good, ["status", "--json"]),
        ("pause", 2, good, ["pause"]),
        ("telegram-test-dead", 0, dead_telegram, ["telegram", "test"]),
        ("cache-warm-bad-password", 2, good, ["cache", "warm", "-s", "BTC/USDT", "-t", "1m"]),
    ]
    jobs = [
        {
            "name": f"{s.shape}:{name}",
            "wave": wave,
            "env": env,
            "argv": argv,
            "cwd": str(work),
            "stdout": str(work / f"{name}.out"),
            "stderr": str(work / f"{name}.err"),
            # `backtest` at DEBUG logs numba's compiler passes: on a slow 2-core host with the
            # rest of the suite beside it, six at once took over 150 s in a clean clone's CI
            "timeout": 400 if name == "backtest" else 150,
        }
        for name, wave, env, argv in commands
    ]
    port = free_port()
    jobs.append(
        {
            "name": f"{s.shape}:emulator",
            "wave": 0,
            "env": good,
            "argv": ["emulator", "--port", str(port), "--api-key", s.values["apikey"]],
            "cwd": str(work),
            "stdout": str(work / "emulator.out"),
            "stderr": str(work / "emulator.err"),
            "timeout": 60,
            "interrupt_on": "exchange emulator on",
        }
    )
    return jobs


# Commands that must succeed, so the sweep is known to cover their working path.
MUST_SUCCEED = {
    "fetch",
    "db-migrate",
    "validate",
    "resample",
    "indicators",
    "backtest",
    "fetch-store",
    "db-status",
    "status",
    "pause",
}


@pytest.mark.timeout(1200)
def test_every_command_with_every_secret_shape_leaks_nothing(tmp_path, pg_databases):
    root = tmp_path / "sweep"
    control = tmp_path / "control"  # holds the job list (with the secrets): not searched
    control.mkdir()
    secrets = [Secrets.make(shape) for shape in SHAPES]
    databases = {s.shape: pg_databases("sweep") for s in secrets}
    jobs = [
        job
        for i, s in enumerate(secrets)
        for job in shape_jobs(s, root, databases[s.shape], ("console", "json")[i % 2])
    ]
    # The issue's own reproductions, through the installed `awan` script itself.
    everything = secrets[-1]
    direct_env = everything.env(root / "direct" / ".awan", "", "", "console")
    direct = {
        "db-status-dead": (
            direct_env | {"AWAN_STORE_URL": DEAD_PG.format(everything.values["store"])},
            ["db", "status"],
        ),
        "cache-warm-garbage": (
            direct_env | {"AWAN_REDIS_URL": f"redis://:{everything.values['redis']}@garbage"},
            ["cache", "warm"],
        ),
    }
    (root / "direct").mkdir(parents=True)
    processes = {
        name: subprocess.Popen(
            [str(AWAN), *argv],
            env={k: v for k, v in env.items() if v},
            cwd=root / "direct",
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for name, (env, argv) in direct.items()
    }
    (control / "jobs.json").write_text(json.dumps(jobs))
    runner = subprocess.run(
        [sys.executable, str(RUNNER), control / "jobs.json", control / "results.json", "6"],
        cwd=REPO,
        capture_output=True,
        timeout=900,
    )
    assert runner.returncode == 0, runner.stderr.decode(errors="replace")[-3000:]
    results = json.loads((control / "results.json").read_text())

    # Every leak and failure at once: one run of this sweep takes minutes.
    problems = [
        f"{leak} leaked into the runner"
        for leak in find_leaks(runner.stdout + runner.stderr, secrets)
    ]
    for job in jobs:
        name = job["name"].split(":", 1)[1]
        output = Path(job["stdout"]).read_bytes() + Path(job["stderr"]).read_bytes()
        problems += [f"{leak} leaked into {job['name']}" for leak in find_leaks(output, secrets)]
        if name in MUST_SUCCEED and results[job["name"]]["rc"] != 0:
            problems.append(f"{job['name']} failed:\n{output.decode(errors='replace')[-1500:]}")
    for name, process in processes.items():
        out, err = process.communicate(timeout=300)
        problems += [f"{leak} leaked into `awan` {name}" for leak in find_leaks(out + err, secrets)]
        if process.returncode == 0:
            problems.append(f"`awan` {name} succeeded against a dead service")
    files = [p for p in root.rglob("*") if p.is_file()]
    for path in files:
        where = path.relative_to(root)
        problems += [
            f"{leak} leaked into {where}" for leak in find_leaks(path.read_bytes(), secrets)
        ]
    for s in secrets:
        stored = dump_database(databases[s.shape])
        if b"BTC/USDT" not in stored:
            problems.append(f"fetch --store wrote nothing into the {s.shape} store")
        problems += [
            f"{leak} leaked into the {s.shape} store" for leak in find_leaks(stored, secrets)
        ]
        # The failing store path did run and print the masked URL (psycopg_pool's warnings
        # and awan's one-line error quote it).
        err = (root / s.shape / "db-status-dead-env.err").read_text(errors="replace")
        if "postgres:***@127.0.0.1" not in err:
            problems.append(f"{s.shape}: no masked URL in the dead store's error:\n{err[-1000:]}")
    assert not problems, "\n".join(problems)
    assert len(files) > len(jobs) * 2


DEMO_CONFIG = """
[universe]
symbols = ["ETH/USDT"]
timeframes = ["1h"]
history_start = 2024-01-01
"""


def test_the_demo_on_postgres_leaks_no_secret(tmp_path, pg_database):
    s = Secrets.make("everything")
    (tmp_path / "awan.toml").write_text(DEMO_CONFIG)
    env = s.env(tmp_path / "home", s.store_url(pg_database), s.redis_url(), "json")
    env["AWAN_CONFIG_FILE"] = str(tmp_path / "awan.toml")
    env["AWAN_LOG_LEVEL"] = "INFO"  # Dagster's DEBUG chatter would only slow the run down
    demo = subprocess.run(
        [sys.executable, "-m", "awan_pipelines.demo"],
        env=env | {"PYTHONPATH": str(REPO)},
        cwd=tmp_path,
        capture_output=True,
        timeout=600,
    )
    output = demo.stdout + demo.stderr
    assert demo.returncode == 0, output.decode(errors="replace")[-3000:]
    text = output.decode()
    assert "postgresql://postgres:***@127.0.0.1:5432/" in text  # the masked URL is shown
    assert not find_leaks(output, [s]), "a secret leaked into the demo's output"
    dagster_home = tmp_path / "home" / "dagster"
    runs = list(dagster_home.rglob("*.db"))
    assert runs, "the demo left no Dagster storage"
    assert any(b"ASSET_MATERIALIZATION" in p.read_bytes() for p in runs)
    assert_no_leak_in_files(tmp_path, [s])
    assert not find_leaks(dump_database(pg_database), [s])
