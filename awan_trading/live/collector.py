"""Python's cyclic garbage collector kept out of the way of a candle close's orders.

A full (generation 2) collection walks every tracked object of the process; with polars,
ccxt's markets and the strategy's frames alive, one took 60–85 ms in `benchmarks/live.py`,
and one landing between a candle close and its order's acknowledgement was the slowest order
of the day. So the live loop:

- **freezes** what exists once start-up is over (`freeze_startup`): modules, the exchange's
  markets, the book — objects that live as long as the process — move to the permanent
  generation, which collections skip;
- **defers** collection during a close's critical path (`deferred`): from the wake-up to the
  last acknowledgement. Allocation counts keep growing meanwhile, so the collection Python
  owes runs at the first allocation after, among the follow-ups. Reference counting frees
  everything without cycles at once either way; only cycles wait, for milliseconds.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


def freeze_startup() -> None:
    """Collect once, then move every surviving object to the permanent generation."""
    gc.collect()
    gc.freeze()


@contextmanager
def deferred() -> Iterator[None]:
    """No automatic collection inside the block (nested blocks and a caller that disabled the
    collector itself are respected)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
