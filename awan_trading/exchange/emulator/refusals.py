"""The sim's refusals of an order, answered with Binance's codes and messages.

The sim raises awan's taxonomy (`DuplicateClientOrderId`, `InsufficientFunds`, `InvalidOrder`);
Binance answers the same situations with `-2010 NEW_ORDER_REJECTED` (duplicate id, balance,
a stop that would trigger at once, OCO prices on the wrong side of the market) or `-1013`
filter failures, and ccxt maps those codes and messages onto its exceptions. Every order
endpoint of the emulator (single orders and order lists) places through `as_binance`, so
the same sim refusal always reaches ccxt as the same Binance error.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from awan_trading.exchange.emulator.params import BinanceError
from awan_trading.exchange.errors import (
    DuplicateClientOrderId,
    InsufficientFunds,
    InvalidOrder,
)

# Binance's -2010 messages for the order kinds the emulator serves.
DUPLICATE = "Duplicate order sent."
NO_BALANCE = "Account has insufficient balance for requested action."
WOULD_TRIGGER = "Order would immediately trigger."
WOULD_TAKE = "Order would immediately match and take."
PRICE_RELATIONSHIP = "The relationship of the prices for the orders is not correct."


def rejected(msg: str) -> BinanceError:
    """A `-2010 NEW_ORDER_REJECTED` refusal (HTTP 400), which ccxt maps to InvalidOrder."""
    return BinanceError(400, -2010, msg)


def filter_name(refusal: InvalidOrder) -> str:
    """The Binance filter a sim refusal corresponds to (the sim words its rules by name)."""
    text = str(refusal)
    if "min_notional" in text:
        return "NOTIONAL"
    if "min_amount" in text or "amount" in text:
        return "LOT_SIZE"
    return "PRICE_FILTER"


@contextmanager
def as_binance() -> Iterator[None]:
    """Run a sim placement; its refusals leave as the `BinanceError` Binance would send."""
    try:
        yield
    except DuplicateClientOrderId:
        raise rejected(DUPLICATE) from None
    except InsufficientFunds:
        raise rejected(NO_BALANCE) from None
    except InvalidOrder as exc:
        # The sim's own guards against a stop at or above the market and a maker order that
        # would take (the emulator checks first, against the same last price; this keeps the
        # answer identical should the price move in between).
        if "trigger immediately" in str(exc):
            raise rejected(WOULD_TRIGGER) from None
        if "match immediately" in str(exc):
            raise rejected(WOULD_TAKE) from None
        # Binance names the filter ("Filter failure: LOT_SIZE"), and ccxt maps LOT_SIZE and
        # PRICE_FILTER in the body to InvalidOrder; the sim's reason follows for people.
        raise BinanceError(400, -1013, f"Filter failure: {filter_name(exc)}; {exc}") from None
