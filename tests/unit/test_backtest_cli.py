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


def _one_line_exit_2(result, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1, line
    for needle in needles:
        assert needle in line, line


def test_unusable_out_is_refused_before_any_work(tmp_path: Path, xrp_5m: pl.DataFrame) -> None:
    data = tmp_path / "xrp.parquet"
    xrp_5m.write_parquet(data)
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    before = sorted(tmp_path.rglob("*"))
    for out, needle in [
        (a_file / "sub", "lies under the file"),
        (a_file, "is a file, expected a directory"),
        (Path("/proc/awan-out"), "cannot write there"),
    ]:
        result = runner.invoke(app, ["backtest", "--data", str(data), "--out", str(out)])
        _one_line_exit_2(result, f"--out {out}", needle)
    assert sorted(tmp_path.rglob("*")) == before


def test_a_failure_while_writing_leaves_nothing_half_written(
    tmp_path: Path, xrp_5m: pl.DataFrame, monkeypatch
) -> None:
    import awan_trading.backtest.plots as plots

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("matplotlib failed")

    monkeypatch.setattr(plots, "plot_trades", broken)
    data = tmp_path / "xrp.parquet"
    xrp_5m.write_parquet(data)
    out = tmp_path / "new" / "out"
    result = runner.invoke(app, ["backtest", "--data", str(data), "--out", str(out)])
    assert isinstance(result.exception, RuntimeError)
    assert [p.name for p in tmp_path.iterdir()] == ["xrp.parquet"]
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "metrics.json").write_text("{}")
    runner.invoke(app, ["backtest", "--data", str(data), "--out", str(existing)])
    assert [p.name for p in tmp_path.iterdir()].count("existing") == 1
    assert [p.name for p in existing.iterdir()] == ["metrics.json"]
    assert (existing / "metrics.json").read_text() == "{}"
    assert len(list(tmp_path.iterdir())) == 2  # no temporary folder left beside it


def test_a_timeframe_that_contradicts_the_spacing_is_refused(
    tmp_path: Path, btc_30m: pl.DataFrame
) -> None:
    data = tmp_path / "btc.parquet"
    btc_30m.write_parquet(data)
    out = tmp_path / "out"
    for given in ("5m", "1h"):
        result = runner.invoke(
            app, ["backtest", "--data", str(data), "--timeframe", given, "--out", str(out)]
        )
        _one_line_exit_2(result, f"--timeframe says {given}", "30m apart")
    relabelled = tmp_path / "relabelled.parquet"
    btc_30m.with_columns(timeframe=pl.lit("4h")).write_parquet(relabelled)
    result = runner.invoke(app, ["backtest", "--data", str(relabelled), "--out", str(out)])
    _one_line_exit_2(result, "timeframe column says 4h", "30m apart")
    assert not out.exists()
    agreeing = ["backtest", "--data", str(data), "--timeframe", "30m", "--out", str(out)]
    assert runner.invoke(app, agreeing).exit_code == 0


def test_candles_that_break_a_validation_rule_are_refused(
    tmp_path: Path, xrp_5m: pl.DataFrame
) -> None:
    row = pl.int_range(pl.len()) == 100
    cases = {
        "non_finite": xrp_5m.with_columns(high=pl.when(row).then(float("inf")).otherwise("high")),
        "high_below_low": xrp_5m.with_columns(
            high=pl.when(row).then(pl.col("low") - 1e-9).otherwise("high")
        ),
    }
    out = tmp_path / "out"
    for rule, frame in cases.items():
        data = tmp_path / f"{rule}.parquet"
        frame.write_parquet(data)
        result = runner.invoke(app, ["backtest", "--data", str(data), "--out", str(out)])
        _one_line_exit_2(result, str(data), rule, "XRP/ETH")
    assert not out.exists()


def test_integer_microsecond_timestamps_backtest_like_datetimes(
    tmp_path: Path, btc_30m: pl.DataFrame
) -> None:
    as_datetimes, as_micros = tmp_path / "dt.parquet", tmp_path / "us.parquet"
    btc_30m.write_parquet(as_datetimes)
    btc_30m.with_columns(pl.col("ts").dt.epoch("us")).write_parquet(as_micros)
    metrics = []
    for data in (as_datetimes, as_micros):
        out = tmp_path / f"out-{data.stem}"
        result = runner.invoke(app, ["backtest", "--data", str(data), "--out", str(out), "--json"])
        assert result.exit_code == 0, result.output
        metrics.append(json.loads(result.stdout))
    assert metrics[0] == metrics[1] and metrics[0]["timeframe"] == "30m"


def test_out_may_be_the_current_folder(tmp_path: Path, xrp_5m: pl.DataFrame, monkeypatch) -> None:
    data = tmp_path / "data" / "xrp.parquet"
    data.parent.mkdir()
    xrp_5m.write_parquet(data)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    result = runner.invoke(app, ["backtest", "--data", str(data), "--out", ".", "--json"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in work.iterdir()) == sorted(OUTPUTS)
