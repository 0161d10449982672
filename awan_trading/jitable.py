"""`@jitable`: a plain-Python rule that the numba backtest also compiles in, without numba here.

The fill, sizing and daily-loss rules (`execution.fills`, `execution.sizing`, `execution.risk`)
are one source for the backtest's compiled loop and for the live loop's plain Python. Marking
them with numba's `register_jitable` at definition would import numba (and llvmlite) into every
process that merely uses a rule — the live loop, the sim exchange — although only the backtest
compiles anything. `register_jitable` returns the function unchanged and only registers an
overload for it, so the registration can wait: `@jitable` records the function, and
`register_jitables()` registers every recorded one with numba. `backtest.engine` calls it at
import, before any kernel compiles; other code that compiles a rule calls it first too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable[..., object])

_pending: list[Callable[..., object]] = []


def jitable(fn: F) -> F:
    """Record `fn` for `register_jitables`; returns `fn` itself (plain Python when called)."""
    _pending.append(fn)
    return fn


def register_jitables() -> None:
    """Register every `@jitable` function imported so far with numba (each exactly once)."""
    from numba.extending import register_jitable

    while _pending:
        register_jitable(_pending.pop(0))
