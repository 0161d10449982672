"""The clock a venue is traded on, shared through the store with the processes that execute.

In sensor mode the live loop writes signals and Dagster runs execute them, each in a process
of its own. On the wall clock every process agrees on "now". A sensor-mode replay of history
on the sim (`awan live --mode sim --execution sensor --start S --end E`) runs on a
`ReplayClock` in the past that only the loop holds, so it records that clock in the store
(`venue_clocks`) at every close before it writes that close's signals, and removes it when
the replay ends. Two readers:

- the signal sensor's freshness (`source_now`): the recorded clock plus the wall time since
  it was recorded, so a running replay's signals are fresh for one candle as they would be
  live, and a replay that died without removing its row stops making signals fresh as time
  passes;
- an execution run's sim (`replay_clock`): the recorded clock as it stands. A replay waits
  at its close until each signal has an order or a refusal, so the run fills at the replay's
  instant — the price the inline replay and the backtest fill at.

Only the sim replays history (`live.runner.plan_from` refuses `--start` elsewhere), so only
the sim's clock is ever read from the store: a `paper:` or `live:` venue is traded on the
wall clock whatever a store holds, and a live deployment keeps dropping stale signals.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from awan_trading.storage.base import Store

REPLAY_VENUES = frozenset({"sim"})


def record_clock(store: Store, venue: str, clock: datetime) -> None:
    """The replay of `venue` is at `clock` now (recorded with the wall time)."""
    store.record_venue_clock(venue, clock, datetime.now(UTC))


def clear_clock(store: Store, venue: str) -> None:
    """`venue` is traded on the wall clock again (a replay ended, a live loop started)."""
    store.record_venue_clock(venue, None)


def replay_clock(store: Store, venue: str) -> datetime | None:
    """The replay clock of `venue` as last recorded; None: the wall clock."""
    if venue not in REPLAY_VENUES:
        return None
    recorded = store.venue_clock(venue)
    return recorded[0] if recorded is not None else None


def source_now(store: Store, venue: str, wall: datetime | None = None) -> datetime:
    """ "Now" for signals of `venue`: the replay clock moved on by the wall time since it was
    recorded, or the wall clock when no replay runs on `venue`."""
    wall = wall or datetime.now(UTC)
    if venue not in REPLAY_VENUES:
        return wall
    recorded = store.venue_clock(venue)
    if recorded is None:
        return wall
    clock, at = recorded
    return clock + max(wall - at, timedelta(0))
