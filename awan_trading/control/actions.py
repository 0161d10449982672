"""Pause, resume, force-exit, the reload-config refusal, and help.

A state change is a row in the store's control table, recorded with who asked (`cli`,
`telegram:<chat id>`); the live loop applies the rows at its next wake-up
(`execution/manager.py`'s `apply_control_requests`, within one tick) and logs each as a
`control_*` event. These functions never act on the exchange themselves, so a force-exit
asked twice, or from two places at once, is still one decision of the one loop that owns the
positions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from awan_trading.control.context import ControlContext, ControlError
from awan_trading.control.status import paused_after_pending

SYMBOL = re.compile(r"^[A-Z0-9]{1,20}/[A-Z0-9]{1,20}$")


@dataclass(frozen=True)
class ControlAck:
    """What a state-changing command did: the request recorded (`request_id`), or why none
    was needed (`request_id` None, `note` says)."""

    action: str  # pause | resume | force_exit
    symbols: tuple[str, ...]  # force-exit: the positions it will close
    request_id: int | None
    requested_by: str
    note: str


STALE_LOOP_S = 180.0  # the compose health check's limit (`awan heartbeat --max-age 180`)


def _when_applied(ctx: ControlContext, what: str) -> str:
    """`what` happens at the loop's next wake-up — and a warning when the loop looks down,
    since a request then waits, unapplied, until it runs again."""
    beat = ctx.store.last_heartbeat(ctx.bot)
    if beat is None:
        return f"{what} once the live loop {ctx.bot!r} runs (it has never beaten in this store)"
    age = (ctx.now() - beat[0]).total_seconds()
    if beat[1] == "stopped" or age > STALE_LOOP_S:
        return (f"{what} once the live loop runs again (last beat {age:.0f} s ago: "
                f"{beat[1]})")  # fmt: skip
    return f"{what} at the loop's next wake-up"


def _request(ctx: ControlContext, action: str, who: str, symbol: str | None = None) -> int:
    return ctx.store.request_control(ctx.bot, action, symbol, requested_by=who)  # type: ignore[arg-type]


def pause(ctx: ControlContext, who: str) -> ControlAck:
    """Stop new entries (exits and the protective stops keep working)."""
    paused, _ = paused_after_pending(ctx)
    if paused:
        return ControlAck("pause", (), None, who, "already paused; nothing recorded")
    request = _request(ctx, "pause", who)
    note = _when_applied(ctx, "new entries stop") + "; stops keep working"
    return ControlAck("pause", (), request, who, note)


def resume(ctx: ControlContext, who: str) -> ControlAck:
    paused, _ = paused_after_pending(ctx)
    if not paused:
        return ControlAck("resume", (), None, who, "not paused; nothing recorded")
    request = _request(ctx, "resume", who)
    return ControlAck("resume", (), request, who, _when_applied(ctx, "entries are allowed again"))


def held_symbols(ctx: ControlContext) -> list[str]:
    return sorted(p.symbol for p in ctx.store.positions(ctx.account) if p.is_open)


def parse_exit_target(ctx: ControlContext, target: str) -> str | None:
    """`all` → None (every position); a symbol with an open position → itself, upper-cased.

    Anything else is refused naming what is held, so a typo never records a request.
    """
    text = target.strip()
    if text.lower() == "all":
        if not held_symbols(ctx):
            raise ControlError("force-exit all: no open positions")
        return None
    symbol = text.upper()
    if not SYMBOL.match(symbol):
        raise ControlError(
            f"force-exit: {text!r} is not a symbol; use BASE/QUOTE (BTC/USDT) or all"
        )
    held = held_symbols(ctx)
    if symbol not in held:
        which = ", ".join(held) if held else "none"
        raise ControlError(f"force-exit: no open position in {symbol} (open: {which})")
    return symbol


def force_exit(ctx: ControlContext, target: str, who: str) -> ControlAck:
    """Ask the loop to close one position (or `all`) at market: cancel its protective orders
    (confirmed), then sell. Raises `ControlError` for a symbol that holds nothing."""
    symbol = parse_exit_target(ctx, target)
    symbols = tuple(held_symbols(ctx)) if symbol is None else (symbol,)
    request = _request(ctx, "force_exit", who, symbol)
    return ControlAck("force_exit", symbols, request, who, _when_applied(ctx, "sold at market"))


@dataclass(frozen=True)
class Refusal:
    """A command that is understood and deliberately not done, with the reason."""

    command: str
    reason: str


def reload_config(ctx: ControlContext) -> Refusal:
    """Config is read once at start: a strategy or risk change in the middle of open positions
    would judge them by rules they were not entered under. A restart reconciles first."""
    return Refusal(
        "reload_config",
        f"not supported: {ctx.bot} reads awan.toml once at start, so open positions keep the "
        "rules they were entered under; restart the live loop to apply a change (it reconciles "
        "with the exchange first)",
    )


@dataclass(frozen=True)
class CommandHelp:
    name: str
    args: str
    summary: str


COMMANDS: tuple[CommandHelp, ...] = (
    CommandHelp("status", "", "mode, uptime, heartbeat, candle ages, positions, today's PnL, pause, last error"),
    CommandHelp("balance", "", "balances per currency"),
    CommandHelp("positions", "", "open positions with unrealized PnL"),
    CommandHelp("profit", "[YYYY-MM-DD]", "realized and unrealized PnL per strategy, since a day"),
    CommandHelp("daily", "[N]", "realized PnL per UTC day, last N days (7)"),
    CommandHelp("performance", "", "realized PnL per pair"),
    CommandHelp("trades", "[N]", "the last N closed trades (10)"),
    CommandHelp("pause", "", "stop new entries; stops keep working"),
    CommandHelp("resume", "", "allow entries again"),
    CommandHelp("forceexit", "SYMBOL|all", "sell a position at market (asks to confirm)"),
    CommandHelp("reload_config", "", "why the config is not reloaded in place"),
    CommandHelp("help", "", "this list"),
)  # fmt: skip


def help_commands() -> tuple[CommandHelp, ...]:
    return COMMANDS
