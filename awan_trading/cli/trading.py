"""`awan trades`, `awan positions`, `awan lineage`: what the bot did, read from the store.

Closed trades are derived from the fills (`control.money.load_trades`), never stored, so
these commands can never disagree with the order records. `awan lineage ID` walks one trade
back: trade → orders → signal → strategy and parameters → the candle (OHLCV and the indicator
values the strategy saw) → who wrote that candle (the Dagster run and partition, or the `awan`
command) and the Dagster asset partition that holds it.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from awan_trading.cli.app import app, awan_command, console

JsonOption = Annotated[bool, typer.Option("--json", help="print JSON lines instead of a table")]


def _iso(ms: int | None) -> str | None:
    from awan_trading.market.timeframes import from_epoch_ms

    return None if ms is None else from_epoch_ms(ms).isoformat().replace("+00:00", "Z")


def _trade_dict(trade: Any) -> dict[str, Any]:
    return {
        "trade_id": trade.trade_id, "exchange": trade.exchange, "symbol": trade.symbol,
        "strategy": trade.strategy, "entry_ts": _iso(trade.entry_ts),
        "entry_price": trade.entry_price, "exit_ts": _iso(trade.exit_ts),
        "exit_price": trade.exit_price, "amount": trade.amount, "stake": trade.stake,
        "fee": trade.fee, "pnl": trade.pnl, "exit_reason": trade.exit_reason,
        "entry_signal_id": trade.entry_signal_id, "exit_signal_id": trade.exit_signal_id,
        "entry_client_order_ids": list(trade.entry_client_order_ids),
        "exit_client_order_ids": list(trade.exit_client_order_ids),
    }  # fmt: skip


def _open_store() -> Any:
    from awan_trading.config import load_settings
    from awan_trading.storage import open_store

    return open_store(load_settings().resolved_store_url(), migrate=True)


@app.command("trades")
@awan_command
def trades_command(
    as_json: JsonOption = False,
    symbol: Annotated[str | None, typer.Option(help="only this symbol, e.g. BTC/USDT")] = None,
) -> None:
    """List closed trades (derived from the fills in the store), oldest exit first."""
    from awan_trading.control.money import load_trades

    store = _open_store()
    trades = load_trades(store, symbol)
    if as_json:
        for trade in trades:
            typer.echo(json.dumps(_trade_dict(trade)))
        return
    if not trades:
        console.print("no closed trades" + (f" for {symbol}" if symbol else ""), highlight=False)
        return
    table = Table(title=f"closed trades ({len(trades)})")
    table.add_column("trade_id", no_wrap=True, min_width=16)
    for column in ("symbol", "strategy", "entry", "exit", "amount", "fee", "pnl", "exit_reason",
                   "signals (entry / exit)", "client order ids"):  # fmt: skip
        table.add_column(column, overflow="fold")
    for t in trades:
        table.add_row(
            t.trade_id, t.symbol, t.strategy or "-",
            f"{_iso(t.entry_ts)} @ {t.entry_price:.8g}", f"{_iso(t.exit_ts)} @ {t.exit_price:.8g}",
            f"{t.amount:.8g}", f"{t.fee:.6g}", f"{t.pnl:+.6g}", t.exit_reason,
            f"{t.entry_signal_id or '-'} / {t.exit_signal_id or '-'}", " ".join(t.client_order_ids),
        )  # fmt: skip
    console.print(table)
    console.print(f"total PnL {sum(t.pnl for t in trades):+.6g}", highlight=False)


@app.command("positions")
@awan_command
def positions_command(as_json: JsonOption = False) -> None:
    """List open positions (the store's projection of the fills)."""
    store = _open_store()
    positions = [p for p in store.positions() if p.is_open]
    rows = [
        {
            "exchange": p.exchange,
            "symbol": p.symbol,
            "amount": p.amount,
            "stake": p.stake,
            "entry_price": p.entry_price,
            "entry_ts": _iso(p.entry_ts),
            "stop_price": p.stop_price or None,
            "target_price": None if p.target_price == float("inf") else p.target_price,
            "high_water": p.high_water,
            "signal_id": p.signal_id,
            "stop_client_order_id": p.stop_client_order_id,
        }
        for p in positions
    ]
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row))
        return
    if not rows:
        console.print("no open positions", highlight=False)
        return
    table = Table(title=f"open positions ({len(rows)})")
    for column in ("exchange", "symbol", "amount", "entry", "stake", "stop", "target",
                   "signal_id"):  # fmt: skip
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(
            r["exchange"], r["symbol"], f"{r['amount']:.8g}",
            f"{r['entry_ts']} @ {r['entry_price']:.8g}", f"{r['stake']:.6g}",
            f"{r['stop_price']:.8g}" if r["stop_price"] else "-",
            f"{r['target_price']:.8g}" if r["target_price"] else "-", r["signal_id"] or "-",
        )  # fmt: skip
    console.print(table)


@app.command("lineage")
@awan_command
def lineage_command(
    id_: Annotated[
        str, typer.Argument(metavar="ID", help="a trade id, client order id or exchange order id")
    ],
    as_json: JsonOption = False,
) -> None:
    """Trace a trade back: orders → signal → strategy and params → candle → the run that wrote it."""
    from awan_trading.control.money import load_trades
    from awan_trading.live.lineage import describe, trace

    chain = trace(_open_store(), id_, trades_of=load_trades)
    if as_json:
        typer.echo(json.dumps(chain, default=str))
        return
    for line in describe(chain):
        console.print(line, highlight=False, soft_wrap=True)
