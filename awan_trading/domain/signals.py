"""The records between a strategy's decision and an order: a signal, and the order intent.

A `SignalRecord` is one row the signals asset, the live loop or a backtest emits; its id is
derived (`awan_trading.signals.signal_id`), so re-runs are idempotent. An `OrderIntent` is
what the executor decided to place for a signal, recorded *before* the exchange is called:
if the process dies between the two, the intent is the evidence that an order may exist,
and its client order id is what to look it up by.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

SignalSide = Literal["buy", "sell"]


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class SignalRecord:
    """A strategy's decision at one candle; `signal_id` is derived, so re-runs are idempotent.

    The fields are `awan_trading.signals.SIGNAL_SCHEMA` plus the exchange: what the signals
    asset, the live loop and the backtester all emit.
    """

    signal_id: str
    strategy: str
    params_hash: str
    exchange: str
    symbol: str
    timeframe: str
    ts: datetime  # open time of the candle that produced the signal
    side: SignalSide
    price: float
    score: float = 0.0
    created_at: datetime = field(default_factory=_utcnow)


@dataclass(frozen=True)
class OrderIntent:
    """What the executor decided to place, recorded before the exchange is called.

    `client_order_id` comes from `domain.ids.client_order_id`; the store keeps one intent
    per client order id and answers a second attempt with False.
    """

    client_order_id: str
    signal_id: str | None
    exchange: str
    symbol: str
    side: str
    type: str  # market | limit | stop_loss_limit | limit_maker
    amount: float
    price: float | None  # limit price
    created_at: datetime = field(default_factory=_utcnow)
    stop_price: float | None = None  # trigger price of a stop_loss_limit order
