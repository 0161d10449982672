"""The Telegram control bot: long polling, thin handlers over `awan_trading.control`.

Each handler parses the command's arguments, calls one control function (on a worker thread:
they read the store and maybe the exchange, and must not stall the event loop), and replies
with that report formatted by `notify/replies.py` in HTML. What a command does lives in
`control/`, never here, so `/status` and `awan status` cannot disagree.

Safety:
- **Allowlist.** A gate in handler group -1 stops every update whose chat is not in
  `AWAN_TELEGRAM_CHAT_IDS` before any handler sees it: no reply, and one log line with the chat
  id and the kind of update, never its text. The command handlers carry the same chat filter.
- **Force-exit asks first.** `/forceexit SYMBOL|all` only checks the symbol and answers with
  Confirm / Cancel buttons; the control request is recorded when Confirm is pressed, within
  `CONFIRM_WINDOW` (a button found hours later in a chat history does nothing).
- **The token** is registered with the log redactor, so no log line or error text shows it.
- **No chat text in logs.** PTB logs every Bot API call's parameters and result, and every
  update it processes, at DEBUG — every message anyone sent the bot, allowed or not;
  `_NoPayloads` keeps those lines up to where the payload starts.
- **Replies are retried** like the notifier's messages: after a 429 the server's
  `retry_after` (when it is short enough), after a network error or a 5xx with backoff.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import HTTPXRequest

from awan_trading import control
from awan_trading.control import ControlContext
from awan_trading.errors import AwanError
from awan_trading.logs import get_logger, redact, register_secrets
from awan_trading.market.timeframes import parse_utc
from awan_trading.notify import replies

log = get_logger(__name__)
T = TypeVar("T")

CONFIRM_WINDOW = timedelta(minutes=5)
_CONFIRM = re.compile(r"^fx:(?P<at>\d+):(?P<choice>yes|no):(?P<target>.+)$")


PAYLOAD_LOGGERS = ("telegram.Bot", "telegram.ext.ExtBot", "telegram.ext.Application")
# Where PTB's DEBUG lines start quoting an update or a call's payload.
_PAYLOAD_MARKERS = (" with parameters", " finished with return value", "Processing update ")


class _NoPayloads(logging.Filter):
    """Cuts PTB's "Calling Bot API endpoint `x` with parameters …", "Call to … finished with
    return value …" and "Processing update Update(…)" lines where the payload starts."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        for marker in _PAYLOAD_MARKERS:
            if marker in message:
                kept = message.split(marker)[0] + marker.strip()
                record.msg, record.args = f"{kept} (payload not logged)", None
        return True


_PAYLOAD_FILTER = _NoPayloads()


def who(chat_id: int) -> str:
    """The `requested_by` of a control row asked from a chat."""
    return f"telegram:{chat_id}"


def file_url_for(base_url: str) -> str:
    """PTB's `base_file_url` beside a Bot API `base_url` (`…/bot` → `…/file/bot`)."""
    return base_url[: -len("/bot")] + "/file/bot" if base_url.endswith("/bot") else base_url


def seconds(value: int | float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _int_arg(args: list[str], default: int, what: str) -> int:
    if not args:
        return default
    try:
        return int(args[0])
    except ValueError:
        raise control.ControlError(f"{what} must be a whole number, got {args[0]!r}") from None


class ControlBot:
    """The bot for one `ControlContext`, serving the chats in `chats` only."""

    def __init__(
        self,
        ctx: ControlContext,
        token: str,
        chats: tuple[int, ...],
        base_url: str = "https://api.telegram.org/bot",
        *,
        poll_interval: float = 0.0,
        poll_timeout: int = 10,
        max_retry_after: float = 30.0,
        attempts: int = 3,
        backoff: float = 0.5,
    ) -> None:
        if not token:
            raise control.ControlError("AWAN_TELEGRAM_TOKEN is not set")
        if not chats:
            raise control.ControlError(
                "no chat is allowed: set AWAN_TELEGRAM_CHAT_IDS (comma-separated chat ids)"
            )
        register_secrets([token])
        for name in PAYLOAD_LOGGERS:
            if _PAYLOAD_FILTER not in logging.getLogger(name).filters:
                logging.getLogger(name).addFilter(_PAYLOAD_FILTER)
        self.ctx = ctx
        self.chats = frozenset(chats)
        self.base_url = base_url
        self.poll_interval = poll_interval
        self.poll_timeout = poll_timeout
        self.max_retry_after = max_retry_after
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.app = self._build(token)

    # --- wiring ----------------------------------------------------------------------------

    def _build(self, token: str) -> Application:
        app = (
            ApplicationBuilder()
            .token(token)
            .base_url(self.base_url)
            .base_file_url(file_url_for(self.base_url))
            .request(HTTPXRequest(connection_pool_size=4))
            .get_updates_request(HTTPXRequest(read_timeout=self.poll_timeout + 10.0))
            .build()
        )
        app.add_handler(TypeHandler(Update, self._gate), group=-1)
        allowed = filters.Chat(chat_id=list(self.chats))
        commands: dict[str, Callable[[ControlContext, list[str], int], Awaitable[Any]]] = {
            "status": self._status, "balance": self._balance, "positions": self._positions,
            "profit": self._profit, "daily": self._daily, "performance": self._performance,
            "trades": self._trades, "pause": self._pause, "resume": self._resume,
            "forceexit": self._forceexit, "reload_config": self._reload_config,
            "help": self._help, "start": self._help,
        }  # fmt: skip
        for name, fn in commands.items():
            app.add_handler(CommandHandler(name, self._command(name, fn), filters=allowed))
        app.add_handler(CallbackQueryHandler(self._confirmation, pattern=_CONFIRM))
        # After the known commands (first match wins): anything else that looks like a command.
        app.add_handler(MessageHandler(filters.COMMAND & allowed, self._unknown))
        app.add_error_handler(self._on_error)
        return app

    async def _gate(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        if chat is not None and chat.id in self.chats:
            return
        kind = "callback_query" if update.callback_query else "message"
        log.warning("telegram update from a chat not in the allowlist; ignored",
                    chat_id=chat.id if chat else None, update_id=update.update_id, kind=kind)  # fmt: skip
        raise ApplicationHandlerStop

    async def _unknown(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        assert chat is not None
        await self._reply(chat.id, replies.reply_error("unknown command; /help lists them"))

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        error = context.error
        log.error("telegram bot error", error=redact(f"{error} [{type(error).__name__}]"))

    # --- serving ---------------------------------------------------------------------------

    async def serve(self, stop: threading.Event) -> None:
        """Poll until `stop` is set, then shut down cleanly (the offset is committed)."""
        async with self.app:
            await self.app.start()
            # Telegram's command menu: the same list as /help.
            menu = [(c.name, c.summary) for c in control.help_commands()]
            await self.send(lambda: self.app.bot.set_my_commands(menu))
            assert self.app.updater is not None
            await self.app.updater.start_polling(
                poll_interval=self.poll_interval, timeout=self.poll_timeout
            )
            log.info("telegram bot polling", chats=len(self.chats), bot=self.ctx.bot)
            while not stop.is_set():
                await asyncio.sleep(0.1)
            await self.app.updater.stop()
            await self.app.stop()

    def run(self, stop: threading.Event) -> None:
        """`serve` on a new event loop: for `awan telegram bot` and test threads."""
        asyncio.run(self.serve(stop))

    async def send(self, call: Callable[[], Awaitable[T]]) -> T | None:
        """Run one Bot API call with the retry rule above; None when it was given up on."""
        for attempt in range(1, self.attempts + 1):
            last = attempt == self.attempts
            try:
                return await call()
            except RetryAfter as error:
                wait = seconds(error.retry_after)
                if wait > self.max_retry_after or last:
                    log.error("telegram flood control; reply dropped", retry_after=wait)
                    return None
                log.warning("telegram flood control; waiting before retry", retry_after=wait)
                await asyncio.sleep(wait)
            except NetworkError as error:
                if isinstance(error, BadRequest) or last:
                    log.error("telegram reply not sent", attempts=attempt,
                              error=redact(f"{error} [{type(error).__name__}]"))  # fmt: skip
                    return None
                log.warning("telegram network error; retrying", attempt=attempt,
                            error=redact(f"{error} [{type(error).__name__}]"))  # fmt: skip
                await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
            except TelegramError as error:  # Forbidden, InvalidToken, Conflict: not worth retrying
                log.error(
                    "telegram refused the reply", error=redact(f"{error} [{type(error).__name__}]")
                )
                return None
        return None

    async def _reply(self, chat_id: int, text: str, markup: Any = None) -> None:
        bot = self.app.bot
        await self.send(lambda: bot.send_message(chat_id, text, parse_mode=ParseMode.HTML,
                                                 reply_markup=markup))  # fmt: skip

    def _command(
        self, name: str, fn: Callable[[ControlContext, list[str], int], Awaitable[Any]]
    ) -> Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[None]]:
        async def handle(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            chat = update.effective_chat
            assert chat is not None  # the gate passed it
            log.info("telegram command", command=name, chat_id=chat.id)
            try:
                reply = await fn(self.ctx, list(context.args or []), chat.id)
            except AwanError as error:  # a refused request: its one line, nothing changed
                reply = replies.reply_error(str(error).splitlines()[0])
            except Exception as error:
                log.error("telegram command failed", command=name,
                          error=redact(f"{error} [{type(error).__name__}]"))  # fmt: skip
                reply = replies.reply_error(
                    f"/{name} failed ({type(error).__name__}); see the bot's log"
                )
            if isinstance(reply, tuple):
                await self._reply(chat.id, *reply)
            else:
                await self._reply(chat.id, reply)

        return handle

    # --- commands: parse, call the control function, format ---------------------------------

    async def _status(self, ctx: ControlContext, _args: list[str], _chat: int) -> str:
        return replies.reply_status(await asyncio.to_thread(control.status, ctx))

    async def _balance(self, ctx: ControlContext, _args: list[str], _chat: int) -> str:
        return replies.reply_balance(await asyncio.to_thread(control.balance, ctx))

    async def _positions(self, ctx: ControlContext, _args: list[str], _chat: int) -> str:
        return replies.reply_positions(await asyncio.to_thread(control.open_positions, ctx))

    async def _profit(self, ctx: ControlContext, args: list[str], _chat: int) -> str:
        since = parse_utc(args[0], what="date") if args else None
        return replies.reply_profit(await asyncio.to_thread(control.profit, ctx, since))

    async def _daily(self, ctx: ControlContext, args: list[str], _chat: int) -> str:
        days = _int_arg(args, 7, "days")
        return replies.reply_daily(await asyncio.to_thread(control.daily, ctx, days))

    async def _performance(self, ctx: ControlContext, _args: list[str], _chat: int) -> str:
        return replies.reply_performance(await asyncio.to_thread(control.performance, ctx))

    async def _trades(self, ctx: ControlContext, args: list[str], _chat: int) -> str:
        limit = _int_arg(args, 10, "the number of trades")
        return replies.reply_trades(await asyncio.to_thread(control.last_trades, ctx, limit))

    async def _pause(self, ctx: ControlContext, _args: list[str], chat: int) -> str:
        return replies.reply_ack(await asyncio.to_thread(control.pause, ctx, who(chat)))

    async def _resume(self, ctx: ControlContext, _args: list[str], chat: int) -> str:
        return replies.reply_ack(await asyncio.to_thread(control.resume, ctx, who(chat)))

    async def _reload_config(self, ctx: ControlContext, _args: list[str], _chat: int) -> str:
        return replies.reply_refusal(control.reload_config(ctx))

    async def _help(self, _ctx: ControlContext, _args: list[str], _chat: int) -> str:
        return replies.reply_help(control.help_commands())

    async def _forceexit(
        self, ctx: ControlContext, args: list[str], _chat: int
    ) -> tuple[str, InlineKeyboardMarkup]:
        """Check the target now (a typo is refused at once), record nothing until Confirm."""
        if len(args) != 1:
            raise control.ControlError("usage: /forceexit SYMBOL|all (e.g. /forceexit BTC/USDT)")
        symbol = await asyncio.to_thread(control.parse_exit_target, ctx, args[0])
        target = symbol or "all"
        held = [symbol] if symbol else await asyncio.to_thread(control.actions.held_symbols, ctx)
        at = int(time.time())
        buttons = InlineKeyboardMarkup([[
            InlineKeyboardButton("Confirm", callback_data=f"fx:{at}:yes:{target}"),
            InlineKeyboardButton("Cancel", callback_data=f"fx:{at}:no:{target}"),
        ]])  # fmt: skip
        return replies.confirm_force_exit(held, target), buttons

    async def _confirmation(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        """A Confirm / Cancel press under a force-exit question."""
        query = update.callback_query
        chat = update.effective_chat
        assert query is not None and chat is not None and query.data is not None
        match = _CONFIRM.match(query.data)
        assert match is not None  # the handler's pattern
        await self.send(query.answer)
        target = match["target"]
        log.info("telegram force-exit answer", chat_id=chat.id, choice=match["choice"])
        if match["choice"] == "no":
            text = replies.reply_cancelled(target)
        elif time.time() - int(match["at"]) > CONFIRM_WINDOW.total_seconds():
            text = replies.reply_error(
                f"force-exit {target}: this confirmation expired; send /forceexit again"
            )
        else:
            try:
                ack = await asyncio.to_thread(control.force_exit, self.ctx, target, who(chat.id))
                text = replies.reply_ack(ack)
            except AwanError as error:
                text = replies.reply_error(str(error).splitlines()[0])
        await self.send(lambda: query.edit_message_text(text, parse_mode=ParseMode.HTML))
