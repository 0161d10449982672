"""The loop's signals on their way out: store (with `seq`), Redis stream, pair ranking.

The store row is the signal: the Dagster sensor reads `signals_after(seq)` and the executor
derives the client order id from `signal_id`. The Redis stream entry is only a wake-up for
whoever waits on new signals, and the pair ranking (`cache.set_priorities`) only orders
entry candidates for a dashboard; both go through the cache's circuit breaker, so a dead
Redis never stops a signal from being stored or executed.

Which signals: the actions `replay.decide` returns (exits of held positions first, then
entries best score first within `max_open_positions`), in that order, so `seq` order is the
order the backtest would fill them in. A raw strategy signal that decides nothing (an exit of
a symbol not held, an entry beyond the position limit) is not written: each stored signal
would otherwise launch an execution run only to be refused. The ranking holds every entry
candidate's score at this close, acted on or not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from awan_trading.domain.signals import SignalRecord
from awan_trading.market.timeframes import from_epoch_ms
from awan_trading.replay import Action
from awan_trading.signals import SignalContext
from awan_trading.storage.base import Store
from awan_trading.storage.cache import HotCache


@dataclass(frozen=True)
class Emitted:
    """A signal as stored: its record and `seq` (None when the store already had it)."""

    record: SignalRecord
    seq: int | None


def signal_records(
    actions: Sequence[Action], closes: pl.DataFrame, context: SignalContext, exchange: str
) -> list[SignalRecord]:
    """One record per action; `price` is the close of the candle that caused it."""
    price = {
        (s, ts): c
        for s, ts, c in closes.select("symbol", pl.col("ts").dt.epoch("ms"), "close").iter_rows()
    }
    records = []
    for action in actions:
        side = "buy" if action.kind == "enter" else "sell"
        signal_id = action.signal_id or context.id(action.symbol, action.signal_ts, side)
        records.append(
            SignalRecord(
                signal_id=signal_id,
                strategy=context.strategy,
                params_hash=context.params_hash,
                exchange=exchange,
                symbol=action.symbol,
                timeframe=context.timeframe,
                ts=from_epoch_ms(action.signal_ts),
                side=side,
                price=float(price[(action.symbol, action.signal_ts)]),
                score=float(action.score),
            )
        )
    return records


def emit(store: Store, cache: HotCache, records: Sequence[SignalRecord]) -> list[Emitted]:
    """Store each signal once, then announce the new ones on the Redis stream."""
    out = []
    for record in records:
        seq = store.insert_signal(record)
        if seq is not None:
            cache.publish_signal(record, seq)
        out.append(Emitted(record, seq))
    return out


def rank_pairs(cache: HotCache, close_rows: pl.DataFrame) -> dict[str, float]:
    """Every entry candidate's score at this close into the pair ranking; `close_rows` is the
    strategy's verdict on the close (`replay.close_rows`: symbol, enter_long, score)."""
    rows = close_rows.filter(pl.col("enter_long").fill_null(False)).select("symbol", "score")
    scores = dict(rows.iter_rows())
    cache.set_priorities(scores)
    return scores
