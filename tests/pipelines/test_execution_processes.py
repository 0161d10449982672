"""Execution runs in separate processes trade one sim account, rebuilt from the store.

Each `execute_signal` run here is its own `dagster job execute` process, as the daemon's run
launcher makes one process per run, on one DuckDB store and one Dagster instance. The runs
trade on the sim at a replay's clock recorded in the store (a sensor-mode replay), so the
prices are the sim's at known instants. What must hold: the second run finds the first's
position on the venue with its one resting protective list, places no second list for it,
and its reconciliation — and one made afterwards from yet another rebuilt account — finds
nothing to correct.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import yaml

from awan_pipelines.execution import JOB_NAME, SIGNAL_OP, execution_setup
from awan_trading.config import load_config, load_settings
from awan_trading.domain.ids import client_order_id, parse_client_order_id
from awan_trading.exchange.factory import open_exchange
from awan_trading.exchange.sim_account import derived_order_id, restore_account
from awan_trading.execution.executor import Executor
from awan_trading.live.venue_clock import record_clock
from awan_trading.storage import open_store
from awan_trading.strategies import get_strategy
from tests.pipelines.signal_rows import signal_frame

ROOT = Path(__file__).resolve().parents[2]
C1 = datetime(2024, 3, 4, 10, tzinfo=UTC)  # BTC's signal candle; the replay is at its close
C2 = C1 + timedelta(hours=1)  # ETH's signal candle, an hour later
CONFIG = """
[universe]
symbols = ["BTC/USDT", "ETH/USDT"]
timeframes = ["1h"]
history_start = 2024-01-01
[strategy]
name = "boll_stoch"
timeframe = "1h"
"""


def run_in_process_of_its_own(env: dict[str, str], work: Path, row: dict) -> None:
    """`dagster job execute` for the signal `row`, as a launched run would execute it."""
    config = work / f"run-{row['seq']}.yaml"
    ops = {SIGNAL_OP: {"config": {"signal_id": row["signal_id"], "seq": int(row["seq"])}}}
    config.write_text(yaml.safe_dump({"ops": ops}))
    dagster = str(Path(sys.executable).parent / "dagster")
    done = subprocess.run(
        [dagster, "job", "execute", "-m", "awan_pipelines.definitions", "-j", JOB_NAME,
         "-c", str(config)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]


def signal_at(store, sim, symbol: str, candle: datetime) -> dict:
    """A buy signal of `symbol` on `candle`, at its close, as the loop stores it."""
    price = sim.fetch_ohlcv(symbol, "1h", candle, candle + timedelta(hours=1))["close"][0]
    store.insert_signals("sim", signal_frame([(symbol, candle, "buy", price)]))
    return store.signals_after(0).row(-1, named=True)


def risk_check_metadata(instance: dg.DagsterInstance, run_id: str) -> dict:
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_OUTPUT):
        if record.step_key == SIGNAL_OP:
            data = record.dagster_event.step_output_data  # type: ignore[union-attr]
            return {k: v.value for k, v in data.metadata.items()}
    raise AssertionError(f"no {SIGNAL_OP} output in run {run_id}")


def protective_legs(store, symbol: str) -> pl.DataFrame:
    legs = store.orders().filter(pl.col("symbol") == symbol)
    kinds = [parse_client_order_id(c).leg for c in legs["client_order_id"]]
    return legs.with_columns(pl.Series("leg", kinds)).filter(
        pl.col("leg").is_in(["stop", "take_profit"])
    )


def test_two_runs_in_two_processes_trade_one_account(tmp_path: Path) -> None:
    (tmp_path / "awan.toml").write_text(CONFIG)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWAN_", "DAGSTER_"))}
    env.update(
        AWAN_HOME=str(tmp_path / "awan_home"),
        AWAN_CONFIG_FILE=str(tmp_path / "awan.toml"),
        DAGSTER_HOME=str(home),
    )
    settings = load_settings(home=tmp_path / "awan_home")
    config = load_config(tmp_path / "awan.toml")
    store = open_store(settings.resolved_store_url(), migrate=True)
    sim = open_exchange("sim", config)  # the candles the signals were computed on

    record_clock(store, "sim", C1 + timedelta(hours=1))  # the replay stands at BTC's close
    btc = signal_at(store, sim, "BTC/USDT", C1)
    run_in_process_of_its_own(env, tmp_path, btc)
    entry = store.orders().filter(
        pl.col("client_order_id") == client_order_id(btc["signal_id"], "entry")
    )
    assert entry["status"].to_list() == ["filled"]
    assert entry["exchange_order_id"][0] == derived_order_id(entry["client_order_id"][0])
    first_legs = protective_legs(store, "BTC/USDT")
    assert sorted(first_legs["status"]) == ["accepted", "accepted"]  # one OCO: stop + target

    record_clock(store, "sim", C2 + timedelta(hours=1))  # an hour on: ETH's close
    eth = signal_at(store, sim, "ETH/USDT", C2)
    run_in_process_of_its_own(env, tmp_path, eth)

    # The second process saw the first's position, and its protective list resting as before.
    with dg.DagsterInstance.from_config(str(home)) as instance:
        [second] = [
            r
            for r in instance.get_runs()
            if r.run_config["ops"][SIGNAL_OP]["config"]["seq"] == eth["seq"]
        ]
        seen = risk_check_metadata(instance, second.run_id)
    assert seen["open_positions"] == "BTC/USDT" and seen["decision"] == "pass"
    held = {p.symbol: p for p in store.positions("sim") if p.is_open}
    assert set(held) == {"BTC/USDT", "ETH/USDT"}
    legs = protective_legs(store, "BTC/USDT")
    assert legs.sort("client_order_id").equals(first_legs.sort("client_order_id"))  # no 2nd list
    assert held["BTC/USDT"].stop_client_order_id == client_order_id(btc["signal_id"], "stop")
    reconciled = store.events("awan", limit=10).filter(pl.col("kind") == "reconciled")
    assert reconciled.height == 2
    assert (
        "0 resent, 0 abandoned, 0 protective lists placed, 0 canceled" in reconciled["message"][-1]
    )

    # A third process's account, rebuilt from the store, agrees with it in every respect.
    venue = open_exchange("sim", config, clock=lambda: C2 + timedelta(hours=1))
    venue.match_timeframe = "1h"
    restore_account(venue, store, dict(config.sim.starting_balance))
    resting = {o.client_order_id: o for o in venue.fetch_open_orders()}
    assert set(resting) == set(store.orders(["accepted"])["client_order_id"])
    assert len(resting) == 4  # one OCO (stop + target) per position, nothing else
    btc_stop = resting[client_order_id(btc["signal_id"], "stop")]
    assert btc_stop.list_client_order_id == client_order_id(btc["signal_id"], "bracket")
    balance = venue.fetch_balance()
    for symbol, position in held.items():
        base = symbol.split("/")[0]
        assert balance.used[base] == position.amount and balance.free[base] >= 0.0
    setup = execution_setup(config, get_strategy("boll_stoch"))
    executor = Executor(venue, store, bot="check", strategy=setup.strategy, risk=setup.risk,
                        fee=config.sim.fee_rate, slippage=setup.slippage, symbols=setup.symbols)  # fmt: skip
    report = executor.reconcile()
    assert report.ok, report.describe()
    assert (report.recorded, report.resent, report.abandoned) == (0, 0, 0)
    assert (report.protections_placed, report.canceled) == (0, 0)
    store.close()
