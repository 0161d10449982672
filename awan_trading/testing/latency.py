"""Close → order acknowledged, timed on a live loop from outside it (tests and benchmarks).

The inline loop submits each signal's order up to the venue's acknowledgement
(`Executor.submit`) and does the follow-ups after every order of the close; so the time that
counts runs from the start of `LiveLoop.step` to `submit` returning an acknowledged order.
Wrapping the two methods keeps the loop itself free of timing code.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def time_acknowledgements(loop: Any, on_ack: Callable[[Any], None] | None = None) -> list[float]:
    """Milliseconds from each close to each of its orders' acknowledgement, filled in as the
    loop runs; `on_ack` sees each acknowledged result at that instant."""
    from awan_trading.execution.executor import Acked

    latencies: list[float] = []
    started = [0.0]
    step, submit = loop.step, loop.executor.submit

    def timed_step(close: Any, **kw: Any) -> Any:
        started[0] = time.perf_counter()
        return step(close, **kw)

    def timed_submit(signal: Any, **kw: Any) -> Any:
        # `Acked` when follow-ups remain; a result when the order needed none
        result = submit(signal, **kw)
        if isinstance(result, Acked) or getattr(result, "outcome", None) in ("filled", "placed"):
            latencies.append((time.perf_counter() - started[0]) * 1000.0)
            if on_ack is not None:
                on_ack(result)
        return result

    loop.step = timed_step
    loop.executor.submit = timed_submit
    return latencies
