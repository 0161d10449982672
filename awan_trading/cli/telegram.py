"""`awan telegram bot` (the control bot, long polling) and `awan telegram test` (can it write?).

Both read `AWAN_TELEGRAM_TOKEN`, the allowlist (`AWAN_TELEGRAM_CHAT_IDS`, plus the older
`AWAN_TELEGRAM_CHAT_ID`) and `AWAN_TELEGRAM_API_URL`. A missing token or an empty allowlist is
a configuration mistake: one line, exit 2. `test` sends one message to every allowed chat and
exits 0, or 1 with one line saying which chat failed and why — never the token.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from awan_trading.cli.app import app, awan_command, console, fail

if TYPE_CHECKING:
    from awan_trading.config import Settings

telegram_app = typer.Typer(help="The Telegram control bot.", no_args_is_help=True)
app.add_typer(telegram_app, name="telegram")

ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="awan.toml to use (default: ./awan.toml)")
]


def _token_and_chats(settings: Settings) -> tuple[str, tuple[int, ...]]:
    from awan_trading.errors import ConfigError

    token = settings.telegram_token.get_secret_value().strip() if settings.telegram_token else ""
    if not token:
        raise ConfigError("AWAN_TELEGRAM_TOKEN is not set (the token @BotFather gave the bot)")
    chats = settings.telegram_chats()
    if not chats:
        raise ConfigError("no chat is allowed: set AWAN_TELEGRAM_CHAT_IDS (comma-separated ids)")
    return token, chats


@telegram_app.command("bot")
@awan_command
def bot_command(
    bot: Annotated[str, typer.Option(help="the live loop's --bot name")] = "awan",
    config: ConfigOption = None,
) -> None:
    """Serve /status, /profit, /pause, /forceexit … to the allowed chats until SIGTERM."""
    import threading

    from telegram.error import TelegramError

    from awan_trading.config import load_config, load_settings
    from awan_trading.control import open_context
    from awan_trading.live.health import stop_on_signals
    from awan_trading.logs import redact
    from awan_trading.notify.bot import ControlBot

    settings = load_settings()
    token, chats = _token_and_chats(settings)
    ctx = open_context(settings, load_config(config), bot=bot)
    server = ControlBot(ctx, token, chats, settings.telegram_api_url)
    stop = threading.Event()
    console.print(f"awan telegram bot: serving {len(chats)} chat(s) for bot {bot!r}; "
                  "stop with Ctrl-C or SIGTERM", highlight=False)  # fmt: skip
    with stop_on_signals(stop):
        try:
            server.run(stop)
        except TelegramError as error:  # getMe at start: a rejected token, no network
            raise fail(
                f"telegram bot: {redact(f'{error} ({type(error).__name__})')}", code=1
            ) from None


async def _send_test(token: str, base_url: str, chats: tuple[int, ...], text: str) -> str | None:
    """Send `text` to each chat (after one flood-control wait if asked); the first failure."""
    from telegram import Bot
    from telegram.error import RetryAfter, TelegramError

    from awan_trading.logs import redact
    from awan_trading.notify.bot import file_url_for, seconds

    def why(error: BaseException) -> str:
        return redact(f"{error} ({type(error).__name__})")

    bot = Bot(token, base_url=base_url, base_file_url=file_url_for(base_url))
    try:
        async with bot:  # getMe: a rejected token fails here
            for chat in chats:
                try:
                    try:
                        await bot.send_message(chat, text)
                    except RetryAfter as error:
                        await asyncio.sleep(min(30.0, seconds(error.retry_after)))
                        await bot.send_message(chat, text)
                except TelegramError as error:
                    return f"chat {chat}: {why(error)}"
    except TelegramError as error:
        return f"the Bot API refused the bot or could not be reached: {why(error)}"
    return None


@telegram_app.command("test")
@awan_command
def test_command() -> None:
    """Send one message to every allowed chat: exit 0 when all arrived, 1 otherwise."""
    from awan_trading.config import load_settings
    from awan_trading.logs import register_secrets

    settings = load_settings()
    token, chats = _token_and_chats(settings)
    register_secrets([token])
    text = "awan: test message — this chat is allowed to control the bot (/help)"
    failure = asyncio.run(_send_test(token, settings.telegram_api_url, chats, text))
    if failure is not None:
        raise fail(f"telegram test: {failure}", code=1)
    console.print(f"telegram test: sent to {len(chats)} chat(s)", highlight=False)
