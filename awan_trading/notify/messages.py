"""The text of every Telegram message awan sends, in one place.

Alerts are read on a phone in a hurry: one headline, then one `key: value` per line, values
short. Plain text is the default because it cannot break; `html=True` escapes every value (a
symbol or an error message may contain `<` or `&`, which Telegram's HTML parser rejects) and
only bolds the headline.
"""

from __future__ import annotations

import html as html_lib
from collections.abc import Sequence

ERROR_LINE_LIMIT = 300


def first_line(text: str | None, limit: int = ERROR_LINE_LIMIT) -> str:
    """The first non-blank line of an error message, cut to `limit` characters."""
    for line in (text or "").splitlines():
        if line.strip():
            line = line.strip()
            return line if len(line) <= limit else line[: limit - 1] + "…"
    return ""


def _render(headline: str, fields: Sequence[tuple[str, object]], html: bool) -> str:
    rows = [(k, str(v)) for k, v in fields if v is not None and str(v) != ""]
    if html:
        esc = html_lib.escape
        return "\n".join([f"<b>{esc(headline)}</b>", *(f"{esc(k)}: {esc(v)}" for k, v in rows)])
    return "\n".join([headline, *(f"{k}: {v}" for k, v in rows)])


def _number(value: float) -> str:
    """Prices and amounts without float noise (`42000.5`, not `42000.500000001`)."""
    return f"{value:.10g}"


def format_run_failure(
    job: str,
    run_id: str,
    step: str | None = None,
    error: str | None = None,
    partition: str | None = None,
    *,
    html: bool = False,
) -> str:
    """A failed Dagster run: which job, which run (to open it in the UI), where and why."""
    fields = [
        ("job", job),
        ("run", run_id),
        ("partition", partition),
        ("step", step),
        ("error", first_line(error)),
    ]
    return _render("awan: run failed", fields, html)


def format_signal(
    strategy: str,
    symbol: str,
    side: str,
    price: float,
    signal_id: str,
    *,
    html: bool = False,
) -> str:
    """A new entry/exit signal, with the id that links it to its order and its candle."""
    fields = [
        ("strategy", strategy),
        ("symbol", symbol),
        ("price", _number(price)),
        ("signal", signal_id),
    ]
    return _render(f"awan: {side.lower()} signal {symbol}", fields, html)


def format_fill(
    symbol: str,
    side: str,
    amount: float,
    price: float,
    client_order_id: str,
    *,
    html: bool = False,
) -> str:
    """An order fill: what changed hands at what price, and the client order id to trace it."""
    fields = [
        ("symbol", symbol),
        ("side", side.lower()),
        ("amount", _number(amount)),
        ("price", _number(price)),
        ("order", client_order_id),
    ]
    return _render(f"awan: {side.lower()} filled {symbol}", fields, html)
