"""`boll_stoch`: Bollinger-band mean reversion confirmed by Stochastic RSI.

Rules (every value is the candle's close-time value; the signal is emitted at that close and
acted on at the next candle's open). Every comparison is made within the tolerances of
`awan_trading.tolerance`: `>`/`<` below mean "by more than the tolerance" and `>=`/`<=` "or
equal within it" — %K/%D to 1e-9 points, prices to 1e-10 relative — so TA-Lib's running-sum
residues (%K = 1.9e-13 vs %D = 4.6e-14 while raw %K sits at 0) never make a turn or a cross.

- **bands open**: `bb_upper > bb_lower`. A band of zero width (a flat window) says nothing about
  stretch, so neither band rule fires on it.
- **enter long** when the bands are open, `close <= bb_lower` (price at or below the lower band)
  and Stochastic RSI %K turns up from oversold: the previous %K was below `oversold` (20) and %K
  now rises (`k > k_prev`) or crosses up through %D (`k > d` while `k_prev <= d_prev`).
- **exit long** when the bands are open and `close >= bb_upper` (price reached the upper band),
  or %K turns down from overbought: the previous %K was above `overbought` (80) and %K now falls
  (`k < k_prev`) or crosses down through %D (`k < d` while `k_prev >= d_prev`).
- A candle that says both enter and exit says neither for the entry (freqtrade's rule).
- **score** ranks simultaneous entries across symbols: how far the close sits below the lower
  band in band widths plus how deep %K was in oversold, so the most stretched pair goes first.
- Risk exits (stop 2 %, target 4 %, optional trailing stop) come from `StrategyParams`.
"""

from __future__ import annotations

import functools
from typing import ClassVar

import polars as pl
from pydantic import Field

from awan_trading.strategies.base import (
    BandsAndStochParams,
    BaseStrategy,
    StrategyParams,
    prev,
    signal_columns,
)
from awan_trading.tolerance import OSCILLATOR as OSC
from awan_trading.tolerance import PRICE


class BollStochParams(BandsAndStochParams):
    """Bollinger (20, 2.0) and Stochastic RSI (RSI 14, stoch 14, K 3, D 3) with 20/80 levels."""

    oversold: float = Field(20.0, ge=0, le=100)
    overbought: float = Field(80.0, ge=0, le=100)


class BollStoch(BaseStrategy):
    """Buy the lower band when Stochastic RSI hooks up out of oversold; sell the upper band."""

    name: ClassVar[str] = "boll_stoch"
    Params: ClassVar[type[StrategyParams]] = BollStochParams
    params: BollStochParams

    def populate(self, frame: pl.DataFrame) -> pl.DataFrame:
        """One `with_columns` over a frame sorted by (symbol, ts) that holds the indicators."""
        return frame.with_columns(*self._signal_columns)

    @functools.cached_property
    def _signal_columns(self) -> tuple[pl.Expr, ...]:
        """`signal_columns` for these parameters, built once (`populate` runs every close)."""
        p = self.params
        k, d = pl.col("stochrsi_k"), pl.col("stochrsi_d")
        k_prev, d_prev = prev("stochrsi_k"), prev("stochrsi_d")
        close, lower, upper = pl.col("close"), pl.col("bb_lower"), pl.col("bb_upper")
        turns_up = OSC.lt(k_prev, p.oversold) & (
            OSC.gt(k, k_prev) | OSC.crosses_above(k, d, k_prev, d_prev)
        )
        turns_down = OSC.gt(k_prev, p.overbought) & (
            OSC.lt(k, k_prev) | OSC.crosses_below(k, d, k_prev, d_prev)
        )
        bands_open = PRICE.gt(upper, lower)
        depth = pl.when(bands_open).then((lower - close) / (upper - lower)).otherwise(0.0)
        score = depth + (p.oversold - k_prev).clip(lower_bound=0) / 100.0
        return signal_columns(
            enter=bands_open & PRICE.le(close, lower) & turns_up,
            exit_=(bands_open & PRICE.ge(close, upper)) | turns_down,
            score=score,
        )
