"""`awan indicators IN.parquet OUT.parquet`: add the standard indicator columns to candles.

The command is a thin edge: read, coerce to the candle schema (`to_candles`), validate the
parameters with `IndicatorParams`, compute with `add_indicators`, write. Every user mistake
(missing file, missing column, invalid period) becomes one line and exit code 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pydantic
import typer

from awan_trading.cli.app import app, awan_command, console
from awan_trading.errors import DataError
from awan_trading.indicators.params import IndicatorParams  # light: TA-Lib loads on first use

if TYPE_CHECKING:
    import polars as pl

_D = IndicatorParams()


def _params(**values: object) -> IndicatorParams:
    """Validate the options, naming the first offending one in the error line."""
    try:
        return IndicatorParams(**values)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        message = first["msg"].removeprefix("Value error, ")
        where = "--" + "-".join(str(part) for part in first["loc"]).replace("_", "-")
        prefix = f"invalid {where}: " if first["loc"] else "invalid indicator parameters: "
        raise DataError(prefix + message) from None


def _read(path: Path) -> pl.DataFrame:
    import polars as pl

    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        return pl.read_parquet(path)
    except Exception as exc:  # polars raises several unrelated types for unreadable files
        raise DataError(f"{path}: not a readable Parquet file ({type(exc).__name__})") from None


@app.command("indicators")
@awan_command
def indicators_command(
    input_path: Path = typer.Argument(..., metavar="IN.parquet", help="Candles to read."),
    output_path: Path = typer.Argument(..., metavar="OUT.parquet", help="Where to write."),
    bb_period: int = typer.Option(_D.bb_period, help="Bollinger period."),
    bb_std: float = typer.Option(_D.bb_std, help="Bollinger width in standard deviations."),
    ema_fast: int = typer.Option(_D.ema_fast, help="Fast EMA period."),
    ema_slow: int = typer.Option(_D.ema_slow, help="Slow EMA period."),
    rsi_period: int = typer.Option(_D.rsi_period, help="RSI period."),
    stoch_period: int = typer.Option(_D.stoch_period, help="Stochastic window over RSI."),
    stoch_k: int = typer.Option(_D.stoch_k, help="Stochastic %K smoothing (SMA)."),
    stoch_d: int = typer.Option(_D.stoch_d, help="Stochastic %D smoothing (SMA)."),
    atr_period: int = typer.Option(_D.atr_period, help="ATR period."),
    macd_fast: int = typer.Option(_D.macd_fast, help="MACD fast EMA period."),
    macd_slow: int = typer.Option(_D.macd_slow, help="MACD slow EMA period."),
    macd_signal: int = typer.Option(_D.macd_signal, help="MACD signal EMA period."),
) -> None:
    """Write the input candles plus Bollinger, EMA, RSI, Stochastic RSI, ATR and MACD columns."""
    from awan_trading.cli.paths import atomic_file, check_output_file
    from awan_trading.indicators import add_indicators
    from awan_trading.market.schema import to_candles

    params = _params(
        bb_period=bb_period,
        bb_std=bb_std,
        ema_fast=ema_fast,
        ema_slow=ema_slow,
        rsi_period=rsi_period,
        stoch_period=stoch_period,
        stoch_k=stoch_k,
        stoch_d=stoch_d,
        atr_period=atr_period,
        macd_fast=macd_fast,
        macd_slow=macd_slow,
        macd_signal=macd_signal,
    )
    check_output_file(output_path, option="OUT.parquet")
    candles = to_candles(_read(input_path), source=str(input_path), epoch="auto")
    result = add_indicators(candles, params)
    try:
        with atomic_file(output_path) as partial:  # a failed write leaves the old file, or none
            result.write_parquet(partial)
    except OSError as exc:
        raise DataError(f"{output_path}: cannot write ({exc.strerror or exc})") from None
    symbols = result["symbol"].n_unique()
    console.print(
        f"wrote {result.height} rows, {symbols} symbol(s), "
        f"{len(result.columns)} columns to {output_path}",
        highlight=False,
    )
