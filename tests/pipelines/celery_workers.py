"""Local Celery workers for tests and benchmarks: real `celery … worker` processes.

Each worker is started exactly as the compose `celery-worker` service starts one
(`celery -A awan_pipelines.celery_app worker`), in its own process group so that stopping it
also ends the pool children it forked: no worker outlives the test, even after a failure.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[2]
CELERY = Path(sys.executable).with_name("celery")
READY_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Worker:
    name: str
    process: subprocess.Popen
    log: Path


def claim_redis_db(server: str = "redis://127.0.0.1:6379") -> tuple[int, str]:
    """An empty Redis database number of this caller's own, marked so no one else takes it.

    The broker's queue keys are fixed names (`dagster`, `_kombu.binding.*`), so isolation is by
    database: the first of 15..1 that is empty and whose claim key this caller set first.
    Returns the number and the claim's token (for `release_redis_db`)."""
    token = uuid.uuid4().hex
    for db in range(15, 0, -1):
        client = redis.Redis.from_url(f"{server}/{db}", socket_timeout=2)
        try:
            if client.dbsize() == 0 and client.set("awan:claim", token, nx=True, ex=3600):
                return db, token
        finally:
            client.close()
    raise RuntimeError("no free Redis database (1..15) to use as a Celery broker")


def release_redis_db(db: int, token: str, server: str = "redis://127.0.0.1:6379") -> None:
    """Empty the database again, only if the claim is still this caller's."""
    client = redis.Redis.from_url(f"{server}/{db}", socket_timeout=2)
    try:
        if client.get("awan:claim") == token.encode():
            client.flushdb()
    finally:
        client.close()


@contextmanager
def celery_workers(
    count: int, env: Mapping[str, str], logs: Path, concurrency: int = 1
) -> Iterator[list[Worker]]:
    """`count` workers named w1@…, wN@…, each with `concurrency` pool processes; yields once
    every worker logged `ready` (it has imported the code location and listens on the queue)."""
    logs.mkdir(parents=True, exist_ok=True)
    workers: list[Worker] = []
    try:
        for i in range(1, count + 1):
            log = logs / f"w{i}.log"
            with log.open("wb") as out:
                process = subprocess.Popen(
                    [
                        str(CELERY),
                        "-A",
                        "awan_pipelines.celery_app",
                        "worker",
                        "--loglevel=INFO",
                        f"--concurrency={concurrency}",
                        "--prefetch-multiplier=1",
                        "--without-gossip",
                        "--without-mingle",
                        "-n",
                        f"w{i}@%h",
                    ],
                    cwd=ROOT,
                    env=dict(env),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                    # Restore default signal handling: a parent started in the background may
                    # pass on an ignored SIGTERM.
                    preexec_fn=lambda: signal.signal(signal.SIGTERM, signal.SIG_DFL),
                )
            workers.append(Worker(f"w{i}", process, log))
        _wait_ready(workers)
        yield workers
    finally:
        for worker in workers:
            _stop(worker.process)


def _wait_ready(workers: list[Worker]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    pending = list(workers)
    while pending:
        for worker in list(pending):
            text = worker.log.read_text(errors="replace")
            if " ready." in text:
                pending.remove(worker)
            elif worker.process.poll() is not None:
                raise RuntimeError(f"celery worker {worker.name} exited:\n{text[-3000:]}")
        if pending and time.monotonic() > deadline:
            raise RuntimeError(f"celery workers not ready after {READY_TIMEOUT_S:.0f} s")
        time.sleep(0.2)


def _stop(process: subprocess.Popen) -> None:
    """Warm shutdown (SIGTERM to the group), then SIGKILL whatever is left of the group."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=15)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
