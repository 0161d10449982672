"""The live loop's status file: a JSON snapshot under `AWAN_HOME`, rewritten at every beat.

For tools that watch files rather than query a database (a shell prompt, a tmux status line,
node_exporter's textfile collector): `<AWAN_HOME>/status/<bot>.json`. It is replaced
atomically (a temporary file beside it, then `os.replace`), so a reader sees the previous
snapshot or the new one, never half of one. Writing it can never stop trading: a full disk or
a read-only home is logged once and skipped.
"""

from __future__ import annotations

import json
import math
import os
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from awan_trading.logs import get_logger
from awan_trading.storage.base import Store

log = get_logger(__name__)


def status_path(home: Path | str, bot: str) -> Path:
    return Path(home) / "status" / f"{bot}.json"


def write_json_atomically(path: Path, payload: dict[str, Any]) -> None:
    """Replace `path` with `payload` in one rename (the rule of `cli/paths.py`'s
    `atomic_file`, restated here because the library must not import the CLI package)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        temporary.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def read_status_file(home: Path | str, bot: str) -> dict[str, Any] | None:
    """The last snapshot, or None when there is none (or it cannot be read)."""
    try:
        return dict(json.loads(status_path(home, bot).read_text()))
    except (OSError, ValueError):
        return None


class StatusFileWriter:
    """Called by the live loop after each heartbeat with the beat's status (`LiveLoop.on_beat`).

    `plan` holds what does not change while the loop runs (mode, execution, symbols, timeframe,
    strategy); the rest is read from the store each time, so the file says what `awan status`
    says. A replay beats many times a second: the file is rewritten at most every
    `min_interval` seconds (wall clock), except for the first and the `stopped` beat.
    """

    def __init__(self, home: Path | str, bot: str, store: Store, account: str, venue: str,
                 plan: dict[str, Any], min_interval: float = 1.0) -> None:  # fmt: skip
        self.path = status_path(home, bot)
        self.bot, self.store, self.account, self.venue = bot, store, account, venue
        self.plan = dict(plan)
        self.started_at = datetime.now(UTC)
        self.min_interval = min_interval
        self._written = -math.inf
        self._failed = False

    def snapshot(self, beat: str, paused: bool | None) -> dict[str, Any]:
        timeframe = str(self.plan.get("timeframe", "1h"))
        symbols = list(self.plan.get("symbols", ()))
        candles = {s: self.store.latest_candle_ts(self.venue, s, timeframe) for s in symbols}
        positions = [
            {"symbol": p.symbol, "amount": p.amount, "entry_price": p.entry_price,
             "stake": p.stake, "stop_price": p.stop_price or None}
            for p in self.store.positions(self.account) if p.is_open
        ]  # fmt: skip
        return {
            "bot": self.bot,
            "pid": os.getpid(),
            "written_at": datetime.now(UTC).isoformat(),
            "started_at": self.started_at.isoformat(),
            "heartbeat": beat,
            "paused": paused,
            **self.plan,
            "last_candle_open": {s: t.isoformat() if t else None for s, t in candles.items()},
            "open_positions": positions,
        }

    def __call__(self, beat: str, paused: bool | None = None) -> None:
        now = time.monotonic()
        if beat != "stopped" and now - self._written < self.min_interval:
            return
        self._written = now
        try:
            write_json_atomically(self.path, self.snapshot(beat, paused))
        except Exception as error:  # a status file is a convenience, never a reason to stop
            if not self._failed:
                self._failed = True
                log.warning("status file not written", path=str(self.path), error=str(error))
