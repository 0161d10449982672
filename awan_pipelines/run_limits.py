"""Run limits: how long a run may stay in progress, and one run per symbol at a time.

A run whose process dies without reporting (SIGKILL, OOM kill, a code-server container that
restarts with its runs inside) stays `STARTED` and keeps its queued-coordinator slot for good.
When the run worker was launched by the DefaultRunLauncher and only the worker died, the code
server that spawned it notices and fails the run; nothing else does. The DefaultRunLauncher
has no worker health check and cannot resume a run, so for a run the code server no longer
watches (the code server died too, or the run executed in process — the demo) the monitoring
daemon's only lever is a maximum runtime: `dagster/max_runtime` on the run, else the
instance's `run_monitoring.max_runtime_seconds` (a generous backstop in `dagster.yaml`).

The per-run limits below are far above what a healthy run of that kind takes, so they only
ever end runs that are dead or hung.
"""

from __future__ import annotations

import dagster as dg

# One day × one symbol of every timeframe: seconds when healthy. Ten minutes is two ticks of
# `ingest_today`: a stuck run's slot is back before a third tick queues behind it.
INGEST_TODAY_MAX_RUNTIME_S = 600
# The demo's 7-day backfill and its reports take well under a minute on the sim exchange.
DEMO_MAX_RUNTIME_S = 1800


def max_runtime_tags(seconds: int) -> dict[str, str]:
    """Run tags that let the monitoring daemon end the run after `seconds` in progress."""
    if seconds <= 0:
        raise ValueError(f"a run's maximum runtime must be positive, got {seconds}")
    return {dg.MAX_RUNTIME_SECONDS_TAG: str(seconds)}


# `dagster.yaml` allows one in-progress run per value of this tag: runs that write or trade one
# symbol queue behind each other instead of racing on its rows and orders.
SYMBOL_TAG = "awan/symbol"


def symbol_tags(symbol: str) -> dict[str, str]:
    """The tag that puts a run under its symbol's concurrency limit."""
    return {SYMBOL_TAG: symbol}
