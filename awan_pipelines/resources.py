"""Dagster resources: the exchange, the store, the hot cache and Telegram, per deployment.

Each is a `ConfigurableResource` over an awan_trading object, so Dagster shows its (non-secret)
config in the UI and secrets arrive through `EnvVar` — the UI then shows the variable's name,
never its value. Objects are built lazily and kept per process: one store connection pool and
one exchange (with its rate limiter) serve every asset in a run.
"""

from __future__ import annotations

import dagster as dg
from pydantic import PrivateAttr

from awan_trading.config import AwanConfig, SimConfig, UniverseConfig
from awan_trading.exchange.base import Exchange
from awan_trading.exchange.factory import open_exchange, venue_name
from awan_trading.notify import TelegramNotifier
from awan_trading.storage import Store, open_store
from awan_trading.storage.cache import HotCache
from awan_trading.storage.hot import open_cache


class ExchangeResource(dg.ConfigurableResource):
    """The venue candles come from and orders go to (`sim`, `paper:<id>`, `live:<id>`)."""

    mode: str = "sim"
    seed: int = 42
    fee_rate: float = 0.001
    slippage_bps: float = 2.0
    live_confirmed: bool = False
    api_key: str | None = None
    api_secret: str | None = None

    _exchange: Exchange | None = PrivateAttr(default=None)

    @property
    def name(self) -> str:
        """The exchange label stored with every candle (`sim`, `binance`, …)."""
        return venue_name(self.mode)

    def get(self) -> Exchange:
        if self._exchange is None:
            config = AwanConfig(
                universe=UniverseConfig(exchange=self.mode),
                sim=SimConfig(
                    seed=self.seed, fee_rate=self.fee_rate, slippage_bps=self.slippage_bps
                ),
                live_confirmed=self.live_confirmed,
            )
            self._exchange = open_exchange(self.mode, config)
        return self._exchange


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
            self._notifier = TelegramNotifier(self.token, self.chat_id, self.base_url)
        return self._notifier
