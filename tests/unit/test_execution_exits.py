"""Exit levels from the strategy's parameters, the check-then-trail rule, the stop order's prices."""

from __future__ import annotations

import pytest

from awan_trading.backtest import RiskExits
from awan_trading.errors import DataError
from awan_trading.execution.exits import ExitLevels, intrabar_exit, stop_order_prices
from awan_trading.replay import intrabar_exit as replay_intrabar_exit
from awan_trading.strategies import get_strategy


def test_levels_are_measured_from_the_fill_price_with_slippage() -> None:
    params = get_strategy("boll_stoch", {"stop_loss": "0.02", "take_profit": "0.04"}).params
    fill = 100.0 * (1 + 0.0005)  # the open plus slippage, as the backtest fills
    levels = ExitLevels.at_entry(fill, params)
    assert levels.stop_price == fill * (1 - 0.02)
    assert levels.target_price == fill * (1 + 0.04)
    assert levels.high_water == fill and levels.trailing_stop is None


def test_disabled_exits() -> None:
    levels = ExitLevels.at_entry(50.0, RiskExits(None, None, None))
    assert (levels.stop_price, levels.target_price) == (0.0, float("inf"))
    assert levels.stop_order(tick=0.01, limit_offset=0.01) is None
    assert levels.check_candle(50.0, 1e9, 1e-9, slippage=0.0) is None
    with pytest.raises(DataError, match="fill price"):
        ExitLevels.at_entry(0.0, RiskExits())


def test_a_candles_own_high_never_tightens_the_stop_it_is_tested_against() -> None:
    """High-water rises only after the candle was checked: the backtest's (and replay's) rule."""
    levels = ExitLevels.at_entry(100.0, RiskExits(None, None, 0.05))
    # the candle runs to 110 then drops to 105: trailing from 110 would be 104.5 — no exit yet
    assert levels.check_candle(100.0, 110.0, 105.0, slippage=0.0) is None
    levels = levels.after_candle(110.0)
    assert levels.stop_level() == (110.0 * 0.95, "trailing_stop")
    assert levels.check_candle(106.0, 107.0, 104.0, slippage=0.001) == (
        110.0 * 0.95 * 0.999,
        "trailing_stop",
    )
    assert levels.after_candle(108.0) is levels  # the mark only rises


def test_fixed_stop_wins_until_the_trail_is_higher() -> None:
    levels = ExitLevels.at_entry(100.0, RiskExits(0.02, None, 0.05))
    assert levels.stop_level() == (98.0, "stop_loss")
    assert levels.after_candle(104.0).stop_level() == (pytest.approx(98.8), "trailing_stop")


def test_intrabar_exit_lives_in_execution_and_replay_uses_the_same_function() -> None:
    assert replay_intrabar_exit is intrabar_exit
    levels = ExitLevels(stop_price=98.0, target_price=104.0, high_water=100.0)
    assert intrabar_exit(levels, 97.0, 99.0, 96.0, slippage=0.0, trailing_stop=None) == (
        97.0,
        "stop_loss",
    )
    # touches both: counts as the stop (the worse outcome)
    assert intrabar_exit(levels, 100.0, 105.0, 97.0, slippage=0.0, trailing_stop=None) == (
        98.0,
        "stop_loss",
    )
    assert intrabar_exit(levels, 100.0, 105.0, 99.0, slippage=0.01, trailing_stop=None) == (
        104.0,
        "take_profit",
    )


def test_stop_order_trigger_rounds_up_and_limit_rounds_down_to_the_tick() -> None:
    trigger, limit = stop_order_prices(98.0049, tick=0.01, limit_offset=0.005)
    assert trigger == 98.01  # never triggers later than the modelled stop
    assert limit == 97.51  # 98.01 × 0.995 = 97.51995 → floored to the tick
    assert stop_order_prices(98.0, tick=0.01, limit_offset=0.0) == (98.0, 98.0)
    levels = ExitLevels(stop_price=0.3 - 0.1, target_price=float("inf"), high_water=0.25)
    assert levels.stop_order(tick=0.1, limit_offset=0.0) == (0.2, 0.2)  # no float residue step


def test_stop_order_refuses_nonsense() -> None:
    with pytest.raises(DataError, match="positive stop price"):
        stop_order_prices(0.0, tick=0.01, limit_offset=0.01)
    with pytest.raises(DataError, match="offset"):
        stop_order_prices(10.0, tick=0.01, limit_offset=1.0)
    with pytest.raises(DataError, match="rounds to"):
        stop_order_prices(0.004, tick=0.01, limit_offset=0.5)
