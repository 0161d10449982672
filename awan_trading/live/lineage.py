"""Lineage of a trade: trade → orders → signal → strategy and params → candle → its writer.

Every link is a key already in the store: a client order id carries its signal id
(`domain.ids`), a signal carries its strategy, parameter hash, exchange, symbol, timeframe and
candle time, and a candle (with the indicator values computed for it) is keyed by those. Who
wrote the candle is in the store too (`Store.candle_write`, recorded with every candle write):
the Dagster run and partition key when the `ohlcv_<tf>` assets' IO manager wrote it, else the
`awan` command (`awan live <bot>`, `awan fetch`). The Dagster asset partition that holds the
candle — `ohlcv_<tf>`, partition `<UTC day>|<symbol>` — is named as well. `trace` accepts a
closed trade's id, a client order id, an exchange order id or a fill's venue trade id.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import polars as pl

from awan_trading.domain.ids import parse_client_order_id
from awan_trading.errors import ClientOrderIdError, DataError
from awan_trading.market.timeframes import parse_timeframe


def _key(cid: str) -> str | None:
    try:
        return parse_client_order_id(cid).signal_id
    except ClientOrderIdError:
        return None


def _find_trade(store: Any, id_: str, trades: list[Any]) -> tuple[Any | None, list[str]]:
    """The closed trade `id_` names (directly or through an order or fill) and its order ids."""
    for trade in trades:
        if id_ == trade.trade_id or id_ in trade.client_order_ids:
            return trade, list(trade.client_order_ids)
    orders = store.orders()
    hit = orders.filter((pl.col("client_order_id") == id_) | (pl.col("exchange_order_id") == id_))
    if hit.is_empty():
        fills = store.fills()
        by_fill = fills.filter(pl.col("trade_id") == id_)
        if by_fill.is_empty():
            raise DataError(
                f"no trade, order or fill with id {id_!r} in the store "
                "(give a trade id from `awan trades`, a client order id or an exchange order id)"
            )
        cid = by_fill["client_order_id"][0]
    else:
        cid = hit["client_order_id"][0]
    for trade in trades:
        if cid in trade.client_order_ids:
            return trade, list(trade.client_order_ids)
    return None, [cid]


def _params(strategy: str, params_hash: str) -> dict[str, Any] | None:
    """The parameters behind `params_hash`: the config file's, or the strategy's defaults."""
    from awan_trading.config import load_config
    from awan_trading.strategies import get_strategy

    config = load_config()
    candidates = [config.strategy.params] if config.strategy.name == strategy else []
    for params in [*candidates, {}]:
        chosen = get_strategy(strategy, params)
        if chosen.params.params_hash() == params_hash:
            return chosen.params.model_dump(mode="json")
    return None


def _signal(store: Any, signal_id: str | None) -> dict[str, Any] | None:
    if signal_id is None:
        return None
    rows = store.signals_after(0, limit=10_000_000).filter(pl.col("signal_id") == signal_id)
    if rows.is_empty():
        return {"signal_id": signal_id, "missing": True}
    signal = rows.row(0, named=True)
    signal["params"] = _params(signal["strategy"], signal["params_hash"])
    tf = parse_timeframe(signal["timeframe"])
    ts = signal["ts"]
    end = tf.add(ts, 1)
    candle = store.read_candles(signal["exchange"], signal["symbol"], tf.name, ts, end)
    indicators = store.read_indicators(signal["exchange"], signal["symbol"], tf.name, ts, end)
    signal["candle"] = candle.row(0, named=True) if candle.height else None
    signal["indicators"] = (
        {k: v for k, v in indicators.row(0, named=True).items() if k not in ("symbol", "ts")}
        if indicators.height
        else None
    )
    write = store.candle_write(signal["exchange"], signal["symbol"], tf.name, ts)
    signal["candle_write"] = None if write is None else asdict(write)
    signal["candle_writer"] = None if write is None else write.describe()
    day = ts.date().isoformat()
    signal["dagster"] = {
        "asset": f"ohlcv_{tf.name}",
        "partition": f"{day}|{signal['symbol']}",
        "signals_asset": f"signals_{tf.name}_{signal['strategy']}",
    }
    return signal


def trace(store: Any, id_: str, *, trades_of: Callable[[Any], list[Any]]) -> dict[str, Any]:
    """The lineage chain of the trade (or lone order) `id_` names, as plain data."""
    trade, cids = _find_trade(store, id_, trades_of(store))
    keys = {k for k in (_key(c) for c in cids) if k}
    orders = store.orders()
    related = [
        row
        for row in orders.iter_rows(named=True)
        if row["client_order_id"] in cids or _key(row["client_order_id"]) in keys
    ]
    entry_signal = trade.entry_signal_id if trade else (_key(cids[0]) if cids else None)
    exit_signal = trade.exit_signal_id if trade else None
    return {
        "trade": None if trade is None else trade.__dict__,
        "orders": related,
        "entry_signal": _signal(store, entry_signal),
        "exit_signal": _signal(store, exit_signal),
    }


def _describe_signal(title: str, signal: dict[str, Any] | None) -> list[str]:
    if signal is None:
        return []
    if signal.get("missing"):
        return [f"{title}: {signal['signal_id']} (not in the signals table)"]
    lines = [
        f"{title}: {signal['signal_id']} · {signal['side']} {signal['symbol']} "
        f"{signal['timeframe']} candle {signal['ts'].isoformat()} · price {signal['price']:.8g} "
        f"· score {signal['score']:.4g}",
        f"  strategy: {signal['strategy']} (params_hash {signal['params_hash']})",
        "  params: "
        + (
            json.dumps(signal["params"])
            if signal["params"] is not None
            else "not the config file's nor the defaults"
        ),
    ]
    candle = signal["candle"]
    if candle is None:
        lines.append(f"  candle: not in the store ({signal['exchange']})")
    else:
        lines.append(
            f"  candle: {signal['exchange']} open {candle['open']:.8g} high {candle['high']:.8g} "
            f"low {candle['low']:.8g} close {candle['close']:.8g} volume {candle['volume']:.6g}"
        )
    if signal["indicators"]:
        shown = " ".join(
            f"{k} {v:.6g}" if v is not None else f"{k} -" for k, v in signal["indicators"].items()
        )
        lines.append(f"  indicators: {shown}")
    writer = signal["candle_writer"]
    lines.append(
        f"  candle written by {writer}"
        if writer
        else "  candle writer: not on record (stored before the store recorded candle writes)"
    )
    d = signal["dagster"]
    lines.append(
        f"  dagster: asset {d['asset']} partition {d['partition']}; "
        f"signals asset {d['signals_asset']}"
    )
    return lines


def describe(chain: dict[str, Any]) -> list[str]:
    """The chain as the lines `awan lineage` prints."""
    lines = []
    trade = chain["trade"]
    if trade is not None:
        lines.append(
            f"trade {trade['trade_id']}: {trade['symbol']} {trade['exchange']} · "
            f"pnl {trade['pnl']:+.6g} · exit {trade['exit_reason']}"
        )
    else:
        lines.append("no closed trade (the order belongs to an open position or none)")
    for order in chain["orders"]:
        average = f" avg {order['average']:.8g}" if order["average"] else ""
        lines.append(
            f"  order {order['client_order_id']} (exchange {order['exchange_order_id'] or '-'}): "
            f"{order['side']} {order['type']} {order['amount']:.8g} → {order['status']}, "
            f"filled {order['filled']:.8g}{average}"
        )
    lines += _describe_signal("entry signal", chain["entry_signal"])
    lines += _describe_signal("exit signal", chain["exit_signal"])
    return lines
