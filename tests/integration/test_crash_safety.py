"""Kill the executor at a random fault point, restart it, and count: one order per signal leg,
one protective list per open position, a store that agrees with the exchange.

Each run is a child process over the loopback emulator (`awan_trading.testing.crash`), armed
with `AWAN_FAULT=crash_after:<point>:<n>`; the emulator's sim keeps the exchange state across
the kill and the restart. `benchmarks/crash_runs.py` does the same over ≥ 50 seeds.
"""

from __future__ import annotations

import pytest

from awan_trading.testing.crash import run_kill

QUICK_SEEDS = range(12)


@pytest.mark.parametrize("seed", QUICK_SEEDS)
def test_a_killed_executor_restarts_without_losing_or_doubling_an_order(
    seed, tmp_path, pg_database
) -> None:
    result = run_kill(seed, tmp_path, pg_database.url)
    assert result.finished, result.disagreements
    assert result.legs == result.legs_with_one_order == 9
    assert result.open_positions == result.positions_with_one_list == 3
    assert result.stray_lists == 0
    assert result.disagreements == []
