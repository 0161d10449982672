"""`awan indicators`: a Parquet round trip, option overrides, one-line errors with exit 2."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from awan_trading.cli import app
from awan_trading.indicators import OUTPUT_COLUMNS, IndicatorParams, add_indicators
from awan_trading.market.schema import to_candles

runner = CliRunner()


def _input(tmp_path: Path, *frames: pl.DataFrame) -> Path:
    path = tmp_path / "in.parquet"
    pl.concat(frames).write_parquet(path)
    return path


def test_round_trip_with_defaults(tmp_path: Path, xrp_1m: pl.DataFrame, btc_30m: pl.DataFrame):
    src = _input(tmp_path, xrp_1m, btc_30m)
    out = tmp_path / "out" / "ind.parquet"
    result = runner.invoke(app, ["indicators", str(src), str(out)])
    assert result.exit_code == 0, result.output
    assert "4389 rows" in result.output and "2 symbol(s)" in result.output
    written = pl.read_parquet(out)
    expected = add_indicators(to_candles(pl.concat([xrp_1m, btc_30m])))
    assert written.columns[-12:] == list(OUTPUT_COLUMNS)
    assert written.equals(expected)


def test_every_option_reaches_the_params(tmp_path: Path, btc_30m: pl.DataFrame) -> None:
    src = _input(tmp_path, btc_30m)
    out = tmp_path / "out.parquet"
    params = IndicatorParams(
        bb_period=10,
        bb_std=1.5,
        ema_fast=5,
        ema_slow=30,
        rsi_period=7,
        stoch_period=9,
        stoch_k=2,
        stoch_d=4,
        atr_period=10,
        macd_fast=8,
        macd_slow=20,
        macd_signal=5,
    )
    options = []
    for name, value in params.model_dump().items():
        options += [f"--{name.replace('_', '-')}", str(value)]
    result = runner.invoke(app, ["indicators", str(src), str(out), *options])
    assert result.exit_code == 0, result.output
    assert pl.read_parquet(out).equals(add_indicators(to_candles(btc_30m), params))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--bb-std", "0"], "--bb-std"),
        (["--ema-fast", "30"], "ema_fast (30) must be < ema_slow (21)"),
        (["--rsi-period", "1"], "--rsi-period"),
    ],
)
def test_invalid_parameter_is_one_line(
    tmp_path: Path, btc_30m: pl.DataFrame, options: list[str], message: str
) -> None:
    src = _input(tmp_path, btc_30m)
    result = runner.invoke(app, ["indicators", str(src), str(tmp_path / "o.parquet"), *options])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "o.parquet").exists()


def test_bad_files_are_one_line(tmp_path: Path, btc_30m: pl.DataFrame) -> None:
    out = str(tmp_path / "o.parquet")
    missing = runner.invoke(app, ["indicators", str(tmp_path / "nope.parquet"), out])
    assert missing.exit_code == 2 and "no such file" in missing.output

    garbage = tmp_path / "garbage.parquet"
    garbage.write_text("not parquet")
    bad = runner.invoke(app, ["indicators", str(garbage), out])
    assert bad.exit_code == 2 and "not a readable Parquet file" in bad.output

    no_close = tmp_path / "no_close.parquet"
    btc_30m.drop("close").write_parquet(no_close)
    cols = runner.invoke(app, ["indicators", str(no_close), out])
    assert cols.exit_code == 2 and "missing candle column(s) close" in cols.output
    assert len(cols.output.strip().splitlines()) == 1


def test_an_unusable_out_is_refused_before_reading(tmp_path: Path, btc_30m: pl.DataFrame) -> None:
    src = _input(tmp_path, btc_30m)
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    before = sorted(tmp_path.rglob("*"))
    for out, needle in [
        (a_file / "o.parquet", "lies under the file"),
        (tmp_path, "is a directory"),
    ]:
        result = runner.invoke(app, ["indicators", str(src), str(out)])
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
        assert len(result.stderr.strip().splitlines()) == 1
        assert f"OUT.parquet {out}" in result.stderr and needle in result.stderr
    assert sorted(tmp_path.rglob("*")) == before
