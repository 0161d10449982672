"""Backtest speed and agreement: awan vs backtesting.py vs vectorbt on the same signals.

One realistic 1M-candle 1m series (the deterministic sim market, `SimMarket(seed=1)`,
BTC/USDT: volatility clustering, trends, wicks, open = previous close), the boll_stoch benchmark
rules computed once with awan's indicators —

    entry: close < bb_lower(20, 2.0) and StochRSI %K (14, 14, 3, 3) < 20
    exit:  close > bb_upper;  stop 2 %, target 4 %, fee 0.1 % per fill, no slippage

(compared as the strategies compare, within `awan_trading.tolerance`: prices to 1e-10
relative, %K to 1e-9 points) — and the same boolean arrays handed to every engine, all filling at
the next candle's open:

- awan: `backtest_frame` (grid + numba loop + trade/equity tables + metrics).
- vectorbt: `Portfolio.from_signals` with signals shifted one bar, `price=open`, OHLC for the
  stops and `stop_entry_price="fillprice"` (its default measures SL/TP from the entry bar's
  *close*, which moved ~1 % of exits), after one warm-up call so its numba compilation is
  excluded (awan's too).
- backtesting.py: a `Strategy` that buys on the signal (filled at the next open by the library)
  with SL/TP set from the signal close (= the next open here, since open = previous close).
  It steps a Python `next()` per bar, so it is timed on the first `BT_ROWS` candles and awan and
  vectorbt are timed on that same slice for its ratio. It buys whole units, so it gets 1e9 cash
  (≈23k BTC) to make the rounding negligible.

Sizing: the rules lose money after fees, so an all-in compounding account is worth ~0 long
before 1M candles and engines then disagree only about dust; the 1M comparison therefore uses a
fixed 10k stake (freqtrade's `stake_amount`; vectorbt `size_type="value"`), the slice uses
all-in compounding (backtesting.py's only mode). PnL differs by ~0.1 % at fixed stake because
awan's stake includes the entry fee while vectorbt's value excludes it; on the slice the
last-candle trade is closed with an exit fee by awan and backtesting.py, and backtesting.py
buys whole units.

Run: `.venv/bin/python benchmarks/backtest.py [--rows N] [--bt-rows N]`; prints a markdown table.
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import polars as pl
from machine import describe

from awan_trading.backtest import BacktestConfig, BacktestResult, RiskExits, backtest_frame
from awan_trading.exchange.sim_market import MINUTE_MS, SimMarket
from awan_trading.indicators import IndicatorParams, add_indicators
from awan_trading.market.timeframes import to_epoch_ms
from awan_trading.tolerance import OSCILLATOR, PRICE

START = to_epoch_ms(datetime(2024, 1, 1, tzinfo=UTC))
FEE, STOP, TARGET = 0.001, 0.02, 0.04
CASH = 10_000.0
BT_CASH = 1e9
FIXED_CASH, FIXED_STAKE = 1e7, 10_000.0


def best_seconds(run: Callable[[], object], repeats: int = 3) -> tuple[float, object]:
    """Best wall time of `repeats` runs after one warm-up call (compilation, caches)."""
    result = run()
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - began)
    return min(times), result


def signals(rows: int) -> pl.DataFrame:
    """Sim candles + indicators + the benchmark's entry/exit columns."""
    candles = SimMarket(seed=1).candles_1m("BTC/USDT", START, START + rows * MINUTE_MS)
    frame = add_indicators(candles, IndicatorParams())
    return frame.with_columns(
        enter_long=PRICE.lt(pl.col("close"), pl.col("bb_lower"))
        & OSCILLATOR.lt(pl.col("stochrsi_k"), 20.0),
        exit_long=PRICE.gt(pl.col("close"), pl.col("bb_upper")),
    ).with_columns(pl.col("enter_long", "exit_long").fill_null(False), score=pl.lit(0.0))


def run_awan(frame: pl.DataFrame, fixed: bool = False) -> BacktestResult:
    sizing = (
        {"initial_cash": FIXED_CASH, "stake_amount": FIXED_STAKE}
        if fixed
        else {"initial_cash": CASH, "stake_fraction": 1.0}
    )
    config = BacktestConfig(fee=FEE, slippage=0.0, max_open_positions=1, **sizing)
    return backtest_frame(frame, timeframe="1m", config=config, exits=RiskExits(STOP, TARGET, None))


def run_vectorbt(frame: pl.DataFrame, fixed: bool = False):
    import vectorbt as vbt

    sizing = (
        {"init_cash": FIXED_CASH, "size": FIXED_STAKE, "size_type": "value"}
        if fixed
        else {"init_cash": CASH, "size": np.inf}
    )
    ohlc = {c: frame.get_column(c).to_numpy() for c in ("open", "high", "low", "close")}
    enter = np.concatenate(([False], frame.get_column("enter_long").to_numpy()[:-1]))
    exit_ = np.concatenate(([False], frame.get_column("exit_long").to_numpy()[:-1]))
    pf = vbt.Portfolio.from_signals(
        ohlc["close"], enter, exit_, price=ohlc["open"], open=ohlc["open"], high=ohlc["high"], low=ohlc["low"],
        sl_stop=STOP, tp_stop=TARGET, stop_entry_price="fillprice", fees=FEE, freq="1min", **sizing,
    )  # fmt: skip
    return pf, pf.trades.count(), pf.total_return()


def run_backtesting_py(frame: pl.DataFrame):
    from backtesting import Backtest, Strategy

    data = pd.DataFrame(
        {
            c.capitalize(): frame.get_column(c).to_numpy()
            for c in ("open", "high", "low", "close", "volume")
        },
        index=pd.DatetimeIndex(frame.get_column("ts").dt.replace_time_zone(None).to_numpy()),
    )
    data["Enter"] = frame.get_column("enter_long").to_numpy()
    data["Exit"] = frame.get_column("exit_long").to_numpy()

    class Signals(Strategy):
        def init(self) -> None:
            self.enter = self.I(lambda: self.data.Enter, name="enter", plot=False)
            self.exit = self.I(lambda: self.data.Exit, name="exit", plot=False)

        def next(self) -> None:
            close = self.data.Close[-1]
            if self.position:
                if self.exit[-1]:
                    self.position.close()
            elif self.enter[-1] and not self.exit[-1]:
                self.buy(sl=close * (1 - STOP), tp=close * (1 + TARGET))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bt = Backtest(data, Signals, cash=BT_CASH, commission=FEE, finalize_trades=True)
        stats = bt.run()
    return stats


def summarize_awan(result: BacktestResult) -> tuple[int, float]:
    return result.trades.height, result.metrics["total_return"]


def machine() -> str:
    return describe()


def trade_keys(result: BacktestResult) -> set[tuple[int, int]]:
    ts0 = result.trades.get_column("entry_ts").dt.epoch("ms").to_numpy()
    ts1 = result.trades.get_column("exit_ts").dt.epoch("ms").to_numpy()
    return set(
        zip(
            ((ts0 - START) // MINUTE_MS).tolist(),
            ((ts1 - START) // MINUTE_MS).tolist(),
            strict=True,
        )
    )


def compare_trades(awan: BacktestResult, vbt_pf) -> str:
    """How many trades match (same entry bar and exit bar), and a few that do not."""
    records = vbt_pf.trades.records
    theirs = set(zip(records["entry_idx"].tolist(), records["exit_idx"].tolist(), strict=True))
    ours = trade_keys(awan)
    only_ours, only_theirs = sorted(ours - theirs)[:4], sorted(theirs - ours)[:4]
    return (
        f"{len(ours & theirs)} identical (entry bar, exit bar) of awan {len(ours)} / vectorbt {len(theirs)}; "
        f"first only-awan {only_ours}, only-vectorbt {only_theirs}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--bt-rows", type=int, default=100_000, help="slice for backtesting.py")
    args = parser.parse_args()

    began = time.perf_counter()
    full = signals(args.rows)
    part = full.head(args.bt_rows)
    print(
        f"data + indicators + signals for {args.rows:,} candles: {time.perf_counter() - began:.2f} s\n"
    )

    t_awan, awan = best_seconds(lambda: run_awan(full, fixed=True))
    t_vbt, (pf, vbt_trades, _) = best_seconds(lambda: run_vectorbt(full, fixed=True))
    t_awan_part, awan_part = best_seconds(lambda: run_awan(part))
    t_vbt_part, (pf_part, vbt_trades_part, vbt_ret_part) = best_seconds(lambda: run_vectorbt(part))
    began = time.perf_counter()
    stats = run_backtesting_py(part)
    t_bt = time.perf_counter() - began

    pnl_awan = awan.trades.get_column("pnl").sum()
    pnl_vbt = float(pf.trades.pnl.sum())
    n_awan_p, r_awan_p = awan_part.trades.height, awan_part.metrics["total_return"]
    print(f"machine: {machine()}\n")
    print("| engine | candles | sizing | time | awan is faster by | trades | result |")
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: |")
    print(
        f"| awan | {args.rows:,} | fixed 10k stake | {t_awan * 1e3:.1f} ms | 1.0× | {awan.trades.height} | PnL {pnl_awan:,.0f} |"
    )
    print(
        f"| vectorbt {vbt_version()} | {args.rows:,} | fixed 10k stake | {t_vbt * 1e3:.1f} ms | {t_vbt / t_awan:.1f}× | {vbt_trades} | PnL {pnl_vbt:,.0f} |"
    )
    print(
        f"| awan | {args.bt_rows:,} | all-in, compounding | {t_awan_part * 1e3:.1f} ms | 1.0× | {n_awan_p} | return {r_awan_p:+.3%} |"
    )
    print(
        f"| vectorbt | {args.bt_rows:,} | all-in, compounding | {t_vbt_part * 1e3:.1f} ms | {t_vbt_part / t_awan_part:.1f}× | {vbt_trades_part} | return {vbt_ret_part:+.3%} |"
    )
    print(
        f"| backtesting.py {bt_version()} | {args.bt_rows:,} | all-in, whole units | {t_bt * 1e3:,.0f} ms | {t_bt / t_awan_part:,.0f}× | {stats['# Trades']} | return {stats['Return [%]'] / 100:+.3%} |"
    )
    print()
    print(f"vectorbt, {args.rows:,}: {compare_trades(awan, pf)}")
    print(f"vectorbt, {args.bt_rows:,}: {compare_trades(awan_part, pf_part)}")
    bt_trades = stats["_trades"]
    bt_keys = set(zip(bt_trades["EntryBar"].tolist(), bt_trades["ExitBar"].tolist(), strict=True))
    ours = trade_keys(awan_part)
    print(
        f"backtesting.py, {args.bt_rows:,}: {len(ours & bt_keys)} identical of awan {len(ours)} / backtesting.py {len(bt_keys)}; "
        f"only-awan {sorted(ours - bt_keys)[:4]}, only-backtesting.py {sorted(bt_keys - ours)[:4]}"
    )
    reasons = awan.trades.group_by("exit_reason").len().sort("exit_reason")
    print(f"awan exit reasons ({args.rows:,}):", dict(reasons.iter_rows()))


def vbt_version() -> str:
    import vectorbt

    return vectorbt.__version__


def bt_version() -> str:
    import backtesting

    return backtesting.__version__


if __name__ == "__main__":
    main()
