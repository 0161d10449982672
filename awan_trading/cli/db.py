"""Store and cache commands: `awan db migrate`, `awan db status`, `awan cache warm`.

Deploys run `awan db migrate` before starting services (safe when several start at once);
`awan db status` answers "which schema is this database on, and is TimescaleDB in use"
without ever printing the password in the URL; `awan cache warm` rebuilds Redis from the
store after a restart or a flush.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from awan_trading.cli.app import app, awan_command, console
from awan_trading.errors import AwanError

if TYPE_CHECKING:  # the store package pulls in polars and the drivers: imported per command
    from rich.table import Table

    from awan_trading.storage import Store

db_app = typer.Typer(help="The store: schema migrations and status.", no_args_is_help=True)
cache_app = typer.Typer(help="The hot cache (Redis or in-process).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(cache_app, name="cache")

UrlOption = Annotated[
    str | None,
    typer.Option("--url", help="Store URL (default: AWAN_STORE_URL, else .awan/awan.duckdb)."),
]


def _status_table(store: Store) -> Table:
    from rich.table import Table

    status = store.status()
    table = Table(title="awan store", show_header=False)
    table.add_column("key", style="bold")
    table.add_column("value")
    table.add_row("backend", status["backend"])
    table.add_row("url", status["url"])
    table.add_row("schema version", f"{status['version']} (latest {status['latest']})")
    pending = ", ".join(map(str, status["pending"])) or "none"
    table.add_row("pending migrations", pending)
    table.add_row("features", status["features"])
    return table


@db_app.command("migrate")
@awan_command
def db_migrate(url: UrlOption = None) -> None:
    """Apply pending schema migrations (idempotent)."""
    from awan_trading.storage import open_store

    store = open_store(url)
    try:
        applied = store.migrate()
        message = f"applied migration(s) {', '.join(map(str, applied))}" if applied else None
        console.print(message or "schema already up to date", highlight=False)
        console.print(_status_table(store))
    finally:
        store.close()


@db_app.command("status")
@awan_command
def db_status(url: UrlOption = None) -> None:
    """Show backend, masked URL, schema version and TimescaleDB use."""
    from awan_trading.storage import open_store

    store = open_store(url)
    try:
        console.print(_status_table(store))
    finally:
        store.close()


@cache_app.command("warm")
@awan_command
def cache_warm(
    url: UrlOption = None,
    redis_url: Annotated[
        str | None, typer.Option("--redis-url", help="Default: AWAN_REDIS_URL.")
    ] = None,
    exchange: Annotated[str | None, typer.Option(help="Default: the config's exchange.")] = None,
    symbol: Annotated[
        list[str] | None, typer.Option("--symbol", "-s", help="Default: the config's symbols.")
    ] = None,
    timeframe: Annotated[
        list[str] | None, typer.Option("--timeframe", "-t", help="Default: the config's.")
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="awan.toml to use (default: AWAN_CONFIG_FILE, ./awan.toml)")
    ] = None,
) -> None:
    """Rebuild the cached candle windows from the store."""
    from rich.table import Table

    from awan_trading.config import load_config
    from awan_trading.storage import open_store
    from awan_trading.storage.cache import RedisCache
    from awan_trading.storage.hot import open_cache, warm
    from awan_trading.storage.memory_cache import MemoryCache

    universe = load_config(config).universe
    cache = open_cache(redis_url)
    if not cache.available():
        raise AwanError(f"redis at {getattr(cache, 'url', '?')} is unreachable; nothing cached")
    store = open_store(url)
    try:
        counts = warm(
            store,
            cache,
            exchange or universe.exchange,
            symbol or universe.symbols,
            timeframe or universe.timeframes,
        )
    finally:
        store.close()
    if isinstance(cache, RedisCache) and cache.breaker.failures:
        raise AwanError(f"redis at {cache.url} failed during the warm-up; run it again")
    if isinstance(cache, MemoryCache):
        console.print("no Redis URL configured: the in-process cache ends with this command")
    table = Table(title=f"cache warmed ({type(cache).__name__})")
    for column in ("symbol", "timeframe", "candles"):
        table.add_column(column)
    for (sym, tf), n in counts.items():
        table.add_row(sym, tf, str(n))
    console.print(table)
