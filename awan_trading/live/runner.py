"""Building a live loop from `awan.toml` and the `awan live` flags, and running it.

Flags override the config file key by key: `--mode` the universe's exchange, `--symbols` its
symbols, `--timeframe` and `--strategy` the strategy's (the file's parameters apply when the
strategy is the file's). Every choice is checked here, before the store, the cache or the
exchange is touched, so a user mistake is one line and nothing half-started.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from awan_trading.config import AwanConfig, Settings
from awan_trading.errors import ConfigError
from awan_trading.exchange.base import Exchange
from awan_trading.exchange.factory import open_exchange, venue_name
from awan_trading.live.clock import ReplayClock, WallClock, parse_speed
from awan_trading.live.feed import CandleFeed
from awan_trading.live.loop import ExecutionMode, LiveLoop, StepReport
from awan_trading.market.timeframes import parse_timeframe, parse_utc
from awan_trading.storage.base import CandleProvenance, Store
from awan_trading.storage.cache import HotCache
from awan_trading.strategies.base import Strategy

if TYPE_CHECKING:  # the executor pulls in the whole order path: imported when a loop is built
    from awan_trading.execution.executor import Executor
    from awan_trading.execution.notifier import Notifier

EXECUTION_MODES = ("inline", "sensor")


@dataclass(frozen=True)
class LivePlan:
    """The resolved choices of one `awan live` run."""

    mode: str
    execution: ExecutionMode
    symbols: tuple[str, ...]
    timeframe: str
    strategy: Strategy
    bot: str
    start: datetime | None = None
    end: datetime | None = None
    speed: float | None = None

    @property
    def venue(self) -> str:
        return venue_name(self.mode)

    @property
    def is_replay(self) -> bool:
        return self.start is not None


def plan_from(
    config: AwanConfig,
    *,
    mode: str | None = None,
    execution: str = "inline",
    symbols: str | None = None,
    timeframe: str | None = None,
    strategy: str | None = None,
    start: str | None = None,
    end: str | None = None,
    speed: str | None = None,
    bot: str = "awan",
) -> LivePlan:
    """Flags over the config file, validated; raises `ConfigError` naming the flag."""
    from awan_trading.config import UniverseConfig
    from awan_trading.strategies import get_strategy

    mode = mode or config.universe.exchange
    try:
        UniverseConfig(exchange=mode)
    except ValueError as exc:
        raise ConfigError(
            f"--mode: {mode!r} must be sim, paper:<ccxt id> or live:<ccxt id>"
        ) from exc
    if execution not in EXECUTION_MODES:
        raise ConfigError(f"--execution must be inline or sensor, got {execution!r}")
    chosen = (
        tuple(s.strip() for s in symbols.split(",") if s.strip())
        if symbols
        else tuple(config.universe.symbols)
    )
    if not chosen:
        raise ConfigError("--symbols is empty; give BASE/QUOTE symbols such as BTC/USDT,ETH/USDT")
    if symbols:
        try:
            UniverseConfig(symbols=list(chosen))
        except ValueError as exc:
            first = exc.errors()[0]["msg"] if hasattr(exc, "errors") else str(exc)  # type: ignore[attr-defined]
            raise ConfigError(f"--symbols: {first.removeprefix('Value error, ')}") from None
    tf = parse_timeframe(timeframe or config.strategy.timeframe).name
    name = strategy or config.strategy.name
    params = config.strategy.params if name == config.strategy.name else {}
    chosen_strategy = get_strategy(name, params)
    if (start is None) != (end is None):
        raise ConfigError("--start and --end go together (a replay of [start, end))")
    if speed is not None and start is None:
        raise ConfigError("--speed applies to a replay only; give --start and --end")
    begin = finish = None
    if start is not None and end is not None:
        if mode != "sim":
            raise ConfigError(f"--start/--end replay history on the sim only, not on {mode!r}")
        begin, finish = parse_utc(start, what="--start"), parse_utc(end, what="--end")
        if finish <= begin:
            raise ConfigError(
                f"--end {finish.isoformat()} is not after --start {begin.isoformat()}"
            )
        if parse_timeframe(tf).count_between(begin, finish) < 2:
            raise ConfigError(f"[--start, --end) holds fewer than two {tf} candles")
    return LivePlan(mode, execution, chosen, tf, chosen_strategy, bot, begin, finish,  # type: ignore[arg-type]
                    parse_speed(speed))  # fmt: skip


def build_executor(
    plan: LivePlan,
    config: AwanConfig,
    exchange: Exchange,
    store: Store,
    clock: ReplayClock | WallClock,
    notifier: Notifier | None = None,
) -> Executor:
    """The same `Executor` the Dagster execution job builds, over this loop's exchange."""
    from awan_trading.execution.executor import Executor

    if plan.mode == "sim":
        fee = config.sim.fee_rate
    else:
        fee = exchange.markets()[plan.symbols[0]].taker_fee
    return Executor(
        exchange, store, bot=plan.bot, strategy=plan.strategy, risk=config.risk, fee=fee,
        slippage=config.sim.slippage_bps / 10_000.0, notifier=notifier, clock=clock.now,
        live_confirmed=config.live_confirmed, symbols=plan.symbols,
    )  # fmt: skip


def build_loop(
    plan: LivePlan,
    config: AwanConfig,
    store: Store,
    cache: HotCache,
    *,
    settings: Settings | None = None,
    stop: threading.Event | None = None,
    api_url: str | None = None,
    notifier: Notifier | None = None,
) -> tuple[LiveLoop, ReplayClock | WallClock]:
    """The loop, its exchange and its clock, as `awan live` runs them."""
    clock: ReplayClock | WallClock = (
        ReplayClock(plan.start, plan.speed) if plan.start is not None else WallClock()
    )
    exchange = open_exchange(
        plan.mode, config, settings, api_url=api_url, store=store, clock=clock.now
    )
    refresh: Callable[[], None] | None = None
    if hasattr(exchange, "match_timeframe"):  # the sim judges resting orders on our candles
        exchange.match_timeframe = plan.timeframe
        # A sim or paper account is the store's (a restarted loop goes on with it); in sensor
        # mode Dagster runs trade it in other processes, so it is rebuilt at every close.
        from awan_trading.exchange.sim_account import restore_account

        def rebuild() -> None:
            restore_account(exchange, store, dict(config.sim.starting_balance))  # type: ignore[arg-type]

        rebuild()
        if plan.execution == "sensor":
            refresh = rebuild
    feed = CandleFeed(
        exchange, store, cache, venue=plan.venue, symbols=plan.symbols, timeframe=plan.timeframe,
        params=plan.strategy.indicator_params(), rows=plan.strategy.lookback,
        provenance=CandleProvenance.live(plan.bot),
    )  # fmt: skip
    executor = build_executor(plan, config, exchange, store, clock, notifier)
    loop = LiveLoop(
        feed, plan.strategy, store, cache, executor, bot=plan.bot, execution=plan.execution,
        max_open_positions=config.risk.max_open_positions, stop=stop, refresh_account=refresh,
    )  # fmt: skip
    if settings is not None:  # the status file under AWAN_HOME (control/statusfile.py)
        from awan_trading.control.statusfile import StatusFileWriter

        loop.on_beat = StatusFileWriter(settings.home, plan.bot, store, exchange.name,
                                        plan.venue, plan_facts(plan))  # fmt: skip
    return loop, clock


def plan_facts(plan: LivePlan) -> dict[str, Any]:
    """What `awan status` shows of a running loop's plan (the `started` event's data)."""
    return {
        "mode": plan.mode, "execution": plan.execution, "symbols": list(plan.symbols),
        "timeframe": plan.timeframe, "strategy": plan.strategy.name,
        "replay": plan.is_replay,
    }  # fmt: skip


def record_start(store: Store, plan: LivePlan) -> None:
    """The `started` event `control.status` reads for the mode, execution and uptime."""
    from awan_trading.storage.base import BotEvent

    what = f"{plan.strategy.name} on {','.join(plan.symbols)} {plan.timeframe} · {plan.mode}"
    store.record_event(BotEvent(plan.bot, "started", f"started: {what}",
                                json.dumps(plan_facts(plan), sort_keys=True)))  # fmt: skip


def run_replay(
    loop: LiveLoop,
    clock: ReplayClock,
    plan: LivePlan,
    on_step: Callable[[StepReport], None] | None = None,
) -> list[StepReport]:
    """`LiveLoop.run_replay` over the plan's window, on one held store connection if the
    store offers it (DuckDB: see `DuckDBStore.held`)."""
    assert plan.start is not None and plan.end is not None
    with loop.store_held():
        return loop.run_replay(clock, plan.start, plan.end, on_step)


def check_replay_store(store: Store, venue: str) -> None:
    """A replay starts from the sim's starting balance with no orders: refuse a store that
    already holds orders of `venue`, whose client order ids the replay would reuse."""
    orders = store.orders()
    count = orders.filter(orders["exchange"] == venue).height
    if count:
        raise ConfigError(
            f"the store {store.url} already holds {count} {venue} order(s) from an earlier run; "
            "a replay starts from an empty account: point AWAN_STORE_URL at a new store "
            "(e.g. duckdb:///.awan/replay.duckdb)"
        )
