"""`ema_trend`: trade pullbacks inside an EMA uptrend, confirmed by Stochastic RSI and Bollinger.

Rules (close-time values; signal at the close, fill at the next open). Every comparison is made
within the tolerances of `awan_trading.tolerance` (`>`/`<` mean "by more than the tolerance":
%K/%D 1e-9 points, prices 1e-10 relative), so rounding residues never decide a trade:

- **trend** is up when `ema_fast > ema_slow` (9 over 21) and `close > ema_slow`.
- **enter long** in an uptrend when Stochastic RSI %K crosses up through %D (`k > d` while
  `k_prev <= d_prev`) from below `stoch_entry_max` (50): the *previous* %K, the one before the
  cross, is below it — momentum resuming after a pullback — and the close is below `bb_upper`,
  so the entry is not chasing an overextended candle.
- **exit long** on trend loss: `ema_fast < ema_slow`, or the close falls below `ema_slow`. EMAs
  equal within the tolerance are neither an uptrend nor a trend loss.
- **score** is trend strength, `(ema_fast - ema_slow) / ema_slow`, to rank simultaneous entries.
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


class EmaTrendParams(BandsAndStochParams):
    """EMA 9/21 trend, StochRSI (14, 14, 3, 3) cross below 50, Bollinger (20, 2.0) cap."""

    ema_fast: int = Field(9, ge=2)
    ema_slow: int = Field(21, ge=2)
    stoch_entry_max: float = Field(50.0, ge=0, le=100)


class EmaTrend(BaseStrategy):
    """Long while EMA fast > EMA slow, entering on a StochRSI hook below the upper band."""

    name: ClassVar[str] = "ema_trend"
    Params: ClassVar[type[StrategyParams]] = EmaTrendParams
    params: EmaTrendParams

    def populate(self, frame: pl.DataFrame) -> pl.DataFrame:
        """One `with_columns` over a frame sorted by (symbol, ts) that holds the indicators."""
        return frame.with_columns(*self._signal_columns)

    @functools.cached_property
    def _signal_columns(self) -> tuple[pl.Expr, ...]:
        """`signal_columns` for these parameters, built once (`populate` runs every close)."""
        p = self.params
        fast, slow, close = pl.col("ema_fast"), pl.col("ema_slow"), pl.col("close")
        k, d = pl.col("stochrsi_k"), pl.col("stochrsi_d")
        k_prev, d_prev = prev("stochrsi_k"), prev("stochrsi_d")
        uptrend = PRICE.gt(fast, slow) & PRICE.gt(close, slow)
        hook = OSC.crosses_above(k, d, k_prev, d_prev) & OSC.lt(k_prev, p.stoch_entry_max)
        return signal_columns(
            enter=uptrend & hook & PRICE.lt(close, pl.col("bb_upper")),
            exit_=PRICE.lt(fast, slow) | PRICE.lt(close, slow),
            score=(fast - slow) / slow,
        )
