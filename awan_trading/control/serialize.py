"""Report objects as JSON-ready dicts (`awan status --json` and friends).

Dataclass fields, plus the derived numbers a reader needs (`uptime_s`, `unrealized_pnl`, ...)
so a script never recomputes them differently; datetimes as ISO 8601 UTC.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from typing import Any

# Properties worth serializing, per report class name.
DERIVED = {
    "StatusReport": ("uptime_s", "heartbeat_age_s", "unrealized_pnl"),
    "OpenPosition": ("unrealized_pnl", "unrealized_pct"),
    "StrategyProfit": ("win_rate",),
    "CurrencyBalance": ("total",),
    "DailyReport": ("total",),
}


def to_jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)
               if not f.name.startswith("_")}  # fmt: skip
        for name in DERIVED.get(type(value).__name__, ()):
            out[name] = to_jsonable(getattr(value, name))
        return out
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    return value
