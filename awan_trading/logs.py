"""Structured logging with secret redaction on the rendered line.

Logs are how a trader audits a bot after the fact, so they are structured (JSON for machines,
a console renderer for people) — and they are where secrets leak: an API key inside an
exception message from a client library, a bot token inside a URL. Redaction therefore runs
on the final rendered text, after exception formatting, and covers stdlib loggers (ccxt,
urllib3, telegram) as well as structlog, by routing both through one formatter.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Iterable
from typing import Any

import structlog

REDACTED = "***"

# Shapes of secrets that must never be logged even when nobody registered the value.
_PATTERNS = [
    re.compile(r"\b\d{6,12}:[A-Za-z0-9_-]{30,}\b"),  # Telegram bot token
    re.compile(r"(?i)(?<=/bot)[^/\s]+"),  # token inside a Bot API URL
    re.compile(
        r"(?i)((?:api[_-]?key|api[_-]?secret|secret|password|passwd|token|signature|x-mbx-apikey)"
        r"[\"']?\s*[:=]\s*[\"']?)([^\s\"'&,}]+)"
    ),
    re.compile(r"(?<=://)([^:/@\s]+):([^@/\s]+)@"),  # user:password@ in URLs
]

_lock = threading.Lock()
_secrets: set[str] = set()


def register_secrets(values: Iterable[str | None]) -> None:
    """Add literal secret values (API keys, tokens, passwords) that every log line must hide."""
    with _lock:
        _secrets.update(v for v in values if v and len(v) >= 4)


def redact(text: str) -> str:
    """Replace every registered secret and every secret-shaped substring with `***`."""
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    text = _PATTERNS[0].sub(REDACTED, text)
    text = _PATTERNS[1].sub(REDACTED, text)
    text = _PATTERNS[2].sub(lambda m: m.group(1) + REDACTED, text)
    return _PATTERNS[3].sub(lambda m: f"{m.group(1)}:{REDACTED}@", text)


class RedactingFormatter(structlog.stdlib.ProcessorFormatter):
    """structlog's stdlib formatter whose output passes through `redact`."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is at emit time (test capture, daemon redirection)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass

    def handleError(self, record: logging.LogRecord) -> None:
        # The stdlib default prints the raw, unredacted message; say only that it failed.
        sys.stderr.write(f"--- logging error in {record.name} (message withheld) ---\n")


def configure_logging(
    level: str = "INFO", fmt: str = "console", secrets: Iterable[str | None] = ()
) -> None:
    """Route structlog and stdlib logging to stderr through one redacting formatter."""
    register_secrets(secrets)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any
    final: list[Any]
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer()
        # No locals in tracebacks: they hold credentials in shapes no pattern can know.
        tracebacks = structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
        final = [structlog.processors.ExceptionRenderer(tracebacks), renderer]
    else:
        final = [
            structlog.dev.ConsoleRenderer(
                colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
            )
        ]
    formatter = RedactingFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final],
    )
    handler = _StderrHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if not isinstance(h.formatter, RedactingFormatter)]
    root.addHandler(handler)
    root.setLevel(level)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)
