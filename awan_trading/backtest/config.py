"""Backtest settings that are about the venue and the account, not the strategy.

Fees, slippage, starting cash and position sizing describe where and how big we trade; the
strategy's own parameters (including its stop-loss, take-profit and trailing stop) travel with
the strategy so the live position manager applies exactly what was tested.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


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

    @property
    def effective_stake_fraction(self) -> float:
        return (
            self.stake_fraction
            if self.stake_fraction is not None
            else 1.0 / self.max_open_positions
        )
