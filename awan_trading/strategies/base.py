"""The Strategy protocol: what every strategy gives the backtester, the signal writer and the live loop.

A strategy is deliberately small and freqtrade-readable: validated parameters, the indicator
parameters it needs, and one vectorized `populate` that adds boolean `enter_long` / `exit_long`
columns and a `score` to a frame that already holds the indicators. The same `populate` runs over
years of history in a backtest and over the last few rows in the live loop, which is what makes
"the strategy code that backtests is the code that trades" true by construction.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Protocol, runtime_checkable

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from awan_trading.indicators import IndicatorParams

SIGNAL_COLUMNS: tuple[str, ...] = ("enter_long", "exit_long", "score")


class StrategyParams(BaseModel):
    """Parameters shared by every strategy: the risk exits that travel with its signals.

    `stop_loss`, `take_profit` and `trailing_stop` are fractions of the entry price (0.02 = 2 %);
    `None` disables the exit. They belong to the strategy, not the backtest, because the live
    position manager must apply exactly the exits that were backtested.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    stop_loss: float | None = Field(0.02, gt=0, lt=1)
    take_profit: float | None = Field(0.04, gt=0)
    trailing_stop: float | None = Field(None, gt=0, lt=1)

    def canonical_json(self) -> str:
        """Sorted-key, whitespace-free JSON: equal parameters give byte-equal text."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))

    def params_hash(self) -> str:
        """A stable 16-hex-char hash of the canonical JSON (part of every signal id)."""
        return hashlib.blake2b(self.canonical_json().encode(), digest_size=8).hexdigest()


class BandsAndStochParams(StrategyParams):
    """Bollinger (20, 2.0) and Stochastic RSI (RSI 14, stoch 14, K 3, D 3): the windows both
    built-in strategies read, named as in `IndicatorParams` so they map onto it directly."""

    bb_period: int = Field(20, ge=2)
    bb_std: float = Field(2.0, gt=0)
    rsi_period: int = Field(14, ge=2)
    stoch_period: int = Field(14, ge=1)
    stoch_k: int = Field(3, ge=1)
    stoch_d: int = Field(3, ge=1)


@runtime_checkable
class Strategy(Protocol):
    """What the backtester, the signal writer and the live loop need from a strategy."""

    name: ClassVar[str]
    params: StrategyParams

    def indicator_params(self) -> IndicatorParams:
        """The indicator settings `populate` expects in its input frame."""
        ...

    @property
    def lookback(self) -> int:
        """How many trailing indicator rows `populate` needs to decide the last row."""
        ...

    def populate(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Add `enter_long`, `exit_long` (bool, never null) and `score` (float) columns."""
        ...


class BaseStrategy(ABC):
    """Shared plumbing: keeps validated params and maps them onto `IndicatorParams`."""

    name: ClassVar[str] = ""
    Params: ClassVar[type[StrategyParams]] = StrategyParams
    lookback: int = 2

    def __init__(self, params: StrategyParams | dict[str, Any] | None = None) -> None:
        if params is None:
            params = self.Params()
        elif isinstance(params, dict):
            params = self.Params(**params)
        elif not isinstance(params, self.Params):
            raise TypeError(
                f"{self.name} expects {self.Params.__name__}, got {type(params).__name__}"
            )
        self.params = params

    def indicator_params(self) -> IndicatorParams:
        """Indicator defaults, overridden by any same-named strategy parameter."""
        values = self.params.model_dump()
        shared = {k: values[k] for k in IndicatorParams.model_fields if k in values}
        return IndicatorParams(**shared)

    @abstractmethod
    def populate(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Add `enter_long`, `exit_long` and `score` (see `signal_columns`)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.params.canonical_json()})"


def prev(column: str) -> pl.Expr:
    """The column's previous row of the same symbol (null at each symbol's first row)."""
    return pl.col(column).shift(1).over("symbol")


def signal_columns(enter: pl.Expr, exit_: pl.Expr, score: pl.Expr) -> tuple[pl.Expr, ...]:
    """The three signal columns, nulls (warm-up) read as False.

    An entry on a candle that also says exit is dropped (freqtrade's rule): the two cancel, and
    acting on either would depend on evaluation order. A strategy may build these once and
    keep them (`functools.cached_property`): composing the expressions costs about a third of
    running them on a live close's few rows, and its parameters do not change.
    """
    exit_col = exit_.fill_null(False)
    return (
        (enter.fill_null(False) & ~exit_col).alias("enter_long"),
        exit_col.alias("exit_long"),
        score.cast(pl.Float64).fill_nan(None).fill_null(0.0).alias("score"),
    )
