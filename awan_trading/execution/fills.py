"""Where orders fill: the one statement of the fill rules the backtest, replay and sim share.

Live replay equals the backtest trade for trade only if the sim exchange fills orders at the
prices the backtest assumes. So the rules live here once, and every caller runs this code: the
numba backtest (`backtest.engine`, compiled inline — these are `@jitable`,
registered with numba by the engine: `awan_trading.jitable`), the replay
and the live position manager (`execution.exits.intrabar_exit`), and the sim / paper exchange
(`exchange.sim_orders`) matching resting orders against closed candles:

- **Market orders** fill at the open of the candle they are placed at, moved against the trader
  by the slippage: `open × (1 + slippage)` for a buy, `open × (1 − slippage)` for a sell. The
  price is *not* rounded to the tick: a market order walks the book, and the average of the
  levels it takes is not on the tick grid either; slippage stands for that walk.
- **A resting sell stop** (a STOP_LOSS_LIMIT, or the backtest's stop level), tested against a
  closed candle: a gap (open at or below the trigger) fills at `open × (1 − slippage)`, a touch
  (low at or below the trigger) fills at `trigger × (1 − slippage)`.
- **A resting sell target** (a LIMIT_MAKER) fills at its own price when the high reaches it.
- The stop is tested first: a candle that reaches both is a stop (which came first inside the
  candle is unknowable, so assume the worse).
- "At or below" / "reaches" allow the relative price tolerance (`tolerance.PRICE_RTOL`, passed
  in as `rtol` so numba's on-disk cache can never hold a stale constant): levels are computed
  (`1.1 × 1.04` is `1.1440000000000001`), and a market printing the level must count.
- **Resting levels are on the tick.** A venue only accepts prices on the tick grid, so with a
  tick the stop trigger is the level rounded *up* (it never triggers later than the modelled
  stop) and the target is rounded *up* (it never sells for less than the modelled target).
  `resting_stop` / `resting_target` are those roundings; a tick of 0 means "no grid" (a
  backtest without market rules), leaving levels exactly as computed.

Numba's on-disk cache of `backtest.engine.simulate` watches engine.py only: after editing this
module delete `awan_trading/backtest/__pycache__/engine.*.nb*`.
"""

from __future__ import annotations

import math

from awan_trading.execution.sizing import ceil_to_step
from awan_trading.jitable import jitable

NO_EXIT, STOP_HIT, TARGET_HIT = 0, 1, 2


@jitable
def price_margin(a: float, b: float, rtol: float) -> float:
    """`tolerance.PRICE.scalar_margin(a, b)`: relative, and none at infinity (an off target)."""
    size = max(abs(a), abs(b))
    return rtol * size if math.isfinite(size) else 0.0


@jitable
def at_or_below(a: float, b: float, rtol: float) -> bool:
    """`PRICE.le(a, b)`: `a` is not above `b` by more than the tolerance."""
    return a - b <= price_margin(a, b, rtol)


@jitable
def above(a: float, b: float, rtol: float) -> bool:
    """`PRICE.gt(a, b)`: `a` is above `b` by more than the tolerance."""
    return a - b > price_margin(a, b, rtol)


@jitable
def market_buy_price(open_: float, slippage: float) -> float:
    """Fill price of a market buy placed at the open of a candle (the backtest's entry)."""
    return open_ * (1.0 + slippage)


@jitable
def market_sell_price(open_: float, slippage: float) -> float:
    """Fill price of a market sell placed at the open of a candle (a signal or forced exit)."""
    return open_ * (1.0 - slippage)


@jitable
def resting_stop(level: float, tick: float) -> float:
    """The trigger of the resting stop guarding `level`: rounded up to the tick (0 = off)."""
    if level <= 0.0 or tick <= 0.0:
        return level
    return ceil_to_step(level, tick)


@jitable
def resting_target(level: float, tick: float) -> float:
    """The price of the resting target at `level`: rounded up to the tick (inf = off)."""
    if tick <= 0.0 or not math.isfinite(level):
        return level
    return ceil_to_step(level, tick)


@jitable
def stop_fill_price(
    open_: float, low: float, trigger: float, slippage: float, rtol: float
) -> float:
    """Where a sell stop at `trigger` fills in this candle; -1.0 if it is not reached.

    A gap through the trigger fills at the open, a touch at the trigger, both less slippage.
    A trigger of 0 (no stop) never fills.
    """
    if trigger <= 0.0:
        return -1.0
    if at_or_below(open_, trigger, rtol):
        return open_ * (1.0 - slippage)
    if at_or_below(low, trigger, rtol):
        return trigger * (1.0 - slippage)
    return -1.0


@jitable
def target_reached(high: float, target: float, rtol: float) -> bool:
    """Whether a resting sell limit at `target` fills in a candle with this `high`."""
    return at_or_below(target, high, rtol)


@jitable
def protective_exit(
    open_: float,
    high: float,
    low: float,
    trigger: float,
    target: float,
    slippage: float,
    rtol: float,
) -> tuple[int, float]:
    """(`STOP_HIT` / `TARGET_HIT` / `NO_EXIT`, fill price) of a long's stop and target in one
    candle: the stop first, so a candle reaching both is a stop."""
    price = stop_fill_price(open_, low, trigger, slippage, rtol)
    if price >= 0.0:
        return STOP_HIT, price
    if target_reached(high, target, rtol):
        return TARGET_HIT, target
    return NO_EXIT, -1.0
