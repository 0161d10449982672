"""Event replay: the candle-by-candle decisions the live loop makes, and a driver that replays history.

The live loop wakes at each candle close with a bounded window of recent candles (indicators
already updated incrementally) and the current portfolio, and must say what to do at the next
open. `decide` is that function; `intrabar_exit` (from `awan_trading.execution.exits`, with the
exit levels) is the stop / target check the position manager runs on every candle, and
`execution.sizing.size_entry` sizes each entry as the live executor does. `replay` drives them over
a history exactly as the live loop would, filling queued orders at the next open, and produces
the same trades and equity tables as the vectorized backtest — `tests/unit/test_replay*.py`
hold the two to trade-for-trade parity, which is what lets a backtest stand for live behaviour.

The execution rules are those documented in `awan_trading.backtest.engine`; this module is
their plain-Python statement, the engine their compiled one. Positions are the live
`awan_trading.domain.positions.Position`, so replay and the position manager watch the same
exit levels on the same type.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Literal

import numpy as np
import polars as pl

from awan_trading.backtest.config import BacktestConfig
from awan_trading.domain.positions import Position
from awan_trading.execution.exits import ExitLevels, intrabar_exit
from awan_trading.execution.fills import market_buy_price, market_sell_price
from awan_trading.execution.refusals import Refusal
from awan_trading.execution.risk import DAY_MS, daily_loss_reached
from awan_trading.execution.sizing import size_entry
from awan_trading.indicators import add_indicators
from awan_trading.market.timeframes import to_epoch_ms
from awan_trading.signals import SignalContext, infer_timeframe
from awan_trading.strategies.base import Strategy

if TYPE_CHECKING:  # the history driver's result; backtest.run imports the numba engine
    from awan_trading.backtest.run import BacktestResult


@dataclass(frozen=True)
class Action:
    """An order to place at the symbol's next open, caused by the candle at `signal_ts`."""

    kind: Literal["enter", "exit"]
    symbol: str
    signal_ts: int
    score: float = 0.0
    signal_id: str | None = None


@dataclass
class PortfolioState:
    """Cash, open positions and the orders queued for the next open."""

    cash: float
    positions: dict[str, Position] = field(default_factory=dict)
    pending_entries: dict[str, Action] = field(default_factory=dict)
    pending_exits: dict[str, Action] = field(default_factory=dict)


def decide(
    window: pl.DataFrame,
    state: PortfolioState,
    strategy: Strategy,
    *,
    ts: datetime | int,
    max_open_positions: int,
    context: SignalContext | None = None,
) -> list[Action]:
    """What to do at the next open, given the candles that just closed at `ts`.

    `window` holds the last `strategy.lookback` candles (with indicator columns) of every symbol
    to consider, sorted by (symbol, ts); only symbols whose last row closes at `ts` act. Exits
    for held positions come first; then flat symbols with an entry signal, best score first
    (ties by symbol), while held positions without a queued exit plus queued entries stay below
    `max_open_positions`.
    """
    now = ts if isinstance(ts, int) else to_epoch_ms(ts)
    return decide_on(
        close_rows(window, strategy, now), state, ts=now,
        max_open_positions=max_open_positions, context=context,
    )  # fmt: skip


def close_rows(window: pl.DataFrame, strategy: Strategy, now: int) -> pl.DataFrame:
    """The strategy's verdict on the candles closing at `now` (epoch ms): one row per symbol
    with `enter_long`, `exit_long` and `score` (NaN or missing: 0), sorted by symbol. The live
    loop ranks pairs from these same rows, so the strategy runs once per close."""
    return (
        strategy.populate(window)
        .filter(pl.col("ts").dt.epoch("ms") == now)
        .select("symbol", "enter_long", "exit_long", pl.col("score").fill_nan(0.0).fill_null(0.0))
        .sort("symbol")
    )


def decide_on(
    rows: pl.DataFrame,
    state: PortfolioState,
    *,
    ts: int,
    max_open_positions: int,
    context: SignalContext | None = None,
) -> list[Action]:
    """`decide` from the close's `close_rows`."""
    now = ts
    actions: list[Action] = []
    candidates: list[tuple[float, str]] = []
    exiting = set(state.pending_exits)
    for symbol, enter, exit_, score in rows.iter_rows():
        if symbol in state.positions:
            if exit_ and symbol not in exiting:
                exiting.add(symbol)
                sid = context.id(symbol, now, "sell") if context else None
                actions.append(Action("exit", symbol, now, score, sid))
        elif enter and symbol not in state.pending_entries:
            candidates.append((-score, symbol))
    held = sum(1 for s in state.positions if s not in exiting) + len(state.pending_entries)
    for neg_score, symbol in sorted(candidates):
        if held >= max_open_positions:
            break
        sid = context.id(symbol, now, "buy") if context else None
        actions.append(Action("enter", symbol, now, -neg_score, sid))
        held += 1
    return actions


@dataclass
class _Book:
    """The replay's account: applies fills to the state and keeps the trade log."""

    state: PortfolioState
    fee: float
    trades: list[dict] = field(default_factory=list)
    realized_today: float = 0.0  # PnL of trades closed this UTC day (max_daily_loss)

    def close(self, symbol: str, ts: int, price: float, reason: str) -> None:
        pos = self.state.positions.pop(symbol)
        self.state.pending_exits.pop(symbol, None)
        proceeds = pos.amount * price * (1.0 - self.fee)
        self.state.cash += proceeds
        self.realized_today += proceeds - pos.stake
        self.trades.append(
            {"symbol": symbol, "entry_ts": pos.entry_ts, "entry_price": pos.entry_price, "exit_ts": ts,
             "exit_price": price, "amount": pos.amount, "stake": pos.stake, "pnl": proceeds - pos.stake,
             "return": (proceeds - pos.stake) / pos.stake, "exit_reason": reason, "signal_ts": pos.signal_ts}
        )  # fmt: skip


def replay(
    candles: pl.DataFrame,
    strategy: Strategy,
    config: BacktestConfig | None = None,
    timeframe: str | None = None,
) -> BacktestResult:
    """Replay `candles` candle by candle through `decide` and `intrabar_exit`.

    Indicators are computed once over the history (they are causal: a value at t uses only
    candles ≤ t, which the indicator tests and the no-look-ahead property test pin down) and each
    decision sees only the trailing `strategy.lookback` rows, as the live loop would.
    """
    # here, not at the top: the live loop imports this module for `decide` alone, and these
    # import numba (the backtest engine and its metrics kernels)
    from awan_trading.backtest.metrics import compute_metrics
    from awan_trading.backtest.run import EQUITY_SCHEMA, BacktestResult, RiskExits

    config = config or BacktestConfig()
    timeframe = timeframe or infer_timeframe(candles)
    p = strategy.params
    exits = RiskExits(p.stop_loss, p.take_profit, p.trailing_stop)
    context = SignalContext.of(strategy, timeframe)
    frame = add_indicators(candles.sort("symbol", "ts"), strategy.indicator_params())
    symbols = frame.get_column("symbol").unique(maintain_order=True).to_list()
    parts = {s: frame.filter(pl.col("symbol") == s) for s in symbols}
    ts_of = {s: parts[s].get_column("ts").dt.epoch("ms").to_numpy() for s in symbols}
    ohlc = {s: parts[s].select("open", "high", "low", "close").to_numpy() for s in symbols}
    timeline = np.unique(np.concatenate(list(ts_of.values())))
    cursor = dict.fromkeys(symbols, 0)
    tick = {s: config.rules_for(s).price_increment for s in symbols}  # resting levels' grid
    last_close = dict.fromkeys(symbols, 0.0)
    book = _Book(PortfolioState(cash=config.initial_cash), config.fee)
    state, slip, stake_rule = book.state, config.slippage, config.stake_rule
    curve: list[tuple[int, float, float, float]] = []
    day, day_start_equity = None, config.initial_cash

    for now in timeline.tolist():
        if now // DAY_MS != day:  # a new UTC day: the daily loss limit starts over
            day, book.realized_today = now // DAY_MS, 0.0
            day_start_equity = curve[-1][1] if curve else config.initial_cash
        present = [s for s in symbols if cursor[s] < ts_of[s].size and ts_of[s][cursor[s]] == now]
        bar = {s: ohlc[s][cursor[s]] for s in present}
        for s in present:  # 1. queued exits, then queued entries, at the open
            if s in state.pending_exits:
                book.close(s, now, market_sell_price(bar[s][0], slip), "exit_signal")
        ready = sorted(
            (-state.pending_entries[s].score, s) for s in present if s in state.pending_entries
        )
        if ready:
            equity = state.cash
            for s in symbols:
                if s in state.positions:
                    equity += state.positions[s].amount * last_close[s]
            for _, s in ready:
                order = state.pending_entries.pop(s)
                if daily_loss_reached(
                    book.realized_today, day_start_equity, config.max_daily_loss or 0.0
                ):
                    continue
                px = market_buy_price(bar[s][0], slip)
                sized = size_entry(
                    s, price=px, equity=equity, cash=state.cash, fee=config.fee,
                    stake=stake_rule, rules=config.rules_for(s),
                )  # fmt: skip
                if isinstance(sized, Refusal):
                    continue
                state.cash -= sized.cost
                levels = ExitLevels.at_entry(px, exits)
                state.positions[s] = Position(
                    s, sized.amount, sized.cost, px, now, order.signal_ts,
                    levels.stop_price, levels.target_price, levels.high_water,
                )  # fmt: skip
        for s in present:  # 2. stops and targets inside the candle
            if s not in state.positions:
                continue
            pos, (o, h, lo, c) = state.positions[s], bar[s]
            hit = intrabar_exit(
                pos, o, h, lo, slippage=slip, trailing_stop=exits.trailing_stop, tick=tick[s]
            )
            if hit is not None:
                book.close(s, now, *hit)
            elif cursor[s] == ts_of[s].size - 1:
                book.close(s, now, market_sell_price(c, slip), "end_of_data")
            elif h > pos.high_water:
                pos.high_water = h
        for s in present:  # 3. the close: mark, record, decide
            last_close[s] = bar[s][3]
        value = 0.0
        for s in symbols:
            if s in state.positions:
                value += state.positions[s].amount * last_close[s]
        curve.append(
            (
                now,
                state.cash + value,
                state.cash,
                value / (state.cash + value) if state.cash + value > 0 else 0.0,
            )
        )
        active = [s for s in present if cursor[s] < ts_of[s].size - 1]
        if active:
            window = pl.concat(
                [
                    parts[s].slice(
                        max(0, cursor[s] - strategy.lookback + 1),
                        min(cursor[s] + 1, strategy.lookback),
                    )
                    for s in active
                ]
            )
            for action in decide(
                window,
                state,
                strategy,
                ts=now,
                max_open_positions=config.max_open_positions,
                context=context,
            ):
                target = state.pending_exits if action.kind == "exit" else state.pending_entries
                target[action.symbol] = action
        for s in present:
            cursor[s] += 1

    trades = _trades_frame(book.trades, context)
    equity = pl.DataFrame(
        curve, schema=["ts", "equity", "cash", "exposure"], orient="row"
    ).with_columns(pl.col("ts").cast(pl.Datetime("ms")).dt.replace_time_zone("UTC"))
    metrics = compute_metrics(equity, trades, config.initial_cash, timeframe)
    return BacktestResult(
        trades=trades, equity=equity.cast(EQUITY_SCHEMA), metrics=metrics, frame=frame
    )  # type: ignore[arg-type]


def _trades_frame(rows: list[dict], context: SignalContext) -> pl.DataFrame:
    from awan_trading.backtest.run import TRADE_SCHEMA

    if not rows:
        return pl.DataFrame(schema=TRADE_SCHEMA)
    frame = pl.DataFrame(rows).with_columns(
        pl.Series(
            "signal_id",
            [context.id(r["symbol"], r["signal_ts"], "buy") for r in rows],
            dtype=pl.String,
        ),
        *[
            pl.col(c).cast(pl.Datetime("ms")).dt.replace_time_zone("UTC")
            for c in ("entry_ts", "exit_ts", "signal_ts")
        ],
    )
    return frame.select(list(TRADE_SCHEMA)).cast(TRADE_SCHEMA).sort("entry_ts", "symbol")  # type: ignore[arg-type]
