"""`awan backtest`: the files it writes, its JSON, and one clear line for user mistakes."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from awan_trading.backtest import METRIC_KEYS
from awan_trading.cli import app

runner = CliRunner()
OUTPUTS = ("trades.parquet", "equity.parquet", "metrics.json", "equity.png", "chart.png")


def test_backtest_json_writes_every_output(tmp_path: Path, btc_30m: pl.DataFrame) -> None:
    out = tmp_path / "out"
    btc_30m.write_parquet(tmp_path / "btc.parquet")
    result = runner.invoke(
        app,
        [
            "backtest",
            "--data",
            str(tmp_path / "btc.parquet"),
            "--strategy",
            "ema_trend",
            "--set",
            "trailing_stop=0.01",
            "--out",
            str(out),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert set(METRIC_KEYS) <= set(metrics)
    assert metrics["params"]["trailing_stop"] == 0.01 and metrics["timeframe"] == "30m"
    for name in OUTPUTS:
        assert (out / name).stat().st_size > 0, name
    assert (out / "equity.png").stat().st_size < 200_000
    trades = pl.read_parquet(out / "trades.parquet")
    assert trades.height == metrics["trades"] > 0
    assert json.loads((out / "metrics.json").read_text()) == metrics
    assert pl.read_parquet(out / "equity.parquet").height == 1920


def test_backtest_reads_a_directory_and_prints_a_table(
    tmp_path: Path, xrp_5m: pl.DataFrame
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    xrp_5m.write_parquet(data / "xrp.parquet")
    xrp_5m.with_columns(symbol=pl.lit("XRP/BTC")).write_parquet(data / "other.parquet")
    (data / "notes.txt").write_text("ignored: not parquet")
    result = runner.invoke(
        app,
        ["backtest", "--data", str(data), "--set", "oversold=30", "--out", str(tmp_path / "out")],
    )
    assert result.exit_code == 0, result.output
    assert "total_return" in result.stdout and "2 symbol(s)" in result.stdout
    trades = pl.read_parquet(tmp_path / "out" / "trades.parquet")
    assert set(trades.get_column("symbol")) <= {"XRP/ETH", "XRP/BTC"}


def test_user_mistakes_exit_2_with_one_line(tmp_path: Path, xrp_5m: pl.DataFrame) -> None:
    data = str(tmp_path / "xrp.parquet")
    xrp_5m.write_parquet(data)
    cases = [
        (["--strategy", "nope"], "unknown strategy 'nope'; available: boll_stoch, ema_trend"),
        (["--set", "bb_perod=3"], "unknown parameter 'bb_perod'"),
        (["--set", "stop_loss"], "--set expects key=value"),
        (["--max-open", "0"], "invalid backtest option max_open_positions"),
    ]
    for extra, message in cases:
        result = runner.invoke(
            app, ["backtest", "--data", data, "--out", str(tmp_path / "o"), *extra]
        )
        assert result.exit_code == 2, extra
        assert message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert not (tmp_path / "o").exists()
    missing = runner.invoke(
        app, ["backtest", "--data", str(tmp_path / "none"), "--out", str(tmp_path / "o")]
    )
    assert missing.exit_code == 2 and "no such file or directory" in missing.stderr
