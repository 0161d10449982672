"""`boll_stoch`: Bollinger-band mean reversion confirmed by Stochastic RSI.

Rules (every value is the candle's close-time value; the signal is emitted at that close and
acted on at the next candle's open):

- **enter long** when `close <= bb_lower` (price at or below the lower band) and Stochastic RSI
  %K turns up from oversold: the previous %K was below `oversold` (20) and %K now rises
  (`k > k_prev`) or crosses up through %D (`k > d` while `k_prev <= d_prev`).
- **exit long** when `close >= bb_upper` (price reached the upper band) or %K turns down from
  overbought: the previous %K was above `overbought` (80) and %K now falls or crosses down
  through %D.
- A candle that says both enter and exit says neither for the entry (freqtrade's rule).
- **score** ranks simultaneous entries across symbols: how far the close sits below the lower
  band in band widths plus how deep %K was in oversold, so the most stretched pair goes first.
- Risk exits (stop 2 %, target 4 %, optional trailing stop) come from `StrategyParams`.
"""

from __future__ import annotations

from typing import ClassVar

import polars as pl
from pydantic import Field

from awan_trading.strategies.base import (
    BandsAndStochParams,
    BaseStrategy,
    StrategyParams,
    finish_signals,
    prev,
)


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
        p = self.params
        k, d = pl.col("stochrsi_k"), pl.col("stochrsi_d")
        k_prev, d_prev = prev("stochrsi_k"), prev("stochrsi_d")
        turns_up = (k_prev < p.oversold) & ((k > k_prev) | ((k > d) & (k_prev <= d_prev)))
        turns_down = (k_prev > p.overbought) & ((k < k_prev) | ((k < d) & (k_prev >= d_prev)))
        width = pl.col("bb_upper") - pl.col("bb_lower")
        depth = (
            pl.when(width > 0).then((pl.col("bb_lower") - pl.col("close")) / width).otherwise(0.0)
        )
        score = depth + (p.oversold - k_prev).clip(lower_bound=0) / 100.0
        return finish_signals(
            frame,
            enter=(pl.col("close") <= pl.col("bb_lower")) & turns_up,
            exit_=(pl.col("close") >= pl.col("bb_upper")) | turns_down,
            score=score,
        )
