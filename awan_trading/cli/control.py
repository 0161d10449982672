"""`awan status|balance|profit|daily|performance|pause|resume|forceexit`: the bot from a shell.

Thin: each command opens the `ControlContext` that `awan.toml` and `AWAN_*` describe, calls one
function of `awan_trading.control` (the functions the Telegram bot calls too) and prints its
report as a table or, with `--json`, as one JSON object. A request the functions refuse (an
unknown symbol, a bad date) is one line and exit code 2, with nothing recorded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from awan_trading.cli.app import app, awan_command, console

if TYPE_CHECKING:
    from awan_trading.control import ControlContext

WHO = "cli"
JsonOption = Annotated[bool, typer.Option("--json", help="print one JSON object instead of tables")]
BotOption = Annotated[str, typer.Option("--bot", help="the live loop's --bot name")]
ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="awan.toml to use (default: ./awan.toml)")
]


def _context(bot: str, config: Path | None) -> ControlContext:
    from awan_trading.config import load_config, load_settings
    from awan_trading.control import open_context

    return open_context(load_settings(), load_config(config), bot=bot)


def _emit_json(report: Any) -> None:
    from awan_trading.control.serialize import to_jsonable

    typer.echo(json.dumps(to_jsonable(report), sort_keys=True))


def _num(value: float | None, fmt: str = ".8g") -> str:
    return "-" if value is None else format(value, fmt)


def _when(value: Any) -> str:
    return "-" if value is None else value.isoformat(timespec="seconds").replace("+00:00", "Z")


@app.command("status")
@awan_command
def status_command(as_json: JsonOption = False, bot: BotOption = "awan",
                   config: ConfigOption = None) -> None:  # fmt: skip
    """The live loop at a glance: mode, uptime, heartbeat, candle ages, positions, PnL, pause."""
    from rich.table import Table

    from awan_trading.control import status
    from awan_trading.control.status import age

    report = status(_context(bot, config))
    if as_json:
        _emit_json(report)
        return
    lines = [
        f"bot {report.bot} · {report.mode} · {report.execution or 'never started in this store'}",
        f"uptime {age(report.uptime_s) if report.uptime_s is not None else '-'} · last beat "
        + (f"{age(report.heartbeat_age_s)} ago ({report.heartbeat_status})"
           if report.heartbeat_at else "never"),
        f"paused: {'yes' if report.paused else 'no'}"
        + (f" · pending: {', '.join(report.pending_controls)}" if report.pending_controls else ""),
        f"today's realized PnL {report.today_realized_pnl:+.6g} · unrealized "
        f"{report.unrealized_pnl:+.6g}",
        "last error: " + (f"{_when(report.last_error.ts)} {report.last_error.kind}: "
                          f"{report.last_error.message}" if report.last_error else "none"),
        f"status file {report.status_file}: "
        + (f"written {_when(report.status_file_written_at)}" if report.status_file_written_at
           else "not written"),
    ]  # fmt: skip
    for line in lines:
        console.print(line, highlight=False, soft_wrap=True)
    candles = Table(title="last candle per symbol")
    for column in ("symbol", "closed", "age"):
        candles.add_column(column)
    for c in report.candles:
        candles.add_row(c.symbol, _when(c.closed_at), age(c.age_s))
    console.print(candles)
    _positions_table(report.positions)


def _positions_table(positions: Any) -> None:
    from rich.table import Table

    if not positions:
        console.print("no open positions", highlight=False)
        return
    table = Table(title=f"open positions ({len(positions)})")
    for column in ("symbol", "strategy", "amount", "entry", "mark", "unrealized", "stop"):
        table.add_column(column, overflow="fold")
    for p in positions:
        mark = "no price" if p.mark is None else f"{p.mark.price:.8g} ({p.mark.source})"
        pct = "" if p.unrealized_pct is None else f" ({p.unrealized_pct:+.2%})"
        table.add_row(p.symbol, p.strategy, _num(p.amount), _num(p.entry_price), mark,
                      _num(p.unrealized_pnl, "+.6g") + pct, _num(p.stop_price))  # fmt: skip
    console.print(table)


@app.command("balance")
@awan_command
def balance_command(as_json: JsonOption = False, bot: BotOption = "awan",
                    config: ConfigOption = None) -> None:  # fmt: skip
    """Balances per currency: a live account's from the exchange, sim/paper from the fills."""
    from rich.table import Table

    from awan_trading.control import balance

    report = balance(_context(bot, config))
    if as_json:
        _emit_json(report)
        return
    table = Table(title=f"balance · {report.mode} (from {report.source})")
    for column in ("currency", "free", "used", "total"):
        table.add_column(column)
    for c in report.currencies:
        table.add_row(c.currency, _num(c.free), _num(c.used), _num(c.total))
    console.print(table)


@app.command("profit")
@awan_command
def profit_command(
    since: Annotated[
        str | None, typer.Option(help="only trades exited from this UTC date/time on")
    ] = None,
    as_json: JsonOption = False,
    bot: BotOption = "awan",
    config: ConfigOption = None,
) -> None:
    """Realized PnL (closed trades) and unrealized PnL (open positions), per strategy and total."""
    from rich.table import Table

    from awan_trading.control import profit
    from awan_trading.market.timeframes import parse_utc

    start = parse_utc(since, what="--since") if since is not None else None
    report = profit(_context(bot, config), start)
    if as_json:
        _emit_json(report)
        return
    table = Table(title="profit" + (f" since {_when(start)}" if start else " (all time)"))
    for column in ("strategy", "trades", "win rate", "realized", "fees", "open", "unrealized"):
        table.add_column(column)
    for row in (*report.strategies, report.total):
        unpriced = f" ({row.unpriced} without a price)" if row.unpriced else ""
        table.add_row(row.strategy, str(row.trades), _num(row.win_rate, ".0%"),
                      f"{row.realized_pnl:+.6g}", f"{row.fees:.6g}", str(row.open_positions),
                      f"{row.unrealized_pnl:+.6g}{unpriced}")  # fmt: skip
    console.print(table)


@app.command("daily")
@awan_command
def daily_command(
    days: Annotated[int, typer.Option(help="how many UTC days, today included")] = 7,
    as_json: JsonOption = False,
    bot: BotOption = "awan",
    config: ConfigOption = None,
) -> None:
    """Realized PnL per UTC day, newest first."""
    from rich.table import Table

    from awan_trading.control import daily

    report = daily(_context(bot, config), days)
    if as_json:
        _emit_json(report)
        return
    table = Table(title=f"daily realized PnL (last {days} UTC days)")
    for column in ("day", "trades", "realized", "fees"):
        table.add_column(column)
    for d in report.days:
        table.add_row(d.day.isoformat(), str(d.trades), f"{d.realized_pnl:+.6g}", f"{d.fees:.6g}")
    console.print(table)
    console.print(f"total {report.total:+.6g}", highlight=False)


@app.command("performance")
@awan_command
def performance_command(as_json: JsonOption = False, bot: BotOption = "awan",
                        config: ConfigOption = None) -> None:  # fmt: skip
    """Realized PnL per pair, best first."""
    from rich.table import Table

    from awan_trading.control import performance

    report = performance(_context(bot, config))
    if as_json:
        _emit_json(report)
        return
    if not report.pairs:
        console.print("no closed trades", highlight=False)
        return
    table = Table(title="performance per pair")
    for column in ("symbol", "trades", "wins", "realized", "return on stake"):
        table.add_column(column)
    for p in report.pairs:
        table.add_row(p.symbol, str(p.trades), str(p.wins), f"{p.realized_pnl:+.6g}",
                      f"{p.pnl_pct:+.2%}")  # fmt: skip
    console.print(table)


def _print_ack(ack: Any, as_json: bool) -> None:
    if as_json:
        _emit_json(ack)
        return
    what = ack.action.replace("_", "-") + (f" {', '.join(ack.symbols)}" if ack.symbols else "")
    recorded = f"request #{ack.request_id} recorded" if ack.request_id is not None else "no request"
    console.print(f"{what}: {recorded}; {ack.note}", highlight=False)


@app.command("pause")
@awan_command
def pause_command(as_json: JsonOption = False, bot: BotOption = "awan",
                  config: ConfigOption = None) -> None:  # fmt: skip
    """Stop new entries (exits and the protective stops keep working)."""
    from awan_trading.control import pause

    _print_ack(pause(_context(bot, config), WHO), as_json)


@app.command("resume")
@awan_command
def resume_command(as_json: JsonOption = False, bot: BotOption = "awan",
                   config: ConfigOption = None) -> None:  # fmt: skip
    """Allow new entries again."""
    from awan_trading.control import resume

    _print_ack(resume(_context(bot, config), WHO), as_json)


@app.command("forceexit")
@awan_command
def forceexit_command(
    target: Annotated[str, typer.Argument(metavar="SYMBOL|all", help="e.g. BTC/USDT, or all")],
    as_json: JsonOption = False,
    bot: BotOption = "awan",
    config: ConfigOption = None,
) -> None:
    """Sell one open position (or all) at market at the live loop's next wake-up."""
    from awan_trading.control import force_exit

    _print_ack(force_exit(_context(bot, config), target, WHO), as_json)
