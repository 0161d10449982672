"""A live replay through the sim equals the backtest on the same window, trade for trade.

`awan live --mode sim --execution inline --start S --end E --speed max` and `awan backtest
--exchange sim --start S --end E` over 7 days × 2 symbols of 5m candles, for both strategies:
every closed trade has the same symbol, entry and exit time, prices, amount and fees; the
backtest's `end_of_data` exits are the replay's open positions. The replay runs the real
executor against the real sim exchange (protective orders resting on it), with the store on
DuckDB — nothing is mocked.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from awan_trading.backtest.window import backtest_window, like_live_config
from awan_trading.config import AwanConfig
from awan_trading.domain.trades import closed_trades
from awan_trading.exchange.factory import open_exchange
from awan_trading.live.runner import build_loop, plan_from, run_replay
from awan_trading.storage import open_store
from awan_trading.storage.memory_cache import MemoryCache

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

START, END = "2024-03-01", "2024-03-08"
SYMBOLS = "BTC/USDT,ETH/USDT"
COLUMNS = ["symbol", "entry_ts", "entry_price", "exit_ts", "exit_price", "amount", "fee"]


def _backtest(config: AwanConfig, strategy: str) -> pl.DataFrame:
    plan = plan_from(config, mode="sim", symbols=SYMBOLS, timeframe="5m", strategy=strategy,
                     start=START, end=END, speed="max")  # fmt: skip
    exchange = open_exchange("sim", config)
    result = backtest_window(
        exchange, plan.symbols, plan.timeframe, plan.start, plan.end, plan.strategy,  # type: ignore[arg-type]
        like_live_config(config, exchange, plan.symbols),
    )  # fmt: skip
    fee = config.sim.fee_rate
    return result.trades.with_columns(
        fee=(pl.col("amount") * pl.col("entry_price") * fee)
        + (pl.col("amount") * pl.col("exit_price") * fee)
    )


def _replay(config: AwanConfig, strategy: str, tmp_path: Path) -> tuple[pl.DataFrame, list]:
    store = open_store(f"duckdb:///{tmp_path / 'live.duckdb'}", migrate=True)
    plan = plan_from(config, mode="sim", execution="inline", symbols=SYMBOLS, timeframe="5m",
                     strategy=strategy, start=START, end=END, speed="max")  # fmt: skip
    cache = MemoryCache()
    loop, clock = build_loop(plan, config, store, cache)
    ranked_entries: list[tuple[set[str], set[str]]] = []

    def ranking(report) -> None:  # the pair ranking is the close's entry candidates
        buys = {s.symbol for s in report.signals if s.side == "buy"}
        ranked_entries.append((buys, {symbol for symbol, _ in cache.top_pairs(10)}))

    reports = run_replay(loop, clock, plan, on_step=ranking)
    assert len(reports) == 7 * 288  # every close of the window, the last one settling only
    assert all(buys <= ranked for buys, ranked in ranked_entries)
    assert sum(bool(buys) for buys, _ in ranked_entries) > 0
    fills = store.fills(exchange="sim")
    from awan_trading.storage.rows import fill_from_row

    trades = closed_trades([fill_from_row(r) for r in fills.iter_rows()], exchange="sim")
    frame = pl.DataFrame(
        [{c: getattr(t, c) for c in COLUMNS} for t in trades],
        schema={"symbol": pl.String, "entry_ts": pl.Int64, "entry_price": pl.Float64,
                "exit_ts": pl.Int64, "exit_price": pl.Float64, "amount": pl.Float64,
                "fee": pl.Float64},
    )  # fmt: skip
    return frame, store.positions("sim")


@pytest.mark.parametrize("strategy", ["boll_stoch", "ema_trend"])
def test_inline_replay_closes_exactly_the_backtests_trades(strategy: str, tmp_path: Path) -> None:
    config = AwanConfig()
    backtest = _backtest(config, strategy)
    live, open_positions = _replay(config, strategy, tmp_path)

    closed = (
        backtest.filter(pl.col("exit_reason") != "end_of_data")
        .with_columns(pl.col("entry_ts").dt.epoch("ms"), pl.col("exit_ts").dt.epoch("ms"))
        .select(COLUMNS)
        .sort("entry_ts", "symbol")
    )
    assert closed.height >= 5, "too few trades for the comparison to mean anything"
    assert_frame_equal(
        live.sort("entry_ts", "symbol").drop("fee"), closed.drop("fee"), check_exact=True
    )
    # fees: the sim charges amount × price × rate per fill, the backtest the same arithmetic
    assert_frame_equal(
        live.sort("entry_ts", "symbol").select("fee"), closed.select("fee"), rel_tol=1e-12
    )
    still_open = backtest.filter(pl.col("exit_reason") == "end_of_data")
    assert sorted(p.symbol for p in open_positions) == sorted(still_open["symbol"].to_list())
    for position in open_positions:
        row = still_open.filter(pl.col("symbol") == position.symbol).row(0, named=True)
        assert position.entry_price == row["entry_price"]
        assert position.amount == row["amount"]
