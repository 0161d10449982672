"""`awan fetch` streaming: flat memory, files equal to a one-shot fetch, all-or-nothing
outputs, destinations refused before any request, empty years skipped, progress on stderr."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from awan_trading.cli import app
from awan_trading.exchange import factory
from awan_trading.exchange.errors import ExchangeUnavailable
from awan_trading.exchange.sim import SimExchange
from awan_trading.exchange.sim_market import SimMarket
from awan_trading.market.files import read_candle_file, write_candle_file
from awan_trading.market.timeframes import Timeframe

runner = CliRunner()
SEED = 42  # the seed in the repository's awan.toml, which the CLI loads by default


def run(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def sim_candles(symbol: str, tf: str, start: datetime, end: datetime) -> pl.DataFrame:
    return SimExchange(SimMarket(SEED)).fetch_ohlcv(symbol, tf, start, end)


class SpyExchange:
    """The sim, counting candle requests; optionally failing or corrupting one of them, or
    having no candles before `listed` (with the first-candle probe a real venue offers)."""

    def __init__(self, *, fail_at: int | None = None, corrupt_at: int | None = None,
                 listed: datetime | None = None) -> None:  # fmt: skip
        self.sim = SimExchange(SimMarket(SEED))
        self.name = "sim"
        self.calls = 0
        self.fail_at, self.corrupt_at, self.listed = fail_at, corrupt_at, listed

    def fetch_ohlcv(self, symbol: str, tf: Timeframe | str, start: datetime, end: datetime):
        self.calls += 1
        if self.calls == self.fail_at:
            raise ExchangeUnavailable(f"sim: {symbol}: injected outage")
        if self.listed is not None:
            start = max(start, self.listed)
            if start >= end:
                return self.sim.fetch_ohlcv(symbol, tf, end, end)
        frame = self.sim.fetch_ohlcv(symbol, tf, start, end)
        if self.calls == self.corrupt_at:
            frame = frame.with_columns(pl.col("volume").neg())
        return frame

    def first_candle_at(self, symbol: str, tf: Timeframe | str, since: datetime):
        return max(since, self.listed) if self.listed is not None else since

    def __getattr__(self, name: str):
        return getattr(self.sim, name)


@pytest.fixture
def sim_requests(monkeypatch) -> list[tuple]:
    """Every candle request any `SimExchange` gets (however the command opened it)."""
    calls: list[tuple] = []
    original = SimExchange.fetch_ohlcv

    def counting(self, symbol, tf, start, end):
        calls.append((symbol, start, end))
        return original(self, symbol, tf, start, end)

    monkeypatch.setattr(SimExchange, "fetch_ohlcv", counting)
    return calls


@pytest.fixture
def spy(monkeypatch):
    """Install a `SpyExchange` factory as what `awan fetch` opens; returns the made ones."""
    made: list[SpyExchange] = []

    def install(**options) -> list[SpyExchange]:
        def open_spy(mode, config, *args, **kwargs):
            made.append(SpyExchange(**options))
            return made[-1]

        monkeypatch.setattr(factory, "open_exchange", open_spy)
        return made

    return install


def fetch_args(out: Path, start: str, end: str, symbols: str = "BTC/USDT", tf: str = "1m"):
    return ("fetch", "--symbols", symbols, "--timeframe", tf, "--start", start, "--end", end,
            "--out", out)  # fmt: skip


# --- memory -----------------------------------------------------------------------------


def peak_rss_mib(days: int, out: Path) -> float:
    """Peak RSS of one `awan fetch` child over `days` of sim 1m (its own, via wait4)."""
    end = (datetime(2019, 1, 1) + timedelta(days=days)).date().isoformat()
    args = fetch_args(out, "2019-01-01", end)
    awan = Path(sys.executable).with_name("awan")
    child = subprocess.Popen([str(awan), *map(str, args)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)  # fmt: skip
    _, status, usage = os.wait4(child.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, child.stderr.read() if child.stderr else ""
    return usage.ru_maxrss / 1024.0


def test_memory_stays_flat_from_a_month_to_a_year(tmp_path):
    # A year is 12x the candles of a month (525,600 vs 44,640; ~30 MB of frames). Streaming
    # holds one 10,000-candle window and one <=40,000-row Parquet row group whatever the
    # range, and a month already fills one row group, so the year may only add allocator
    # noise and the Parquet footer (a few KB per row group): 16 MiB is that with room to
    # spare, and well under what holding the year costs (~36 MiB more than the month).
    month = peak_rss_mib(31, tmp_path / "month")
    year = peak_rss_mib(365, tmp_path / "year")
    assert year <= month + 16, f"peak RSS {month:.0f} MiB for a month, {year:.0f} MiB for a year"


# --- content ------------------------------------------------------------------------------


def test_streamed_files_equal_a_one_shot_fetch(tmp_path):
    # 31 days of 1m: five 10,000-candle windows and two Parquet row groups.
    result = run(*fetch_args(tmp_path, "2024-03-01", "2024-04-01", "BTC/USDT,SOL/USDT"))
    assert result.exit_code == 0, result.output
    lo, hi = datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 4, 1, tzinfo=UTC)
    for symbol, name in (("BTC/USDT", "BTC_USDT-1m.parquet"), ("SOL/USDT", "SOL_USDT-1m.parquet")):
        one_shot = sim_candles(symbol, "1m", lo, hi)
        frame, tf = read_candle_file(tmp_path / name)
        assert tf is not None and tf.name == "1m"
        assert frame.equals(one_shot)
        # The raw file too (column order, dtypes, the timeframe column) equals the one-shot
        # writer's output.
        reference = write_candle_file(one_shot, tmp_path / "ref" / name, "1m")
        assert pl.read_parquet(tmp_path / name).equals(pl.read_parquet(reference))
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == [
        "BTC_USDT-1m.parquet",
        "SOL_USDT-1m.parquet",
    ]


def test_the_store_gets_every_window_of_a_long_fetch(tmp_path, monkeypatch):
    from awan_trading.storage import open_store

    url = f"duckdb:///{tmp_path / 'awan.duckdb'}"
    monkeypatch.setenv("AWAN_STORE_URL", url)
    args = (
        "fetch",
        "--store",
        "--symbols",
        "ETH/USDT",
        "--start",
        "2024-01-01",
        "--end",
        "2024-01-15",
    )  # fmt: skip  (20,160 candles: three windows)
    result = run(*args)
    assert result.exit_code == 0, result.output
    lo, hi = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 15, tzinfo=UTC)
    store = open_store(url)
    try:
        stored = store.read_candles("sim", "ETH/USDT", "1m")
        # each window's write names its writer, for `awan lineage`
        writes = [
            store.candle_write("sim", "ETH/USDT", "1m", t) for t in (lo, hi - timedelta(minutes=1))
        ]
    finally:
        store.close()
    assert stored.equals(sim_candles("ETH/USDT", "1m", lo, hi))
    assert [w.writer for w in writes] == ["awan fetch", "awan fetch"]
    assert writes[0].start == lo and writes[-1].end == hi


# --- all or nothing -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"fail_at": 3}, "injected outage"),
        ({"corrupt_at": 3}, "negative_volume"),
    ],
)
def test_a_failure_midway_leaves_no_file_and_no_litter(tmp_path, spy, options, message):
    made = spy(**options)
    out = tmp_path / "new" / "data"
    result = run(*fetch_args(out, "2024-03-01", "2024-04-01"))
    assert result.exit_code == 2
    assert made[0].calls == 3  # two windows were written before the third failed
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0]
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []  # no file, no temp file, no folders it created


def test_a_failed_refetch_keeps_the_previous_file(tmp_path, spy):
    assert run(*fetch_args(tmp_path, "2024-03-01", "2024-03-02")).exit_code == 0
    before = (tmp_path / "BTC_USDT-1m.parquet").read_bytes()
    spy(fail_at=2)
    assert run(*fetch_args(tmp_path, "2024-03-01", "2024-04-01")).exit_code == 2
    assert [p.name for p in tmp_path.iterdir()] == ["BTC_USDT-1m.parquet"]
    assert (tmp_path / "BTC_USDT-1m.parquet").read_bytes() == before


# --- destinations ---------------------------------------------------------------------------


def bad_out(tmp_path: Path, kind: str) -> tuple[Path, str]:
    file = tmp_path / "notes.txt"
    file.write_text("not a folder")
    if kind == "file":
        return file, "is a file, expected a folder"
    if kind == "under_file":
        return file / "sub", f"--out {file / 'sub'}: {file} is a file, not a folder"
    if kind == "target_is_folder":
        (tmp_path / "BTC_USDT-1m.parquet").mkdir()
        return tmp_path, "is a folder, cannot write the file"
    return Path("/proc/awan-out"), "cannot write in /proc"  # unwritable, even for root


@pytest.mark.parametrize("kind", ["file", "under_file", "target_is_folder", "unwritable"])
def test_bad_out_is_refused_before_any_fetch(tmp_path, spy, sim_requests, kind):
    made = spy()
    out, message = bad_out(tmp_path, kind)
    before = sorted(p.name for p in tmp_path.iterdir())
    result = run(*fetch_args(out, "2024-01-01", "2024-01-02"))
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert made == [] and sim_requests == []  # the exchange was never even opened
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://postgres:hunter2@127.0.0.1:1/awan", "unreachable"),
        ("duckdb:///{tmp}/notes.txt/awan.duckdb", "is a file, not a folder"),
    ],
)
def test_unusable_store_is_refused_before_any_fetch(
    tmp_path, spy, sim_requests, monkeypatch, url, message
):
    (tmp_path / "notes.txt").write_text("not a folder")
    monkeypatch.setenv("AWAN_STORE_URL", url.format(tmp=tmp_path))
    made = spy()
    result = run("fetch", "--store", "--symbols", "BTC/USDT", "--start", "2024-01-01",
                 "--end", "2024-01-02")  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert "hunter2" not in result.output
    assert made == [] and sim_requests == []


# --- empty years and progress ----------------------------------------------------------------


def test_years_before_a_listing_cost_one_probe_not_a_request_per_window(tmp_path, spy):
    listed = datetime(2020, 1, 1, 5, 0, tzinfo=UTC)
    made = spy(listed=listed)
    result = run(*fetch_args(tmp_path, "1974-01-01", "2020-01-03"))
    assert result.exit_code == 0, result.output
    # 46 years of 1m are 2,420 windows; only the empty first one (then one probe) and the
    # window holding the listing (which reaches the end) are requested.
    assert made[0].calls == 2
    frame, _ = read_candle_file(tmp_path / "BTC_USDT-1m.parquet")
    assert frame.equals(sim_candles("BTC/USDT", "1m", listed, datetime(2020, 1, 3, tzinfo=UTC)))
    minutes = (datetime(2020, 1, 3) - datetime(1974, 1, 1)) // timedelta(minutes=1)
    windows = -(-minutes // 10_000)
    assert f"{windows}/{windows} windows" in result.stderr


def test_progress_goes_to_stderr_as_plain_lines_and_stdout_keeps_the_table(tmp_path):
    result = run(*fetch_args(tmp_path, "2024-03-01", "2024-04-01"))
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert lines[0].startswith("BTC/USDT 1m: 1/5 windows, 10,000 candles") and "ETA" in lines[0]
    assert lines[-1].startswith("BTC/USDT 1m: 5/5 windows, 44,640 candles")
    assert "windows" not in result.stdout
    assert "44640" in result.stdout  # the summary table's row count
