"""Run many `awan` commands as separate processes while paying the CLI's imports once.

`python cli_fork_runner.py JOBS.json RESULTS.json` imports the `awan` app, then forks one
child per job. Each child is a process of its own, like `awan …` from a shell: it takes the
job's environment (exactly, nothing inherited), working directory and argv, writes to its own
stdout/stderr files through file descriptors 1 and 2, and ends like the real command would
(exit code from typer, an uncaught exception through `sys.excepthook`). What it shares with
its siblings is only the already-imported modules: logging, structlog and settings are set up
by the command itself, as in a fresh process. Importing the CLI takes 10-20 s on a busy
2-core machine, so a sweep of ~60 commands through `awan` itself would take most of an hour.

Jobs run in waves (all of wave 0, then wave 1, …), up to `--parallel` at a time: most
failing-path jobs just wait on timeouts. A job with `interrupt_on` gets SIGINT once that text
appears in its stdout (a server command), and every job is killed at its `timeout`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

POLL = 0.05


def _child(job: dict[str, Any]) -> None:
    """Become the command: never returns."""
    code = 1
    try:
        os.chdir(job["cwd"])
        os.environ.clear()
        os.environ.update(job["env"])
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for fd, name in ((1, "stdout"), (2, "stderr")):
            target = os.open(job[name], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(target, fd)
            os.close(target)
        from awan_trading.cli import app

        try:
            app(args=job["argv"], prog_name="awan")
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:
            sys.excepthook(*sys.exc_info())  # what the interpreter does with an uncaught error
            code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def _start(job: dict[str, Any]) -> int:
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        _child(job)
    return pid


def run(jobs: list[dict[str, Any]], parallel: int) -> dict[str, dict[str, float]]:
    """Run every job; return each job's exit code (negative: killed by that signal) and time."""
    results: dict[str, dict[str, float]] = {}
    for wave in sorted({job.get("wave", 0) for job in jobs}):
        pending = [job for job in jobs if job.get("wave", 0) == wave]
        running: dict[int, tuple[dict[str, Any], float, bool]] = {}
        while pending or running:
            while pending and len(running) < parallel:
                job = pending.pop(0)
                running[_start(job)] = (job, time.monotonic(), False)
            time.sleep(POLL)
            for pid, (job, started, interrupted) in list(running.items()):
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    results[job["name"]] = {
                        "rc": os.waitstatus_to_exitcode(status),
                        "seconds": round(time.monotonic() - started, 2),
                    }
                    del running[pid]
                    continue
                if time.monotonic() - started > job.get("timeout", 120):
                    os.kill(pid, signal.SIGKILL)
                marker = job.get("interrupt_on")
                out = Path(job["stdout"])  # not there until the child has opened it
                if marker and not interrupted and out.exists() and marker in out.read_text():
                    os.kill(pid, signal.SIGINT)
                    running[pid] = (job, started, True)
    return results


def main() -> None:
    jobs = json.loads(Path(sys.argv[1]).read_text())
    parallel = int(sys.argv[3]) if len(sys.argv) > 3 else 4
    import awan_trading.cli  # noqa: F401  (the one import every child shares)

    Path(sys.argv[2]).write_text(json.dumps(run(jobs, parallel)))


if __name__ == "__main__":
    main()
