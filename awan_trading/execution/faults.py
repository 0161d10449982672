"""Fault points on the order path: where a test harness can kill the process on purpose.

"An order is placed at most once per signal, across crashes" is a claim about what happens
when the process dies between two steps, so it is shown by dying there. The executor calls
`fault_point(name)` after each step of the order path; with the environment variable

    AWAN_FAULT=crash_after:<point>        (the first time the process reaches <point>)
    AWAN_FAULT=crash_after:<point>:<n>    (the n-th time, counting from 1)

the process ends right there with `os._exit(137)` — no `finally`, no atexit, no buffered
write flushed, exactly like a SIGKILL (128 + 9) from the outside. Unset (the default) a fault
point is one dict lookup on an empty table.

Points, in order along the path (`POINTS`):
- `intent`: the order intent is recorded in the store, the exchange not yet called;
- `canceled`: a protective list was canceled (confirmed) — or, no leg being left to cancel,
  its legs were looked up and recorded — before the order that needed it gone (an exit's
  market sell, a trailing stop's replacement);
- `accepted`: the exchange accepted (or filled) the order, nothing recorded yet;
- `recorded`: order, fills and position are in the store, the protective list not yet placed;
- `protected`: the protective list rests on the exchange (or was not needed);
- `notified`: the notification was sent.
"""

from __future__ import annotations

import os
import sys

from awan_trading.errors import ConfigError

ENV = "AWAN_FAULT"
EXIT_CODE = 137  # what a shell reports for a SIGKILLed process
POINTS: tuple[str, ...] = ("intent", "canceled", "accepted", "recorded", "protected", "notified")

_armed: dict[str, int] = {}  # point → the hit that kills
_hits: dict[str, int] = {}


def parse_fault(spec: str) -> tuple[str, int]:
    """(point, n) of a `crash_after:<point>[:<n>]` spec; a typo is refused, never ignored."""
    parts = spec.strip().split(":")
    if len(parts) not in (2, 3) or parts[0] != "crash_after" or parts[1] not in POINTS:
        raise ConfigError(
            f"{ENV}={spec!r}: expected crash_after:<point>[:<n>] with a point among "
            f"{', '.join(POINTS)}"
        )
    n = parts[2] if len(parts) == 3 else "1"
    if not n.isdigit() or int(n) < 1:
        raise ConfigError(f"{ENV}={spec!r}: <n> must be a whole number ≥ 1")
    return parts[1], int(n)


def arm(spec: str | None) -> None:
    """Arm one fault (None or "" disarms all) and restart the hit counts."""
    _armed.clear()
    _hits.clear()
    if spec:
        point, n = parse_fault(spec)
        _armed[point] = n


def arm_from_env() -> None:
    """Arm what `AWAN_FAULT` says; called once when this module is imported."""
    arm(os.environ.get(ENV))


def fault_point(point: str) -> None:
    """Die here with `EXIT_CODE` if this point is armed and reached for the n-th time."""
    if not _armed:
        return
    if point not in POINTS:
        raise ValueError(f"unknown fault point {point!r}")
    target = _armed.get(point)
    if target is None:
        return
    _hits[point] = _hits.get(point, 0) + 1
    if _hits[point] == target:
        sys.stderr.write(f"{ENV}: crash_after:{point}:{target}\n")
        sys.stderr.flush()
        os._exit(EXIT_CODE)


arm_from_env()
