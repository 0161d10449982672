"""`awan backtest`: run a registered strategy over candle files and write the evidence.

Outputs go to one directory (trades, equity, metrics, two PNGs) so a run can be compared,
archived or attached to a Dagster materialization unchanged; `--json` prints only the metrics
object on stdout, for scripts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from awan_trading.cli.app import app, awan_command, err_console
from awan_trading.errors import DataError


def load_candles(path: Path) -> tuple[pl.DataFrame, str | None]:
    """Candles from one parquet file or every parquet file in a directory, plus their timeframe."""
    from awan_trading.market.schema import to_candles

    if path.is_dir():
        files = sorted(path.glob("*.parquet"))
        if not files:
            raise DataError(f"{path}: no .parquet files in this directory")
    elif path.is_file():
        files = [path]
    else:
        raise DataError(f"{path}: no such file or directory")
    frames, timeframes = [], set()
    for file in files:
        try:
            raw = pl.read_parquet(file)
        except Exception as exc:  # polars raises several types for a bad file
            raise DataError(
                f"{file}: not a readable parquet file ({exc.__class__.__name__})"
            ) from None
        if "timeframe" in raw.columns:
            timeframes.update(raw.get_column("timeframe").unique().drop_nulls().to_list())
        frames.append(to_candles(raw, symbol=file.stem, source=str(file)))
    if len(timeframes) > 1:
        raise DataError(
            f"{path}: files mix timeframes {sorted(timeframes)}; backtest one timeframe at a time"
        )
    return pl.concat(frames), (timeframes.pop() if timeframes else None)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return "n/a" if value is None else str(value)


@app.command("backtest")
@awan_command
def backtest_command(
    data: Annotated[
        Path, typer.Option("--data", help="a candle parquet file or a directory of them")
    ],
    strategy: Annotated[
        str, typer.Option("--strategy", help="registered strategy name")
    ] = "boll_stoch",
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="strategy parameter key=value (repeatable)")
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", help="directory for trades, equity, metrics and charts")
    ] = Path("backtest-out"),
    timeframe: Annotated[
        str | None, typer.Option(help="candle timeframe (default: from the data)")
    ] = None,
    cash: Annotated[float, typer.Option(help="starting cash (quote currency)")] = 10_000.0,
    fee: Annotated[float, typer.Option(help="fee per fill, fraction of notional")] = 0.001,
    slippage: Annotated[
        float, typer.Option(help="adverse price move per market fill, fraction")
    ] = 0.0005,
    max_open: Annotated[int, typer.Option(help="most positions held at once")] = 3,
    stake_fraction: Annotated[
        float | None, typer.Option(help="share of equity per entry (default 1/max-open)")
    ] = None,
    stake_amount: Annotated[
        float | None, typer.Option(help="fixed quote amount per entry (overrides the fraction)")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="print only the metrics JSON on stdout")
    ] = False,
) -> None:
    """Backtest a strategy; write trades.parquet, equity.parquet, metrics.json, equity.png, chart.png."""
    from pydantic import ValidationError

    from awan_trading.backtest import BacktestConfig, run_backtest
    from awan_trading.backtest.plots import plot_equity, plot_trades
    from awan_trading.errors import ConfigError
    from awan_trading.signals import infer_timeframe
    from awan_trading.strategies import get_strategy, parse_overrides

    chosen = get_strategy(strategy, parse_overrides(set_ or []))
    try:
        config = BacktestConfig(
            initial_cash=cash,
            fee=fee,
            slippage=slippage,
            max_open_positions=max_open,
            stake_fraction=stake_fraction,
            stake_amount=stake_amount,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(f"invalid backtest option {first['loc'][0]}: {first['msg']}") from None
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=as_json,
    )
    with progress:
        task = progress.add_task(f"loading {data}", total=None)
        candles, file_tf = load_candles(data)
        tf = timeframe or file_tf or infer_timeframe(candles)
        progress.update(
            task, description=f"backtesting {chosen.name} on {candles.height:,} candles ({tf})"
        )
        result = run_backtest(candles, chosen, config, timeframe=tf)
        progress.update(task, description=f"writing {out}")
        out.mkdir(parents=True, exist_ok=True)
        result.trades.write_parquet(out / "trades.parquet")
        result.equity.write_parquet(out / "equity.parquet")
        metrics = {
            "strategy": chosen.name,
            "params": chosen.params.model_dump(mode="json"),
            "timeframe": tf,
            **result.metrics,
        }
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        plot_equity(result.equity, out / "equity.png")
        plot_trades(result.frame, result.trades, out / "chart.png")
    if as_json:
        typer.echo(json.dumps(metrics))
        return
    from awan_trading.cli.app import console

    table = Table(
        title=f"{chosen.name} · {candles.get_column('symbol').n_unique()} symbol(s) · {tf}"
    )
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in result.metrics.items():
        table.add_row(key, _fmt(value))
    console.print(table)
    console.print(f"wrote {out}/trades.parquet equity.parquet metrics.json equity.png chart.png")
