"""TA-Lib kernels on one symbol's numpy arrays, and their polars Series wrappers.

Everything is computed by TA-Lib's C code on contiguous Float64 arrays (zero-copy views of
polars columns), because TA-Lib is the reference traders compare against and the fastest
implementation measured here. The only arithmetic done outside TA-Lib is the raw stochastic of
RSI, which reproduces TA-Lib's own `STOCH` formula operation for operation (so the values are
bit-identical) while letting us define the flat-window case; it is also faster than `STOCH`,
whose window scan restarts whenever an extreme leaves the window.

Flat prices (documented choices, tested). "Flat" means a range within the tolerances of
`awan_trading.tolerance`, the ones the strategies compare with, never an exact zero:
- RSI while no close has moved from the first one by more than `PRICE_RTOL` of it (TA-Lib
  divides 0 by 0 and returns 0, i.e. "maximally oversold"): **50**, neutral. Once a real change
  exists Wilder's averages keep it, so a flat stretch after a rise stays at 100 and after a fall
  at 0, as in TA-Lib.
- Stochastic of RSI when the highest and lowest RSI of the window are within `FLAT_RSI_RANGE`
  (= `OSCILLATOR_ATOL`, 1e-9 points) of each other (TA-Lib returns 0, or an arbitrary 0/100 from
  rounding noise just above its own cut-off): **50** for the raw %K, then smoothed as usual. A
  market that does not move is neither oversold nor overbought, so strategies keyed on "turns up
  from oversold" do not fire on it.
- Bollinger on a flat window: bands collapse onto the SMA (TA-Lib's value). ATR: 0.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from awan_trading.errors import DataError
from awan_trading.indicators.params import IndicatorParams
from awan_trading.indicators.talib_import import import_talib
from awan_trading.tolerance import OSCILLATOR_ATOL, PRICE_RTOL

talib = import_talib()

FLAT_VALUE = 50.0
"""RSI and raw stochastic %K when their denominator is zero (see module doc)."""

FLAT_RSI_RANGE = OSCILLATOR_ATOL
"""RSI range (points) at or below which a stochastic window counts as flat.

The oscillator tolerance the strategies compare %K/%D with: RSI held flat by Wilder's recursion
wobbles by an ulp or two, and TA-Lib's STOCH already calls ranges below ~2e-14 of the RSI level
zero; 1e-9 points treats all such rounding noise as flat while staying far below any range a
real market produces."""

OUTPUT_COLUMNS: tuple[str, ...] = (
    "bb_lower",
    "bb_mid",
    "bb_upper",
    "ema_fast",
    "ema_slow",
    "rsi",
    "stochrsi_k",
    "stochrsi_d",
    "atr",
    "macd",
    "macd_signal",
    "macd_hist",
)

Array = np.ndarray


def _sma(values: Array, period: int) -> Array:
    """TA-Lib SMA, with period 1 as identity (TA-Lib's STOCH allows 1, its SMA does not)."""
    return values.copy() if period == 1 else talib.SMA(values, period)


def _first_change(close: Array, horizon: int) -> int:
    """Index of the first close that moved from the first one by more than `PRICE_RTOL` of the
    larger of the two (the price tolerance's `gt`/`lt`), len(close) if none.

    Only matters when it is beyond `horizon` (the RSI look-back), so the common case looks at
    `horizon + 1` values and stops.
    """

    def moved(values: Array) -> Array:
        size = np.maximum(np.abs(values), abs(close[0]))
        return np.flatnonzero(np.abs(values - close[0]) > PRICE_RTOL * size)

    first = moved(close[: horizon + 1])
    if first.size:
        return int(first[0])
    first = moved(close)
    return int(first[0]) if first.size else len(close)


def rsi_array(close: Array, period: int) -> Array:
    """TA-Lib RSI, except 50 while no close has moved yet (TA-Lib gives 0 there)."""
    out = talib.RSI(close, period)
    if close.size == 0:
        return out
    first = _first_change(close, period)
    if first > period:
        out[period:first] = FLAT_VALUE
    return out


def stoch_array(values: Array, period: int, k: int, d: int) -> tuple[Array, Array]:
    """TA-Lib `STOCH(values, values, values, period, k, SMA, d, SMA)`, 50 on flat windows.

    Reproduces the arithmetic of the bundled TA-Lib's STOCH exactly,
    `100 * ((value - lowest) / (highest - lowest))` (checked bit for bit by the tests), with
    TA-Lib's MAX/MIN for the window extremes and TA-Lib's SMA for both smoothings; %K is NaN
    wherever STOCH leaves it NaN (until %D is defined).
    """
    if period == 1:
        raw = np.where(np.isnan(values), np.nan, FLAT_VALUE)
    else:
        highest = talib.MAX(values, period)
        lowest = talib.MIN(values, period)
        span = highest - lowest
        with np.errstate(divide="ignore", invalid="ignore"):
            raw = (values - lowest) / span
        raw *= 100.0
        raw[span <= FLAT_RSI_RANGE] = FLAT_VALUE
    slow_k = _sma(raw, k)
    slow_d = _sma(slow_k, d)
    slow_k[np.isnan(slow_d)] = np.nan
    return slow_k, slow_d


def compute_all(close: Array, high: Array, low: Array, params: IndicatorParams) -> list[Array]:
    """All twelve output columns for one symbol, in `OUTPUT_COLUMNS` order (NaN = not yet)."""
    p = params
    if close.size == 0:
        return [np.empty(0) for _ in OUTPUT_COLUMNS]
    upper, mid, lower = talib.BBANDS(close, p.bb_period, p.bb_std, p.bb_std, 0)
    rsi = rsi_array(close, p.rsi_period)
    k, d = stoch_array(rsi, p.stoch_period, p.stoch_k, p.stoch_d)
    macd, signal, hist = talib.MACD(close, p.macd_fast, p.macd_slow, p.macd_signal)
    return [
        lower,
        mid,
        upper,
        talib.EMA(close, p.ema_fast),
        talib.EMA(close, p.ema_slow),
        rsi,
        k,
        d,
        talib.ATR(high, low, close, p.atr_period),
        macd,
        signal,
        hist,
    ]


# --- Series API: one symbol's series in, polars Series (nulls before warm-up) out ----------


def as_array(series: pl.Series) -> Array:
    """A contiguous Float64 numpy view of a series (a copy only if it must be cast/rechunked).

    Nulls and NaN are refused: TA-Lib would carry a NaN through every later EMA value.
    """
    if series.dtype != pl.Float64:
        series = series.cast(pl.Float64)
    if series.null_count():
        raise DataError(f"column '{series.name}' has {series.null_count()} null value(s)")
    values = np.ascontiguousarray(series.to_numpy())
    if np.isnan(values).any():
        raise DataError(f"column '{series.name}' has NaN value(s)")
    return values


def _series(name: str, values: Array) -> pl.Series:
    return pl.Series(name, values, dtype=pl.Float64, nan_to_null=True)


def sma(values: pl.Series, period: int) -> pl.Series:
    """Simple moving average (TA-Lib SMA)."""
    return _series("sma", talib.SMA(as_array(values), period))


def ema(values: pl.Series, period: int) -> pl.Series:
    """Exponential moving average, seeded with the SMA of the first `period` values (TA-Lib)."""
    return _series("ema", talib.EMA(as_array(values), period))


def bollinger(close: pl.Series, period: int = 20, std: float = 2.0) -> pl.DataFrame:
    """Bollinger Bands (SMA ± std × population stddev): columns bb_lower, bb_mid, bb_upper."""
    upper, mid, lower = talib.BBANDS(as_array(close), period, std, std, 0)
    return pl.DataFrame(
        [_series("bb_lower", lower), _series("bb_mid", mid), _series("bb_upper", upper)]
    )


def rsi(close: pl.Series, period: int = 14) -> pl.Series:
    """Wilder's RSI (TA-Lib), 50 while no close has changed yet (see module doc)."""
    return _series("rsi", rsi_array(as_array(close), period))


def stoch_rsi(
    close: pl.Series, rsi_period: int = 14, period: int = 14, k: int = 3, d: int = 3
) -> pl.DataFrame:
    """Stochastic RSI as charted: TA-Lib STOCH(period, SMA k, SMA d) of RSI, 0–100.

    Columns stochrsi_k and stochrsi_d. Not TA-Lib's STOCHRSI, whose first output is unsmoothed.
    """
    slow_k, slow_d = stoch_array(rsi_array(as_array(close), rsi_period), period, k, d)
    return pl.DataFrame([_series("stochrsi_k", slow_k), _series("stochrsi_d", slow_d)])


def atr(high: pl.Series, low: pl.Series, close: pl.Series, period: int = 14) -> pl.Series:
    """Average true range with Wilder smoothing (TA-Lib ATR)."""
    return _series("atr", talib.ATR(as_array(high), as_array(low), as_array(close), period))


def macd(close: pl.Series, fast: int = 12, slow: int = 26, signal: int = 9) -> pl.DataFrame:
    """MACD line, signal line and histogram (TA-Lib MACD): columns macd, macd_signal, macd_hist."""
    line, sig, hist = talib.MACD(as_array(close), fast, slow, signal)
    return pl.DataFrame(
        [_series("macd", line), _series("macd_signal", sig), _series("macd_hist", hist)]
    )
