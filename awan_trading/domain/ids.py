"""Typed ids, and the client order id derived from the signal that caused the order.

Why derive: "an order is placed at most once per signal" has to survive retries, crashes and
restarts. If the client order id is a pure function of the signal id and the order's role
(its *leg*), a restarted executor recomputes the same id, asks the exchange for it, and finds
the order instead of placing a second one; the venue itself refuses a reused id. The full
32-hex signal id is kept inside the client order id, so every order on the exchange leads
back to its signal (and from there to the candle and the strategy parameters).

Format: `{leg code}{n in base 36}-{32 hex}` — at most 1 + 2 + 1 + 32 = 36 characters, the
Binance limit, drawn from its alphabet `[.A-Z:/a-z0-9_-]`. `n` distinguishes successive
orders of one leg: the protective stop is replaced each time a trailing stop moves, and each
replacement needs a fresh id (a venue refuses to reuse one), so `n` is its replacement count.

Legs and the key each one carries:
- `entry`: the buy signal's id.
- `exit`: the sell signal's id (a strategy exit).
- `stop`: the entry signal's id; the protective stop order resting on the exchange.
- `risk_exit`: the entry signal's id; a stop/target/trailing hit the position manager closes
  with a market order itself.
- `force_exit`: `control_key(request_id, symbol)`, not a signal: a user's force-exit request.
- `take_profit`: the entry signal's id; the target (LIMIT_MAKER) leg of the protective OCO,
  with the same `n` as its stop leg.
- `bracket`: the entry signal's id; the OCO order *list* itself (Binance's
  `listClientOrderId`), same `n` as its two legs.
"""

from __future__ import annotations

import hashlib
import re
from typing import Literal, NamedTuple, NewType

from awan_trading.errors import ClientOrderIdError

ExchangeOrderId = NewType("ExchangeOrderId", str)  # the venue's own order id
TradeId = NewType("TradeId", str)  # the venue's id of one execution (a fill)

Leg = Literal["entry", "exit", "stop", "risk_exit", "force_exit", "take_profit", "bracket"]
LEGS: tuple[Leg, ...] = (
    "entry",
    "exit",
    "stop",
    "risk_exit",
    "force_exit",
    "take_profit",
    "bracket",
)
_CODE: dict[Leg, str] = {
    "entry": "e",
    "exit": "x",
    "stop": "s",
    "risk_exit": "r",
    "force_exit": "f",
    "take_profit": "t",
    "bracket": "b",
}
_LEG_OF = {code: leg for leg, code in _CODE.items()}

MAX_CLIENT_ORDER_ID = 36  # Binance's limit; other venues allow at least as many
MAX_N = 36**2 - 1  # two base-36 digits
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_SIGNAL_ID = re.compile(r"^[0-9a-f]{32}$")
# Canonical only (no leading zero in n), so parse → format is the identity.
_CLIENT_ID = re.compile(r"^([exsrftb])(0|[1-9a-z][0-9a-z]?)-([0-9a-f]{32})$")


class ParsedClientOrderId(NamedTuple):
    leg: Leg
    signal_id: str  # for `force_exit`: the control key, not a signal id
    n: int


def _base36(n: int) -> str:
    digits = ""
    while True:
        n, r = divmod(n, 36)
        digits = _BASE36[r] + digits
        if n == 0:
            return digits


def client_order_id(signal_id: str, leg: Leg, n: int = 0) -> str:
    """The deterministic client order id of `leg` number `n` for `signal_id` (≤ 36 chars)."""
    if leg not in _CODE:
        raise ClientOrderIdError(f"unknown order leg {leg!r}; use one of {', '.join(LEGS)}")
    if not isinstance(signal_id, str) or not _SIGNAL_ID.match(signal_id):
        raise ClientOrderIdError(
            f"{leg}: signal id {signal_id!r} is not 32 lowercase hex characters "
            "(awan_trading.signals.signal_id or domain.ids.control_key)"
        )
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_N:
        raise ClientOrderIdError(f"{leg} {signal_id}: n={n!r} must be an int in [0, {MAX_N}]")
    return f"{_CODE[leg]}{_base36(n)}-{signal_id}"


def parse_client_order_id(value: str) -> ParsedClientOrderId:
    """(leg, signal id, n) of an id made by `client_order_id`; anything else is refused.

    Orders placed by hand or by another bot on the same account carry foreign ids; the
    caller (reconciliation) must know they are not awan's rather than guess a signal.
    """
    match = _CLIENT_ID.match(value) if isinstance(value, str) else None
    if match is None:
        raise ClientOrderIdError(
            f"client order id {value!r} was not made by awan "
            "(expected {leg code}{n}-{32 hex}, leg codes e x s r f t b)"
        )
    code, n, key = match.groups()
    return ParsedClientOrderId(_LEG_OF[code], key, int(n, 36))


def signal_id_of(value: str) -> str | None:
    """The signal behind a client order id: None for a foreign id or a force exit."""
    try:
        parsed = parse_client_order_id(value)
    except ClientOrderIdError:
        return None
    return None if parsed.leg == "force_exit" else parsed.signal_id


def control_key(request_id: int, symbol: str) -> str:
    """The 32-hex key of a force-exit order: one per (control request, symbol).

    A request may close every open symbol, so the symbol is part of the key; the request id
    makes a second force-exit request a new order rather than a refused duplicate.
    """
    key = f"force_exit|{int(request_id)}|{symbol}"
    return hashlib.blake2b(key.encode(), digest_size=16).hexdigest()
