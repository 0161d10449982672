"""The typer app object and the rules every command follows.

User mistakes (bad file, bad option, invalid config) end with one red line on stderr and exit
code 2 — never a traceback — so `awan_command` wraps each command body and turns any
`AwanError` into that line. The app's callback runs before every command and sets logging up
the way every awan process does (`setup_logging`): `AWAN_LOG_LEVEL`/`AWAN_LOG_FORMAT` apply and
every secret in the settings is redacted from whatever any library logs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from awan_trading.config import load_settings
from awan_trading.errors import AwanError
from awan_trading.logs import setup_logging

app = typer.Typer(
    name="awan",
    help="awan: observable, replayable, safe crypto trading.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

USAGE_ERROR = 2

P = ParamSpec("P")
R = TypeVar("R")


def fail(message: str, code: int = USAGE_ERROR) -> typer.Exit:
    """Print one clear error line and return the Exit to raise.

    Only the first line of `message` is shown: messages that wrap a driver's error (DuckDB's
    catalog errors, libpq's hints) carry the cause there and follow it with context lines.
    """
    first = next((line.strip() for line in message.splitlines() if line.strip()), message)
    # A Text, not markup: a message quoting `[...]` (a list of timeframes) must print as is.
    err_console.print(Text.assemble(("error:", "bold red"), " ", first), soft_wrap=True)
    return typer.Exit(code)


@app.callback()
def _setup() -> None:
    """awan: observable, replayable, safe crypto trading."""
    try:
        settings = load_settings()
    except AwanError as exc:
        raise fail(str(exc)) from None
    setup_logging(settings)


def awan_command(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn `AwanError` raised by a command into one line and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except AwanError as exc:
            raise fail(str(exc)) from None

    return wrapper
