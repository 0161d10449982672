"""A long position's exit levels: where they start, how the trailing stop moves, when they hit.

This is the one place the strategy's `stop_loss`, `take_profit` and `trailing_stop` (fractions
of the entry price, `StrategyParams`) become prices. The backtest engine states the same rules in
its compiled loop and the parity tests hold the two equal:

- **Levels** are measured from the *fill* price, slippage included: stop = fill × (1 −
  stop_loss) (0.0 when off), target = fill × (1 + take_profit) (inf when off), and the
  trailing high-water mark starts at the fill price.
- **Check, then trail.** Each candle is first checked against the current levels
  (`intrabar_exit`: stop — the higher of fixed and trailing — before target, a gap through the
  stop fills at the open); only a candle that did not exit raises the high-water mark to its
  high (`after_candle`). A candle's own high therefore never tightens the stop that same candle
  is tested against, and ticks inside a candle never move the mark — the live position manager
  calls `after_candle` at each close, not on every tick, or it would exit where the backtest
  holds.
- **The resting stop order.** While the bot is down, a STOP_LOSS_LIMIT order on the exchange
  protects the position: its trigger is the stop level rounded *up* to the tick (it never
  triggers later than the level the backtest uses) and its limit is the trigger less
  `limit_offset` (a fraction), rounded *down*, so a fast market still fills it. With a take
  profit it rests as one OCO with a LIMIT_MAKER target at the target rounded *up* to the tick
  (`target_order`). A backtest with the venue's tick (`BacktestConfig.like_live`) tests the
  same rounded levels (`intrabar_exit(tick=...)`), so its exits are the sim's fills.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Protocol

from awan_trading.errors import DataError
from awan_trading.execution.fills import (
    STOP_HIT,
    TARGET_HIT,
    protective_exit,
    resting_stop,
    resting_target,
)
from awan_trading.execution.sizing import floor_to_step
from awan_trading.tolerance import PRICE


class ExitParams(Protocol):
    """What the levels are made from: `StrategyParams` (or the backtest's `RiskExits`)."""

    @property
    def stop_loss(self) -> float | None: ...

    @property
    def take_profit(self) -> float | None: ...

    @property
    def trailing_stop(self) -> float | None: ...


class HasExitLevels(Protocol):
    """Anything holding a position's levels (the replay's position, `ExitLevels`)."""

    @property
    def stop_price(self) -> float: ...

    @property
    def target_price(self) -> float: ...

    @property
    def high_water(self) -> float: ...


@dataclass(frozen=True)
class ExitLevels:
    """The prices a long position exits at; `stop_price` 0.0 and `target_price` inf mean off."""

    stop_price: float
    target_price: float
    high_water: float
    trailing_stop: float | None = None

    @classmethod
    def at_entry(cls, fill_price: float, params: ExitParams) -> ExitLevels:
        """The levels of a position just filled at `fill_price` (slippage included)."""
        if not fill_price > 0.0:
            raise DataError(f"cannot place exits around a fill price of {fill_price!r}")
        return cls(
            stop_price=fill_price * (1.0 - params.stop_loss) if params.stop_loss else 0.0,
            target_price=fill_price * (1.0 + params.take_profit)
            if params.take_profit
            else float("inf"),
            high_water=fill_price,
            trailing_stop=params.trailing_stop,
        )

    def stop_level(self) -> tuple[float, str]:
        """The effective stop and its reason: the higher of the fixed and the trailing stop."""
        return effective_stop(self, self.trailing_stop)

    def after_candle(self, high: float) -> ExitLevels:
        """The levels once a candle with this `high` closed without exiting the position."""
        mark = next_high_water(self.high_water, high)
        return self if mark == self.high_water else replace(self, high_water=mark)

    def check_candle(
        self, open_: float, high: float, low: float, *, slippage: float
    ) -> tuple[float, str] | None:
        """`intrabar_exit` with this position's own trailing setting."""
        return intrabar_exit(
            self, open_, high, low, slippage=slippage, trailing_stop=self.trailing_stop
        )

    def stop_order(self, *, tick: float, limit_offset: float) -> tuple[float, float] | None:
        """(trigger, limit) of the protective STOP_LOSS_LIMIT order; None without a stop."""
        level, _ = self.stop_level()
        return stop_order_prices(level, tick=tick, limit_offset=limit_offset) if level > 0 else None

    def target_order(self, *, tick: float) -> float | None:
        """The price of the protective OCO's LIMIT_MAKER target leg; None without a target."""
        if not math.isfinite(self.target_price):
            return None
        return resting_target(self.target_price, tick)


def effective_stop(position: HasExitLevels, trailing_stop: float | None) -> tuple[float, str]:
    """The stop a candle is tested against now: fixed stop or trailing stop, whichever is higher."""
    level, reason = position.stop_price, "stop_loss"
    if trailing_stop:
        trail = position.high_water * (1.0 - trailing_stop)
        if PRICE.gt_scalar(trail, level):
            level, reason = trail, "trailing_stop"
    return level, reason


def intrabar_exit(
    position: HasExitLevels,
    open_: float,
    high: float,
    low: float,
    *,
    slippage: float,
    trailing_stop: float | None,
    tick: float = 0.0,
) -> tuple[float, str] | None:
    """The fill price and reason if this candle exits the position, else None.

    Stop (the higher of fixed and trailing) before target: a gap below the stop fills at the
    open, a touch fills at the stop, both less slippage; the target fills at its limit price. A
    candle touching both counts as a stop: which came first is unknowable, so assume the worse.
    "At or below" and "reaches" are the price tolerance's `le` / `ge`: the levels are computed
    (1.1 × 1.04 is 1.1440000000000001), so an exact comparison would let rounding miss a touch.
    With a `tick`, both levels are first put on the tick grid as the resting orders are
    (`execution.fills.resting_stop` / `resting_target`). The rules are `execution.fills`.
    """
    level, reason = effective_stop(position, trailing_stop)
    hit, price = protective_exit(
        open_,
        high,
        low,
        resting_stop(level, tick),
        resting_target(position.target_price, tick),
        slippage,
        PRICE.relative,
    )
    if hit == STOP_HIT:
        return price, reason
    if hit == TARGET_HIT:
        return price, "take_profit"
    return None


def next_high_water(high_water: float, high: float) -> float:
    """The trailing mark after a candle that did not exit: it only ever rises."""
    return high if high > high_water else high_water


def stop_order_prices(
    stop_price: float, *, tick: float, limit_offset: float
) -> tuple[float, float]:
    """(trigger, limit) of a sell STOP_LOSS_LIMIT order guarding a stop at `stop_price`.

    The trigger is rounded up to the tick (never later than the modelled stop); the limit is
    `trigger × (1 − limit_offset)` rounded down, so it sits at or below the trigger.
    """
    if not stop_price > 0.0:
        raise DataError(f"stop order needs a positive stop price, got {stop_price!r}")
    if not 0.0 <= limit_offset < 1.0:
        raise DataError(f"stop limit offset must be a fraction in [0, 1), got {limit_offset!r}")
    trigger = resting_stop(stop_price, tick)
    limit = floor_to_step(trigger * (1.0 - limit_offset), tick)
    if limit <= 0.0:
        raise DataError(
            f"stop limit price for trigger {trigger:.10g} rounds to {limit!r} at tick {tick:.10g}"
        )
    return trigger, limit
