"""The typer app object and the rules every command follows.

User mistakes (bad file, bad option, invalid config) end with one red line on stderr and exit
code 2 — never a traceback — so `awan_command` wraps each command body and turns any
`AwanError` into that line. The same wrapper sets logging up before the body runs, the way
every awan process does (`setup_logging`): `AWAN_LOG_LEVEL`/`AWAN_LOG_FORMAT` apply and every
secret in the settings is redacted from whatever any library logs. It does so in the wrapper
rather than in the app's callback because Click runs a group callback before the subcommand
parses `--help`, and help must not pay for pydantic-settings and structlog.

Import budget: `awan --help` imports this module and no command module (`LazyGroup` lists them
from `awan_trading/cli/commands.py`); `awan <cmd>` imports that command's module. So this module
stays light, and so does each command module at module level — see
`awan_trading/cli/__init__.py` for the pattern and `tests/unit/test_cli_imports.py` for the
guard.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from awan_trading.cli.lazy import LazyGroup
from awan_trading.errors import AwanError

app = typer.Typer(
    name="awan",
    cls=LazyGroup,
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
def _root() -> None:
    """awan: observable, replayable, safe crypto trading."""


def setup() -> None:
    """Load the settings and set logging up, as every awan process does before its work.

    An invalid setting (`AWAN_LOG_LEVEL=LOUD`) is a user mistake like any other: `AwanError`.
    """
    from awan_trading.config import load_settings
    from awan_trading.logs import setup_logging

    setup_logging(load_settings())


def awan_command(fn: Callable[P, R]) -> Callable[P, R]:
    """Set logging up, run the command, and turn `AwanError` into one line and exit code 2.

    Every command is wrapped in this: it is where an awan process's logging starts, so a
    command without it would log unredacted and at the wrong levels.
    """

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            setup()
            return fn(*args, **kwargs)
        except AwanError as exc:
            raise fail(str(exc)) from None

    wrapper.awan_command = True  # type: ignore[attr-defined]  (checked by the CLI tests)
    return wrapper
