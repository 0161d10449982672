"""Indicator parameters and the warm-up they imply.

One validated model holds every period, so a strategy, the CLI and the Dagster assets all agree
on what "the default indicators" are, and `warmup_candles` can tell the live loop and the
partitioned assets how much look-back a bounded window needs to reproduce the full-history value.

Warm-up and tolerance
---------------------
Windowed indicators (SMA, Bollinger, the stochastic's max/min and its SMAs) only see their own
window, so after their look-back a bounded window gives the full-history value up to a few
ulps (TA-Lib keeps SMA as a running sum, whose rounding depends on where the sum started;
measured ≤ 1e-13 of the price level on the shared data). The
recursive ones (EMA, MACD, Wilder's RSI and ATR) start from a seed (TA-Lib seeds with the mean
of the first `period` inputs) and carry it forever with weight `(1 - alpha) ** k` after `k`
further candles (`alpha = 2 / (n + 1)` for EMA/MACD, `1 / n` for Wilder). `warmup_candles` adds,
for each recursion, the `k` at which that weight drops below `SEED_WEIGHT` (1e-12). Hence a
value computed from the last `warmup_candles()` rows differs from the full-history value by at
most `SEED_WEIGHT` times the spread of the recursion's input (price range for EMA/MACD, true
range for ATR; for RSI, 100 × that weight × max |change| / mean |change|), plus a few ulps of
rounding. Measured on the shared data: EMA and MACD bit-identical, ATR and RSI within a few
ulps, Stochastic RSI within 5e-13 points.
1e-12 was chosen because it is far below any price tick or decision threshold while costing
only 518 candles at the defaults (under 9 hours of 1m candles). The MACD chain sets that
number: its slow EMA and its signal EMA each get their own fade-out, added (conservative).
The stochastic of RSI is exact given its RSI inputs, so its error is the RSI error amplified by
100 / (RSI range over the stochastic window). Two ill-conditioned cases fall outside the bound
and are accepted: a window whose closes never change (its RSI is the flat value 50, while the
full history keeps the ratio of the last moves), and a stochastic window over which RSI is
flat to within that error (one side sees a zero range, i.e. 50, the other a tiny one).
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field, model_validator

SEED_WEIGHT = 1e-12
"""Largest weight a bounded window's seed may keep in the latest value (see module doc)."""

_MAX_PERIOD = 100_000  # TA-Lib's own upper bound on every period


class IndicatorParams(BaseModel):
    """Every indicator period, validated against what TA-Lib accepts.

    TA-Lib rejects EMA/RSI/Bollinger/MACD periods below 2; stochastic windows and ATR accept 1.
    Fast periods must be below slow ones (TA-Lib's MACD would silently swap them).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    bb_period: int = Field(20, ge=2, le=_MAX_PERIOD)
    bb_std: float = Field(2.0, gt=0, allow_inf_nan=False)
    ema_fast: int = Field(9, ge=2, le=_MAX_PERIOD)
    ema_slow: int = Field(21, ge=2, le=_MAX_PERIOD)
    rsi_period: int = Field(14, ge=2, le=_MAX_PERIOD)
    stoch_period: int = Field(14, ge=1, le=_MAX_PERIOD)
    stoch_k: int = Field(3, ge=1, le=_MAX_PERIOD)
    stoch_d: int = Field(3, ge=1, le=_MAX_PERIOD)
    atr_period: int = Field(14, ge=1, le=_MAX_PERIOD)
    macd_fast: int = Field(12, ge=2, le=_MAX_PERIOD)
    macd_slow: int = Field(26, ge=2, le=_MAX_PERIOD)
    macd_signal: int = Field(9, ge=1, le=_MAX_PERIOD)

    @model_validator(mode="after")
    def _fast_below_slow(self) -> IndicatorParams:
        if self.ema_fast >= self.ema_slow:
            raise ValueError(f"ema_fast ({self.ema_fast}) must be < ema_slow ({self.ema_slow})")
        if self.macd_fast >= self.macd_slow:
            raise ValueError(f"macd_fast ({self.macd_fast}) must be < macd_slow ({self.macd_slow})")
        return self


DEFAULT_PARAMS = IndicatorParams()


def _settle(alpha: float) -> int:
    """Candles after which a recursion's seed keeps less than `SEED_WEIGHT` of its weight."""
    if alpha >= 1.0:
        return 0
    return math.ceil(math.log(SEED_WEIGHT) / math.log1p(-alpha))


def _ema_alpha(period: int) -> float:
    return 2.0 / (period + 1)


def _wilder_alpha(period: int) -> float:
    return 1.0 / period


def lookbacks(params: IndicatorParams) -> dict[str, int]:
    """Index of the first non-null value of each output column (TA-Lib's lookback)."""
    p = params
    rsi = p.rsi_period
    stoch = rsi + (p.stoch_period - 1) + (p.stoch_k - 1) + (p.stoch_d - 1)
    macd = (p.macd_slow - 1) + (p.macd_signal - 1)
    return {
        "bb_lower": p.bb_period - 1,
        "bb_mid": p.bb_period - 1,
        "bb_upper": p.bb_period - 1,
        "ema_fast": p.ema_fast - 1,
        "ema_slow": p.ema_slow - 1,
        "rsi": rsi,
        "stochrsi_k": stoch,
        "stochrsi_d": stoch,
        "atr": p.atr_period,
        "macd": macd,
        "macd_signal": macd,
        "macd_hist": macd,
    }


def warmup_candles(params: IndicatorParams | None = None) -> int:
    """Rows a bounded window needs so its last row equals the full-history row (see module doc).

    The count is the deepest look-back plus, for every recursion feeding that column, the
    candles it takes for the window's seed to fade below `SEED_WEIGHT`.
    """
    p = params or DEFAULT_PARAMS
    rsi_settle = _settle(_wilder_alpha(p.rsi_period))
    needs = [
        p.bb_period - 1,
        p.ema_fast - 1 + _settle(_ema_alpha(p.ema_fast)),
        p.ema_slow - 1 + _settle(_ema_alpha(p.ema_slow)),
        p.rsi_period + rsi_settle + (p.stoch_period - 1) + (p.stoch_k - 1) + (p.stoch_d - 1),
        p.atr_period + _settle(_wilder_alpha(p.atr_period)),
        (p.macd_slow - 1)
        + _settle(_ema_alpha(p.macd_slow))
        + (p.macd_signal - 1)
        + _settle(_ema_alpha(p.macd_signal)),
    ]
    return max(needs) + 1
