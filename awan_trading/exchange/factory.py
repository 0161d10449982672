"""Choosing the exchange implementation from the configured mode.

`sim` is the embedded default (deterministic, offline); `paper:<id>` and `live:<id>` go
through ccxt. Keeping the choice in one function means the CLI, the live loop and the Dagster
resource can never disagree about what a mode means — and that the live-trading safety checks
(explicit confirmation in config, credentials from the environment only) cannot be skipped by
constructing the connector some other way in application code.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from awan_trading.config import AwanConfig, Settings, load_settings
from awan_trading.errors import ConfigError
from awan_trading.exchange.base import Exchange


def venue_name(mode: str) -> str:
    """The exchange key candles and orders are stored under: `sim`, or the ccxt id of a
    `paper:`/`live:` mode — paper and live share market data, so they share candles."""
    return mode.partition(":")[2] or mode


def open_exchange(
    mode: str,
    config: AwanConfig,
    settings: Settings | None = None,
    *,
    api_url: str | None = None,
    store: Any = None,
    clock: Callable[[], datetime] | None = None,
) -> Exchange:
    """The exchange for `mode` (`sim`, `paper:<ccxt id>`, `live:<ccxt id>`).

    `settings` supplies the API key and secret for live mode (default: `load_settings()`);
    `api_url` points ccxt at another host (the loopback emulator); `store` (anything with
    `fills()`) restores a paper account's balances from its recorded fills; `clock` drives
    the sim's "now" (a live-loop replay moves it candle by candle).
    """
    if mode == "sim":
        from awan_trading.exchange.sim import SimExchange
        from awan_trading.exchange.sim_market import SimMarket

        return SimExchange(
            SimMarket(config.sim.seed),
            fee_rate=config.sim.fee_rate,
            slippage_bps=config.sim.slippage_bps,
            balances=dict(config.sim.starting_balance),
            clock=clock,
        )
    kind, _, venue_id = mode.partition(":")
    if kind not in ("paper", "live") or not venue_id:
        raise ConfigError(
            f"unknown exchange {mode!r}; use 'sim', 'paper:<ccxt id>' or 'live:<ccxt id>'"
        )
    import ccxt  # seconds to import: only paper/live pay it, never the sim or `awan --help`

    if venue_id not in ccxt.exchanges:
        raise ConfigError(f"exchange {mode!r}: {venue_id!r} is not a ccxt exchange id")
    from awan_trading.exchange.ccxt_exchange import CcxtExchange

    if kind == "paper":
        from awan_trading.exchange.paper import PaperExchange, balances_from_fills

        # Public market data only: a paper account never needs (or sees) the API keys.
        venue = CcxtExchange(venue_id, api_url=api_url)
        balances = dict(config.sim.starting_balance)
        if store is not None:
            balances = balances_from_fills(balances, store.fills(), f"paper:{venue_id}")
        return PaperExchange(venue, slippage_bps=config.sim.slippage_bps, balances=balances)

    if not config.live_confirmed:
        raise ConfigError(
            f"exchange {mode!r} places real orders; set live_confirmed = true in the config "
            "file to allow it"
        )
    settings = settings if settings is not None else load_settings()
    key, secret = settings.exchange_api_key, settings.exchange_api_secret
    if key is None or secret is None or not key.get_secret_value() or not secret.get_secret_value():
        raise ConfigError(
            f"exchange {mode!r} needs AWAN_EXCHANGE_API_KEY and AWAN_EXCHANGE_API_SECRET "
            "in the environment (or .env)"
        )
    return CcxtExchange(
        venue_id,
        api_key=key.get_secret_value(),
        secret=secret.get_secret_value(),
        api_url=api_url,
    )
