"""`awan live` (the live-loop daemon) and `awan heartbeat` (its health check).

`awan live` runs until SIGTERM/SIGINT (then finishes the order in flight and exits 0), or, with
`--start/--end` on the sim, replays that window and prints what it did. Every flag overrides
the matching key of `awan.toml`; every flag is checked before anything starts.
"""

from __future__ import annotations

import threading
from contextlib import closing
from pathlib import Path
from typing import Annotated

import typer

from awan_trading.cli.app import app, awan_command, console, fail

ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="awan.toml to use (default: ./awan.toml)")
]


@app.command("live")
@awan_command
def live_command(
    mode: Annotated[
        str | None,
        typer.Option(
            help="sim | paper:<ccxt id> | live:<ccxt id> (default: the config's exchange)"
        ),
    ] = None,
    execution: Annotated[
        str,
        typer.Option(help="inline: the loop places orders itself; sensor: Dagster executes them"),
    ] = "inline",
    symbols: Annotated[
        str | None, typer.Option(help="comma-separated, e.g. BTC/USDT,ETH/USDT (default: config)")
    ] = None,
    timeframe: Annotated[
        str | None, typer.Option(help="strategy timeframe (default: the config's)")
    ] = None,
    strategy: Annotated[
        str | None, typer.Option(help="registered strategy (default: the config's)")
    ] = None,
    start: Annotated[
        str | None, typer.Option(help="sim only: replay candles opening from this UTC time")
    ] = None,
    end: Annotated[str | None, typer.Option(help="sim only: ... up to this UTC time")] = None,
    speed: Annotated[
        str | None, typer.Option(help="replay speed: max (default) or N times real time")
    ] = None,
    bot: Annotated[
        str, typer.Option(help="name in heartbeats, events and the control table")
    ] = "awan",
    config: ConfigOption = None,
) -> None:
    """Run the live loop: at each candle close, candles → indicators → signals → orders."""
    from awan_trading.config import load_config, load_settings
    from awan_trading.domain.trades import closed_trades
    from awan_trading.live.alerts import DailyDigest, notifying, open_outbox
    from awan_trading.live.health import stop_on_signals
    from awan_trading.live.runner import (
        build_loop,
        check_replay_store,
        plan_from,
        record_start,
        run_replay,
    )  # fmt: skip
    from awan_trading.storage import open_store
    from awan_trading.storage.hot import open_cache

    cfg = load_config(config)
    plan = plan_from(
        cfg, mode=mode, execution=execution, symbols=symbols, timeframe=timeframe,
        strategy=strategy, start=start, end=end, speed=speed, bot=bot,
    )  # fmt: skip
    settings = load_settings()
    store = open_store(settings.resolved_store_url(), migrate=True)
    if plan.is_replay:
        check_replay_store(store, plan.venue)
    cache = open_cache()
    stop = threading.Event()
    # Telegram (when configured) through the outbox: the order path only queues messages.
    outbox = open_outbox(settings)
    loop, clock = build_loop(plan, cfg, store, cache, settings=settings, stop=stop,
                             notifier=outbox)  # fmt: skip
    digest = DailyDigest(store, plan.venue, plan.bot, outbox, plan.symbols)
    what = f"{plan.strategy.name} on {','.join(plan.symbols)} {plan.timeframe} · {plan.mode} · {plan.execution}"
    record_start(store, plan)
    with closing(loop), notifying(outbox, plan.bot, what), stop_on_signals(stop):
        if not plan.is_replay:
            console.print(f"awan live: {what}; stop with Ctrl-C or SIGTERM", highlight=False)
            closes = loop.run_live(clock, close_delay=0.0 if plan.mode == "sim" else 2.0,
                                   on_step=digest.on_step)  # fmt: skip
            console.print(f"stopped after {closes} candle close(s)", highlight=False)
            return
        reports = run_replay(loop, clock, plan, digest.on_step)  # type: ignore[arg-type]
    from awan_trading.storage.rows import fill_from_row

    fills = [fill_from_row(r) for r in store.fills(exchange=plan.venue).iter_rows()]
    trades = closed_trades(fills, exchange=plan.venue, dust_below=store.sell_minimums(plan.venue))
    signals = sum(len(r.signals) for r in reports)
    console.print(
        f"replayed {len(reports)} close(s) of {what}: {signals} signal(s), "
        f"{len(trades)} closed trade(s), {len(store.positions(plan.venue))} open position(s)"
        + (" (stopped early)" if stop.is_set() else ""),
        highlight=False,
    )
    console.print("see them with: awan trades · awan positions", highlight=False)


@app.command("heartbeat")
@awan_command
def heartbeat_command(
    bot: Annotated[str, typer.Option(help="the live loop's --bot name")] = "awan",
    max_age: Annotated[
        float, typer.Option(help="seconds after which the loop counts as down")
    ] = 180.0,
) -> None:
    """Exit 0 when the live loop beat within --max-age seconds, 1 otherwise (health checks)."""
    from awan_trading.config import load_settings
    from awan_trading.live.health import heartbeat_age
    from awan_trading.storage import open_store

    store = open_store(load_settings().resolved_store_url())
    last = store.last_heartbeat(bot)
    age = heartbeat_age(store, bot)
    if last is None or age is None:
        raise fail(f"bot {bot!r} has never written a heartbeat", code=1)
    seconds = age.total_seconds()
    if seconds > max_age:
        raise fail(
            f"bot {bot!r} last beat {seconds:.0f} s ago ({last[1]}); limit {max_age:.0f} s", code=1
        )
    console.print(f"{bot}: alive, last beat {seconds:.0f} s ago ({last[1]})", highlight=False)
