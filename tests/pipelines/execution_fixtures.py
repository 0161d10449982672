"""One sim exchange shared by every run of a test, and a count of the orders sent to it.

Dagster builds resources per run; a test that runs the execution job twice must see both runs
talk to one venue (as they would to Binance), so the resource hands out a registered object.
`CountingExchange` records every `create_order`: "one exchange order" is asserted on what
reached the venue, not on what the store says about it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

from awan_pipelines.resources import ExchangeResource
from awan_trading.exchange.sim import SimExchange
from awan_trading.exchange.sim_market import SimMarket

_VENUES: dict[str, Any] = {}


class CountingExchange:
    """Any exchange, with the client order ids of every order it was asked to create."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.created: Counter[str] = Counter()

    def create_order(self, symbol, side, type, amount, price=None, **kwargs):
        self.created[kwargs.get("client_order_id") or ""] += 1
        return self._inner.create_order(symbol, side, type, amount, price, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("_inner", "created"):
            object.__setattr__(self, name, value)
        else:
            setattr(self._inner, name, value)


def sim_venue(clock: Callable[[], datetime], *, seed: int = 42) -> CountingExchange:
    """The sim as `awan.toml`'s defaults open it, on a test clock, counting orders."""
    return CountingExchange(
        SimExchange(
            SimMarket(seed),
            fee_rate=0.001,
            slippage_bps=2.0,
            balances={"USDT": 10_000.0},
            clock=clock,
        )
    )


class SharedExchange(ExchangeResource):
    """`ExchangeResource` whose `get()` is the venue registered under `venue`."""

    venue: str = "default"

    def get(self):
        return _VENUES[self.venue]

    def account(self, store, timeframe):
        venue = _VENUES[self.venue]
        venue.match_timeframe = timeframe
        return venue


def share(name: str, venue: Any) -> SharedExchange:
    _VENUES[name] = venue
    return SharedExchange(venue=name)
