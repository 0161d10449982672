"""The root command group: lists every command from a table, imports one only to run it.

Typer builds a click group from the commands registered on the app, which means importing
every command module — and before this group, every module's dependencies — to print
`awan --help`. `LazyGroup` (Click's documented lazy-loading pattern, on typer's group class)
fills the listing from `awan_trading.cli.commands.COMMANDS` with placeholders that carry only
the help line, and swaps a placeholder for the real command when the command line names it:
`awan backtest …` imports `awan_trading.cli.backtest` and nothing else of the CLI.
"""

from __future__ import annotations

import importlib
from typing import Any

from typer.core import TyperCommand, TyperGroup

from awan_trading.cli.commands import COMMANDS


class Placeholder(TyperCommand):
    """A listed command whose module has not been imported: a name and a help line."""

    def invoke(self, ctx: Any) -> Any:
        # Unreachable through `LazyGroup.resolve_command`; a placeholder must never run silently.
        raise RuntimeError(f"awan {self.name}: its module was not loaded")


def load_command(name: str) -> Any:
    """Import the module that defines `name` and return its click command (or sub-group)."""
    import typer.main

    from awan_trading.cli.app import app

    module = f"awan_trading.cli.{COMMANDS[name].module}"
    importlib.import_module(module)  # registers its commands on `app`
    command = typer.main.get_command(app).commands.get(name)  # type: ignore[attr-defined]
    if command is None or isinstance(command, Placeholder):
        raise RuntimeError(f"{module} defines no command {name!r} (awan_trading/cli/commands.py)")
    return command


class LazyGroup(TyperGroup):
    """The `awan` group: placeholders for unloaded commands, loaded when resolved."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        loaded = dict(self.commands)  # commands whose modules were imported already
        commands: dict[str, Any] = {
            name: loaded.pop(name, None) or Placeholder(name, help=entry.help)
            for name, entry in COMMANDS.items()
        }
        commands.update(loaded)  # registered but missing from the table (a test flags these)
        self.commands = commands

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and isinstance(self.commands.get(args[0]), Placeholder):
            self.commands[args[0]] = load_command(args[0])
        return super().resolve_command(ctx, args)
