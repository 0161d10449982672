"""Scriptable faults for the loopback exchange emulator.

The connector's retry, back-off and lost-reply rules only matter when something goes wrong,
so each test scripts exactly what goes wrong and where: "the next two klines requests get a
429 with Retry-After 1", "the next order is accepted but its reply never arrives", or, for the
soak test, "every request has a 30% chance of a random fault from this list", seeded so that a
failure reproduces. The script is shared between the test thread (which writes it) and the
server's event loop (which consumes it), hence the lock.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Literal

from aiohttp import web

FaultKind = Literal[
    "rate_limit",  # HTTP 429 + Retry-After; the request is not processed
    "ban",  # HTTP 418 + Retry-After; the request is not processed
    "server_error",  # HTTP 502 with an HTML body (a proxy in front of the exchange)
    "internal_error",  # HTTP 500 with Binance's {"code": -1001} body
    "slow",  # the reply is delayed by `delay` seconds before the request is processed
    "malformed",  # HTTP 200 with a body that is not valid JSON
    "negative_price",  # market data with one negative price
    "out_of_order",  # klines in reverse order
    "lost_reply",  # processed, then the reply is withheld for `delay` seconds
    "dropped_reply",  # processed, then the connection is closed without a reply
]
FAULT_KINDS: tuple[str, ...] = FaultKind.__args__  # type: ignore[attr-defined]
# Faults after which the request has taken effect on the exchange.
PROCESSED_KINDS = frozenset({"lost_reply", "dropped_reply"})


@dataclass
class Fault:
    """One scripted fault: `kind` for the next `times` requests matching `path`/`method`.

    `path` None matches every endpoint; `retry_after` is the header value for 429/418;
    `delay` is how long `slow` / `lost_reply` hold the reply.
    """

    kind: FaultKind
    path: str | None = None
    method: str | None = None
    times: int = 1
    retry_after: float = 1.0
    delay: float = 2.0

    def matches(self, method: str, path: str) -> bool:
        return (self.path is None or self.path == path) and (
            self.method is None or self.method.upper() == method
        )


class FaultScript:
    """An ordered list of faults plus an optional seeded random ("chaos") injector."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._chaos: tuple[random.Random, float, tuple[Fault, ...]] | None = None

    def add(self, kind: FaultKind, path: str | None = None, **options: object) -> Fault:
        """Script `kind` for the next matching request(s); returns the fault for inspection."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; known: {', '.join(FAULT_KINDS)}")
        fault = Fault(kind, path, **options)  # type: ignore[arg-type]
        with self._lock:
            self._faults.append(fault)
        return fault

    def chaos(self, seed: int, rate: float, faults: list[Fault]) -> None:
        """From now on every request not hit by a scripted fault gets, with probability
        `rate`, one of `faults` that matches it (chosen by a `random.Random(seed)`)."""
        with self._lock:
            self._chaos = (random.Random(seed), rate, tuple(faults))

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self._chaos = None

    def pending(self) -> int:
        """Scripted faults not yet used up (a test asserts its faults actually fired)."""
        with self._lock:
            return sum(f.times for f in self._faults)

    def take(self, method: str, path: str) -> Fault | None:
        """The fault for this request, if any (consumes one use of a scripted fault)."""
        with self._lock:
            for fault in self._faults:
                if fault.times > 0 and fault.matches(method, path):
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                    return fault
            if self._chaos is not None:
                rng, rate, faults = self._chaos
                candidates = [f for f in faults if f.matches(method, path)]
                if candidates and rng.random() < rate:
                    return rng.choice(candidates)
        return None


def fault_response(fault: Fault) -> web.Response | None:
    """The reply that replaces processing, for faults that refuse the request outright."""
    if fault.kind == "rate_limit":
        body = {"code": -1003, "msg": "Too many requests; current limit is 6000 weight."}
        return web.json_response(
            body, status=429, headers={"Retry-After": f"{fault.retry_after:g}"}
        )
    if fault.kind == "ban":
        body = {"code": -1003, "msg": "Way too many requests; IP banned."}
        return web.json_response(
            body, status=418, headers={"Retry-After": f"{fault.retry_after:g}"}
        )
    if fault.kind == "server_error":
        html = "<html><body><h1>502 Bad Gateway</h1></body></html>"
        return web.Response(text=html, status=502, content_type="text/html")
    if fault.kind == "internal_error":
        body = {"code": -1001, "msg": "Internal error; unable to process your request."}
        return web.json_response(body, status=500)
    return None
