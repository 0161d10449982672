"""Backtest settings that are about the venue and the account, not the strategy.

Fees, slippage, starting cash and position sizing describe where and how big we trade; the
strategy's own parameters (including its stop-loss, take-profit and trailing stop) travel with
the strategy so the live position manager applies exactly what was tested.

Sizing is `awan_trading.execution.sizing`, the rule the live executor runs: with
`max_position_quote` and per-symbol `market_rules` (lot step, minimum amount and notional) set
from the venue, a backtest orders exactly the amounts the live loop would. Left at their
defaults (no cap, no rules) they change nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from awan_trading.execution.sizing import MarketRules, StakeRule

if TYPE_CHECKING:
    from awan_trading.config import RiskConfig
    from awan_trading.exchange.base import Market


class BacktestConfig(BaseModel):
    """Account and venue assumptions for one backtest run.

    Sizing follows freqtrade's "unlimited stake": each entry gets `stake_fraction` of equity
    (default `1 / max_open_positions`), capped by free cash, and at most `max_open_positions`
    symbols are held at once; simultaneous entries are served best `score` first. A fixed
    `stake_amount` (freqtrade's default mode) replaces the fraction: every entry gets that many
    units of quote currency, or the free cash if less, so results do not compound.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    initial_cash: float = Field(10_000.0, gt=0)
    fee: float = Field(0.001, ge=0, lt=0.05, description="fraction of notional per fill (0.1 %)")
    slippage: float = Field(0.0005, ge=0, lt=0.05, description="adverse price move per market fill")
    max_open_positions: int = Field(3, ge=1)
    stake_fraction: float | None = Field(None, gt=0, le=1)
    stake_amount: float | None = Field(
        None, gt=0, description="fixed quote amount per entry (freqtrade's stake_amount)"
    )
    max_position_quote: float | None = Field(
        None, gt=0, description="cap on one entry's stake in quote currency (RiskConfig's)"
    )
    max_daily_loss: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="no entries for the rest of a UTC day after this realized loss",
    )
    market_rules: dict[str, MarketRules] = Field(
        default_factory=dict,
        description="per-symbol lot rules (amount_increment, min_amount, min_notional)",
    )

    @property
    def effective_stake_fraction(self) -> float:
        return (
            self.stake_fraction
            if self.stake_fraction is not None
            else 1.0 / self.max_open_positions
        )

    @property
    def stake_rule(self) -> StakeRule:
        """The account-level sizing settings, as `execution.sizing` takes them."""
        return StakeRule(self.effective_stake_fraction, self.stake_amount, self.max_position_quote)

    def rules_for(self, symbol: str) -> MarketRules:
        """The symbol's lot rules; none (no rounding, no minimums) when not given.

        `active` is dropped: whether the venue trades a market today is a live concern, while its
        history can always be backtested.
        """
        rules = self.market_rules.get(symbol)
        return replace(rules, active=True) if rules is not None else MarketRules()

    @classmethod
    def like_live(
        cls,
        risk: RiskConfig,
        markets: Mapping[str, Market],
        *,
        initial_cash: float,
        fee: float,
        slippage: float,
    ) -> BacktestConfig:
        """A backtest that sizes and limits entries exactly as the live executor does with
        `risk` on a venue with `markets` (e.g. the sim's)."""
        return cls(
            initial_cash=initial_cash,
            fee=fee,
            slippage=slippage,
            max_open_positions=risk.max_open_positions,
            stake_fraction=risk.stake_fraction,
            max_position_quote=risk.max_position_quote,
            max_daily_loss=risk.max_daily_loss,
            market_rules={s: MarketRules.of(m) for s, m in markets.items()},
        )
