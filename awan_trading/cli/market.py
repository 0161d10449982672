"""Market-data commands: fetch candles, validate a file, resample a file.

Polars, the exchanges and the store are imported inside the commands: `awan --help` imports
this module (see `awan_trading/cli/__init__.py`); `market.timeframes` is plain Python.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from awan_trading.cli.app import app, awan_command, console, err_console
from awan_trading.errors import AwanError
from awan_trading.market.timeframes import TIMEFRAMES, parse_timeframe, parse_utc

if TYPE_CHECKING:
    from awan_trading.cli.fetching import WindowSink


def _split_symbols(text: str) -> list[str]:
    symbols = [s.strip() for s in text.split(",") if s.strip()]
    if not symbols:
        raise AwanError("--symbols is empty; give e.g. BTC/USDT,ETH/USDT")
    return symbols


@app.command()
@awan_command
def fetch(
    symbols: Annotated[str, typer.Option(help="comma-separated, e.g. BTC/USDT,ETH/USDT")],
    start: Annotated[str, typer.Option(help="first candle open time, inclusive (UTC)")],
    end: Annotated[str, typer.Option(help="exclusive end (UTC)")],
    out: Annotated[Path | None, typer.Option(help="folder for one Parquet file per symbol")] = None,
    store: Annotated[
        bool, typer.Option("--store", help="write into the configured store (AWAN_STORE_URL)")
    ] = False,
    exchange: Annotated[str, typer.Option(help="sim, paper:<ccxt id> or live:<ccxt id>")] = "sim",
    timeframe: Annotated[
        str, typer.Option(help=" ".join(TIMEFRAMES) + " (1M = calendar month)")
    ] = "1m",
    config: Annotated[Path | None, typer.Option(help="awan.toml to use")] = None,
) -> None:
    """Download candles into Parquet files (one per symbol) or the store, and print a summary.

    Streams window by window (memory stays flat whatever the range) with progress on stderr;
    a file appears only when its symbol is complete, a store window only as a whole.
    """
    from rich.table import Table

    from awan_trading.cli.fetching import (
        FileSink,
        StoreSink,
        check_out_dir,
        check_store,
        stream_symbol,
    )
    from awan_trading.cli.paths import make_parents, remove_created
    from awan_trading.cli.progress import FetchProgress
    from awan_trading.config import load_config, load_settings
    from awan_trading.market.files import candle_file_name
    from awan_trading.storage import open_store

    if (out is None) == (not store):
        raise AwanError("give exactly one destination: --out DIR or --store")
    tf = parse_timeframe(timeframe)
    lo, hi = parse_utc(start, what="--start"), parse_utc(end, what="--end")
    if hi <= lo:
        raise AwanError(f"--end {hi.isoformat()} must be after --start {lo.isoformat()}")
    if not (tf.is_aligned(lo) and tf.is_aligned(hi)):
        raise AwanError(
            f"--start and --end must lie on the {tf} grid (got {lo.isoformat()}, {hi.isoformat()})"
        )
    names = _split_symbols(symbols)
    # Every destination is checked (and the store opened) before the first request.
    url = load_settings().resolved_store_url() if store else None
    if out is not None:
        check_out_dir(out, [candle_file_name(s, tf) for s in names])
    if url is not None:
        check_store(url)
    from awan_trading.exchange.factory import open_exchange, venue_name

    venue = open_exchange(exchange, load_config(config))
    db = open_store(url, migrate=True) if url is not None else None
    created = make_parents(out) if out is not None else []
    summaries = []
    try:
        with FetchProgress(err_console) as progress:
            for symbol in names:
                sink: WindowSink
                if out is not None:
                    path = out / candle_file_name(symbol, tf)
                    sink = FileSink(path, tf, context=f"{exchange} {symbol} {tf}")
                else:
                    assert db is not None
                    # Replacing exactly [start, end) makes a repeated fetch a no-op in effect.
                    sink = StoreSink(db, venue_name(exchange), symbol, tf)
                summaries.append(stream_symbol(venue, symbol, tf, lo, hi, sink, progress))
    except BaseException:
        remove_created(created)
        raise
    finally:
        if db is not None:
            db.close()
    table = Table(title=f"{exchange} {tf} candles {lo:%Y-%m-%d %H:%M} → {hi:%Y-%m-%d %H:%M} UTC")
    for column in ("symbol", "rows", "first", "last", "close", "written to"):
        table.add_column(column)
    for row in summaries:
        close = f"{row.close:.8g}" if row.close is not None else "-"
        first, last = row.first or "-", row.last or "-"
        table.add_row(row.symbol, str(row.rows), str(first), str(last), close, row.written_to)
    console.print(table)


@app.command()
@awan_command
def validate(
    file: Annotated[Path, typer.Argument(help="candle Parquet file")],
    timeframe: Annotated[
        str | None, typer.Option(help="defaults to the file's timeframe column")
    ] = None,
    strict: Annotated[bool, typer.Option(help="exit 1 on warnings (gaps) too")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print findings as a JSON list")] = False,
) -> None:
    """Check every validation rule; exit 1 on an error (or, with --strict, any finding)."""
    import polars as pl

    from awan_trading.market.files import read_candle_file
    from awan_trading.market.validation import findings_frame

    frame, file_tf = read_candle_file(file)
    tf = parse_timeframe(timeframe) if timeframe is not None else file_tf
    if tf is None:
        raise AwanError(f"{file}: no 'timeframe' column; pass --timeframe")
    findings = findings_frame(frame, tf)
    if as_json:
        iso = findings.with_columns(pl.col("ts").dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
        typer.echo(json.dumps(iso.to_dicts(), indent=None))
    else:
        for row in findings.iter_rows(named=True):
            line = f"{row['symbol']} {row['ts']:%Y-%m-%dT%H:%M:%SZ} {row['severity']} {row['rule']} {row['detail']}"
            typer.echo(line)
        errors = findings.filter(pl.col("severity") == "error").height
        summary = f"{file}: {frame.height} candles, {errors} error(s), {findings.height - errors} warning(s)"
        typer.echo(summary, err=True)
    has_error = findings.filter(pl.col("severity") == "error").height > 0
    if has_error or (strict and findings.height > 0):
        raise typer.Exit(1)


@app.command()
@awan_command
def resample(
    file: Annotated[Path, typer.Argument(help="candle Parquet file")],
    to: Annotated[str, typer.Option("--to", help="target timeframe, e.g. 1h")],
    out: Annotated[Path, typer.Option(help="output Parquet file")],
    source: Annotated[
        str | None, typer.Option("--from", help="source timeframe if the file has none")
    ] = None,
) -> None:
    """Aggregate a candle file to a higher timeframe (the still-forming last candle is dropped)."""
    from awan_trading.cli.paths import atomic_file, check_output_file
    from awan_trading.market.files import read_candle_file, write_candle_file
    from awan_trading.market.resample import resample_candles

    check_output_file(out)
    frame, file_tf = read_candle_file(file)
    src = parse_timeframe(source) if source is not None else file_tf
    if src is None:
        raise AwanError(f"{file}: no 'timeframe' column; pass --from")
    result = resample_candles(frame, src, to)
    try:
        with atomic_file(out) as partial:  # a failed write leaves the old file, or none
            write_candle_file(result, partial, to)
    except OSError as exc:
        raise AwanError(f"--out {out}: cannot write ({exc.strerror or exc})") from None
    typer.echo(f"{file} ({src}, {frame.height} rows) → {out} ({to}, {result.height} rows)")
