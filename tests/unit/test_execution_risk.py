"""Pre-trade checks over a RiskState snapshot, and the control-table fold."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from awan_trading.config import RiskConfig
from awan_trading.execution.controls import apply_controls
from awan_trading.execution.refusals import Refusal
from awan_trading.execution.risk import (
    RiskState,
    check_entry,
    check_exit,
    daily_loss_reached,
    utc_day,
)
from awan_trading.storage.base import ControlRequest

DAY = date(2024, 5, 1)
LIMITS = RiskConfig(stake_fraction=0.2, max_open_positions=2, max_daily_loss=0.05)


def state(**changes: object) -> RiskState:
    base = RiskState(limits=LIMITS, day=DAY, day_start_equity=10_000.0)
    return replace(base, **changes)


def refused(symbol: str, snapshot: RiskState) -> Refusal:
    result = check_entry(symbol, snapshot)
    assert isinstance(result, Refusal)
    return result


def test_a_fresh_state_allows_entries() -> None:
    assert check_entry("BTC/USDT", state()) is None


def test_one_position_per_symbol_counts_held_and_in_flight() -> None:
    held = refused("BTC/USDT", state(open_positions=frozenset({"BTC/USDT"})))
    assert held.reason == "position_open"
    assert held.message == "BTC/USDT: already holds a position; one position per symbol"
    flying = refused("BTC/USDT", state(pending_entries=frozenset({"BTC/USDT"})))
    assert flying.message == "BTC/USDT: already has an entry in flight; one position per symbol"


def test_max_open_positions_counts_positions_and_entries_in_flight() -> None:
    full = state(open_positions=frozenset({"A/USDT"}), pending_entries=frozenset({"B/USDT"}))
    refusal = refused("C/USDT", full)
    assert refusal.reason == "max_open_positions"
    assert refusal.message == "C/USDT: 2 positions open or entering, max_open_positions is 2"
    assert refusal.details == {"in_use": 2, "max_open_positions": 2}
    assert check_entry("C/USDT", replace(full, pending_entries=frozenset())) is None


def test_daily_loss_threshold_is_inclusive_and_realized_only() -> None:
    # 5 % of 10 000: a realized loss of exactly 500 stops entries, 499.99 does not
    assert check_entry("BTC/USDT", state(realized_pnl_today=-499.99)) is None
    refusal = refused("BTC/USDT", state(realized_pnl_today=-500.0))
    assert refusal.reason == "max_daily_loss"
    assert refusal.message == (
        "BTC/USDT: realized PnL today (2024-05-01 UTC) is -500, at or beyond the max_daily_loss "
        "limit of -500 (0.05 × day-start equity 10000); no new entries until 00:00 UTC"
    )
    assert state().daily_loss_limit == 500.0
    assert daily_loss_reached(-500.0, 10_000.0, 0.0) is False  # 0 disables the rule


def test_the_daily_loss_block_lasts_until_the_next_utc_day() -> None:
    hit = state(realized_pnl_today=-600.0)
    late = datetime(2024, 5, 1, 23, 59, tzinfo=UTC)
    assert hit.roll(late, 9_400.0) is hit  # same UTC day: still blocked
    assert check_entry("BTC/USDT", hit.roll(late, 9_400.0)) is not None
    midnight = datetime(2024, 5, 2, 0, 0, tzinfo=UTC)
    fresh = hit.roll(midnight, 9_400.0)
    assert (fresh.day, fresh.realized_pnl_today, fresh.day_start_equity) == (
        date(2024, 5, 2),
        0.0,
        9_400.0,
    )
    assert check_entry("BTC/USDT", fresh) is None
    # a UTC day, not a local one: 01:00 in UTC+2 on the 2nd is still the 1st in UTC
    assert utc_day(datetime(2024, 5, 2, 1, 0, tzinfo=timezone(timedelta(hours=2)))) == DAY


def test_realized_pnl_accumulates_through_the_day() -> None:
    day = state().with_realized(-300.0).with_realized(100.0).with_realized(-300.0)
    assert day.realized_pnl_today == -500.0
    assert refused("ETH/USDT", day).reason == "max_daily_loss"


def test_paused_refuses_entries_but_never_exits() -> None:
    paused = state(paused=True, open_positions=frozenset({"BTC/USDT"}))
    refusal = refused("ETH/USDT", paused)
    assert refusal.reason == "paused"
    assert refusal.message == (
        "ETH/USDT: trading is paused; new entries are refused until resume "
        "(exits and stops still run)"
    )
    assert check_exit("BTC/USDT", paused) is None
    assert check_exit("BTC/USDT", replace(paused, realized_pnl_today=-9_000.0)) is None


def test_exit_without_a_position_is_refused() -> None:
    refusal = check_exit("SOL/USDT", state())
    assert isinstance(refusal, Refusal) and refusal.reason == "no_position"
    assert refusal.message == "SOL/USDT: no open position to exit"


def test_live_venue_needs_confirmation() -> None:
    refusal = refused("BTC/USDT", state(exchange="live:binance"))
    assert refusal.reason == "live_not_confirmed"
    assert "live:binance places real orders" in refusal.message
    assert check_entry("BTC/USDT", state(exchange="live:binance", live_confirmed=True)) is None
    assert check_entry("BTC/USDT", state(exchange="paper:binance")) is None


def test_rules_are_checked_in_the_documented_order() -> None:
    everything = state(
        exchange="live:binance",
        paused=True,
        open_positions=frozenset({"A/USDT", "B/USDT"}),
        realized_pnl_today=-1_000.0,
    )
    order = []
    while (refusal := check_entry("A/USDT", everything)) is not None:
        order.append(refusal.reason)
        everything = {
            "live_not_confirmed": lambda s: replace(s, live_confirmed=True),
            "paused": lambda s: replace(s, paused=False),
            "position_open": lambda s: replace(s, open_positions=frozenset({"B/USDT", "C/USDT"})),
            "max_open_positions": lambda s: replace(s, open_positions=frozenset()),
            "max_daily_loss": lambda s: replace(s, realized_pnl_today=0.0),
        }[refusal.reason](everything)
    assert order == [
        "live_not_confirmed",
        "paused",
        "position_open",
        "max_open_positions",
        "max_daily_loss",
    ]


def test_utc_day_of_epoch_ms_and_aware_datetimes() -> None:
    assert utc_day(int(datetime(2024, 5, 1, 23, 59, tzinfo=UTC).timestamp() * 1000)) == DAY
    assert utc_day(int(datetime(2024, 5, 2, tzinfo=UTC).timestamp() * 1000)) == date(2024, 5, 2)
    with pytest.raises(ValueError, match="aware"):
        utc_day(datetime(2024, 5, 1))


def _request(id_: int, action: str, symbol: str | None = None) -> ControlRequest:
    at = datetime(2024, 5, 1, tzinfo=UTC)
    return ControlRequest(id_, "bot", action, symbol, "telegram:1", at, None)  # type: ignore[arg-type]


def test_controls_apply_in_id_order() -> None:
    out = apply_controls(False, [_request(2, "resume"), _request(1, "pause")], [])
    assert (out.paused, out.handled) == (False, (1, 2))
    out = apply_controls(False, [_request(4, "pause"), _request(3, "resume")], [])
    assert out.paused is True


def test_force_exit_all_or_one_symbol_without_duplicates() -> None:
    held = ["BTC/USDT", "ETH/USDT"]
    out = apply_controls(
        True,
        [_request(1, "force_exit", "ETH/USDT"), _request(2, "force_exit"), _request(3, "resume")],
        held,
    )
    assert out.force_exits == ("ETH/USDT", "BTC/USDT")
    assert (out.paused, out.handled) == (False, (1, 2, 3))
    stray = apply_controls(False, [_request(5, "force_exit", "SOL/USDT")], held)
    assert stray.force_exits == ("SOL/USDT",)  # check_exit then refuses it as no_position
