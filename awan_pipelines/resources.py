"""Dagster resources: the exchange, the store, the hot cache and Telegram, per deployment.

Each is a `ConfigurableResource` over an awan_trading object, so Dagster shows its (non-secret)
config in the UI and secrets arrive through `EnvVar` — the UI then shows the variable's name,
never its value. Objects are built lazily and kept per process: one store connection pool and
one exchange (with its rate limiter) serve every asset in a run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import dagster as dg
from pydantic import Field, PrivateAttr

from awan_trading.config import AwanConfig, SimConfig, UniverseConfig
from awan_trading.exchange.base import Exchange
from awan_trading.exchange.factory import open_exchange, venue_name
from awan_trading.storage import Store, open_store

if TYPE_CHECKING:  # redis and python-telegram-bot load on first use, not in every run worker
    from awan_trading.notify import TelegramNotifier
    from awan_trading.storage.cache import HotCache


class ExchangeResource(dg.ConfigurableResource):
    """The venue candles come from and orders go to (`sim`, `paper:<id>`, `live:<id>`)."""

    mode: str = "sim"
    seed: int = 42
    fee_rate: float = 0.001
    slippage_bps: float = 2.0
    starting_balance: dict[str, float] = Field(default_factory=lambda: {"USDT": 10_000.0})
    live_confirmed: bool = False
    api_key: str | None = None
    api_secret: str | None = None

    _exchange: Exchange | None = PrivateAttr(default=None)
    _account: Exchange | None = PrivateAttr(default=None)

    @property
    def name(self) -> str:
        """The exchange label stored with every candle (`sim`, `binance`, …)."""
        return venue_name(self.mode)

    def _config(self) -> AwanConfig:
        return AwanConfig(
            universe=UniverseConfig(exchange=self.mode),
            sim=SimConfig(
                seed=self.seed,
                fee_rate=self.fee_rate,
                slippage_bps=self.slippage_bps,
                starting_balance=self.starting_balance,
            ),
            live_confirmed=self.live_confirmed,
        )

    def get(self) -> Exchange:
        """The venue for market data (candles, tickers, markets)."""
        if self._exchange is None:
            self._exchange = open_exchange(self.mode, self._config())
        return self._exchange

    def account(self, store: Store, timeframe: str) -> Exchange:
        """The venue orders go to, with the account the store records (built once a process).

        Every execution run is a process of its own. A `sim` or `paper:` account lives in
        memory, so it is rebuilt here from the store — balances from the fills, resting
        protective orders from the acknowledged open orders (`exchange.sim_account`) — and
        the runs trade one account, each run's reconciliation agreeing with the venue. The
        sim's resting orders are matched on `timeframe` (the strategy's candles, as `awan
        live` sets it), and a sim replay's runs trade at the replay's clock
        (`live.venue_clock`). A `live:` venue is its own account.
        """
        if self._account is None:
            from awan_trading.exchange.sim import SimExchange
            from awan_trading.exchange.sim_account import restore_account
            from awan_trading.live.venue_clock import replay_clock

            config = self._config()
            at = replay_clock(store, self.name) if self.mode == "sim" else None
            clock = (lambda: at) if at is not None else None  # a replay waits at its close
            venue = open_exchange(self.mode, config, store=store, clock=clock)
            if isinstance(venue, SimExchange):
                venue.match_timeframe = timeframe
                restore_account(venue, store, dict(config.sim.starting_balance))
            self._account = venue
        return self._account


class StoreResource(dg.ConfigurableResource):
    """The long-term store behind the IO manager (DuckDB file or PostgreSQL URL)."""

    url: str

    _store: Store | None = PrivateAttr(default=None)

    def get(self) -> Store:
        if self._store is None:
            self._store = open_store(self.url, migrate=True)
        return self._store

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


class CacheResource(dg.ConfigurableResource):
    """The hot cache: Redis when `redis_url` is set, else in-process. Never required for
    correctness — a dead Redis is bypassed by the cache's circuit breaker."""

    redis_url: str | None = None
    prefix: str = "awan"

    _cache: HotCache | None = PrivateAttr(default=None)

    def get(self) -> HotCache:
        if self._cache is None:
            from awan_trading.storage.hot import open_cache

            self._cache = open_cache(self.redis_url or "", prefix=self.prefix)
        return self._cache


class TelegramResource(dg.ConfigurableResource):
    """Telegram alerts (run failures, signals, fills). Without a token or chat id the notifier
    is disabled and every send is a logged no-op — a missing Telegram never fails a run. In
    production the token arrives as `EnvVar("AWAN_TELEGRAM_TOKEN")`, so the UI shows its name."""

    token: str | None = None
    chat_id: str | None = None  # one id or several, comma-separated: each gets every alert
    base_url: str | None = None

    _notifier: TelegramNotifier | None = PrivateAttr(default=None)

    def notifier(self) -> TelegramNotifier:
        if self._notifier is None:
            from awan_trading.notify.telegram import TelegramNotifier

            self._notifier = TelegramNotifier(self.token, self.chat_id, self.base_url)
        return self._notifier
