"""The Telegram bot's replies: each control report as a short HTML message.

HTML because its escaping is three characters (`&`, `<`, `>`: `html.escape`), where
MarkdownV2 reserves eighteen, among them `-`, `.`, `_` and `/` — every negative number, price,
strategy name and symbol. Every value from the store goes through `esc`; only the fixed
labels carry tags. A reply is cut by whole lines to Telegram's limit, so a long list never
ends inside a tag (which Telegram would refuse to parse).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from html import escape

from telegram.constants import MessageLimit

from awan_trading.control.actions import CommandHelp, ControlAck, Refusal
from awan_trading.control.money import (
    DailyReport,
    OpenPosition,
    PerformanceReport,
    ProfitReport,
    TradesReport,
)
from awan_trading.control.status import BalanceReport, StatusReport, age

LIMIT = MessageLimit.MAX_TEXT_LENGTH


def esc(value: object) -> str:
    return escape(str(value), quote=False)


def _join(lines: Iterable[str]) -> str:
    """Whole lines up to Telegram's limit; the rest replaced by one `…` line."""
    out: list[str] = []
    size = 0
    for line in lines:
        if size + len(line) + 1 > LIMIT - 2:
            out.append("…")
            break
        out.append(line)
        size += len(line) + 1
    return "\n".join(out)


def num(value: float | None, fmt: str = ".8g") -> str:
    return "-" if value is None else format(value, fmt)


def signed(value: float | None) -> str:
    """`+1.5`, `-0.25`: a PnL always shows its sign (and `-` needs no escaping in HTML)."""
    return "-" if value is None else format(value, "+.6g")


def when(value: datetime | None) -> str:
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def _position_line(p: OpenPosition) -> str:
    if p.mark is None:
        valued = "no price yet: unrealized unknown"
    else:
        pct = "" if p.unrealized_pct is None else f" ({p.unrealized_pct:+.2%})"
        source = "last price" if p.mark.source == "venue" else "last close"
        valued = f"{source} {num(p.mark.price)} · {signed(p.unrealized_pnl)}{pct}"
    return (
        f"<b>{esc(p.symbol)}</b> {esc(num(p.amount))} @ {esc(num(p.entry_price))} · {esc(valued)}"
    )


def reply_status(r: StatusReport) -> str:
    lines = [
        f"<b>{esc(r.bot)}</b> · {esc(r.mode)} · {esc(r.execution or 'never started')}",
        f"uptime: {esc(age(r.uptime_s) if r.uptime_s is not None else '-')}",
        "last beat: "
        + (esc(f"{age(r.heartbeat_age_s)} ago ({r.heartbeat_status})") if r.heartbeat_at
           else "never"),
        f"paused: {'yes' if r.paused else 'no'}"
        + (f" · pending: {esc(', '.join(r.pending_controls))}" if r.pending_controls else ""),
        f"today: realized {esc(signed(r.today_realized_pnl))} · unrealized "
        f"{esc(signed(r.unrealized_pnl))}",
        "last error: "
        + (esc(f"{when(r.last_error.ts)} {r.last_error.kind}: {r.last_error.message}")
           if r.last_error else "none"),
        "<b>candles</b>",
        *(f"{esc(c.symbol)}: {esc(when(c.closed_at))} ({esc(age(c.age_s))} ago)"
          if c.closed_at else f"{esc(c.symbol)}: none stored" for c in r.candles),
        f"<b>positions</b> ({len(r.positions)})",
        *(_position_line(p) for p in r.positions),
    ]  # fmt: skip
    return _join(lines)


def reply_positions(positions: Iterable[OpenPosition]) -> str:
    rows = list(positions)
    if not rows:
        return "no open positions"
    return _join([f"<b>open positions</b> ({len(rows)})", *(_position_line(p) for p in rows)])


def reply_balance(r: BalanceReport) -> str:
    lines = [f"<b>balance</b> · {esc(r.mode)} (from {esc(r.source)})"]
    lines += [f"{esc(c.currency)}: {esc(num(c.total))}"
              + (f" ({esc(num(c.used))} in orders)" if c.used else "")
              for c in r.currencies]  # fmt: skip
    if not r.currencies:
        lines.append("nothing held")
    return _join(lines)


def reply_profit(r: ProfitReport) -> str:
    title = f"since {when(r.since)}" if r.since else "all time"
    lines = [f"<b>profit</b> · {esc(title)}"]
    for row in (*r.strategies, r.total):
        rate = "" if row.win_rate is None else f", {row.win_rate:.0%} won"
        unpriced = f" ({row.unpriced} without a price)" if row.unpriced else ""
        label = "<b>total</b>" if row is r.total else f"<b>{esc(row.strategy)}</b>"
        lines.append(
            f"{label}: realized {esc(signed(row.realized_pnl))} over {row.trades} trade(s)"
            f"{esc(rate)} · unrealized {esc(signed(row.unrealized_pnl))} on "
            f"{row.open_positions} open{esc(unpriced)} · fees {esc(num(row.fees, '.6g'))}"
        )
    return _join(lines)


def reply_daily(r: DailyReport) -> str:
    lines = [f"<b>daily</b> · last {len(r.days)} UTC day(s)"]
    lines += [f"{d.day.isoformat()}: {esc(signed(d.realized_pnl))} ({d.trades} trade(s))"
              for d in r.days]  # fmt: skip
    lines.append(f"total: {esc(signed(r.total))}")
    return _join(lines)


def reply_performance(r: PerformanceReport) -> str:
    if not r.pairs:
        return "no closed trades"
    lines = ["<b>performance</b> per pair"]
    lines += [f"{esc(p.symbol)}: {esc(signed(p.realized_pnl))} ({esc(f'{p.pnl_pct:+.2%}')}) "
              f"over {p.trades} trade(s), {p.wins} won" for p in r.pairs]  # fmt: skip
    return _join(lines)


def reply_trades(r: TradesReport) -> str:
    if not r.trades:
        return "no closed trades"
    lines = [f"<b>last {len(r.trades)} of {r.total} closed trade(s)</b>"]
    for t in r.trades:
        closed = datetime.fromtimestamp(t.exit_ts / 1000, UTC)
        lines.append(
            f"{esc(t.symbol)} {esc(t.strategy or '-')}: {esc(num(t.entry_price))} → "
            f"{esc(num(t.exit_price))} · {esc(signed(t.pnl))} · {esc(t.exit_reason)} · "
            f"{esc(when(closed))}"
        )
    return _join(lines)


def reply_ack(ack: ControlAck) -> str:
    what = ack.action.replace("_", "-") + (f" {', '.join(ack.symbols)}" if ack.symbols else "")
    recorded = f"request #{ack.request_id} recorded" if ack.request_id is not None else "no request"
    return f"<b>{esc(what)}</b>: {esc(recorded)}; {esc(ack.note)}"


def reply_refusal(r: Refusal) -> str:
    return f"<b>{esc(r.command)}</b>: {esc(r.reason)}"


def reply_help(commands: Iterable[CommandHelp]) -> str:
    lines = ["<b>awan commands</b>"]
    lines += [f"/{esc(c.name)}{' ' + esc(c.args) if c.args else ''} — {esc(c.summary)}"
              for c in commands]  # fmt: skip
    return _join(lines)


def reply_error(message: str) -> str:
    """A refused request (a bad symbol, a bad date): its one line, escaped."""
    return f"<b>refused</b>: {esc(message)}"


def confirm_force_exit(symbols: Iterable[str], target: str) -> str:
    names = ", ".join(symbols)
    what = "every open position" if target == "all" else "the position"
    return f"<b>force-exit</b> {esc(what)}: {esc(names)} — sell at market?"


def reply_cancelled(target: str) -> str:
    return f"force-exit {esc(target)}: cancelled, nothing recorded"


__all__ = [
    "confirm_force_exit", "esc", "reply_ack", "reply_balance", "reply_cancelled", "reply_daily",
    "reply_error", "reply_help", "reply_performance", "reply_positions", "reply_profit",
    "reply_refusal", "reply_status", "reply_trades",
]  # fmt: skip
