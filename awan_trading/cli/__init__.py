"""The `awan` command: one typer app, one module per family of commands.

`awan --help` lists the commands from `awan_trading/cli/commands.py` without importing their
modules; `awan <cmd> …` (and `awan <cmd> --help`) imports only the module defining `<cmd>`
(`awan_trading/cli/lazy.py`). Each command module is still imported whole to run one of its
commands, so its module level stays cheap. The pattern every command module follows:

- at module level: the standard library, `typer`, `awan_trading.cli.app` (`app`,
  `awan_command`, consoles, `fail`), `awan_trading.errors` and other plain-Python modules
  (`market.timeframes`, `indicators.params`); names needed only in annotations go under
  `if TYPE_CHECKING:` (modules use `from __future__ import annotations`);
- inside the command function (or the helper that needs it): polars, TA-Lib and the
  indicators, numba and the backtester, matplotlib, ccxt and the exchanges, the store and its
  drivers, dagster, `awan_trading.config` and `awan_trading.logs` (the `awan_command` wrapper
  sets logging up when a command runs, not when `--help` is asked for);
- option defaults and help texts are literals or come from light modules;
- each command is wrapped in `@awan_command` and has a row in `COMMANDS`.

`tests/unit/test_cli_imports.py` runs `awan --help` and every listed command's `--help` in a
fresh interpreter and fails when a heavy module is imported, checks the table against the
registered commands, and checks that running a command imports what it needs and no more.
"""

from awan_trading.cli.app import app

__all__ = ["app"]
