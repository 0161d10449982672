"""What the control table asks of the position manager: a pure fold over pending requests.

The live loop reads `Store.pending_controls(bot)` once per wake-up, hands the requests here,
applies the outcome (pause flag into `RiskState.paused`, force-exits as exit orders) and then
marks every request in `handled` as done. Requests apply in id order, so "pause, resume" ends
resumed and "resume, pause" ends paused, whatever order the rows came back in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from awan_trading.storage.base import ControlRequest


@dataclass(frozen=True)
class ControlOutcome:
    """The pause flag after the requests, the symbols to close now, and the request ids seen."""

    paused: bool
    force_exits: tuple[str, ...]  # held symbols to close at market, in request order
    handled: tuple[int, ...]


def apply_controls(
    paused: bool, requests: Iterable[ControlRequest], open_positions: Iterable[str]
) -> ControlOutcome:
    """Fold pause / resume / force-exit requests into the current state.

    A force-exit without a symbol closes every open position; one naming a symbol that holds
    nothing is still marked handled (the caller logs it via `risk.check_exit`'s `no_position`
    refusal), so it is not retried forever.
    """
    held = list(open_positions)
    exits: list[str] = []
    handled: list[int] = []
    for request in sorted(requests, key=lambda r: r.id):
        handled.append(request.id)
        if request.action == "pause":
            paused = True
        elif request.action == "resume":
            paused = False
        else:
            for symbol in held if request.symbol is None else [request.symbol]:
                if symbol not in exits:
                    exits.append(symbol)
    return ControlOutcome(paused=paused, force_exits=tuple(exits), handled=tuple(handled))
