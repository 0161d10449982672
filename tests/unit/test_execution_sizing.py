"""Sizing: the stake rule, lot-step flooring (float-safe), and every refusal with its message."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from numba import njit

from awan_trading.errors import DataError
from awan_trading.exchange.base import Market
from awan_trading.execution.refusals import REFUSAL_REASONS, Refusal
from awan_trading.execution.sizing import (
    EntrySize,
    MarketRules,
    StakeRule,
    ceil_to_step,
    entry_amount,
    entry_budget,
    floor_to_step,
    round_price,
    sellable_amount,
    size_entry,
)
from awan_trading.jitable import register_jitables

BTC = MarketRules(
    price_increment=0.01, amount_increment=0.00001, min_amount=0.00001, min_notional=5.0
)
FRACTION = StakeRule(stake_fraction=0.2)


def sized(**kwargs: object) -> EntrySize | Refusal:
    args: dict = {
        "price": 50_000.0,
        "equity": 10_000.0,
        "cash": 10_000.0,
        "fee": 0.001,
        "stake": FRACTION,
        "rules": BTC,
    }
    args.update(kwargs)
    return size_entry("BTC/USDT", **args)


# --- flooring to the increment --------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "step", "expected"),
    [
        (0.1 + 0.2, 0.1, 0.3),  # 0.30000000000000004 → exactly 0.3, not 0.30000000000000004
        (0.3 - 0.1, 0.1, 0.2),  # 0.19999999999999998 must not lose a whole step
        (0.7, 0.1, 0.7),  # 0.7 / 0.1 = 6.999999999999999 in floats
        (1.1 * 3, 1.1, 3.3),  # a non-power-of-ten step: 3 × 1.1 = 3.3000000000000003 → 3.3
        (0.29, 0.1, 0.2),
        (0.123456789, 0.00001, 0.12345),
        (7.9, 0.5, 7.5),
        (12.0, 5.0, 10.0),
        (0.000009, 0.00001, 0.0),
        (3.14159, 0.0, 3.14159),  # no increment: unchanged
    ],
)
def test_floor_to_step_is_exact_on_decimal_grids(
    value: float, step: float, expected: float
) -> None:
    assert floor_to_step(value, step) == expected


def test_ceil_to_step_rounds_up_without_adding_a_step_to_exact_multiples() -> None:
    assert ceil_to_step(0.1 + 0.2, 0.1) == 0.3
    assert ceil_to_step(0.21, 0.1) == 0.3
    assert ceil_to_step(97.999999, 0.01) == 98.0
    assert ceil_to_step(5.0, 0.0) == 5.0


@given(
    n=st.integers(min_value=0, max_value=10**9),
    decimals=st.integers(min_value=0, max_value=8),
    mantissa=st.sampled_from([1, 2, 5, 25]),
)
def test_an_exact_multiple_never_floors_a_step_down(n: int, decimals: int, mantissa: int) -> None:
    step = mantissa / 10**decimals
    exact = n * mantissa / 10**decimals  # the correctly rounded float of n × step
    assert floor_to_step(exact, step) == exact
    assert floor_to_step(n * step, step) == exact  # even with the product's own residue


@given(
    value=st.floats(min_value=0.0, max_value=1e7, allow_nan=False),
    decimals=st.integers(min_value=0, max_value=8),
)
def test_floored_value_is_a_multiple_at_most_one_step_below(value: float, decimals: int) -> None:
    step = 10.0**-decimals
    floored = floor_to_step(value, step)
    assert floored <= value * (1 + 1e-12) + step * 1e-9
    assert value - floored < step * (1 + 1e-9)
    units = floored * 10**decimals
    assert abs(units - round(units)) <= 1e-6 * max(1.0, units)


# --- the stake rule -------------------------------------------------------------------------


def test_fraction_of_equity_floored_to_the_lot_step() -> None:
    size = sized()
    assert isinstance(size, EntrySize)
    assert size.budget == 2_000.0
    assert size.amount == floor_to_step(2_000.0 / (50_000.0 * 1.001), 0.00001) == 0.03996
    assert size.cost == pytest.approx(0.03996 * 50_000.0 * 1.001, rel=1e-15)
    assert size.cost <= size.budget
    assert size.capped_by is None


def test_without_market_rules_the_cost_is_the_budget_exactly() -> None:
    """The backtest's historic numbers: amount = budget / (price × (1 + fee)), stake = budget."""
    size = size_entry(
        "X/USDT", price=101.0, equity=1_000.0, cash=1_000.0, fee=0.001, stake=StakeRule(1 / 3)
    )
    assert isinstance(size, EntrySize)
    assert size.cost == size.budget == 1_000.0 / 3
    assert size.amount == (1_000.0 / 3) / (101.0 * 1.001)


def test_fixed_stake_replaces_the_fraction() -> None:
    size = sized(stake=StakeRule(0.2, stake_amount=500.0))
    assert isinstance(size, EntrySize) and size.budget == 500.0


def test_max_position_quote_caps_the_stake_and_says_so() -> None:
    size = sized(equity=100_000.0, cash=100_000.0, stake=StakeRule(0.2, max_position_quote=5_000.0))
    assert isinstance(size, EntrySize)
    assert (size.budget, size.capped_by) == (5_000.0, "max_position_quote")
    assert size.amount * size.price * 1.001 <= 5_000.0
    assert "capped by max_position_quote" in size.describe()


def test_free_cash_caps_the_stake_after_the_position_cap() -> None:
    size = sized(cash=300.0, stake=StakeRule(0.2, max_position_quote=1_000.0))
    assert isinstance(size, EntrySize)
    assert (size.budget, size.capped_by) == (300.0, "cash")


def test_limit_price_is_floored_to_the_tick_before_sizing() -> None:
    size = sized(price=50_000.129, limit=True)
    assert isinstance(size, EntrySize)
    assert size.price == 50_000.12
    assert size.amount == floor_to_step(2_000.0 / (50_000.12 * 1.001), 0.00001)
    assert round_price(50_000.121, 0.01, "sell") == 50_000.13


# --- refusals -------------------------------------------------------------------------------


def test_no_cash_is_refused_naming_the_numbers_and_the_rule() -> None:
    refusal = sized(cash=0.0)
    assert isinstance(refusal, Refusal) and refusal.reason == "no_cash"
    assert refusal.message == (
        "BTC/USDT: no stake to spend: budget 0 from cash 0 and equity 10000 "
        "(stake rule: stake_fraction 0.2 of equity)"
    )


def test_amount_flooring_to_zero_is_below_min_amount() -> None:
    refusal = sized(cash=0.4)  # 0.4 USDT buys 0.000008 BTC: floors to 0 at step 0.00001
    assert isinstance(refusal, Refusal) and refusal.reason == "below_min_amount"
    assert refusal.message == (
        "BTC/USDT: budget 0.4 at price 50000 buys 0 after flooring to amount_increment 1e-05, "
        "below min_amount 1e-05"
    )
    assert refusal.details["min_amount"] == 0.00001


def test_below_a_larger_min_amount_is_refused() -> None:
    rules = MarketRules(amount_increment=0.001, min_amount=0.05)
    refusal = sized(rules=rules)  # buys 0.039
    assert isinstance(refusal, Refusal) and refusal.reason == "below_min_amount"
    assert "buys 0.039 " in refusal.message and "below min_amount 0.05" in refusal.message


def test_below_min_notional_is_refused() -> None:
    refusal = sized(cash=5.5)  # 5.5 / (50000 × 1.001) → 0.00010 BTC = 5.0 USDT... just
    assert isinstance(refusal, EntrySize)  # 0.0001 × 50000 = 5.0: exactly at the minimum passes
    refusal = sized(cash=4.99)
    assert isinstance(refusal, Refusal) and refusal.reason == "below_min_notional"
    assert refusal.message == (
        "BTC/USDT: 9e-05 × 50000 = 4.5 is below min_notional 5 (budget 4.99)"
    )


def test_inactive_market_is_refused() -> None:
    refusal = sized(rules=MarketRules(active=False))
    assert isinstance(refusal, Refusal) and refusal.reason == "market_inactive"
    assert refusal.message == "BTC/USDT: market is not active on the venue"


def test_bad_price_and_bad_rules_are_data_errors() -> None:
    with pytest.raises(DataError, match="price nan"):
        sized(price=math.nan)
    with pytest.raises(DataError, match="amount_increment"):
        MarketRules(amount_increment=-0.1)


def test_rules_from_a_venue_market() -> None:
    market = Market("ETH/USDT", "ETH", "USDT", 0.01, 0.0001, 0.0001, 5.0, 0.001, 0.001)
    assert MarketRules.of(market) == MarketRules(0.01, 0.0001, 0.0001, 5.0, True)


def test_an_unknown_market_has_no_rules() -> None:
    assert MarketRules.of(None) == MarketRules()


def test_what_a_venue_accepts_a_sell_of() -> None:
    # 0.039 BTC bought, 0.1 % fee taken in BTC: 0.038961 held, 0.03896 sellable on the step.
    assert sellable_amount(0.039 - 0.000039, BTC) == 0.03896
    # The remainder that sell leaves is dust: below the minimum, nothing to sell.
    assert sellable_amount(0.000001, BTC) == 0.0
    # On the step's grid despite float residue; a step with no minimum still floors to 0.
    assert sellable_amount(0.3 - 0.1, MarketRules(amount_increment=0.1)) == 0.2
    assert sellable_amount(0.05, MarketRules(amount_increment=0.1)) == 0.0
    # Without rules (an unknown market) everything held can be sold.
    assert sellable_amount(0.000001, MarketRules()) == 0.000001


def test_refusal_becomes_a_bot_event_whose_kind_is_the_reason() -> None:
    refusal = sized(cash=4.99)
    assert isinstance(refusal, Refusal)
    at = datetime(2024, 5, 1, tzinfo=UTC)
    event = refusal.to_event("live-sim", at)
    assert (event.bot, event.kind, event.message, event.ts) == (
        "live-sim",
        "below_min_notional",
        refusal.message,
        at,
    )
    data = json.loads(event.data)
    assert data["symbol"] == "BTC/USDT" and data["min_notional"] == 5.0
    assert event.kind in REFUSAL_REASONS


# --- properties -----------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    price=st.floats(min_value=1e-4, max_value=1e6),
    cash=st.floats(min_value=0.0, max_value=1e7),
    fraction=st.floats(min_value=0.01, max_value=1.0),
    fee=st.sampled_from([0.0, 0.00075, 0.001]),
    decimals=st.integers(min_value=0, max_value=8),
    min_notional=st.sampled_from([0.0, 1.0, 10.0]),
)
def test_sized_amount_is_a_multiple_within_the_stake(
    price: float, cash: float, fraction: float, fee: float, decimals: int, min_notional: float
) -> None:
    step = 10.0**-decimals
    assume(cash / price / step <= 1e12)  # floats cannot floor finer than that (see the module)
    rules = MarketRules(amount_increment=step, min_amount=step, min_notional=min_notional)
    result = size_entry(
        "P/Q", price=price, equity=cash, cash=cash, fee=fee, stake=StakeRule(fraction), rules=rules
    )
    if isinstance(result, Refusal):
        assert result.reason in {"no_cash", "below_min_amount", "below_min_notional"}
        return
    assert result.amount * price * (1 + fee) <= result.budget * (1 + 1e-12)
    assert result.budget <= cash
    assert result.amount >= step and result.amount * price >= min_notional
    # a multiple of the step, and no whole step left unspent
    assert floor_to_step(result.amount, step) == result.amount
    assert result.budget - result.cost < step * price * (1 + fee) * (1 + 1e-9)


register_jitables()  # what backtest.engine does at import: the rules compile into njit code


@njit(cache=False)
def _compiled(cash, equity, fraction, stake_amount, cap, price, fee, step, min_amount, notional):
    budget, code = entry_budget(cash, equity, fraction, stake_amount, cap)
    amount, cost, outcome = entry_amount(budget, price, fee, step, min_amount, notional)
    return budget, code, amount, cost, outcome


@settings(max_examples=200, deadline=None)  # the first example compiles the loop
@given(
    cash=st.floats(min_value=0.0, max_value=1e6),
    equity=st.floats(min_value=0.0, max_value=1e6),
    fraction=st.floats(min_value=0.01, max_value=1.0),
    stake_amount=st.sampled_from([0.0, 100.0, 2_500.0]),
    cap=st.sampled_from([0.0, 1_000.0]),
    price=st.floats(min_value=1e-3, max_value=1e5),
    decimals=st.integers(min_value=-1, max_value=8),
    min_notional=st.sampled_from([0.0, 5.0]),
)
def test_the_compiled_rule_the_backtest_runs_equals_the_python_one(
    cash: float,
    equity: float,
    fraction: float,
    stake_amount: float,
    cap: float,
    price: float,
    decimals: int,
    min_notional: float,
) -> None:
    """The engine compiles `entry_budget` / `entry_amount` into its loop; same bits required."""
    step = 0.0 if decimals < 0 else 10.0**-decimals
    args = (cash, equity, fraction, stake_amount, cap, price, 0.001, step, step, min_notional)
    budget, code = entry_budget(*args[:5])
    python = (budget, code, *entry_amount(budget, price, 0.001, step, step, min_notional))
    assert _compiled(*args) == python
