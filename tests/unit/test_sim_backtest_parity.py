"""The sim fills a protected position exactly where the backtest (with the sim's rules) exits.

For each entry candle in a sweep over a week of the sim's 5m candles, two symbols and a few
stop/target settings: the sim buys at market at the candle's open and protects the position
with the OCO the executor places (`ExitLevels.target_order` / `stop_order`); the backtest with
`BacktestConfig.like_live` over the same candles, with one entry signal at the previous close,
must report the same entry price and the same exit candle, price and fee.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from awan_trading.backtest import BacktestConfig
from awan_trading.backtest.run import RiskExits, backtest_frame
from awan_trading.config import RiskConfig
from awan_trading.domain.ids import client_order_id
from awan_trading.exchange import SimExchange, SimMarket
from awan_trading.execution.exits import ExitLevels

SYMBOLS = ["BTC/USDT", "ETH/USDT"]
START, END = datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 8, tzinfo=UTC)
STEP = timedelta(minutes=5)
FEE, SLIP_BPS, LIMIT_OFFSET = 0.001, 2.0, 0.005
SID = "ab" * 16


@pytest.fixture(scope="module")
def market() -> SimMarket:
    return SimMarket(seed=42)


def _backtest_trade(
    candles: pl.DataFrame, entry: datetime, ex: SimExchange, exits: RiskExits
) -> dict:
    """The backtest's one trade for an entry signal at the close before `entry`."""
    frame = candles.filter(pl.col("ts") >= entry - STEP).with_columns(
        enter_long=pl.col("ts") == entry - STEP, exit_long=pl.lit(False)
    )
    symbol = frame["symbol"][0]
    config = BacktestConfig.like_live(
        RiskConfig(max_open_positions=1, stake_fraction=1.0, max_position_quote=1_000.0),
        {symbol: ex.market(symbol)},
        initial_cash=10_000.0,
        fee=FEE,
        slippage=ex.slippage,
    )
    result = backtest_frame(frame, timeframe="5m", config=config, exits=exits)
    (trade,) = result.trades.iter_rows(named=True)
    return trade


@pytest.mark.parametrize("symbol", SYMBOLS)
@pytest.mark.parametrize(
    ("stop_loss", "take_profit"), [(0.004, 0.006), (0.008, 0.004), (0.003, None)]
)
def test_sim_exits_equal_the_backtest_exits(
    market: SimMarket, symbol: str, stop_loss: float, take_profit: float | None
) -> None:
    candles = market.candles(symbol, "5m", START, END)
    exits = RiskExits(stop_loss, take_profit, None)
    reasons: dict[str, int] = {}
    for k in range(1, candles.height - 1, 37):  # ~54 entries spread over the week
        entry = candles["ts"][k]
        clock = {"now": entry}
        ex = SimExchange(
            market,
            fee_rate=FEE,
            slippage_bps=SLIP_BPS,
            balances={"USDT": 10_000.0},
            clock=lambda c=clock: c["now"],
            match_timeframe="5m",
        )
        trade = _backtest_trade(candles, entry, ex, exits)
        buy = ex.create_order(symbol, "buy", "market", trade["amount"], client_order_id="e0")
        assert (buy.average, buy.filled) == (trade["entry_price"], trade["amount"])
        assert buy.filled * buy.average + buy.fee == pytest.approx(trade["stake"], rel=1e-12)

        tick = ex.market(symbol).price_increment
        levels = ExitLevels.at_entry(buy.average or 0.0, exits)
        stop_order = levels.stop_order(tick=tick, limit_offset=LIMIT_OFFSET)
        assert stop_order is not None
        trigger, limit = stop_order
        target = levels.target_order(tick=tick)
        if target is None:
            stop_leg = ex.create_order(
                symbol, "sell", "stop_loss_limit", buy.filled, limit,
                client_order_id=client_order_id(SID, "stop"), stop_price=trigger,
            )  # fmt: skip
            legs = [stop_leg]
        else:
            legs = list(
                ex.create_oco_sell(
                    symbol, buy.filled, target_price=target, stop_price=trigger,
                    stop_limit_price=limit, list_client_order_id=client_order_id(SID, "bracket"),
                    target_client_order_id=client_order_id(SID, "take_profit"),
                    stop_client_order_id=client_order_id(SID, "stop"),
                )
            )  # fmt: skip
        clock["now"] = END
        fills = [
            f
            for leg in legs
            for f in ex.fetch_order(symbol, client_order_id=leg.client_order_id).trades
        ]
        reasons[trade["exit_reason"]] = reasons.get(trade["exit_reason"], 0) + 1
        if trade["exit_reason"] == "end_of_data":
            assert fills == []  # still protected when the data ends
            continue
        (fill,) = fills
        assert (fill.ts, fill.price) == (trade["exit_ts"], trade["exit_price"])
        assert fill.fee == fill.amount * fill.price * FEE
        proceeds = fill.amount * fill.price - fill.fee
        assert proceeds == pytest.approx(trade["stake"] + trade["pnl"], rel=1e-12)
        expected_leg = "take_profit" if trade["exit_reason"] == "take_profit" else "stop"
        assert fill.client_order_id == client_order_id(SID, expected_leg)
    assert reasons.get("stop_loss", 0) >= 5
    if take_profit:
        assert reasons.get("take_profit", 0) >= 5
