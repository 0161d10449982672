"""The strategy registry: look a strategy up by name and build it from `--set key=value` text.

Names and parameters come from users (CLI, config file), so every failure is an `AwanError`
that names the bad value and lists the valid ones instead of a pydantic traceback.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from awan_trading.errors import AwanError
from awan_trading.strategies.base import (
    SIGNAL_COLUMNS,
    BaseStrategy,
    Strategy,
    StrategyParams,
)
from awan_trading.strategies.boll_stoch import BollStoch, BollStochParams
from awan_trading.strategies.ema_trend import EmaTrend, EmaTrendParams

STRATEGIES: dict[str, type[BaseStrategy]] = {cls.name: cls for cls in (BollStoch, EmaTrend)}


class StrategyError(AwanError):
    """An unknown strategy, an unknown parameter, or a parameter value that fails validation."""


def parse_overrides(items: Iterable[str]) -> dict[str, str]:
    """Turn `["stop_loss=0.03", "trailing_stop=none"]` into a dict of raw strings."""
    out: dict[str, str] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise StrategyError(f"--set expects key=value, got {item!r}")
        out[key.strip()] = value.strip()
    return out


def _coerce(value: Any) -> Any:
    """`none`/`null`/empty text means None (to disable an exit); other text is left to pydantic."""
    if isinstance(value, str) and value.lower() in {"none", "null", ""}:
        return None
    return value


def get_strategy(name: str, params: Mapping[str, Any] | None = None) -> BaseStrategy:
    """Build a registered strategy with validated parameters, or raise `StrategyError`."""
    if name not in STRATEGIES:
        raise StrategyError(
            f"unknown strategy {name!r}; available: {', '.join(sorted(STRATEGIES))}"
        )
    cls = STRATEGIES[name]
    values = {k: _coerce(v) for k, v in (params or {}).items()}
    fields = cls.Params.model_fields
    unknown = [k for k in values if k not in fields]
    if unknown:
        raise StrategyError(
            f"unknown parameter {', '.join(repr(k) for k in unknown)} for strategy {name!r}; "
            f"valid: {', '.join(fields)}"
        )
    try:
        return cls(cls.Params(**values))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}={values.get(str(e['loc'][0]))!r}: {e['msg']}"
            for e in exc.errors()
        )
        raise StrategyError(f"invalid parameter for strategy {name!r}: {problems}") from None


__all__ = [
    "SIGNAL_COLUMNS",
    "STRATEGIES",
    "BaseStrategy",
    "BollStoch",
    "BollStochParams",
    "EmaTrend",
    "EmaTrendParams",
    "Strategy",
    "StrategyError",
    "StrategyParams",
    "get_strategy",
    "parse_overrides",
]
