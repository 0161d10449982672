"""Backtest engine and replay size entries with the live rule: lot steps, caps, minimums, daily loss.

The engine compiles `execution.sizing` / `execution.risk` into its loop, the replay calls them as
Python; with the venue's market rules on, both must still agree trade for trade and on every
equity point, and every amount must be what `size_entry` says.
"""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from awan_trading.backtest import BacktestConfig, BacktestResult, run_backtest
from awan_trading.config import RiskConfig
from awan_trading.exchange.sim import SimExchange
from awan_trading.exchange.sim_market import SimMarket
from awan_trading.execution.sizing import EntrySize, MarketRules, floor_to_step, size_entry
from awan_trading.replay import replay
from awan_trading.strategies import get_strategy

SYMBOLS = ["BTC/USDT", "ETH/USDT"]
START, END = datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 8, tzinfo=UTC)


@pytest.fixture(scope="module")
def sim() -> tuple[pl.DataFrame, dict]:
    """Seven days of the sim's 5m candles for two symbols, and the sim's markets for them."""
    market = SimMarket(seed=42)
    exchange = SimExchange(market, fee_rate=0.001)
    candles = pl.concat([market.candles(s, "5m", START, END) for s in SYMBOLS])
    return candles, {s: exchange.market(s) for s in SYMBOLS}


def both(candles: pl.DataFrame, strategy_name: str, config: BacktestConfig) -> BacktestResult:
    strategy = get_strategy(strategy_name)
    fast = run_backtest(candles, strategy, config, timeframe="5m")
    slow = replay(candles, strategy, config, timeframe="5m")
    assert_frame_equal(fast.trades, slow.trades, check_exact=True)
    assert_frame_equal(fast.equity, slow.equity, check_exact=True)
    assert fast.metrics == slow.metrics
    return fast


def assert_sized_by_the_rules(result: BacktestResult, config: BacktestConfig) -> None:
    for t in result.trades.iter_rows(named=True):
        rules = config.rules_for(t["symbol"])
        assert floor_to_step(t["amount"], rules.amount_increment) == t["amount"]
        assert t["amount"] >= rules.min_amount
        assert t["amount"] * t["entry_price"] >= rules.min_notional
        assert t["stake"] == t["amount"] * t["entry_price"] * (1.0 + config.fee)
        if config.max_position_quote:
            assert t["stake"] <= config.max_position_quote


def live_config(markets: dict, **risk: float) -> BacktestConfig:
    limits = RiskConfig(
        **{"stake_fraction": 0.4, "max_open_positions": 2, "max_position_quote": 3_000.0, **risk}
    )
    return BacktestConfig.like_live(
        limits, markets, initial_cash=10_000.0, fee=0.001, slippage=0.0002
    )


@pytest.mark.parametrize(("strategy", "min_trades"), [("boll_stoch", 10), ("ema_trend", 40)])
def test_parity_on_the_sims_markets_with_the_live_sizing_rule(
    sim: tuple[pl.DataFrame, dict], strategy: str, min_trades: int
) -> None:
    candles, markets = sim
    config = live_config(markets, max_daily_loss=0.05)
    assert config.rules_for("BTC/USDT") == MarketRules(0.01, 0.00001, 0.00001, 5.0)
    result = both(candles, strategy, config)
    assert result.trades.height >= min_trades
    assert_sized_by_the_rules(result, config)
    # max_position_quote binds (0.4 × 10 000 > 3 000) and the first entry is exactly size_entry's
    first = result.trades.row(0, named=True)
    expected = size_entry(
        first["symbol"],
        price=first["entry_price"],
        equity=10_000.0,
        cash=10_000.0,
        fee=config.fee,
        stake=config.stake_rule,
        rules=config.rules_for(first["symbol"]),
    )
    assert isinstance(expected, EntrySize) and expected.capped_by == "max_position_quote"
    assert (first["amount"], first["stake"]) == (expected.amount, expected.cost)


def test_daily_loss_limit_blocks_the_same_entries_in_both(sim: tuple[pl.DataFrame, dict]) -> None:
    candles, markets = sim
    limit = 0.002
    unlimited = both(candles, "ema_trend", live_config(markets, max_daily_loss=0.99))
    limited = both(candles, "ema_trend", live_config(markets, max_daily_loss=limit))
    assert limited.trades.height < unlimited.trades.height
    # checked independently from the outputs: no entry on a UTC day after that day's realized
    # loss (exits at or before the entry's open) reached limit × equity at the day's start
    trades, curve = limited.trades, limited.equity
    for entry in trades.iter_rows(named=True):
        day = entry["entry_ts"].date()
        before = curve.filter(pl.col("ts").dt.date() < day)
        start_equity = before.get_column("equity")[-1] if before.height else 10_000.0
        realized = trades.filter(
            (pl.col("exit_ts").dt.date() == day)
            & (
                (pl.col("exit_ts") < entry["entry_ts"])
                | (
                    (pl.col("exit_ts") == entry["entry_ts"])
                    & (pl.col("exit_reason") == "exit_signal")
                )
            )
        ).get_column("pnl")
        assert -realized.sum() < limit * start_equity


def test_parity_on_real_candles_when_min_notional_refuses_entries(
    xrp_5m: pl.DataFrame, btc_30m: pl.DataFrame
) -> None:
    candles = pl.concat([xrp_5m, btc_30m.with_columns(symbol=pl.lit("BTC/XRP"))]).drop("timeframe")
    plain = BacktestConfig(initial_cash=10_000.0, max_open_positions=2, stake_fraction=0.7)
    rules = {
        "XRP/ETH": MarketRules(0.000001, 1.0, 1.0, 0.0),
        "BTC/XRP": MarketRules(0.00001, 0.001, 0.001, 6_900.0),
    }
    ruled = plain.model_copy(update={"market_rules": rules})
    strategy = get_strategy("ema_trend", {"trailing_stop": "0.005"})
    loose = run_backtest(candles, strategy, plain, timeframe="5m")
    fast = run_backtest(candles, strategy, ruled, timeframe="5m")
    slow = replay(candles, strategy, ruled, timeframe="5m")
    assert_frame_equal(fast.trades, slow.trades, check_exact=True)
    assert_frame_equal(fast.equity, slow.equity, check_exact=True)
    assert 10 <= fast.trades.height < loose.trades.height  # refusals happened, trades remain
    assert_sized_by_the_rules(fast, ruled)
    # whole XRP only: the floored amounts differ from the unrounded ones
    assert set(fast.trades.get_column("symbol")) == {"XRP/ETH", "BTC/XRP"}
    xrp = fast.trades.filter(pl.col("symbol") == "XRP/ETH").get_column("amount")
    assert (xrp == xrp.round(0)).all()
