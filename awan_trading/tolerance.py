"""When two floats count as equal: the one tolerance for oscillators and the one for prices.

Values that are mathematically equal are often not equal in floating point. TA-Lib's SMA keeps a
running sum (adds the new value, subtracts the one leaving the window), so a Stochastic RSI %K or
%D that sits at 0 or 100 for a few bars carries residues of ~1e-13 instead of the exact level,
and a Bollinger band or a stop level computed from a price carries a few ulps of rounding. A rule
written `k > d` then lets that rounding decide whether %K "crosses" %D. Every comparison that
decides a trade — strategy turns, crosses, hooks, oversold/overbought thresholds, band touches,
EMA trend tests, the flat-market rule of the indicators, stops and targets in the backtest and
the replay — goes through this module instead, with these meanings:

- `gt(a, b)`: `a` is above `b` by **more** than the tolerance; `lt(a, b)` likewise below.
- `ge(a, b)`: `a` is not below `b` by more than the tolerance (at or above, "touching" counts);
  `le(a, b)` likewise. So `ge` is exactly `not lt` and `le` exactly `not gt`: within the
  tolerance two values are equal, and every rule reads "equal" the same way.
- Oscillators on a 0–100 scale (RSI, %K, %D) use the absolute `OSCILLATOR_ATOL` (1e-9 points);
  prices (close, bands, EMAs, stop and target levels) use the relative `PRICE_RTOL` (1e-10 of
  the larger magnitude), because a price's rounding scales with the price.

Why these values: the residues measured on real and simulated candles are ≤ 5e-13 points for
%K/%D and ≤ 6e-14 of the price for Bollinger bands (TA-Lib's running sum over 1M 1m candles);
real moves are far larger — one RSI point spread over a 14-bar window moves raw %K by several
points, and the finest price tick on a spot venue is ~1e-8 of the price. Both tolerances sit
orders of magnitude away from either side, so no real market event is ever absorbed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import polars as pl

OSCILLATOR_ATOL = 1e-9
"""Absolute tolerance, in points, for values on a 0–100 scale (RSI, Stochastic RSI %K/%D)."""

PRICE_RTOL = 1e-10
"""Relative tolerance for prices and price levels (close, bands, EMAs, stops, targets)."""

Operand = pl.Expr | float


def _expr(value: Operand) -> pl.Expr:
    return value if isinstance(value, pl.Expr) else pl.lit(float(value), dtype=pl.Float64)


@dataclass(frozen=True)
class Tolerance:
    """A comparison rule: `a` and `b` are equal when `|a - b| <= absolute + relative * max(|a|, |b|)`.

    The margin is symmetric in `a` and `b`, so `gt(a, b)` is exactly `lt(b, a)`. The expression
    forms propagate nulls (warm-up rows), which `strategies.base.signal_columns` reads as "no signal"; the
    `*_scalar` forms are for the candle-by-candle paths (replay, position manager) and are
    restated in the numba engine, whose parity test holds the two to the same trades.
    """

    absolute: float = 0.0
    relative: float = 0.0

    def margin(self, a: Operand, b: Operand) -> pl.Expr:
        """How far apart `a` and `b` may be and still count as equal.

        An infinite operand (a disabled target) gets no relative margin, so nothing finite is
        ever "equal" to infinity.
        """
        margin = pl.lit(self.absolute, dtype=pl.Float64)
        if self.relative:
            size = pl.max_horizontal(_expr(a).abs(), _expr(b).abs())
            margin = margin + pl.when(size.is_finite()).then(self.relative * size).otherwise(0.0)
        return margin

    def gt(self, a: Operand, b: Operand) -> pl.Expr:
        """`a` above `b` by more than the tolerance."""
        return (_expr(a) - _expr(b)) > self.margin(a, b)

    def lt(self, a: Operand, b: Operand) -> pl.Expr:
        """`a` below `b` by more than the tolerance."""
        return (_expr(b) - _expr(a)) > self.margin(a, b)

    def ge(self, a: Operand, b: Operand) -> pl.Expr:
        """`a` at or above `b` within the tolerance (`not lt`)."""
        return (_expr(b) - _expr(a)) <= self.margin(a, b)

    def le(self, a: Operand, b: Operand) -> pl.Expr:
        """`a` at or below `b` within the tolerance (`not gt`)."""
        return (_expr(a) - _expr(b)) <= self.margin(a, b)

    def crosses_above(self, a: Operand, b: Operand, a_prev: Operand, b_prev: Operand) -> pl.Expr:
        """`a` now above `b` (beyond the tolerance) after being at or below it."""
        return self.gt(a, b) & self.le(a_prev, b_prev)

    def crosses_below(self, a: Operand, b: Operand, a_prev: Operand, b_prev: Operand) -> pl.Expr:
        """`a` now below `b` (beyond the tolerance) after being at or above it."""
        return self.lt(a, b) & self.ge(a_prev, b_prev)

    def scalar_margin(self, a: float, b: float) -> float:
        """`margin` for two Python floats."""
        size = max(abs(a), abs(b))
        return self.absolute + (self.relative * size if math.isfinite(size) else 0.0)

    def gt_scalar(self, a: float, b: float) -> bool:
        """`gt` for two Python floats (a trailing stop above the fixed one)."""
        return a - b > self.scalar_margin(a, b)

    def le_scalar(self, a: float, b: float) -> bool:
        """`le` for two Python floats (a low reaching a stop level)."""
        return a - b <= self.scalar_margin(a, b)

    def ge_scalar(self, a: float, b: float) -> bool:
        """`ge` for two Python floats (a high reaching a target level)."""
        return b - a <= self.scalar_margin(a, b)


OSCILLATOR = Tolerance(absolute=OSCILLATOR_ATOL)
"""Comparisons of RSI / Stochastic RSI values and their thresholds."""

PRICE = Tolerance(relative=PRICE_RTOL)
"""Comparisons of prices and price levels."""
