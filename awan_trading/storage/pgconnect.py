"""The first connection to PostgreSQL: fail fast, in one line, naming host:port.

A connection pool retries a dead server in the background with backoff and logs a warning
per attempt, and awan's retry loop waits out the pool's timeout per attempt: right for a
server that restarts under a running process, wrong for a typo'd port at start-up, which
used to cost ~25 s and a dozen warnings before the error. So the first use of a store makes
one plain connection with a short `connect_timeout`; only when that works is the pool opened.
"""

from __future__ import annotations

import psycopg
from psycopg.conninfo import conninfo_to_dict

from awan_trading.storage.base import StoreUnavailableError, mask_url


def endpoint(dsn: str) -> str:
    """`host:port` of a DSN or URL, with libpq's defaults; never the user or password."""
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "an unparsable address"
    host = str(params.get("host") or params.get("hostaddr") or "localhost")
    port = str(params.get("port") or "5432")
    return f"{host}:{port}"


def _reason(exc: psycopg.Error) -> str:
    """The useful tail of libpq's message: 'Connection refused', 'FATAL: database … does not
    exist', 'timeout expired' (its first line repeats host and port; the hint lines add nothing)."""
    lines = str(exc).strip().splitlines() or [type(exc).__name__]
    return mask_url(" ".join(lines[0].rsplit(" failed: ", 1)[-1].split()))


def probe(dsn: str, timeout: float) -> None:
    """Connect once and disconnect; raise `StoreUnavailableError` within ~`timeout` seconds."""
    try:
        psycopg.connect(dsn, connect_timeout=max(1, round(timeout)), autocommit=True).close()
    except psycopg.Error as exc:
        raise StoreUnavailableError(
            f"postgres store {mask_url(dsn)} unreachable at {endpoint(dsn)}: {_reason(exc)}"
        ) from None
