"""The backtester's execution conventions on hand-built candles, where every fill is known."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from awan_trading.backtest import BacktestConfig, RiskExits, backtest_frame
from awan_trading.errors import DataError
from awan_trading.execution.sizing import MarketRules

T0 = datetime(2024, 1, 1, tzinfo=UTC)
NO_EXITS = RiskExits(stop_loss=None, take_profit=None, trailing_stop=None)


def candles(rows: list[tuple], symbol: str = "A/USDT", start: int = 0) -> pl.DataFrame:
    """rows: (open, high, low, close[, enter[, exit[, score]]]); one minute apart."""
    full = [(*r, *(False, False, 0.0)[len(r) - 4 :]) for r in rows]
    return pl.DataFrame(
        {
            "symbol": [symbol] * len(full),
            "ts": [T0 + timedelta(minutes=start + i) for i in range(len(full))],
            "open": [float(r[0]) for r in full],
            "high": [float(r[1]) for r in full],
            "low": [float(r[2]) for r in full],
            "close": [float(r[3]) for r in full],
            "enter_long": [r[4] for r in full],
            "exit_long": [r[5] for r in full],
            "score": [float(r[6]) for r in full],
        }
    ).with_columns(pl.col("ts").dt.cast_time_unit("ms"))


def run(frame: pl.DataFrame, exits: RiskExits = NO_EXITS, **config: object):
    settings = {"initial_cash": 1000.0, "fee": 0.0, "slippage": 0.0, "max_open_positions": 1}
    settings.update(config)
    return backtest_frame(frame, timeframe="1m", config=BacktestConfig(**settings), exits=exits)


FLAT = (100, 100, 100, 100)


def test_entry_at_next_open_and_exit_signal_at_next_open_with_fee_and_slippage() -> None:
    frame = candles(
        [
            (100, 100, 100, 100, True),
            (100, 101, 99, 100),
            (105, 112, 104, 110, False, True),
            (110, 111, 109, 110),
            FLAT,
        ]
    )
    result = run(frame, fee=0.001, slippage=0.01)
    (trade,) = result.trades.iter_rows(named=True)
    entry_px, exit_px = 100 * 1.01, 110 * 0.99
    amount = 1000 / (entry_px * 1.001)
    assert trade["entry_ts"] == T0 + timedelta(minutes=1)
    assert trade["exit_ts"] == T0 + timedelta(minutes=3)
    assert trade["entry_price"] == pytest.approx(entry_px, rel=1e-12)
    assert trade["exit_price"] == pytest.approx(exit_px, rel=1e-12)
    assert trade["amount"] == pytest.approx(amount, rel=1e-12)
    assert trade["pnl"] == pytest.approx(amount * exit_px * 0.999 - 1000, rel=1e-12)
    assert trade["exit_reason"] == "exit_signal"
    assert trade["signal_ts"] == T0
    assert result.metrics["final_equity"] == pytest.approx(1000 + trade["pnl"], rel=1e-12)


def test_gap_below_stop_fills_at_the_open() -> None:
    frame = candles([(100, 100, 100, 100, True), (100, 101, 99.5, 100), (95, 96, 94, 95), FLAT])
    (trade,) = run(frame, RiskExits(0.02, None, None)).trades.iter_rows(named=True)
    assert (trade["exit_price"], trade["exit_reason"]) == (95.0, "stop_loss")
    assert trade["exit_ts"] == T0 + timedelta(minutes=2)


def test_touched_stop_fills_at_stop_less_slippage() -> None:
    frame = candles([(100, 100, 100, 100, True), (100, 101, 99.5, 100), (100, 101, 97, 99), FLAT])
    (trade,) = run(frame, RiskExits(0.02, None, None), slippage=0.001).trades.iter_rows(named=True)
    assert trade["exit_price"] == pytest.approx(100 * 1.001 * 0.98 * 0.999, rel=1e-12)
    assert trade["exit_reason"] == "stop_loss"


def test_stop_wins_when_stop_and_target_are_hit_in_the_same_candle() -> None:
    frame = candles([(100, 100, 100, 100, True), (100, 101, 99.5, 100), (100, 105, 97, 101), FLAT])
    (trade,) = run(frame, RiskExits(0.02, 0.04, None)).trades.iter_rows(named=True)
    assert (trade["exit_price"], trade["exit_reason"]) == (98.0, "stop_loss")


def test_take_profit_fills_at_the_target_without_slippage() -> None:
    frame = candles([(100, 100, 100, 100, True), (100, 101, 99.5, 100), (101, 106, 100, 103), FLAT])
    (trade,) = run(frame, RiskExits(0.02, 0.04, None), slippage=0.01).trades.iter_rows(named=True)
    assert trade["exit_price"] == pytest.approx(101 * 1.04, rel=1e-12)
    assert trade["exit_reason"] == "take_profit"


def test_stop_is_checked_on_the_entry_candle_itself() -> None:
    frame = candles([(100, 100, 100, 100, True), (100, 101, 97, 100), FLAT])
    (trade,) = run(frame, RiskExits(0.02, None, None)).trades.iter_rows(named=True)
    assert trade["entry_ts"] == trade["exit_ts"] == T0 + timedelta(minutes=1)


def test_trailing_stop_rises_with_highs_only_after_the_candle_is_checked() -> None:
    rows = [
        (100, 100, 100, 100, True),
        (100, 100, 99, 100),  # entry at 100, trail 95
        (100, 110, 100.5, 108),  # would trail to 104.5 but is checked against 95: no exit
        (106, 107, 104, 105),  # now the trail is 104.5: exit there
        FLAT,
    ]
    (trade,) = run(candles(rows), RiskExits(None, None, 0.05)).trades.iter_rows(named=True)
    assert trade["exit_ts"] == T0 + timedelta(minutes=3)
    assert trade["exit_price"] == pytest.approx(104.5, rel=1e-12)
    assert trade["exit_reason"] == "trailing_stop"


def test_trailing_stop_below_fixed_stop_reports_stop_loss() -> None:
    frame = candles([(100, 100, 100, 100, True), (100, 100, 99, 100), (99, 99, 97, 98), FLAT])
    (trade,) = run(frame, RiskExits(0.02, None, 0.05)).trades.iter_rows(named=True)
    assert (trade["exit_price"], trade["exit_reason"]) == (98.0, "stop_loss")


def test_open_position_is_closed_at_the_last_close_and_trades_sum_to_equity() -> None:
    frame = candles([(100, 100, 100, 100, True), (100, 103, 99, 102), (102, 104, 101, 103)])
    result = run(frame, fee=0.001, slippage=0.001)
    (trade,) = result.trades.iter_rows(named=True)
    assert trade["exit_reason"] == "end_of_data"
    assert trade["exit_price"] == pytest.approx(103 * 0.999, rel=1e-12)
    assert result.equity.get_column("equity")[-1] == pytest.approx(1000 + trade["pnl"], rel=1e-12)
    assert result.equity.get_column("exposure")[-1] == 0.0


def test_signals_that_do_not_fit_the_position_are_ignored() -> None:
    rows = [
        (*FLAT, False, True),
        (*FLAT, True),
        (*FLAT, True),
        (*FLAT, True),
        (*FLAT, False, True),
        FLAT,
        FLAT,
    ]
    trades = run(candles(rows)).trades
    assert trades.height == 1
    assert trades.row(0, named=True)["entry_ts"] == T0 + timedelta(minutes=2)
    assert trades.row(0, named=True)["exit_ts"] == T0 + timedelta(minutes=5)


def test_simultaneous_entries_are_ranked_by_score_within_max_open_positions() -> None:
    frames = [
        candles([(*FLAT, True, False, score), FLAT, FLAT, FLAT], symbol=sym)
        for sym, score in (("A/USDT", 1.0), ("B/USDT", 3.0), ("C/USDT", 2.0))
    ]
    result = run(pl.concat(frames), max_open_positions=2, stake_fraction=0.5)
    assert sorted(result.trades.get_column("symbol").to_list()) == ["B/USDT", "C/USDT"]
    assert result.trades.get_column("stake").to_list() == [500.0, 500.0]
    assert result.equity.get_column("exposure")[1] == pytest.approx(1.0)


def test_stake_is_capped_by_free_cash() -> None:
    frames = [
        candles([(*FLAT, True, False, 2.0), FLAT, FLAT], symbol="A/USDT"),
        candles([(*FLAT, True, False, 1.0), FLAT, FLAT], symbol="B/USDT"),
    ]
    stakes = (
        run(pl.concat(frames), max_open_positions=2, stake_fraction=0.7)
        .trades.sort("symbol")
        .get_column("stake")
    )
    assert stakes.to_list() == pytest.approx([700.0, 300.0])


def test_fixed_stake_amount_does_not_compound_and_is_capped_by_cash() -> None:
    rows = [(*FLAT, True), (100, 100, 100, 100, False, True), (50, 50, 50, 50, True), FLAT, FLAT]
    trades = run(candles(rows), stake_amount=400.0).trades
    assert trades.get_column("stake").to_list() == [400.0, 400.0]
    assert trades.get_column("pnl").to_list() == [-200.0, 0.0]  # the loss does not shrink stake 2
    capped = run(candles(rows), stake_amount=4000.0).trades
    assert capped.get_column("stake").to_list() == [1000.0, 500.0]


def test_max_position_quote_and_lot_rules_size_like_the_live_executor() -> None:
    rows = [(*FLAT, True), (101, 101, 101, 101), FLAT]
    rules = {"A/USDT": MarketRules(0.01, amount_increment=0.1, min_amount=0.1, min_notional=0.0)}
    (trade,) = run(candles(rows), max_position_quote=250.0, market_rules=rules).trades.iter_rows(
        named=True
    )
    assert trade["amount"] == 2.4  # 250 / 101 = 2.475… floored to the 0.1 step
    assert trade["stake"] == 2.4 * 101.0  # the cost of the floored amount, not the budget
    assert run(candles(rows), max_position_quote=250.0).trades.get_column("stake")[0] == 250.0


def test_entries_below_min_notional_or_min_amount_are_dropped() -> None:
    rows = [(*FLAT, True), (101, 101, 101, 101), FLAT]
    notional = {"A/USDT": MarketRules(amount_increment=0.1, min_notional=300.0)}
    assert run(candles(rows), max_position_quote=250.0, market_rules=notional).trades.is_empty()
    lot = {"A/USDT": MarketRules(amount_increment=1.0, min_amount=3.0)}
    assert run(candles(rows), max_position_quote=250.0, market_rules=lot).trades.is_empty()


def test_no_entries_after_the_days_realized_loss_reaches_max_daily_loss() -> None:
    # day 1: a 10 % loss on a 50 % stake = 5 % of equity; the next entry the same day is dropped
    rows = [(*FLAT, True), (100, 100, 100, 100, False, True), (90, 90, 90, 90, True), FLAT, FLAT]
    config = {"stake_fraction": 0.5, "max_daily_loss": 0.05}
    assert run(candles(rows), **config).trades.height == 1
    assert run(candles(rows), **{**config, "max_daily_loss": 0.051}).trades.height == 2
    # the same signal after 00:00 UTC enters: the limit is per UTC day
    late = candles(rows, start=24 * 60 - 3)  # the re-entry fills at 00:00 of the next day
    assert run(late, **config).trades.height == 2


def test_a_queued_exit_frees_its_slot_for_an_entry_at_the_same_open() -> None:
    a = candles(
        [(*FLAT, True, False, 1.0), FLAT, (*FLAT, False, True), FLAT, FLAT], symbol="A/USDT"
    )
    b = candles([FLAT, FLAT, (*FLAT, True, False, 1.0), FLAT, FLAT], symbol="B/USDT")
    trades = run(pl.concat([a, b])).trades.sort("symbol")
    assert (
        trades.get_column("exit_ts")[0]
        == trades.get_column("entry_ts")[1]
        == T0 + timedelta(minutes=3)
    )


def test_sparse_symbol_fills_at_its_own_next_candle() -> None:
    a = candles([FLAT] * 6, symbol="A/USDT")
    b = pl.concat(
        [
            candles([(*FLAT, True)], symbol="B/USDT"),
            candles([(101, 101, 101, 101)] * 2, symbol="B/USDT", start=4),
        ]
    )
    (trade,) = run(pl.concat([a, b])).trades.iter_rows(named=True)
    assert (trade["symbol"], trade["entry_ts"], trade["entry_price"]) == (
        "B/USDT",
        T0 + timedelta(minutes=4),
        101.0,
    )
    assert result_height(a, b) == 6


def result_height(*frames: pl.DataFrame) -> int:
    return run(pl.concat(frames)).equity.height


def test_duplicate_candles_and_missing_columns_are_refused() -> None:
    frame = candles([FLAT, FLAT])
    with pytest.raises(DataError, match="duplicate"):
        run(pl.concat([frame, frame.head(1)]))
    with pytest.raises(DataError, match="duplicate"):
        run(pl.concat([frame, frame.head(1), candles([FLAT], symbol="B/USDT")]))
    with pytest.raises(DataError, match="enter_long"):
        run(frame.drop("enter_long"))


def test_a_level_the_market_prints_exactly_is_reached_despite_rounding() -> None:
    """1.1 × 1.04 is 1.1440000000000001 and 1.16 × 0.98 is 1.1367999999999998 in floats; a high
    of 1.144 reaches that target and a low of 1.1368 that stop (the price tolerance), while a
    tick short of either (1.1439, 1.1369) reaches nothing."""
    target = candles(
        [(1.1, 1.1, 1.1, 1.1, True), (1.1, 1.144, 1.1, 1.12), (1.12, 1.12, 1.12, 1.12)]
    )
    (trade,) = run(target, RiskExits(None, 0.04, None)).trades.iter_rows(named=True)
    assert (trade["exit_reason"], trade["exit_price"]) == ("take_profit", 1.1 * 1.04)
    stop = candles([(1.16, 1.16, 1.16, 1.16, True), (1.16, 1.17, 1.1368, 1.15), (1.15,) * 4])
    (trade,) = run(stop, RiskExits(0.02, None, None)).trades.iter_rows(named=True)
    assert (trade["exit_reason"], trade["exit_price"]) == ("stop_loss", 1.16 * (1 - 0.02))
    short = candles([(1.1, 1.1, 1.1, 1.1, True), (1.1, 1.1439, 1.1369, 1.12), (1.12,) * 4])
    (trade,) = run(short, RiskExits(0.02, 0.04, None)).trades.iter_rows(named=True)
    assert trade["exit_reason"] == "end_of_data"


def test_a_trailing_stop_equal_to_the_fixed_stop_reports_stop_loss() -> None:
    """Same level up to rounding (high-water 1.16, 2 % trail and 2 % stop): the fixed stop's
    reason, whichever way the two products round."""
    frame = candles([(1.16, 1.16, 1.16, 1.16, True), (1.16, 1.16, 1.13, 1.14), (1.14,) * 4])
    (trade,) = run(frame, RiskExits(0.02, None, 1 - (1 - 0.02) * (1 + 1e-15))).trades.iter_rows(
        named=True
    )
    assert trade["exit_reason"] == "stop_loss"
