"""Choosing the exchange implementation from the configured mode.

`sim` is the embedded default (deterministic, offline); `paper:<id>` and `live:<id>` go
through ccxt. Keeping the choice in one function means the CLI, the live loop and the Dagster
resource can never disagree about what a mode means.
"""

from __future__ import annotations

from awan_trading.config import AwanConfig
from awan_trading.errors import ConfigError
from awan_trading.exchange.base import Exchange


def open_exchange(mode: str, config: AwanConfig) -> Exchange:
    """The exchange for `mode` (`sim`, `paper:<ccxt id>`, `live:<ccxt id>`)."""
    if mode == "sim":
        from awan_trading.exchange.sim import SimExchange
        from awan_trading.exchange.sim_market import SimMarket

        return SimExchange(
            SimMarket(config.sim.seed),
            fee_rate=config.sim.fee_rate,
            slippage_bps=config.sim.slippage_bps,
            balances=dict(config.sim.starting_balance),
        )
    raise ConfigError(f"unknown exchange {mode!r}; this build supports: sim")
