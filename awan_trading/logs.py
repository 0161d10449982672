"""Structured logging with secret redaction, set up the same way by every entry point.

Logs are how a trader audits a bot after the fact, so they are structured (JSON for machines,
a console renderer for people) — and they are where secrets leak: an API key inside an
exception message from a client library, a password inside a connection URL that psycopg_pool
quotes in a warning, a bot token inside a URL. `setup_logging(settings)` is the one set-up the
CLI, the demo, the Dagster code location and any daemon call. It redacts at two points:

- every `LogRecord` as it is created (a record factory), so whatever handler a library or
  Dagster adds later — its event-log handler, pytest's capture, `logging.lastResort` — only
  ever sees redacted text;
- the final rendered line of awan's own handler, after exception formatting, for what only
  exists once rendered (tracebacks, reprs).

Warnings and uncaught exceptions go through the same redactor. This module imports neither
dagster nor any other heavy library: every `awan` command runs it before doing anything.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from collections.abc import Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any

import structlog

from awan_trading.masking import MASK, redact, register_secrets

if TYPE_CHECKING:
    from awan_trading.config import Settings

REDACTED = MASK
__all__ = [
    "REDACTED",
    "configure_logging",
    "get_logger",
    "redact",
    "redact_record",
    "redact_value",
    "register_secrets",
    "setup_logging",
]
# Loggers shown at the level the user asks for; everything else (third-party) only from
# WARNING unless DEBUG is asked for, so a command is not buried in urllib3/psycopg chatter.
AWAN_LOGGERS = frozenset({"awan", "awan_trading", "awan_pipelines", "__main__"})


def redact_value(value: Any) -> Any:
    """`value` with secrets removed from every string in it (dicts, lists and tuples walked).

    Other objects are replaced by their redacted `repr` only when that repr held a secret, so
    ordinary values keep their type for the renderer.
    """
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict):
        return {k: v if k == "exc_info" else redact_value(v) for k, v in value.items()}
    if type(value) in (list, tuple):  # exact types: a namedtuple's constructor differs
        return type(value)(redact_value(v) for v in value)
    text = repr(value)
    clean = redact(text)
    return value if clean == text else clean


def _redact_event(_logger: Any, _method: str, event_dict: Any) -> Any:
    """structlog processor: redact values before a renderer escapes them (JSON's `\\"`)."""
    return redact_value(event_dict)


_PLAIN = logging.Formatter()


def redact_record(record: logging.LogRecord) -> None:
    """Rewrite a record in place so that no handler, whichever formatter it uses, sees a secret."""
    if isinstance(record.msg, dict):  # structlog's event dict, rendered by our formatter
        record.msg = redact_value(record.msg)
    else:
        try:
            text = record.getMessage()
        except Exception:  # bad %-args: the handler reports it (ours withholds the message)
            return
        clean = redact(text)
        if clean != text:
            record.msg, record.args = clean, ()
    if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
        # Formatters reuse `exc_text` instead of formatting the exception again.
        record.exc_text = redact(_PLAIN.formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


def _install_record_factory() -> None:
    """Wrap the current record factory once with `redact_record`."""
    current = logging.getLogRecordFactory()
    if getattr(current, "awan_redacting", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = current(*args, **kwargs)
        redact_record(record)
        return record

    factory.awan_redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


class RedactingFormatter(structlog.stdlib.ProcessorFormatter):
    """structlog's stdlib formatter whose output passes through `redact`."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class _PlainRedactingFormatter(logging.Formatter):
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


class _NotPrintedUpstream(logging.Filter):
    """Skip records a library's own console handler already printed on the way up.

    Dagster's `dagster` logger, for one, writes its lines itself and still propagates them:
    without this the code server would show each of them twice.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        logger = logging.Logger.manager.loggerDict.get(record.name)
        while isinstance(logger, logging.Logger) and logger is not logging.root:
            for handler in logger.handlers:
                if isinstance(handler, logging.StreamHandler) and not isinstance(
                    handler, logging.FileHandler
                ):
                    return False
            if not logger.propagate:
                break
            logger = logger.parent
        return True


def _excepthook(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    """An uncaught exception's traceback, redacted (its message may quote a URL)."""
    sys.stderr.write(redact("".join(traceback.format_exception(exc_type, exc, tb))))


def _thread_excepthook(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "?"
    text = "".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback))
    sys.stderr.write(redact(f"Exception in thread {name}:\n{text}"))


class _ThirdPartyAtWarning(logging.Filter):
    """Show third-party records from WARNING up, unless the user asked for DEBUG.

    A filter on awan's handler rather than levels on loggers: a logger's level would also
    silence the records Dagster's capture or a test's `caplog` asks for.
    """

    def __init__(self, verbose: bool) -> None:
        super().__init__()
        self.verbose = verbose

    def filter(self, record: logging.LogRecord) -> bool:
        if self.verbose or record.levelno >= logging.WARNING:
            return True
        return record.name.partition(".")[0] in AWAN_LOGGERS


def configure_logging(
    level: str = "INFO", fmt: str = "console", secrets: Iterable[str | None] = ()
) -> None:
    """Route structlog and stdlib logging to stderr through one redacting formatter.

    Idempotent: a second call replaces awan's handler instead of adding another.
    """
    register_secrets(secrets)
    _install_record_factory()
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    final: list[Any]
    if fmt == "json":
        # No locals in tracebacks: they hold credentials in shapes no pattern can know.
        tracebacks = structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
        final = [
            structlog.processors.ExceptionRenderer(tracebacks),
            _redact_event,
            # Literal unicode, so a registered non-ASCII secret is found in the rendered line.
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ]
    else:
        final = [
            _redact_event,
            structlog.dev.ConsoleRenderer(
                colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
            ),
        ]
    formatter = RedactingFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final],
    )
    handler = _StderrHandler()
    handler.setFormatter(formatter)
    wanted = logging.getLevelNamesMapping()[level.upper()]
    handler.addFilter(_NotPrintedUpstream())
    handler.addFilter(_ThirdPartyAtWarning(verbose=wanted <= logging.DEBUG))
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if not isinstance(h.formatter, RedactingFormatter)]
    root.addHandler(handler)
    root.setLevel(wanted)
    # Used when a record finds no handler at all (a non-propagating library logger).
    last_resort = _StderrHandler()
    last_resort.setLevel(logging.WARNING)
    last_resort.setFormatter(_PlainRedactingFormatter())
    logging.lastResort = last_resort
    logging.captureWarnings(True)  # warnings become `py.warnings` records: redacted too
    sys.excepthook = _excepthook
    threading.excepthook = _thread_excepthook
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


def setup_logging(settings: Settings) -> None:
    """The logging set-up of every awan process: level, format and every secret from `settings`.

    Called by the `awan` command (as each command starts), the demo, the Dagster code location
    at definitions load, and daemons. Secrets that arrive later (a `--url` option, a resource's
    config) are registered by the object that receives them (`PostgresStore`, `RedisCache`, the
    ccxt connector, the Telegram notifier).
    """
    configure_logging(settings.log_level, settings.log_format, settings.secret_values())


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)
