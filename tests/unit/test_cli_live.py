"""`awan live` replays, then `awan trades`, `positions`, `lineage`, `heartbeat` read what it did.

One short sim replay (BTC/USDT and ETH/USDT, 5m, 7 hours holding one boll_stoch round trip)
into a DuckDB store, through the real command; the other commands are checked on the
console output a person sees, and against `awan backtest --exchange sim` on the same window.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest
from click.testing import Result
from typer.testing import CliRunner

from awan_trading.cli import app

runner = CliRunner()
WINDOW = ["--start", "2024-03-01T20:00", "--end", "2024-03-02T03:00"]
REPLAY = ["live", "--mode", "sim", "--execution", "inline", "--symbols", "BTC/USDT,ETH/USDT",
          "--timeframe", "5m", "--strategy", "boll_stoch", *WINDOW]  # fmt: skip


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("awan")
    env = {"AWAN_STORE_URL": f"duckdb:///{home / 'live.duckdb'}", "AWAN_HOME": str(home),
           "AWAN_REDIS_URL": "", "AWAN_CONFIG_FILE": ""}  # fmt: skip
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value) if value else mp.delenv(key, raising=False)
        result = runner.invoke(app, REPLAY)
    assert result.exit_code == 0, result.output
    env["output"] = result.output
    return env


def _run(env: dict[str, str], monkeypatch: pytest.MonkeyPatch, *args: str) -> Result:
    for key, value in env.items():
        if key.startswith("AWAN_"):
            monkeypatch.setenv(key, value) if value else monkeypatch.delenv(key, raising=False)
    return runner.invoke(app, list(args))


def test_a_replay_says_what_it_did(replayed: dict[str, str]) -> None:
    assert (
        "replayed 84 close(s) of boll_stoch on BTC/USDT,ETH/USDT 5m · sim · inline"
        in (replayed["output"])
    )
    assert "1 closed trade(s), 0 open position(s)" in replayed["output"]


def test_trades_equal_the_backtest_on_the_same_window(
    replayed: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    result = _run(replayed, monkeypatch, "trades", "--json")
    assert result.exit_code == 0, result.output
    [trade] = [json.loads(line) for line in result.output.splitlines()]
    out = tmp_path / "bt"
    backtest = _run(replayed, monkeypatch, "backtest", "--exchange", "sim", "--symbols",
                    "BTC/USDT,ETH/USDT", "--timeframe", "5m", *WINDOW, "--out", str(out),
                    "--json")  # fmt: skip
    assert backtest.exit_code == 0, backtest.output
    [expected] = pl.read_parquet(out / "trades.parquet").to_dicts()
    assert (trade["symbol"], trade["entry_price"], trade["exit_price"], trade["amount"]) == (
        expected["symbol"], expected["entry_price"], expected["exit_price"], expected["amount"],
    )  # fmt: skip
    assert trade["entry_ts"] == expected["entry_ts"].isoformat().replace("+00:00", "Z")
    assert trade["exit_reason"] == expected["exit_reason"] == "exit_signal"
    assert trade["strategy"] == "boll_stoch"
    assert trade["entry_signal_id"] == expected["signal_id"]
    assert trade["entry_client_order_ids"] == [f"e0-{expected['signal_id']}"]

    table = _run(replayed, monkeypatch, "trades", "--symbol", "BTC/USDT")
    assert "closed trades (1)" in table.output and trade["trade_id"] in table.output
    assert (
        "no closed trades for SOL/USDT"
        in _run(replayed, monkeypatch, "trades", "--symbol", "SOL/USDT").output
    )
    assert "no open positions" in _run(replayed, monkeypatch, "positions").output


def test_lineage_walks_from_the_trade_to_the_candle_and_its_partition(
    replayed: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    trade = json.loads(_run(replayed, monkeypatch, "trades", "--json").output.splitlines()[0])
    by_trade = _run(replayed, monkeypatch, "lineage", trade["trade_id"])
    assert by_trade.exit_code == 0, by_trade.output
    text = by_trade.output
    assert f"trade {trade['trade_id']}: BTC/USDT sim" in text
    assert f"order e0-{trade['entry_signal_id']}" in text and "buy market" in text
    assert f"entry signal: {trade['entry_signal_id']} · buy BTC/USDT 5m candle" in text
    assert "strategy: boll_stoch" in text and '"stop_loss": 0.02' in text
    assert "candle: sim open" in text and "indicators: atr" in text and "stochrsi_k" in text
    # the replay's feed wrote the candle: its writer is the loop, not a Dagster run
    assert re.search(r"candle written by awan live awan (at|between) 2\d{3}-", text)
    assert "dagster: asset ohlcv_5m partition 2024-03-01|BTC/USDT" in text
    assert f"exit signal: {trade['exit_signal_id']} · sell" in text
    # the same chain from a client order id
    by_order = _run(replayed, monkeypatch, "lineage", trade["exit_client_order_ids"][0])
    assert f"trade {trade['trade_id']}" in by_order.output


def test_heartbeat_reports_the_replays_last_beat(
    replayed: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    alive = _run(replayed, monkeypatch, "heartbeat", "--max-age", "3600")
    assert alive.exit_code == 0 and "awan: alive" in alive.output and "(stopped)" in alive.output
    never = _run(replayed, monkeypatch, "heartbeat", "--bot", "other")
    assert never.exit_code == 1 and "bot 'other' has never written a heartbeat" in never.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--start", "2024-03-01"], "--start and --end go together"),
        (["--mode", "paper:binance", *WINDOW], "replay history on the sim only"),
        (["--execution", "later"], "--execution must be inline or sensor"),
        (["--speed", "max"], "--speed applies to a replay only"),
        (["--symbols", "btc-usdt"], "--symbols: symbol 'btc-usdt' must look like BASE/QUOTE"),
        (["--start", "2024-03-02", "--end", "2024-03-01"], "is not after --start"),
        (["--strategy", "nope", *WINDOW], "unknown strategy 'nope'"),
    ],
)
def test_user_mistakes_are_one_line_and_exit_2(
    args: list[str], needle: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AWAN_STORE_URL", f"duckdb:///{tmp_path / 'x.duckdb'}")
    result = runner.invoke(app, ["live", "--mode", "sim", *args] if "--mode" not in args
                           else ["live", *args])  # fmt: skip
    assert result.exit_code == 2, result.output
    assert len(result.stderr.strip().splitlines()) == 1 and needle in result.stderr
    assert not (tmp_path / "x.duckdb").exists()  # refused before the store was opened


def test_a_second_replay_into_the_same_store_is_refused(
    replayed: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _run(replayed, monkeypatch, *REPLAY)
    assert result.exit_code == 2
    assert re.search(r"already holds \d+ sim order\(s\) from an earlier run", result.stderr)
    missing = _run(replayed, monkeypatch, "lineage", "no-such-id")
    assert missing.exit_code == 2 and "no trade, order or fill with id 'no-such-id'" in (
        missing.stderr
    )


def test_the_replay_records_its_start_and_writes_the_status_file(
    replayed: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _run(replayed, monkeypatch, "status", "--json")
    assert result.exit_code == 0, result.output
    status = json.loads(result.stdout)
    assert (status["mode"], status["execution"]) == ("sim", "inline")
    assert status["heartbeat_status"] == "stopped" and status["uptime_s"] is None
    assert status["started_at"] is not None and status["positions"] == []
    assert [(c["symbol"], c["closed_at"]) for c in status["candles"]] == [
        ("BTC/USDT", "2024-03-02T03:00:00Z"), ("ETH/USDT", "2024-03-02T03:00:00Z")]  # fmt: skip
    snapshot = json.loads((Path(replayed["AWAN_HOME"]) / "status" / "awan.json").read_text())
    assert status["status_file_written_at"] is not None
    assert (snapshot["heartbeat"], snapshot["execution"], snapshot["timeframe"]) == (
        "stopped", "inline", "5m")  # fmt: skip
    assert snapshot["last_candle_open"]["ETH/USDT"].startswith("2024-03-02T02:55")
    assert snapshot["paused"] is False and snapshot["open_positions"] == []
