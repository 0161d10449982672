"""Venues behind one protocol: the `Exchange` surface, its error taxonomy and the offline sim."""

from awan_trading.exchange.base import Balance, Exchange, Market, Ticker
from awan_trading.exchange.errors import (
    AuthenticationError,
    BadExchangeData,
    DuplicateClientOrderId,
    ExchangeError,
    ExchangeTimeout,
    ExchangeUnavailable,
    InsufficientFunds,
    InvalidOrder,
    OrderNotFound,
    PermanentExchangeError,
    RateLimited,
    TransientExchangeError,
)
from awan_trading.exchange.sim import SimExchange
from awan_trading.exchange.sim_market import SimMarket

__all__ = [
    "AuthenticationError",
    "BadExchangeData",
    "Balance",
    "DuplicateClientOrderId",
    "Exchange",
    "ExchangeError",
    "ExchangeTimeout",
    "ExchangeUnavailable",
    "InsufficientFunds",
    "InvalidOrder",
    "Market",
    "OrderNotFound",
    "PermanentExchangeError",
    "RateLimited",
    "SimExchange",
    "SimMarket",
    "Ticker",
    "TransientExchangeError",
]
