"""The compiled, path-dependent part of the backtest: fills, stops and the portfolio.

Signals are computed vectorized (polars) before this loop; what cannot be vectorized is what
depends on the path — whether a position is open, where its trailing stop sits, how much cash is
left — so that, and only that, runs here in one numba-compiled pass over a (time × symbol) grid.
`awan_trading.replay` implements the same rules candle by candle in plain Python for the live
loop; the parity tests hold the two to the same trades.

Execution conventions (conservative, and identical in replay):

1. At each timestamp, first the fills at the candle's **open**: exits signalled at the previous
   close (price `open * (1 - slippage)`), then entries signalled at the previous close in score
   order (price `open * (1 + slippage)`). Sizing is `awan_trading.execution.sizing`, compiled
   in: the stake is `equity * stake_fraction` (or the fixed `stake_amount`) capped by
   `max_position_quote` and by cash, with equity marked at the previous closes, taken once
   before this timestamp's entries; the amount is floored to the symbol's lot step, and an
   entry below its `min_amount` / `min_notional`, with no cash, or on a UTC day whose realized
   loss reached `max_daily_loss` of the day's start equity (`execution.risk`) is dropped.
2. Then, per open position, the exits **inside** the candle, in this order:
   a. stop (the higher of the fixed stop and the trailing stop): if the open is already at or
      below it (a gap) the fill is the open, otherwise if the low reaches it the fill is the stop
      price; both minus slippage. A position entered at this open is checked too.
   b. take-profit: if the high reaches the target the fill is the target (a resting limit order:
      no slippage). A candle that touches both stop and target counts as a stop — we cannot know
      which came first, so we assume the worse.
   With a symbol's tick in the market rules (`BacktestConfig.like_live`), the stop is rounded
   up and the target up to the tick before the test, as the resting orders guarding a live
   position are. These rules are `awan_trading.execution.fills`, compiled in.
   "At or below" and "reaches" use the price tolerance (`awan_trading.tolerance.PRICE_RTOL`,
   passed in as `price_rtol`): a price touching a level is a real market event and must count,
   but the level is computed (`fill * (1 - stop_loss)`, `fill * (1 + take_profit)`) and carries
   rounding, e.g. `1.1 * 1.04` lands an ulp above the 1.144 the market prints. So a low within
   `price_rtol` of the stop counts as reaching it (and then fills at the stop level, at most that
   fraction below the low), and the trailing stop replaces the fixed one only when it is higher
   by more than the tolerance (equal levels keep the reason `stop_loss`). The tolerance is ~1e-3
   of the finest real tick, so no candle that misses a level by a tick is ever counted as a hit.
   c. only then the trailing high-water mark is raised to the candle's high, so a candle's own
      high never tightens the stop that same candle is tested against.
3. At a symbol's last candle an open position is closed at the close (minus slippage), reason
   `end_of_data`, so the trade list always sums to the equity change.
4. At the **close**: record equity; an exit signal on a held position queues an exit for the
   symbol's next open; entry signals on flat symbols are ranked by score (ties by symbol order)
   and queued while held positions (without a queued exit) plus queued entries stay below
   `max_open_positions`. Queued orders fill at that symbol's next candle, however far away.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numba.extending import register_jitable

from awan_trading import jit_cache
from awan_trading.execution.fills import (
    STOP_HIT,
    TARGET_HIT,
    above,
    market_buy_price,
    market_sell_price,
    protective_exit,
    resting_stop,
    resting_target,
)
from awan_trading.execution.risk import daily_loss_reached
from awan_trading.execution.sizing import SIZED, entry_amount, entry_budget

jit_cache.install()  # before any cache=True function is decorated
# Compiled inline like the fills and sizing rules; registered here rather than where it is
# defined (`execution/risk.py` is imported by store readers that never run a kernel).
register_jitable(daily_loss_reached)

EXIT_SIGNAL, STOP_LOSS, TRAILING_STOP, TAKE_PROFIT, END_OF_DATA = 0, 1, 2, 3, 4
EXIT_REASONS: tuple[str, ...] = (
    "exit_signal",
    "stop_loss",
    "trailing_stop",
    "take_profit",
    "end_of_data",
)


@njit(cache=True)
def _record(
    tr_i, tr_f, n, s, sig_row, in_row, out_row, reason, in_px, out_px, amount, stake, proceeds
):
    """Write trade `n` into the preallocated int and float trade tables."""
    tr_i[n, 0] = s
    tr_i[n, 1] = sig_row
    tr_i[n, 2] = in_row
    tr_i[n, 3] = out_row
    tr_i[n, 4] = reason
    tr_f[n, 0] = in_px
    tr_f[n, 1] = out_px
    tr_f[n, 2] = amount
    tr_f[n, 3] = stake
    tr_f[n, 4] = proceeds


@njit(cache=True)
def simulate(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    enter: np.ndarray,
    exit_: np.ndarray,
    score: np.ndarray,
    initial_cash: float,
    fee: float,
    slippage: float,
    stop_loss: float,
    take_profit: float,
    trailing_stop: float,
    stake_fraction: float,
    stake_amount: float,
    max_open: int,
    max_trades: int,
    day: np.ndarray,
    max_position_quote: float,
    max_daily_loss: float,
    amount_step: np.ndarray,
    min_amount: np.ndarray,
    min_notional: np.ndarray,
    price_tick: np.ndarray,
    price_rtol: float,
):
    """Run the portfolio over (T × S) arrays; NaN prices mean "no candle for this symbol".

    `stop_loss`, `take_profit`, `trailing_stop`, `stake_amount`, `max_position_quote`,
    `max_daily_loss` of 0 disable that feature; `max_trades` bounds the trade table (the number
    of entry signals is always enough: each trade needs its own). `day[t]` is the UTC day number
    of timestamp t; `amount_step`, `min_amount`, `min_notional` are per-symbol lot rules (0 = none);
    `price_tick` is the symbol's tick (0 = none), which puts stop and target on the tick grid
    exactly as the resting orders that guard a live position (`execution.fills`).
    `price_rtol` is the price tolerance of stop and target touches (an argument, not a global,
    so numba's on-disk cache can never keep a stale value).
    Returns `tr_i` (symbol, signal row, entry row, exit row, reason), `tr_f` (entry price, exit
    price, amount, stake, proceeds) and per-timestamp equity, cash and exposure.
    """
    n_t, n_s = open_.shape
    last_row = np.full(n_s, -1, dtype=np.int64)
    for s in range(n_s):
        for t in range(n_t - 1, -1, -1):
            if not np.isnan(open_[t, s]):
                last_row[s] = t
                break

    in_pos = np.zeros(n_s, dtype=np.bool_)
    amount = np.zeros(n_s)
    stake = np.zeros(n_s)
    entry_px = np.zeros(n_s)
    entry_row = np.zeros(n_s, dtype=np.int64)
    signal_row = np.zeros(n_s, dtype=np.int64)
    stop_px = np.zeros(n_s)
    target_px = np.zeros(n_s)
    high_water = np.zeros(n_s)
    last_close = np.zeros(n_s)
    pend_entry = np.zeros(n_s, dtype=np.bool_)
    pend_row = np.zeros(n_s, dtype=np.int64)
    pend_score = np.zeros(n_s)
    pend_exit = np.zeros(n_s, dtype=np.bool_)
    order = np.empty(n_s, dtype=np.int64)
    keys = np.empty(n_s)

    tr_i = np.empty((max_trades, 5), dtype=np.int64)
    tr_f = np.empty((max_trades, 5))
    n_tr = 0

    eq_out = np.empty(n_t)
    cash_out = np.empty(n_t)
    expo_out = np.empty(n_t)
    cash = initial_cash
    cur_day = day[0] if n_t > 0 else 0
    day_start_equity = initial_cash
    realized_today = 0.0

    for t in range(n_t):
        # -- 0. a new UTC day: realized PnL restarts, start equity is the last marked equity --
        if day[t] != cur_day:
            cur_day = day[t]
            realized_today = 0.0
            day_start_equity = eq_out[t - 1] if t > 0 else initial_cash
        # -- 1. fills at the open: queued exits, then queued entries by score -------------
        for s in range(n_s):
            if pend_exit[s] and not np.isnan(open_[t, s]):
                pend_exit[s] = False
                px = market_sell_price(open_[t, s], slippage)
                proceeds = amount[s] * px * (1.0 - fee)
                cash += proceeds
                realized_today += proceeds - stake[s]
                in_pos[s] = False
                _record(
                    tr_i,
                    tr_f,
                    n_tr,
                    s,
                    signal_row[s],
                    entry_row[s],
                    t,
                    EXIT_SIGNAL,
                    entry_px[s],
                    px,
                    amount[s],
                    stake[s],
                    proceeds,
                )
                n_tr += 1
        n_ready = 0
        for s in range(n_s):
            if pend_entry[s] and not np.isnan(open_[t, s]):
                order[n_ready] = s
                keys[n_ready] = pend_score[s]
                n_ready += 1
        if n_ready > 0:
            _sort_by_score(order, keys, n_ready)
            equity = cash
            for s in range(n_s):
                if in_pos[s]:
                    equity += amount[s] * last_close[s]
            for j in range(n_ready):
                s = order[j]
                pend_entry[s] = False
                if daily_loss_reached(realized_today, day_start_equity, max_daily_loss):
                    continue
                budget, _ = entry_budget(
                    cash, equity, stake_fraction, stake_amount, max_position_quote
                )
                px = market_buy_price(open_[t, s], slippage)
                size, cost, outcome = entry_amount(
                    budget, px, fee, amount_step[s], min_amount[s], min_notional[s]
                )
                if outcome != SIZED:
                    continue
                cash -= cost
                in_pos[s] = True
                stake[s] = cost
                amount[s] = size
                entry_px[s] = px
                entry_row[s] = t
                signal_row[s] = pend_row[s]
                stop_px[s] = px * (1.0 - stop_loss) if stop_loss > 0.0 else 0.0
                target_px[s] = px * (1.0 + take_profit) if take_profit > 0.0 else np.inf
                high_water[s] = px

        # -- 2. exits inside the candle: stop (gap → open) before target, then trail -------
        for s in range(n_s):
            if not in_pos[s] or np.isnan(open_[t, s]):
                continue
            level = stop_px[s]
            reason = STOP_LOSS
            if trailing_stop > 0.0:
                trail = high_water[s] * (1.0 - trailing_stop)
                if above(trail, level, price_rtol):
                    level = trail
                    reason = TRAILING_STOP
            hit, px = protective_exit(
                open_[t, s],
                high[t, s],
                low[t, s],
                resting_stop(level, price_tick[s]),
                resting_target(target_px[s], price_tick[s]),
                slippage,
                price_rtol,
            )
            # A stop keeps `px` from protective_exit and the reason chosen above.
            if hit == TARGET_HIT:
                reason = TAKE_PROFIT
            elif hit != STOP_HIT:
                if t != last_row[s]:  # no exit: only now may the candle's high raise the trail
                    if high[t, s] > high_water[s]:
                        high_water[s] = high[t, s]
                    continue
                px = market_sell_price(close[t, s], slippage)
                reason = END_OF_DATA
            proceeds = amount[s] * px * (1.0 - fee)
            cash += proceeds
            realized_today += proceeds - stake[s]
            in_pos[s] = False
            pend_exit[s] = False
            _record(
                tr_i,
                tr_f,
                n_tr,
                s,
                signal_row[s],
                entry_row[s],
                t,
                reason,
                entry_px[s],
                px,
                amount[s],
                stake[s],
                proceeds,
            )
            n_tr += 1

        # -- 3. the close: mark, record, queue next-open orders ---------------------------
        for s in range(n_s):
            if not np.isnan(close[t, s]):
                last_close[s] = close[t, s]
        value = 0.0
        n_held = 0
        for s in range(n_s):
            if in_pos[s]:
                value += amount[s] * last_close[s]
        eq_out[t] = cash + value
        cash_out[t] = cash
        expo_out[t] = value / (cash + value) if cash + value > 0.0 else 0.0

        n_cand = 0
        for s in range(n_s):
            if np.isnan(close[t, s]) or t == last_row[s]:
                if (in_pos[s] and not pend_exit[s]) or pend_entry[s]:
                    n_held += 1
                continue
            if in_pos[s] and exit_[t, s]:
                pend_exit[s] = True
            if (in_pos[s] and not pend_exit[s]) or pend_entry[s]:
                n_held += 1
            elif not in_pos[s] and enter[t, s]:
                order[n_cand] = s
                keys[n_cand] = score[t, s]
                n_cand += 1
        if n_cand > 0:
            _sort_by_score(order, keys, n_cand)
            for j in range(n_cand):
                if n_held >= max_open:
                    break
                s = order[j]
                pend_entry[s] = True
                pend_row[s] = t
                pend_score[s] = score[t, s]
                n_held += 1

    return tr_i[:n_tr], tr_f[:n_tr], eq_out, cash_out, expo_out


@njit(cache=True)
def _sort_by_score(order: np.ndarray, keys: np.ndarray, n: int) -> None:
    """Insertion sort of `order[:n]` by score descending, symbol index ascending (stable)."""
    for i in range(1, n):
        o, k = order[i], keys[i]
        j = i - 1
        while j >= 0 and (keys[j] < k or (keys[j] == k and order[j] > o)):
            order[j + 1] = order[j]
            keys[j + 1] = keys[j]
            j -= 1
        order[j + 1] = o
        keys[j + 1] = k
