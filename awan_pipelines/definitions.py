"""The one `Definitions` object of the awan code location.

Everything is derived from `awan.toml` (universe, strategy) and the `AWAN_*` settings: one
resource set for the embedded defaults (sim exchange, DuckDB under `.awan/`) and one for
production (store URL and keys from environment variables, shown in the UI by name only),
chosen by whether `AWAN_STORE_URL` is set — the pattern of Dagster's project_fully_featured.
"""

from __future__ import annotations

import os
import warnings

import dagster as dg

from awan_pipelines.assets.features import (
    build_indicators_asset,
    build_signals_asset,
    signals_key,
)
from awan_pipelines.assets.market import build_ohlcv_asset, ohlcv_key
from awan_pipelines.assets.reports import build_backtest_asset, build_pair_ranking_asset
from awan_pipelines.assets.trading import build_trading_assets
from awan_pipelines.automation import automation_sensor
from awan_pipelines.execution import BOT, build_execute_signal_job, execution_setup
from awan_pipelines.io_managers import StoreIOManager
from awan_pipelines.partitions import build_partitions
from awan_pipelines.resources import (
    CacheResource,
    ExchangeResource,
    StoreResource,
    TelegramResource,
)
from awan_pipelines.scale_out import build_celery_ingest_job, celery_enabled
from awan_pipelines.schedules import build_schedules
from awan_pipelines.sensors import (
    SignalSelection,
    make_heartbeat_sensor,
    make_signal_sensor,
    run_failure_alert,
)
from awan_trading.backtest import BacktestConfig
from awan_trading.config import AwanConfig, Settings, load_config, load_settings
from awan_trading.exchange.factory import venue_name
from awan_trading.logs import setup_logging
from awan_trading.strategies import STRATEGIES, get_strategy

warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)

BACKTEST_DAYS = 30
CANDLES_JOB, INGEST_JOB, REPORTS_JOB = "candles_job", "ingest_job", "reports_job"


def build_resources(config: AwanConfig, settings: Settings) -> dict[str, object]:
    """Embedded defaults, or production when `AWAN_STORE_URL` is set in the environment."""
    sim = config.sim
    exchange_kwargs = {
        "mode": config.universe.exchange,
        "seed": sim.seed,
        "fee_rate": sim.fee_rate,
        "slippage_bps": sim.slippage_bps,
        "live_confirmed": config.live_confirmed,
    }
    if os.environ.get("AWAN_STORE_URL"):
        store = StoreResource(url=dg.EnvVar("AWAN_STORE_URL"))
        keys = {}
        if os.environ.get("AWAN_EXCHANGE_API_KEY"):
            keys = {
                "api_key": dg.EnvVar("AWAN_EXCHANGE_API_KEY"),
                "api_secret": dg.EnvVar("AWAN_EXCHANGE_API_SECRET"),
            }
        exchange = ExchangeResource(**exchange_kwargs, **keys)
    else:
        store = StoreResource(url=settings.resolved_store_url())
        exchange = ExchangeResource(**exchange_kwargs)
    cache = (
        CacheResource(redis_url=dg.EnvVar("AWAN_REDIS_URL"))
        if os.environ.get("AWAN_REDIS_URL")
        else CacheResource()
    )
    # Alerts go to every allowed chat (AWAN_TELEGRAM_CHAT_IDS and AWAN_TELEGRAM_CHAT_ID).
    chats = ",".join(str(chat) for chat in settings.telegram_chats()) or None
    telegram = (
        TelegramResource(
            token=dg.EnvVar("AWAN_TELEGRAM_TOKEN"),
            chat_id=chats,
            base_url=settings.telegram_api_url,
        )
        if os.environ.get("AWAN_TELEGRAM_TOKEN")
        else TelegramResource()
    )
    return {
        "store": store,
        "exchange": exchange,
        "telegram": telegram,
        "cache": cache,
        "store_io_manager": StoreIOManager(store=store, exchange=exchange),
    }


def build_assets(config: AwanConfig) -> list[dg.AssetsDefinition]:
    """Every asset of the location: per timeframe ohlcv → indicators → signals, then reports."""
    partitions = build_partitions(config)
    configured = get_strategy(config.strategy.name, config.strategy.params)
    # Every registered strategy gets signals, as long as it reads the same indicators as the
    # configured one (the indicators assets are computed once, with the configured parameters).
    others = (get_strategy(name) for name in sorted(STRATEGIES) if name != configured.name)
    strategies = [configured] + [
        s for s in others if s.indicator_params() == configured.indicator_params()
    ]
    signal_tf = config.strategy.timeframe
    timeframes = list(dict.fromkeys([*config.universe.timeframes, signal_tf]))
    symbols = list(config.universe.symbols)
    backtest_config = BacktestConfig(
        fee=config.sim.fee_rate,
        slippage=config.sim.slippage_bps / 10_000,
        max_open_positions=config.risk.max_open_positions,
        stake_fraction=config.risk.stake_fraction,
    )
    # Backtests and the ranking (what trades) read the signals of the strategy's timeframe.
    assets: list[dg.AssetsDefinition] = []
    for tf in timeframes:
        assets.append(build_ohlcv_asset(tf, partitions))
        assets.append(build_indicators_asset(tf, partitions, configured))
        assets += [build_signals_asset(tf, partitions, s) for s in strategies]
    assets += [
        build_backtest_asset(s, signal_tf, symbols, BACKTEST_DAYS, backtest_config)
        for s in strategies
    ]
    assets.append(build_pair_ranking_asset(configured, signal_tf, symbols))
    # Execution: signals of the configured strategy → one execute_signal run each → trades.
    assets += build_trading_assets([signals_key(signal_tf, configured.name)], partitions)
    return assets


def build_jobs(config: AwanConfig) -> list[dg.JobDefinition | dg.UnresolvedAssetJobDefinition]:
    """Named jobs: candles alone (the schedule; automation carries them downstream), candles
    with their features in one run (backfills, the demo), the reports, and `execute_signal`
    (one run per signal, requested by the signal sensor). Where a Celery broker is configured,
    `ingest_celery_job` too: the ingest assets with their steps on Celery workers."""
    ingest = dg.AssetSelection.groups("market", "features")
    scale_out = [build_celery_ingest_job(ingest)] if celery_enabled() else []
    return [
        dg.define_asset_job(CANDLES_JOB, selection=dg.AssetSelection.groups("market")),
        dg.define_asset_job(INGEST_JOB, selection=ingest),
        *scale_out,
        dg.define_asset_job(REPORTS_JOB, selection=dg.AssetSelection.groups("reports")),
        build_execute_signal_job(
            execution_setup(config, _configured(config)),
            build_partitions(config),
            ohlcv_key(config.strategy.timeframe),
        ),
    ]


def _configured(config: AwanConfig):
    return get_strategy(config.strategy.name, config.strategy.params)


def build_sensors(config: AwanConfig, execute_job: dg.JobDefinition) -> list:
    """Run-failure alerts, declarative automation, signal → execution runs, and the live
    loop's heartbeat alert."""
    configured = _configured(config)
    selection = SignalSelection(
        venue_name(config.universe.exchange),
        configured.name,
        configured.params.params_hash(),
        config.strategy.timeframe,
    )
    return [
        run_failure_alert,
        automation_sensor(),
        make_signal_sensor(execute_job, selection),
        make_heartbeat_sensor(BOT, config.strategy.timeframe),
    ]


def build_definitions(
    config: AwanConfig, settings: Settings, resource_overrides: dict[str, object] | None = None
) -> dg.Definitions:
    """The code location for this config; `resource_overrides` swaps resources (tests, tools)."""
    symbols = list(config.universe.symbols)
    jobs = build_jobs(config)
    execute_job = next(j for j in jobs if isinstance(j, dg.JobDefinition))
    return dg.Definitions(
        assets=build_assets(config),
        jobs=jobs,
        schedules=build_schedules(CANDLES_JOB, symbols),
        sensors=build_sensors(config, execute_job),
        resources={**build_resources(config, settings), **(resource_overrides or {})},
        # In process for every job, the UI's "Materialize" (the implicit asset job) included:
        # each step is a short link in a chain (ohlcv → indicators → signals) and a step
        # subprocess costs 7–17 s of imports on 2 cores, far more than the work itself.
        # Scale-out comes from runs (one per symbol in a backfill), not from steps; across
        # machines, from ingest_celery_job's own executor (awan_pipelines/scale_out.py).
        executor=dg.in_process_executor,
    )


def _load() -> dg.Definitions:
    settings = load_settings()
    # Every process that loads the code location (code server, run workers, `dagster dev`)
    # logs the awan way: level and format from the settings, every secret redacted, including
    # from `context.log` lines before they reach Dagster's event log.
    setup_logging(settings)
    return build_definitions(load_config(settings.config_file), settings)


defs = _load()
