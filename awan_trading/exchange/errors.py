"""The exchange error taxonomy: transient (retry) versus permanent (never retry).

Every connector (sim, ccxt, paper) raises only these, so the executor's retry and
reconciliation rules are written once: a `TransientExchangeError` may be retried after a
back-off (and, for an order placement, only after looking the order up by its client order
id); a `PermanentExchangeError` is final.
"""

from __future__ import annotations

from awan_trading.errors import AwanError


class ExchangeError(AwanError):
    """Base of every exchange failure."""


class TransientExchangeError(ExchangeError):
    """The request may succeed if repeated later."""


class RateLimited(TransientExchangeError):
    """HTTP 429/418 or a local throttle; `retry_after` seconds when the exchange said so."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ExchangeUnavailable(TransientExchangeError):
    """5xx, maintenance, connection refused."""


class ExchangeTimeout(TransientExchangeError):
    """No reply in time; for an order the outcome is unknown and must be looked up."""


class PermanentExchangeError(ExchangeError):
    """Repeating the request will not help."""


class AuthenticationError(PermanentExchangeError):
    """Missing, wrong or unauthorised API credentials."""


class InsufficientFunds(PermanentExchangeError):
    """The balance cannot cover the order (amount plus fees)."""


class InvalidOrder(PermanentExchangeError):
    """The order breaks a market rule: precision, minimum notional, unknown symbol, bad side."""


class OrderNotFound(PermanentExchangeError):
    """No order with that id / client order id exists on the exchange."""


class DuplicateClientOrderId(InvalidOrder):
    """The client order id was used before; the exchange refused the second order."""


class BadExchangeData(PermanentExchangeError):
    """The exchange replied with data awan refuses to use (malformed, negative, out of order)."""
