"""`max_daily_loss` refuses the same entries live as in the backtest, on the same bars.

Both take a UTC day's start equity at the close of the previous day's last candle — the
backtest (`backtest.engine`) when its bar loop enters the new day, the live loop through
`Executor.record_day_start` at the first close of the day — and count the day's realized PnL
from the same fills. An inline replay through the sim (real executor, real sim exchange,
DuckDB store) over an evening and the next morning of 5m ema_trend candles — a position held
across midnight, so the day-start equity depends on when and at which prices it is marked —
with a limit small enough to bite on the second day: the replay closes exactly the backtest's
trades, its refusals carry the backtest's day-start equity, and the day's start snapshot is
at 00:00. (Taken at the day's first entry check instead, as the executor did before, the
start equity is the position marked later in the day, and the limit is a different number.)
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from awan_trading.backtest.window import backtest_window, like_live_config
from awan_trading.config import AwanConfig, RiskConfig
from awan_trading.domain.trades import closed_trades
from awan_trading.exchange.factory import open_exchange
from awan_trading.live.runner import build_loop, plan_from, run_replay
from awan_trading.market.timeframes import from_epoch_ms
from awan_trading.storage import open_store
from awan_trading.storage.memory_cache import MemoryCache
from awan_trading.storage.rows import fill_from_row

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

START, END = "2024-03-19T18:00", "2024-03-20T12:00"
MIDNIGHT = datetime(2024, 3, 20, tzinfo=UTC)
SYMBOLS = "BTC/USDT,ETH/USDT"
LIMIT = 0.002  # 0.2 % of the day's start equity: reached on the second day
COLUMNS = ["symbol", "entry_ts", "entry_price", "exit_ts", "exit_price", "amount"]


def _backtest(config: AwanConfig):
    plan = plan_from(config, mode="sim", symbols=SYMBOLS, timeframe="5m", strategy="ema_trend",
                     start=START, end=END)  # fmt: skip
    exchange = open_exchange("sim", config)
    return backtest_window(
        exchange, plan.symbols, plan.timeframe, plan.start, plan.end, plan.strategy,  # type: ignore[arg-type]
        like_live_config(config, exchange, plan.symbols),
    )  # fmt: skip


def test_daily_loss_limit_refuses_the_same_entries_live_and_in_the_backtest(
    tmp_path: Path,
) -> None:
    config = AwanConfig(risk=RiskConfig(max_daily_loss=LIMIT))
    backtest = _backtest(config)
    unlimited = _backtest(AwanConfig(risk=RiskConfig(max_daily_loss=0.99)))
    assert unlimited.trades.height > backtest.trades.height, "the limit must refuse entries"

    store = open_store(f"duckdb:///{tmp_path / 'live.duckdb'}", migrate=True)
    plan = plan_from(config, mode="sim", execution="inline", symbols=SYMBOLS, timeframe="5m",
                     strategy="ema_trend", start=START, end=END, speed="max")  # fmt: skip
    loop, clock = build_loop(plan, config, store, MemoryCache())
    run_replay(loop, clock, plan)

    # trade for trade: the same entries were taken, so the same ones were refused
    fills = [fill_from_row(r) for r in store.fills(exchange="sim").iter_rows()]
    live = pl.DataFrame(
        [{c: getattr(t, c) for c in COLUMNS} for t in closed_trades(fills, exchange="sim")],
        schema={"symbol": pl.String, "entry_ts": pl.Int64, "entry_price": pl.Float64,
                "exit_ts": pl.Int64, "exit_price": pl.Float64, "amount": pl.Float64},
    ).sort("entry_ts", "symbol")  # fmt: skip
    closed = (
        backtest.trades.filter(pl.col("exit_reason") != "end_of_data")
        .with_columns(pl.col("entry_ts").dt.epoch("ms"), pl.col("exit_ts").dt.epoch("ms"))
        .select(COLUMNS)
        .sort("entry_ts", "symbol")
    )
    assert closed.height >= 3
    assert live.equals(closed)
    still_open = backtest.trades.filter(pl.col("exit_reason") == "end_of_data")
    held = sorted(p.symbol for p in store.positions("sim") if p.is_open)
    assert held == sorted(still_open["symbol"].to_list())

    # the day-start equity both used: the equity at the close of the previous day's last candle
    equity = backtest.equity.with_columns(pl.col("ts").dt.epoch("ms"))
    last_bar = int((MIDNIGHT - timedelta(minutes=5)).timestamp() * 1000)
    day_start = equity.filter(pl.col("ts") == last_bar)["equity"].item()
    snapshots = store.equity_curve("sim").filter(pl.col("ts") >= MIDNIGHT)
    assert snapshots["ts"][0] == MIDNIGHT  # recorded at the day's first close, not later
    assert snapshots["equity"][0] == pytest.approx(day_start, rel=1e-9)

    events = store.events("awan", limit=10_000).filter(pl.col("kind") == "max_daily_loss")
    refusals = [json.loads(d) for d in events["data"]]
    assert refusals, "the replay never reached the daily loss limit"
    for ts, refusal in zip(events["ts"], refusals, strict=True):
        assert ts >= MIDNIGHT  # the limit bites on the second day here
        assert refusal["day_start_equity"] == pytest.approx(day_start, rel=1e-9)
        assert -refusal["realized_pnl_today"] >= LIMIT * day_start
        # the backtest did not enter there either
        entered = closed.filter(
            (pl.col("symbol") == refusal["symbol"])
            & (pl.col("entry_ts") == int(ts.timestamp() * 1000))
        )
        assert entered.is_empty(), (
            f"{refusal['symbol']} at {from_epoch_ms(int(ts.timestamp() * 1000))}"
        )
