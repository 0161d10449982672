"""What the live loop tells people, as Telegram HTML: fills, stops, refusals, errors, the
bot's start / stop / pause / resume, the daily summary and the heartbeat alerts.

Every message is a `Notice`: its kind (what the outbox's policies key on — errors are
deduplicated and rate-limited, fills never are), its HTML text, and for errors the key two
messages must share to count as "the same error". The text is one bold headline, then one
`key: value` per line: read on a phone in a hurry.

Telegram's HTML mode rejects a whole message over one stray `<` or `&`, so every value that
comes from outside this module (a symbol, an error text, a refusal's sentence, an id) is
escaped; `/` and `_` need no escaping in HTML mode (they would in MarkdownV2, which is why
HTML is used). Numbers are printed without float noise, PnL with an explicit sign.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from awan_trading.notify.messages import first_line

NoticeKind = Literal["fill", "stop", "refusal", "error", "lifecycle", "summary", "alert", "message"]

# A closed trade's exit reason (`domain.trades`) of a protective leg → the headline's words.
_STOP_REASONS = {
    "stop_loss": "stop hit",
    "trailing_stop": "trailing stop hit",
    "take_profit": "target hit",
}


@dataclass(frozen=True)
class Notice:
    """One message for people: `text` is Telegram HTML unless `html` is False."""

    kind: NoticeKind
    text: str
    html: bool = True
    key: str | None = None  # errors: equal keys within the dedup window are one message


def esc(value: object) -> str:
    """`value` as text that Telegram's HTML parser takes literally."""
    return html.escape(str(value), quote=False)


def number(value: float) -> str:
    """Prices and amounts without float noise (`42000.5`, not `42000.500000001`)."""
    text = f"{value:.10g}"
    return "0" if text in ("-0", "0") else text


def signed(value: float, digits: int = 2) -> str:
    """A PnL with its sign, never `-0.00` (`+12.30`, `-0.05`, `0.00`)."""
    text = f"{value:+.{digits}f}"
    return text[1:] if float(text) == 0 else text


def quote_of(symbol: str) -> str:
    """The quote currency of `BASE/QUOTE` (what PnL and fees are counted in)."""
    return symbol.partition("/")[2] or ""


def render(headline: str, fields: Sequence[tuple[str, object]]) -> str:
    """The bold headline, then `key: value` lines; empty values are left out."""
    rows = [(k, str(v)) for k, v in fields if v is not None and str(v) != ""]
    return "\n".join([f"<b>{esc(headline)}</b>", *(f"{esc(k)}: {esc(v)}" for k, v in rows)])


@dataclass(frozen=True)
class FillFacts:
    """What a fill message says, gathered by the caller from the order (and, for an exit,
    from the round trip it closed)."""

    symbol: str
    side: str  # buy | sell
    price: float
    amount: float
    fee: float
    fee_currency: str
    client_order_id: str
    reason: str  # the signal's reason (an entry's strategy) or the exit reason
    signal_id: str | None = None
    pnl: float | None = None  # exits: the round trip's PnL in quote, fees included
    pnl_pct: float | None = None  # ... as a percentage of its stake


def fill_notice(facts: FillFacts) -> Notice:
    """An entry or exit fill; a protective leg's fill reads as the stop or target it was."""
    quote = quote_of(facts.symbol)
    entry = facts.side == "buy"
    headline = (
        f"awan: {_STOP_REASONS[facts.reason]} {facts.symbol}"
        if facts.reason in _STOP_REASONS
        else f"awan: {'entry' if entry else 'exit'} filled {facts.symbol}"
    )
    pnl = None
    if facts.pnl is not None:
        pnl = f"{signed(facts.pnl)} {quote}".strip()
        if facts.pnl_pct is not None:
            pnl += f" ({signed(facts.pnl_pct)} %)"
    fields = [
        ("side", facts.side),
        ("price", f"{number(facts.price)} {quote}".strip()),
        ("amount", number(facts.amount)),
        ("fee", f"{number(facts.fee)} {facts.fee_currency}".strip()),
        ("pnl", pnl),
        ("reason", facts.reason),
        ("order", facts.client_order_id),
        ("signal", facts.signal_id),
    ]
    kind: NoticeKind = "stop" if facts.reason in _STOP_REASONS else "fill"
    return Notice(kind, render(headline, fields))


def refusal_notice(symbol: str, reason: str, message: str, signal_id: str | None = None) -> Notice:
    """An order the execution layer declined to place, and the rule that declined it."""
    fields = [("rule", reason), ("why", first_line(message)), ("signal", signal_id)]
    return Notice("refusal", render(f"awan: order refused {symbol}", fields))


def error_notice(text: str, source: str | None = None) -> Notice:
    """An error worth a look; where it came from and its first line are its identity for
    deduplication (a traceback's later lines vary, the first says what broke)."""
    line = first_line(text)
    fields = [("where", source), ("error", line)]
    return Notice("error", render("awan: error", fields), key=f"{source or ''}|{line}")


def lifecycle_notice(state: str, bot: str, detail: str | None = None) -> Notice:
    """The bot started, stopped, paused or resumed (`state` is that word)."""
    return Notice("lifecycle", render(f"awan: {bot} {state}", [("detail", detail)]))


@dataclass(frozen=True)
class DaySummary:
    """One UTC day of trading, as the daily summary reports it."""

    day: date
    trades: int
    wins: int
    losses: int
    pnl: float
    fees: float
    quote: str
    open_positions: Sequence[str] = ()
    equity: float | None = None
    best: tuple[str, float] | None = None  # (symbol, pnl) of the best closed trade
    worst: tuple[str, float] | None = None


def summary_notice(summary: DaySummary, bot: str) -> Notice:
    """The day's closed trades, PnL and what is still open."""
    q = summary.quote
    fields = [
        ("closed trades", f"{summary.trades} ({summary.wins} won, {summary.losses} lost)"),
        ("pnl", f"{signed(summary.pnl)} {q}".strip()),
        ("fees", f"{number(summary.fees)} {q}".strip()),
        ("best", f"{summary.best[0]} {signed(summary.best[1])} {q}" if summary.best else None),
        ("worst", f"{summary.worst[0]} {signed(summary.worst[1])} {q}" if summary.worst else None),
        ("open", ", ".join(summary.open_positions) or "none"),
        ("equity", f"{summary.equity:.2f} {q}".strip() if summary.equity is not None else None),
    ]
    return Notice("summary", render(f"awan: {bot} daily summary {summary.day.isoformat()}", fields))


def _age(age: timedelta) -> str:
    seconds = int(age.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds / 3600:.1f} h"


def heartbeat_stale_notice(
    bot: str, age: timedelta, limit: timedelta, last_status: str, last_at: datetime
) -> Notice:
    """The live loop has not beaten for longer than `limit` (two candles)."""
    fields = [
        ("last beat", f"{_age(age)} ago ({last_at.isoformat(timespec='seconds')})"),
        ("last status", last_status),
        ("limit", _age(limit)),
    ]
    return Notice("alert", render(f"awan: live loop {bot} is down", fields))


def heartbeat_recovered_notice(bot: str, down_for: timedelta | None, last_status: str) -> Notice:
    """The live loop beats again after a stale-heartbeat alert."""
    fields = [
        ("down for", _age(down_for) if down_for is not None else None),
        ("status", last_status),
    ]
    return Notice("alert", render(f"awan: live loop {bot} is back", fields))
