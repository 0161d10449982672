"""Progress of a long download on stderr: a live bar on a terminal, plain lines in a log.

stdout carries a command's result (the summary table, JSON), so progress never goes there.
On a terminal a rich bar per symbol shows windows and candles done and an ETA; when stderr is
a file or a pipe (cron, CI, `2> log`), redrawn bars would be noise, so one line is printed per
tenth of a symbol's windows and one when it completes.
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

PLAIN_STEPS = 10  # lines per symbol when stderr is not a terminal


def _duration(seconds: float) -> str:
    hours, rest = divmod(round(seconds), 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


class FetchProgress(AbstractContextManager["FetchProgress"]):
    """One task per symbol: `start(label, windows)`, then `advance(windows, candles)`."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._live = console.is_terminal
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        # Plain mode's state for the current symbol (the live bar keeps its own).
        self._label, self._total, self._done, self._candles = "", 0, 0, 0
        self._started, self._next_line = 0.0, 0

    def __enter__(self) -> FetchProgress:
        if self._live:
            self._bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("windows · {task.fields[candles]:,} candles"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=self._console,
                transient=False,
            )
            self._bar.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.__exit__(exc_type, exc, tb)

    def start(self, label: str, windows: int) -> None:
        self._label, self._total, self._done, self._candles = label, windows, 0, 0
        self._started, self._next_line = time.monotonic(), 1
        if self._bar is not None:
            self._task = self._bar.add_task(label, total=windows, candles=0)

    def advance(self, windows: int, candles: int) -> None:
        self._done += windows
        self._candles += candles
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, advance=windows, candles=self._candles)
            return
        # Plain lines at each tenth of the windows, and always at the end.
        step = max(1, -(-self._total // PLAIN_STEPS))
        if self._done < self._total and self._done < self._next_line * step:
            return
        self._next_line = self._done // step + 1
        elapsed = time.monotonic() - self._started
        line = (
            f"{self._label}: {self._done}/{self._total} windows, {self._candles:,} candles, "
            f"{_duration(elapsed)} elapsed"
        )
        if self._done < self._total:
            remaining = elapsed / self._done * (self._total - self._done)
            line += f", ETA {_duration(remaining)}"
        self._console.print(line, highlight=False, soft_wrap=True)
