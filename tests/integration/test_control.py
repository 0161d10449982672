"""The control functions on both stores: the numbers every reply and table is made of."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from awan_trading import control
from awan_trading.control.statusfile import StatusFileWriter, read_status_file, status_path
from awan_trading.exchange.errors import ExchangeUnavailable
from awan_trading.storage import Store, open_store
from awan_trading.storage.base import BotEvent
from tests.integration.control_fixtures import BOT, Trading, make_trading


@pytest.fixture(params=["duckdb", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "duckdb":
        url = f"duckdb:///{tmp_path / 'awan.duckdb'}"
    else:
        url = request.getfixturevalue("pg_database").url
    s = open_store(url, migrate=True)
    yield s
    s.close()


@pytest.fixture
def trading(store: Store) -> Trading:
    return make_trading(store)


def test_profit_daily_performance_and_trades_fold_the_fills(trading, tmp_path):
    ctx = trading.context(tmp_path)
    (trade,) = control.last_trades(ctx).trades
    (position,) = control.open_positions(ctx)
    assert position.mark is not None and position.mark.source == "candle"
    unrealized = position.amount * position.mark.price - position.stake
    assert position.unrealized_pnl == pytest.approx(unrealized)
    report = control.profit(ctx)
    (strategy,) = report.strategies
    f = trading.facts
    assert strategy.strategy == "boll_stoch" and strategy.trades == 1
    assert strategy.wins == (1 if f.pnl > 0 else 0)
    assert trade.pnl == pytest.approx(f.pnl) and trade.stake == pytest.approx(f.btc_stake)
    assert report.total.realized_pnl == pytest.approx(f.pnl)
    assert position.mark.price == f.eth_mark and unrealized == pytest.approx(f.unrealized)
    assert report.total.unrealized_pnl == pytest.approx(unrealized)
    assert report.total.fees == pytest.approx(trade.fee) == pytest.approx(f.fees)
    later = control.profit(ctx, since=datetime.now(UTC) + timedelta(days=1))
    assert later.total.trades == 0 and later.total.open_positions == 1
    days = control.daily(ctx, 3).days
    assert [d.day for d in days] == [datetime.now(UTC).date() - timedelta(days=i) for i in range(3)]
    assert sum(d.trades for d in days) == 1 and sum(d.realized_pnl for d in days) == trade.pnl
    (pair,) = control.performance(ctx).pairs
    assert (pair.symbol, pair.trades) == ("BTC/USDT", 1)
    assert pair.pnl_pct == pytest.approx(trade.pnl / trade.stake)
    with pytest.raises(control.ControlError, match="between 1 and 50"):
        control.last_trades(ctx, 0)


def test_balance_of_the_sim_is_its_start_plus_the_fills(trading, tmp_path):
    report = control.balance(trading.context(tmp_path))
    held = {c.currency: c.total for c in report.currencies}
    venue = trading.sim.fetch_balance()
    assert report.source == "fills"
    assert held["USDT"] == pytest.approx(venue.total("USDT"))
    assert held["ETH"] == pytest.approx(venue.total("ETH")) and "BTC" not in held


class Down:
    def fetch_ticker(self, symbol: str):
        raise ExchangeUnavailable("venue down")


def test_marks_prefer_the_venue_fall_back_to_candles_and_say_when_there_is_none(trading, tmp_path):
    venue = trading.context(tmp_path, venue_prices=True, exchange_factory=lambda: trading.sim)
    (position,) = control.open_positions(venue)
    assert position.mark.source == "venue"
    assert position.mark.price == trading.sim.fetch_ticker("ETH/USDT").last
    down = trading.context(tmp_path, venue_prices=True, exchange_factory=Down)
    assert control.open_positions(down)[0].mark.source == "candle"
    blind = trading.context(tmp_path)
    blind.timeframe = "4h"  # no 4h candles stored: no price at all
    (unpriced,) = control.open_positions(blind)
    assert unpriced.mark is None and unpriced.unrealized_pnl is None
    total = control.profit(blind).total
    assert total.unpriced == 1 and total.unrealized_pnl == 0.0


def test_pause_resume_and_force_exit_are_requests_the_executor_obeys(trading, tmp_path):
    ctx = trading.context(tmp_path)
    ack = control.pause(ctx, "telegram:5")
    assert ack.request_id is not None
    assert control.pause(ctx, "cli").request_id is None  # pending pause: already paused
    assert control.status(ctx).pending_controls == ("pause (by telegram:5)",)
    with pytest.raises(control.ControlError, match="no open position in BTC/USDT"):
        control.force_exit(ctx, "btc/usdt", "cli")
    exit_ack = control.force_exit(ctx, "eth/usdt", "cli")
    assert exit_ack.symbols == ("ETH/USDT",)
    trading.executor.on_candle_close("ETH/USDT", {"high": 1.0})
    assert trading.executor.paused and trading.store.positions("sim") == []
    report = control.status(ctx)
    assert report.paused and report.pending_controls == () and report.positions == ()
    with pytest.raises(control.ControlError, match="no open positions"):
        control.force_exit(ctx, "all", "cli")
    assert control.resume(ctx, "cli").note == "entries are allowed again at the loop's next wake-up"
    assert "restart the live loop" in control.reload_config(ctx).reason
    trading.store.heartbeat(BOT, "stopped")  # a request to a loop that is down waits: say so
    note = control.pause(ctx, "cli").note
    assert note.startswith("new entries stop once the live loop runs again (last beat ")
    assert note.endswith("s ago: stopped); stops keep working")


def test_status_reports_the_start_the_heartbeat_and_the_last_error(trading, tmp_path):
    ctx = trading.context(tmp_path)
    plan = {"mode": "sim", "execution": "sensor", "symbols": ["ETH/USDT"], "timeframe": "1h"}
    trading.store.record_event(BotEvent(BOT, "started", "started", json.dumps(plan)))
    trading.store.record_event(BotEvent(BOT, "protection_failed", "ETH/USDT: no stop placed"))
    trading.store.record_event(BotEvent(BOT, "paused", "a refusal, not an error"))
    report = control.status(ctx)
    assert (report.mode, report.execution) == ("sim", "sensor")
    assert [c.symbol for c in report.candles] == ["ETH/USDT"]
    assert report.uptime_s is not None and 0 <= report.uptime_s < 600
    assert report.heartbeat_status == "ok close=test" and report.heartbeat_age_s < 600
    assert report.last_error.kind == "protection_failed"
    assert report.today_realized_pnl == pytest.approx(trading.facts.today_pnl)
    trading.store.heartbeat(BOT, "stopped")
    assert control.status(ctx).uptime_s is None


def test_the_status_file_is_replaced_whole_and_never_stops_the_loop(trading, tmp_path):
    writer = StatusFileWriter(tmp_path, BOT, trading.store, "sim", "sim",
                              {"symbols": ["ETH/USDT"], "timeframe": "1h", "mode": "sim"},
                              min_interval=0.0)  # fmt: skip
    writer("ok tick", False)
    snapshot = read_status_file(tmp_path, BOT)
    assert snapshot["heartbeat"] == "ok tick" and snapshot["pid"] == os.getpid()
    assert [p["symbol"] for p in snapshot["open_positions"]] == ["ETH/USDT"]
    assert snapshot["last_candle_open"]["ETH/USDT"] is not None
    writer("ok close", True)
    assert read_status_file(tmp_path, BOT)["paused"] is True
    writer.min_interval = 3600.0  # a fast replay: beats in between are not written...
    writer("ok close 2", True)
    assert read_status_file(tmp_path, BOT)["heartbeat"] == "ok close"
    writer("stopped", True)  # ...the last one always is
    assert read_status_file(tmp_path, BOT)["heartbeat"] == "stopped"
    folder = status_path(tmp_path, BOT).parent
    assert [p.name for p in folder.iterdir()] == ["awan.json"]  # no temporary left behind
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / "status").write_text("a file where the status folder should be")
    broken = StatusFileWriter(blocked, BOT, trading.store, "sim", "sim", {"symbols": []}, 0.0)
    broken("ok tick", False)  # logged once, never raised: the loop goes on
    broken("ok tick", False)
    assert read_status_file(blocked, BOT) is None
