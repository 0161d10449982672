"""`awan fetch / validate / resample` through the real typer app."""

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from awan_trading.cli import app
from awan_trading.market.files import read_candle_file
from awan_trading.market.resample import resample_candles
from awan_trading.market.schema import to_candles

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def xrp_file(tmp_path, xrp_1m):
    path = tmp_path / "XRP_ETH-1m.parquet"
    xrp_1m.write_parquet(path)
    return path


def test_validate_clean_real_file_exits_0_and_lists_gaps(xrp_file):
    result = run("validate", xrp_file)
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if " gap " in line]
    assert len(lines) == 676
    assert lines[0].startswith("XRP/ETH 2019-10-11T00:04:00Z warning gap missing 1 1m candle(s)")


def test_validate_strict_fails_on_warnings(xrp_file):
    assert run("validate", xrp_file, "--strict").exit_code == 1


def test_validate_json_lists_objects(xrp_file):
    result = run("validate", xrp_file, "--json")
    assert result.exit_code == 0
    findings = json.loads(result.stdout)
    assert len(findings) == 676
    assert set(findings[0]) == {"symbol", "ts", "rule", "severity", "detail"}
    assert findings[0]["ts"] == "2019-10-11T00:04:00Z"


def test_validate_error_exits_1(tmp_path, xrp_1m):
    bad = xrp_1m.with_columns(
        pl.when(pl.int_range(pl.len()) == 3).then(-1.0).otherwise(pl.col("volume")).alias("volume")
    )
    path = tmp_path / "bad.parquet"
    bad.write_parquet(path)
    result = run("validate", path, "--json")
    assert result.exit_code == 1
    errors = [f for f in json.loads(result.stdout) if f["severity"] == "error"]
    assert errors == [
        {
            "symbol": "XRP/ETH",
            "ts": "2019-10-11T00:04:00Z",
            "rule": "negative_volume",
            "severity": "error",
            "detail": "volume=-1.0",
        }
    ]


def test_validate_timeframe_option_overrides_the_column(xrp_file):
    result = run("validate", xrp_file, "--timeframe", "5m", "--json")
    assert result.exit_code == 1
    assert {f["rule"] for f in json.loads(result.stdout)} >= {"misaligned_ts"}


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing.parquet", "no such file"),
        (
            lambda p: (p / "junk.parquet").write_text("not parquet") and p / "junk.parquet",
            "not a readable Parquet file",
        ),
        (
            lambda p: (
                pl.DataFrame({"a": [1]}).write_parquet(p / "cols.parquet") or p / "cols.parquet"
            ),
            "missing candle column",
        ),
    ],
)
def test_unusable_file_exits_2_with_one_line(tmp_path, make, message):
    result = run("validate", make(tmp_path), "--timeframe", "1m")
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1


def test_resample_writes_the_exact_aggregation(tmp_path, xrp_file, xrp_1m):
    out = tmp_path / "h1.parquet"
    result = run("resample", xrp_file, "--to", "1h", "--out", out)
    assert result.exit_code == 0, result.output
    frame, tf = read_candle_file(out)
    assert tf is not None and tf.name == "1h"
    assert frame.equals(resample_candles(xrp_1m, "1m", "1h"))


def test_resample_to_a_non_multiple_exits_2(tmp_path, xrp_file):
    result = run("resample", xrp_file, "--to", "7m", "--out", tmp_path / "x.parquet")
    assert result.exit_code == 2
    assert "unknown timeframe '7m'" in result.stderr


def test_fetch_writes_one_file_per_symbol_matching_the_exchange(tmp_path):
    result = run(
        "fetch",
        "--exchange",
        "sim",
        "--symbols",
        "BTC/USDT,ETH/USDT",
        "--timeframe",
        "1m",
        "--start",
        "2024-01-01",
        "--end",
        "2024-01-03",
        "--out",
        tmp_path,
    )
    assert result.exit_code == 0, result.output
    for name in ("BTC_USDT-1m.parquet", "ETH_USDT-1m.parquet"):
        frame, tf = read_candle_file(tmp_path / name)
        assert tf is not None and tf.name == "1m"
        assert frame.height == 2 * 1440
        assert frame["ts"].min() == datetime(2024, 1, 1, tzinfo=UTC)
        assert frame["ts"].max() == datetime(2024, 1, 2, 23, 59, tzinfo=UTC)
    assert run("validate", tmp_path / "BTC_USDT-1m.parquet", "--strict").exit_code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--start", "2024-01-02", "--end", "2024-01-01"), "must be after --start"),
        (("--start", "someday", "--end", "2024-01-01"), "invalid --start 'someday'"),
        (
            ("--start", "2024-01-01T00:30", "--end", "2024-01-02", "--timeframe", "1h"),
            "on the 1h grid",
        ),
        (
            ("--start", "2024-01-01", "--end", "2024-01-02", "--exchange", "nasdaq"),
            "unknown exchange 'nasdaq'",
        ),
    ],
)
def test_fetch_bad_options_exit_2(tmp_path, args, message):
    result = run("fetch", "--symbols", "BTC/USDT", "--out", tmp_path, *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert not list(tmp_path.iterdir())


def test_fetch_into_the_store_replaces_its_window(tmp_path, monkeypatch):
    from awan_trading.exchange.sim import SimExchange
    from awan_trading.exchange.sim_market import SimMarket
    from awan_trading.storage import open_store

    url = f"duckdb:///{tmp_path / 'awan.duckdb'}"
    monkeypatch.setenv("AWAN_STORE_URL", url)
    args = ("fetch", "--store", "--symbols", "BTC/USDT,SOL/USDT", "--timeframe", "1h",
            "--start", "2024-02-01", "--end", "2024-02-03")  # fmt: skip
    first = run(*args)
    assert first.exit_code == 0, first.output
    store = open_store(url)
    try:
        stored = store.read_candles("sim", ["BTC/USDT", "SOL/USDT"], "1h")
        assert stored.height == 2 * 48
        expected = SimExchange(SimMarket(42)).fetch_ohlcv(
            "SOL/USDT", "1h", datetime(2024, 2, 1, tzinfo=UTC), datetime(2024, 2, 3, tzinfo=UTC)
        )
        assert stored.filter(pl.col("symbol") == "SOL/USDT").equals(expected)
        assert run(*args).exit_code == 0
        assert store.read_candles("sim", ["BTC/USDT", "SOL/USDT"], "1h").equals(stored)
    finally:
        store.close()


@pytest.mark.parametrize("destination", [(), ("--store", "--out", "x")])
def test_fetch_needs_exactly_one_destination(destination):
    result = run(
        "fetch",
        "--symbols",
        "BTC/USDT",
        "--start",
        "2024-01-01",
        "--end",
        "2024-01-02",
        *destination,
    )
    assert result.exit_code == 2
    assert "exactly one destination" in result.stderr


def test_monthly_and_minute_files_do_not_share_a_name(tmp_path):
    common = ("fetch", "--exchange", "sim", "--symbols", "BTC/USDT", "--out", tmp_path)
    months = run(*common, "--timeframe", "1M", "--start", "2024-01-01", "--end", "2024-04-01")
    minutes = run(
        *common, "--timeframe", "1m", "--start", "2024-01-01", "--end", "2024-01-01T01:00"
    )
    assert months.exit_code == 0 and minutes.exit_code == 0, months.output + minutes.output
    # `-1M` and `-1m` would be one file on a case-insensitive filesystem (macOS, Windows).
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "BTC_USDT-1Mo.parquet",
        "BTC_USDT-1m.parquet",
    ]
    frame, tf = read_candle_file(tmp_path / "BTC_USDT-1Mo.parquet")
    assert tf is not None and tf.name == "1M"
    assert frame["ts"].dt.month().to_list() == [1, 2, 3]
    off_grid = run(*common, "--timeframe", "1M", "--start", "2024-01-15", "--end", "2024-04-01")
    assert off_grid.exit_code == 2 and "on the 1M grid" in off_grid.stderr


# --- integer epoch timestamps ------------------------------------------------------------------

EPOCH_FACTORS = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


def _int_ts(frame: pl.DataFrame, unit: str) -> pl.DataFrame:
    """The same candles with `ts` as int64 epoch `unit` (how pandas/Arrow/CSV tools write it)."""
    seconds = pl.col("ts").dt.epoch("s")
    return frame.with_columns((seconds * EPOCH_FACTORS[unit]).cast(pl.Int64).alias("ts"))


@pytest.mark.parametrize("unit", list(EPOCH_FACTORS))
def test_integer_epoch_units_are_read_by_magnitude(tmp_path, xrp_1m, unit):
    path = tmp_path / f"xrp-{unit}.parquet"
    _int_ts(xrp_1m, unit).write_parquet(path)
    frame, _ = read_candle_file(path)
    assert frame.equals(to_candles(xrp_1m))
    result = run("validate", path, "--json")
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == 676  # the same gaps as the datetime file
    out = tmp_path / f"h1-{unit}.parquet"
    assert run("resample", path, "--to", "1h", "--out", out).exit_code == 0
    assert read_candle_file(out)[0].equals(resample_candles(xrp_1m, "1m", "1h"))


@pytest.mark.parametrize(
    "values",
    [
        [60_000, 120_000],  # 1970: seconds or milliseconds? no single reading
        [1_700_000_000, 1_700_000_000_000],  # seconds and milliseconds mixed
        [9_000_000_000_000_000_000],  # beyond 2100 in every unit
    ],
)
def test_ambiguous_integer_epochs_are_refused_naming_the_units(tmp_path, values):
    n = len(values)
    path = tmp_path / "odd.parquet"
    pl.DataFrame(
        {"symbol": ["BTC/USDT"] * n, "ts": values, "open": [1.0] * n, "high": [1.0] * n,
         "low": [1.0] * n, "close": [1.0] * n, "volume": [1.0] * n}
    ).write_parquet(path)  # fmt: skip
    out = tmp_path / "out.parquet"
    for args in (("validate", path, "--timeframe", "1m"), ("resample", path, "--from", "1m",
                 "--to", "1h", "--out", out)):  # fmt: skip
        result = run(*args)
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
        line = result.stderr.strip()
        assert len(line.splitlines()) == 1
        assert "'ts'" in line and "seconds, milliseconds, microseconds, nanoseconds" in line
    assert not out.exists()


def test_resample_refuses_an_unusable_out_before_reading(tmp_path, xrp_file):
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    folder = tmp_path / "folder"
    folder.mkdir()
    before = sorted(tmp_path.rglob("*"))
    for out, needle in [
        (a_file / "sub" / "h1.parquet", "lies under the file"),
        (folder, "is a directory, expected a file name"),
        ("/proc/awan/h1.parquet", "cannot write there"),
    ]:
        result = run("resample", xrp_file, "--to", "1h", "--out", out)
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
        assert len(result.stderr.strip().splitlines()) == 1
        assert f"--out {out}" in result.stderr and needle in result.stderr
    assert sorted(tmp_path.rglob("*")) == before


def test_resample_failing_mid_write_keeps_the_old_file(tmp_path, xrp_file, monkeypatch):
    out = tmp_path / "h1.parquet"
    out.write_bytes(b"old")

    def full_disk(self, file, **kwargs):
        Path(file).write_bytes(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", full_disk)
    result = run("resample", xrp_file, "--to", "1h", "--out", out)
    assert result.exit_code == 2 and "No space left on device" in result.stderr
    assert out.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["XRP_ETH-1m.parquet", "h1.parquet"]
