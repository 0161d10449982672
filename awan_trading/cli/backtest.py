"""`awan backtest`: run a registered strategy over candle files and write the evidence.

Outputs go to one directory (trades, equity, metrics, two PNGs) so a run can be compared,
archived or attached to a Dagster materialization unchanged; `--json` prints only the metrics
object on stdout, for scripts. `--no-plots` skips the two PNGs (and matplotlib's import).

Polars, the backtester and matplotlib are imported inside the functions that use them:
`awan --help` imports this module (see `awan_trading/cli/__init__.py`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from awan_trading.cli.app import app, awan_command, err_console
from awan_trading.errors import DataError

if TYPE_CHECKING:
    import polars as pl

OUTPUT_FILES = ("trades.parquet", "equity.parquet", "metrics.json")
PLOT_FILES = ("equity.png", "chart.png")


def load_candles(path: Path) -> tuple[pl.DataFrame, str | None]:
    """Candles from one parquet file or every parquet file in a directory, plus their timeframe."""
    import polars as pl

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
        frames.append(to_candles(raw, symbol=file.stem, source=str(file), epoch="auto"))
    if len(timeframes) > 1:
        raise DataError(
            f"{path}: files mix timeframes {sorted(timeframes)}; backtest one timeframe at a time"
        )
    return pl.concat(frames), (timeframes.pop() if timeframes else None)


def data_timeframe(candles: pl.DataFrame, given: str | None, file_tf: str | None) -> str:
    """The timeframe to backtest at: the candles' spacing, which `given` and `file_tf` must match.

    Annualised metrics scale with the timeframe, so a wrong `--timeframe` silently changes
    the Sharpe ratio of the very same trades; a contradiction is refused instead.
    """
    from awan_trading.market.timeframes import parse_timeframe
    from awan_trading.signals import infer_timeframe

    claims = [
        (parse_timeframe(value).name, where)
        for value, where in ((given, "--timeframe"), (file_tf, "the files' timeframe column"))
        if value is not None
    ]
    try:
        spacing = infer_timeframe(candles)
    except DataError:
        if claims and candles.height <= candles.get_column("symbol").n_unique():
            return claims[0][0]  # one candle per symbol has no spacing to contradict
        raise
    for name, where in claims:
        if name != spacing:
            raise DataError(
                f"{where} says {name} but the candles are {spacing} apart; "
                f"drop --timeframe or resample the data (awan resample --to {name})"
            )
    return spacing


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return "n/a" if value is None else str(value)


@app.command("backtest")
@awan_command
def backtest_command(
    data: Annotated[
        Path | None, typer.Option("--data", help="a candle parquet file or a directory of them")
    ] = None,
    exchange: Annotated[
        str | None,
        typer.Option(help="instead of --data: candles from this exchange (sim), with warm-up"),
    ] = None,
    symbols: Annotated[
        str | None, typer.Option(help="with --exchange: comma-separated (default: the config's)")
    ] = None,
    start: Annotated[
        str | None, typer.Option(help="with --exchange: first candle open (UTC); no trade before")
    ] = None,
    end: Annotated[str | None, typer.Option(help="with --exchange: end (UTC), exclusive")] = None,
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
    plots: Annotated[
        bool, typer.Option("--plots/--no-plots", help="draw equity.png and chart.png")
    ] = True,
) -> None:
    """Backtest a strategy; write trades.parquet, equity.parquet, metrics.json, equity.png, chart.png."""
    from pydantic import ValidationError
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from awan_trading.backtest import BacktestConfig, run_backtest
    from awan_trading.cli.paths import check_output_dir
    from awan_trading.errors import ConfigError
    from awan_trading.market.validation import ensure_valid
    from awan_trading.strategies import get_strategy, parse_overrides

    chosen = get_strategy(strategy, parse_overrides(set_ or []))
    if (data is None) == (exchange is None):
        raise ConfigError("give either --data FILE_OR_DIR or --exchange sim --start … --end …")
    if exchange is not None:
        _backtest_exchange(exchange, symbols, timeframe, start, end, chosen, out, as_json, plots)
        return
    if symbols is not None or start is not None or end is not None:
        raise ConfigError("--symbols, --start and --end go with --exchange, not --data")
    assert data is not None
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
    check_output_dir(out)  # before any work: a bad --out must not cost a whole backtest
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
        tf = data_timeframe(candles, timeframe, file_tf)
        # The same rules that keep bad candles out of the store keep them out of a backtest:
        # an inf high or high < low would otherwise produce confident, meaningless metrics.
        ensure_valid(candles, tf, context=str(data))
        progress.update(
            task, description=f"backtesting {chosen.name} on {candles.height:,} candles ({tf})"
        )
        result = run_backtest(candles, chosen, config, timeframe=tf)
        progress.update(task, description=f"writing {out}")
        metrics = _write_outputs(result, chosen, tf, out, plots)
    n_symbols = candles.get_column("symbol").n_unique()
    _report(result, metrics, chosen, n_symbols, tf, out, as_json, plots)


def _write_outputs(result: Any, chosen: Any, tf: str, out: Path, plots: bool = True) -> dict:
    """The five files (three without plots), written into a temporary folder first: a failure
    in any of them (a plot, a full disk) leaves `out` as it was instead of half a result."""
    from awan_trading.cli.paths import atomic_dir

    metrics = {
        "strategy": chosen.name,
        "params": chosen.params.model_dump(mode="json"),
        "timeframe": tf,
        **result.metrics,
    }
    try:
        with atomic_dir(out) as folder:
            result.trades.write_parquet(folder / "trades.parquet")
            result.equity.write_parquet(folder / "equity.parquet")
            (folder / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
            if plots:
                from awan_trading.backtest.plots import plot_equity, plot_trades

                plot_equity(result.equity, folder / "equity.png")
                plot_trades(result.frame, result.trades, folder / "chart.png")
    except OSError as exc:  # checked up front, but a disk can still fill up meanwhile
        raise DataError(f"--out {out}: cannot write ({exc.strerror or exc})") from None
    return metrics


def _backtest_exchange(
    exchange: str, symbols: str | None, timeframe: str | None, start: str | None,
    end: str | None, chosen: Any, out: Path, as_json: bool, plots: bool,
) -> None:  # fmt: skip
    """`--exchange sim --start --end`: the window a live replay trades, sized like live."""
    from awan_trading.backtest.window import backtest_window, like_live_config
    from awan_trading.cli.paths import check_output_dir
    from awan_trading.config import load_config
    from awan_trading.errors import ConfigError
    from awan_trading.exchange.factory import open_exchange
    from awan_trading.live.runner import plan_from

    if exchange != "sim":
        raise ConfigError(f"--exchange {exchange!r}: backtests on exchange candles use the sim")
    if start is None or end is None:
        raise ConfigError("--exchange needs --start and --end (the window to backtest)")
    config = load_config()
    plan = plan_from(config, mode="sim", symbols=symbols, timeframe=timeframe,
                     strategy=chosen.name, start=start, end=end)  # fmt: skip
    check_output_dir(out)
    venue = open_exchange("sim", config)
    assert plan.start is not None and plan.end is not None
    result = backtest_window(
        venue, plan.symbols, plan.timeframe, plan.start, plan.end, chosen,
        like_live_config(config, venue, plan.symbols),
    )  # fmt: skip
    metrics = _write_outputs(result, chosen, plan.timeframe, out, plots)
    _report(result, metrics, chosen, len(plan.symbols), plan.timeframe, out, as_json, plots)


def _report(
    result: Any, metrics: dict, chosen: Any, n_symbols: int, tf: str, out: Path, as_json: bool,
    plots: bool,
) -> None:  # fmt: skip
    if as_json:
        typer.echo(json.dumps(metrics))
        return
    from rich.table import Table

    from awan_trading.cli.app import console

    table = Table(title=f"{chosen.name} · {n_symbols} symbol(s) · {tf}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in result.metrics.items():
        table.add_row(key, _fmt(value))
    console.print(table)
    files = OUTPUT_FILES + (PLOT_FILES if plots else ())
    console.print(f"wrote {out}/{' '.join(files)}")
