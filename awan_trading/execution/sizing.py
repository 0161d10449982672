"""How big an entry is: the stake rule, the market's lot rules, and the refusals in between.

One rule, stated once and run by all three callers — the live executor (`size_entry`), the
replay (`size_entry`) and the numba backtest (`entry_budget` / `entry_amount` compiled inline) —
so a backtest's amounts are the amounts the live loop orders:

1. **Budget.** `stake_amount` if set, else `equity × stake_fraction` (equity marked at the
   previous closes), then capped by `max_position_quote` and by free cash.
2. **Amount.** `budget / (price × (1 + fee))`: the fee is paid out of the stake, as the
   backtest has always done. It is floored to `amount_increment` (never rounded up: rounding up
   could spend more than the budget or the free cash).
3. **Refusals.** Nothing to spend → `no_cash`; below `min_amount` (including an amount that
   floors to 0) → `below_min_amount`; `amount × price` below `min_notional` →
   `below_min_notional`. The checks mirror what the venue itself rejects.
4. **Cost.** What the entry takes from cash: the budget itself when no increment applies (so a
   backtest without market rules gives exactly the numbers it always gave), else
   `amount × price × (1 + fee)` for the floored amount.

Float safety: amounts are floored on the increment's own decimal grid. A quotient
`value / increment` within `STEP_TOLERANCE` steps (absolute) or `RELATIVE_TOLERANCE` (relative)
below an integer counts as that integer, so a float residue such as `0.3 - 0.1 =
0.19999999999999998` does not lose a whole step; the floored amount is then rebuilt as
`n × m / 10**k` (with `increment = m / 10**k`), which is the correctly rounded float of the exact
decimal, e.g. exactly `0.2`, never `0.30000000000000004`. The tolerance never exceeds
`MAX_TOLERANCE` steps, and flooring is exact for amounts up to ~1e12 increments (beyond that a
float's 16 digits cannot tell neighbouring increments apart; no market comes close).

The numeric core is `@jitable` (`awan_trading.jitable`): plain Python when called from Python, compiled into the
backtest's numba loop when called from there — one source for both. Numba's on-disk cache of
`backtest.engine.simulate` keys on engine.py alone, so after editing a jitable function here or
in `risk.py`, delete `awan_trading/backtest/__pycache__/engine.simulate-*` (the parity tests,
which compare the two paths, fail loudly on a stale cache).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from awan_trading.errors import DataError
from awan_trading.execution.refusals import Refusal
from awan_trading.jitable import jitable

if TYPE_CHECKING:
    from awan_trading.exchange.base import Market

STEP_TOLERANCE = 1e-9  # in units of one increment
RELATIVE_TOLERANCE = 2e-15  # of the quotient: ~9 ulps, a few operations' residue, no more
MAX_TOLERANCE = 1e-3  # steps: a real shortfall of a thousandth of a step is never forgiven

# Integer outcome codes of the compiled core (numba cannot return strings cheaply).
SIZED, NO_CASH, BELOW_MIN_AMOUNT, BELOW_MIN_NOTIONAL = 0, 1, 2, 3
UNCAPPED, CAPPED_BY_MAX_POSITION, CAPPED_BY_CASH = 0, 1, 2
_CAPS: tuple[str | None, ...] = (None, "max_position_quote", "cash")


@dataclass(frozen=True)
class MarketRules:
    """The lot and tick rules of one market that sizing obeys; 0 disables a rule."""

    price_increment: float = 0.0
    amount_increment: float = 0.0
    min_amount: float = 0.0
    min_notional: float = 0.0
    active: bool = True

    def __post_init__(self) -> None:
        for name in ("price_increment", "amount_increment", "min_amount", "min_notional"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0.0):
                raise DataError(f"market rule {name} must be a finite number ≥ 0, got {value!r}")

    @classmethod
    def of(cls, market: Market | None) -> MarketRules:
        """The rules of a venue's `Market` record; none (every rule off) for an unknown one."""
        if market is None:
            return cls()
        return cls(
            price_increment=market.price_increment,
            amount_increment=market.amount_increment,
            min_amount=market.min_amount,
            min_notional=market.min_notional,
            active=market.active,
        )


@dataclass(frozen=True)
class StakeRule:
    """The account-level sizing settings: a fraction of equity or a fixed stake, and a cap."""

    stake_fraction: float
    stake_amount: float | None = None  # fixed quote amount per entry; replaces the fraction
    max_position_quote: float | None = None  # cap on one entry's budget, in quote currency


@dataclass(frozen=True)
class EntrySize:
    """An entry that passed sizing: the amount to order and what it costs."""

    symbol: str
    amount: float  # a multiple of amount_increment (when set), ≥ min_amount
    price: float  # the price sized at; on the tick grid for a limit order
    cost: float  # quote taken from cash: amount × price × (1 + fee), or the budget unrounded
    budget: float  # the stake after the caps
    capped_by: Literal["max_position_quote", "cash"] | None

    def describe(self) -> str:
        cap = f", capped by {self.capped_by}" if self.capped_by else ""
        return (
            f"{self.symbol}: buy {self.amount:.10g} at {self.price:.10g} "
            f"for {self.cost:.10g} (budget {self.budget:.10g}{cap})"
        )


@jitable
def step_fraction(step: float) -> tuple[float, float]:
    """`(m, scale)` with `step == m / scale`, `scale` a power of ten and `m` a whole number.

    Steps that are not decimal fractions within 1e-9 (none in practice) come back as
    `(step, 1.0)`, i.e. plain float multiples.
    """
    scale = 1.0
    for _ in range(16):
        m = float(round(step * scale))
        if m >= 1.0 and abs(step * scale - m) <= 1e-9 * m:
            return m, scale
        scale *= 10.0
    return step, 1.0


@jitable
def _tolerance(q: float) -> float:
    """How far below (above) a whole number of steps `q` may be and still count as it."""
    return min(STEP_TOLERANCE + abs(q) * RELATIVE_TOLERANCE, MAX_TOLERANCE)


@jitable
def floor_to_step(value: float, step: float) -> float:
    """`value` floored to a multiple of `step` (see the module docstring's tolerance)."""
    if step <= 0.0:
        return value
    m, scale = step_fraction(step)
    q = value * scale / m
    n = math.floor(q + _tolerance(q))
    return n * m / scale


@jitable
def ceil_to_step(value: float, step: float) -> float:
    """`value` rounded up to a multiple of `step`, with the same tolerance as `floor_to_step`."""
    if step <= 0.0:
        return value
    m, scale = step_fraction(step)
    q = value * scale / m
    n = math.ceil(q - _tolerance(q))
    return n * m / scale


@jitable
def entry_budget(
    cash: float,
    equity: float,
    stake_fraction: float,
    stake_amount: float,
    max_position_quote: float,
) -> tuple[float, int]:
    """(budget, cap code): the stake, capped by `max_position_quote` then by free cash.

    `stake_amount` and `max_position_quote` of 0 mean "not set" (the compiled loop has no None).
    """
    budget = stake_amount if stake_amount > 0.0 else equity * stake_fraction
    cap = UNCAPPED
    if max_position_quote > 0.0 and max_position_quote < budget:
        budget = max_position_quote
        cap = CAPPED_BY_MAX_POSITION
    if cash < budget:
        budget = cash
        cap = CAPPED_BY_CASH
    return budget, cap


@jitable
def entry_amount(
    budget: float,
    price: float,
    fee: float,
    amount_increment: float,
    min_amount: float,
    min_notional: float,
) -> tuple[float, float, int]:
    """(amount, cost, outcome code) of spending `budget` at `price` with `fee` on top."""
    if budget <= 0.0:
        return 0.0, 0.0, NO_CASH
    raw = budget / (price * (1.0 + fee))
    if amount_increment > 0.0:
        amount = floor_to_step(raw, amount_increment)
        cost = amount * price * (1.0 + fee)
    else:
        amount = raw
        cost = budget
    if amount <= 0.0 or amount < min_amount:
        return amount, cost, BELOW_MIN_AMOUNT
    if amount * price < min_notional:
        return amount, cost, BELOW_MIN_NOTIONAL
    return amount, cost, SIZED


def sellable_amount(amount: float, rules: MarketRules) -> float:
    """What a venue accepts a sell of from `amount` held: floored to the lot step, or 0 when
    that is below the market's minimum. Such a remainder is dust — what an exit leaves when the
    buy's fee was taken in the base asset (Binance, unless paid in BNB) — and no order for it,
    exit or protective leg, would be accepted."""
    sellable = floor_to_step(amount, rules.amount_increment)
    return sellable if sellable > 0.0 and sellable >= rules.min_amount else 0.0


def smallest_sellable(rules: MarketRules) -> float:
    """The least amount a venue accepts a sell of: the market's minimum rounded up to the lot
    step (one step when there is no minimum). A position left below it by an exit is dust,
    and closed (`domain.positions`): `sellable_amount` of anything less is 0."""
    step = rules.amount_increment
    if step <= 0.0:
        return rules.min_amount
    return ceil_to_step(max(rules.min_amount, step), step)


def round_price(price: float, tick: float, side: Literal["buy", "sell"]) -> float:
    """A limit price on the tick grid, rounded so it never pays more (buy: down) or accepts
    less (sell: up) than asked."""
    return floor_to_step(price, tick) if side == "buy" else ceil_to_step(price, tick)


def size_entry(
    symbol: str,
    *,
    price: float,
    equity: float,
    cash: float,
    fee: float,
    stake: StakeRule,
    rules: MarketRules | None = None,
    limit: bool = False,
) -> EntrySize | Refusal:
    """Size a long entry at `price` (the expected fill, or the limit price when `limit`).

    `equity` is cash plus open positions marked at their last closes; `cash` is the free quote
    balance; `fee` the fraction charged on the fill. A limit price is first floored to the tick.
    """
    rules = rules or MarketRules()
    if not rules.active:
        return Refusal("market_inactive", symbol, f"{symbol}: market is not active on the venue")
    if limit:
        price = round_price(price, rules.price_increment, "buy")
    if not (math.isfinite(price) and price > 0.0):
        raise DataError(f"{symbol}: cannot size an entry at price {price!r}")
    budget, cap = entry_budget(
        cash,
        equity,
        stake.stake_fraction,
        stake.stake_amount or 0.0,
        stake.max_position_quote or 0.0,
    )
    amount, cost, outcome = entry_amount(
        budget, price, fee, rules.amount_increment, rules.min_amount, rules.min_notional
    )
    numbers = {"price": price, "budget": budget, "cash": cash, "equity": equity, "amount": amount}
    if outcome == NO_CASH:
        return Refusal(
            "no_cash",
            symbol,
            f"{symbol}: no stake to spend: budget {budget:.10g} from cash {cash:.10g} and "
            f"equity {equity:.10g} (stake rule: {_rule_text(stake)})",
            numbers,
        )
    if outcome == BELOW_MIN_AMOUNT:
        return Refusal(
            "below_min_amount",
            symbol,
            f"{symbol}: budget {budget:.10g} at price {price:.10g} buys {amount:.10g} after "
            f"flooring to amount_increment {rules.amount_increment:.10g}, below min_amount "
            f"{rules.min_amount:.10g}",
            {**numbers, "amount_increment": rules.amount_increment, "min_amount": rules.min_amount},
        )
    if outcome == BELOW_MIN_NOTIONAL:
        return Refusal(
            "below_min_notional",
            symbol,
            f"{symbol}: {amount:.10g} × {price:.10g} = {amount * price:.10g} is below "
            f"min_notional {rules.min_notional:.10g} (budget {budget:.10g})",
            {**numbers, "notional": amount * price, "min_notional": rules.min_notional},
        )
    return EntrySize(symbol, amount, price, cost, budget, _CAPS[cap])  # type: ignore[arg-type]


def _rule_text(stake: StakeRule) -> str:
    base = (
        f"stake_amount {stake.stake_amount:.10g}"
        if stake.stake_amount
        else f"stake_fraction {stake.stake_fraction:.10g} of equity"
    )
    if stake.max_position_quote:
        base += f", max_position_quote {stake.max_position_quote:.10g}"
    return base
