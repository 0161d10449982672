"""`awan demo`: the whole embedded-default pipeline in one command, for a newcomer.

It exercises what exists end to end on the offline sim — fetch a week of candles for the
configured universe, validate them, resample to every configured timeframe, write files under
`.awan/demo/` — so the first command a person runs shows real output, not a hello world.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.table import Table

from awan_trading.cli.app import app, awan_command, console
from awan_trading.cli.market import fetch_range
from awan_trading.config import load_config, load_settings
from awan_trading.exchange.factory import open_exchange
from awan_trading.logs import configure_logging, get_logger
from awan_trading.market.files import candle_file_name, write_candle_file
from awan_trading.market.resample import resample_candles
from awan_trading.market.timeframes import parse_timeframe
from awan_trading.market.validation import ensure_valid, findings_frame

log = get_logger(__name__)


@app.command()
@awan_command
def demo(
    days: Annotated[int, typer.Option(min=1, max=366, help="days of history to fetch")] = 7,
    config: Annotated[Path | None, typer.Option(help="awan.toml to use")] = None,
) -> None:
    """Run the embedded-default pipeline: sim → validate → resample → files under .awan/demo."""
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format, settings.secret_values())
    cfg = load_config(config or settings.config_file)
    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = end - timedelta(days=days)
    out = settings.home / "demo"
    exchange = open_exchange(cfg.universe.exchange, cfg)
    base_tf = parse_timeframe("1m")
    log.info("demo.fetch", exchange=exchange.name, symbols=cfg.universe.symbols, start=str(start), end=str(end))
    frames = fetch_range(exchange, cfg.universe.symbols, base_tf, start, end)

    table = Table(title=f"awan demo: {exchange.name} {start:%Y-%m-%d} → {end:%Y-%m-%d} UTC")
    for column in ("symbol", "timeframe", "candles", "gaps", "first close", "last close", "change", "file"):
        table.add_column(column, justify="right" if column not in {"symbol", "file"} else "left")
    for symbol, frame in frames.items():
        ensure_valid(frame, base_tf, context=f"{exchange.name} {symbol} {base_tf}")
        for name in dict.fromkeys(["1m", *cfg.universe.timeframes]):
            tf = parse_timeframe(name)
            candles = frame if tf == base_tf else resample_candles(frame, base_tf, tf, data_end=end)
            gaps = findings_frame(candles, tf).filter(pl.col("rule") == "gap").height
            path = write_candle_file(candles, out / candle_file_name(symbol, tf), tf)
            first, last = candles["close"][0], candles["close"][-1]
            table.add_row(
                symbol, tf.name, f"{candles.height:,}", str(gaps), f"{first:,.4f}", f"{last:,.4f}",
                f"{(last / first - 1):+.2%}", str(path),
            )
    console.print(table)
    console.print(f"Files are in [bold]{out}[/]. Next: [bold]awan validate {out}/BTC_USDT-1m.parquet[/]")
