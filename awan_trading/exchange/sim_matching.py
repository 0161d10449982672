"""When the sim's resting orders fill: the backtest's rules applied to closed candles.

`SimExchange` owns balances and the `Exchange` surface, `sim_orders` what an order is; this
module decides when a resting one fills, apart from the bookkeeping. The rules are `awan_trading.execution.fills` — the backtest's own — applied to
the sim's closed candles of its match timeframe, one candle at a time, in order:

- a resting **stop_loss_limit** sell is tested first: a gap (open ≤ trigger) executes at
  `open × (1 − slippage)`, a touch (low ≤ trigger) at `trigger × (1 − slippage)`, as a taker.
  If that price is below the order's limit, the stop has triggered but its limit order rests
  (a real venue leaves a stop-limit unfilled in a crash): from the next candle on it is a plain
  limit sell at its limit price. With the usual limit offset below the trigger a touch always
  fills; only a gap deeper than the offset leaves it resting.
- an **OCO**'s two legs are judged together, stop leg first: when the stop triggers the target
  leg is canceled (as on Binance); otherwise a high reaching the target fills the target leg
  at its price, as a maker, and cancels the stop leg. A candle reaching both is a stop.
- a resting **limit** / **limit_maker** fills in full at its price, as a maker, when the low
  (buy) / high (sell) reaches it.
A candle is judged only if it opened at or after the order was placed: an order placed inside
a candle waits for the next one (the live loop places orders at a candle's open, so the
candle it is placed at is judged, as in the backtest).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from awan_trading.exchange.sim_orders import SimOrder
from awan_trading.execution.fills import at_or_below, stop_fill_price, target_reached
from awan_trading.market.timeframes import from_epoch_ms
from awan_trading.tolerance import PRICE_RTOL


@dataclass(frozen=True)
class Execution:
    """A resting order filling in full at `price` in the candle that opened at `ts_ms`."""

    order: SimOrder
    price: float
    ts_ms: int
    taker: bool


def match_candles(
    orders: list[SimOrder],
    candles: pl.DataFrame,
    slippage: float,
) -> list[Execution]:
    """What the closed `candles` (one symbol, sorted by ts) do to the symbol's open `orders`.

    Decides only: an order that fills is returned (the exchange books it: balances, fees,
    trade ids), one that a sibling's fill or trigger cancels is closed here, and a stop that
    triggers without filling is marked `triggered`. `orders` are judged in placement order.
    """
    if candles.is_empty():
        return []
    ts = candles["ts"].dt.epoch("ms").to_list()
    opens, highs, lows = (candles[c].to_list() for c in ("open", "high", "low"))
    executions: list[Execution] = []
    filled: set[str] = set()  # booked by the caller after the loop, so still "accepted" here
    for i, at in enumerate(ts):
        for order in orders:
            if not order.is_open or order.exchange_order_id in filled or at < order.next_ms:
                continue
            if order.type == "limit_maker" and order.sibling is not None and order.sibling.is_open:
                continue  # an OCO is judged from its stop leg, stop first
            for done in _judge(order, opens[i], highs[i], lows[i], at, slippage):
                filled.add(done.order.exchange_order_id)
                executions.append(done)
    return executions


def _judge(
    order: SimOrder, open_: float, high: float, low: float, at: int, slippage: float
) -> list[Execution]:
    """One candle against one open order (an OCO through its stop leg)."""
    limit = order.price or 0.0
    if order.type == "stop_loss_limit" and not order.triggered:
        price = stop_fill_price(open_, low, order.stop_price or 0.0, slippage, PRICE_RTOL)
        target = order.sibling if order.sibling is not None and order.sibling.is_open else None
        if price >= 0.0:
            order.triggered = True
            order.next_ms = at + 1  # a limit left resting waits for the next candle
            if target is not None:  # the venue cancels the other leg on the trigger
                target.close("canceled", from_epoch_ms(at))
            if at_or_below(limit, price, PRICE_RTOL):
                return [Execution(order, price, at, taker=True)]
            return []
        if target is not None and target_reached(high, target.price or 0.0, PRICE_RTOL):
            order.close("canceled", from_epoch_ms(at))
            return [Execution(target, target.price or 0.0, at, taker=False)]
        return []
    # a plain resting limit, a standalone limit_maker, or a triggered stop's limit
    reached = (
        target_reached(high, limit, PRICE_RTOL)
        if order.side == "sell"
        else at_or_below(low, limit, PRICE_RTOL)
    )
    return [Execution(order, limit, at, taker=False)] if reached else []
