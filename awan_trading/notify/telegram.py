"""Telegram notifications that can never break trading or leak the bot token.

A notification is a side effect of trading, not part of it: a missing token, a revoked bot, a
flood limit or a dead network must cost at most a lost message, never an exception in an
order path or a Dagster sensor. So `send` returns a bool and logs what went wrong; it retries
what is worth retrying (flood control after the server's `retry_after`, network errors with
backoff) and gives up at once on what is not (a rejected token, a bot blocked by the chat).

The Bot API puts the token in every URL (`/bot<token>/sendMessage`), and httpx logs each URL at
INFO. The token is registered with the log redactor, a redacting filter sits on the client
libraries' own loggers (so even a handler that is not awan's prints no token), and error text
is redacted before it is logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from pydantic import SecretStr
from telegram import Bot
from telegram.constants import MessageLimit, ParseMode
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter
from telegram.request import HTTPXRequest
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from awan_trading.config import Settings
from awan_trading.logs import get_logger, redact, register_secrets

log = get_logger(__name__)

# The loggers of PTB and the HTTP stack under it. A filter applies only to records created on
# its own logger (not children), hence the full names.
CLIENT_LOGGERS = (
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "telegram.Bot",
    "telegram.request.BaseRequest",
    "telegram.request.HTTPXRequest",
)


class _RedactRecords(logging.Filter):
    """Rewrites a record's message through `redact` before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        return True


_FILTER = _RedactRecords()


def _guard_client_loggers() -> None:
    for name in CLIENT_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def _is_transient(error: BaseException) -> bool:
    """Network trouble is worth another try; a BadRequest (a NetworkError subclass) is not."""
    return isinstance(error, NetworkError) and not isinstance(error, BadRequest)


def _seconds(retry_after: int | float | timedelta) -> float:
    """PTB 22 gives `retry_after` as int seconds; with PTB_TIMEDELTA set (and in PTB 23) as a
    timedelta. Both work."""
    return retry_after.total_seconds() if isinstance(retry_after, timedelta) else float(retry_after)


def _retry_after(error: RetryAfter) -> float:
    return _seconds(error.retry_after)


def _describe(error: BaseException) -> str:
    return redact(f"{error} [{type(error).__name__}]")


def _chat_list(chat_id: str | int | Sequence[str | int] | None) -> tuple[str, ...]:
    """Chat ids as Telegram takes them: one id, a comma-separated string, or a sequence."""
    if chat_id is None:
        return ()
    parts = chat_id.split(",") if isinstance(chat_id, str) else (
        [chat_id] if isinstance(chat_id, int) else list(chat_id)
    )  # fmt: skip
    return tuple(dict.fromkeys(str(p).strip() for p in parts if str(p).strip()))


class TelegramNotifier:
    """Sends short messages to every allowed chat; disabled (a no-op) without a token or chat.

    `chat_id` is one id, a comma-separated string of ids or a sequence of them (the
    `AWAN_TELEGRAM_CHAT_IDS` allowlist). Each chat gets its own retries: flood control is
    counted per chat by Telegram, so one chat's 429 must not cost another chat its message.
    `base_url` points PTB at another Bot API server (a local one, or the fake in tests); PTB
    appends the token to it, as it does to the default `https://api.telegram.org/bot`.
    """

    def __init__(
        self,
        token: SecretStr | str | None,
        chat_id: str | int | Sequence[str | int] | None,
        base_url: str | None = None,
        *,
        max_retry_after: float = 30.0,
        rate_limit_attempts: int = 3,
        network_attempts: int = 3,
        backoff: float = 0.5,
        timeout: float = 10.0,
    ) -> None:
        raw = token.get_secret_value() if isinstance(token, SecretStr) else token
        self._token = (raw or "").strip() or None
        self._chat_ids = _chat_list(chat_id)
        self._base_url = base_url
        self._max_retry_after = max_retry_after
        self._rate_limit_attempts = max(1, rate_limit_attempts)
        self._network_attempts = max(1, network_attempts)
        self._backoff = backoff
        self._timeout = timeout
        self._disabled_logged = False
        if self._token:
            register_secrets([self._token])
            _guard_client_loggers()

    @classmethod
    def from_settings(cls, settings: Settings) -> TelegramNotifier:
        """The notifier `AWAN_TELEGRAM_TOKEN`, the chat allowlist (`AWAN_TELEGRAM_CHAT_IDS` and
        `AWAN_TELEGRAM_CHAT_ID`) and `AWAN_TELEGRAM_API_URL` describe (maybe disabled)."""
        return cls(settings.telegram_token, settings.telegram_chats(), settings.telegram_api_url)

    def __repr__(self) -> str:
        state = "enabled" if self.enabled else "disabled"
        return f"TelegramNotifier({state}, chats={list(self._chat_ids)!r})"

    @property
    def enabled(self) -> bool:
        """True when both a token and at least one chat id are configured."""
        return bool(self._token and self._chat_ids)

    @property
    def chat_ids(self) -> tuple[str, ...]:
        """The chats every message goes to."""
        return self._chat_ids

    def send(self, text: str, *, html: bool = False) -> bool:
        """Send `text` to every chat; True when Telegram accepted it for all. Never raises.

        Blocks until delivered or given up (bounded by the retry settings). Safe from sync code
        (Dagster ops and sensors); called from inside a running event loop it runs the request
        on a worker thread — async callers should await `send_async` instead.
        """
        if not self.enabled:
            self._log_disabled()
            return False
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return self._run(text, html)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="telegram") as pool:
            return pool.submit(self._run, text, html).result()

    async def send_async(self, text: str, *, html: bool = False) -> bool:
        """`send` for async callers (the live loop's event loop). Never raises."""
        if not self.enabled:
            self._log_disabled()
            return False
        try:
            return await self._send(text, html)
        except Exception as error:  # the promise: nothing escapes into trading code
            log.error("telegram message not sent", error=_describe(error))
            return False

    def _run(self, text: str, html: bool) -> bool:
        try:
            return asyncio.run(self._send(text, html))
        except Exception as error:
            log.error("telegram message not sent", error=_describe(error))
            return False

    def _log_disabled(self) -> None:
        if not self._disabled_logged:
            self._disabled_logged = True
            missing = "token" if not self._token else "chat id"
            log.info("telegram notifications disabled", missing=missing)

    async def _send(self, text: str, html: bool) -> bool:
        token, chats = self._token, self._chat_ids
        if token is None or not chats:
            return False
        # Secrets quoted in an error message (a store URL, a key) must not go to a chat either.
        text = redact(text)[: MessageLimit.MAX_TEXT_LENGTH]
        # A client per message: each sync `send` runs its own event loop, which an httpx client
        # cannot outlive. `initialize()` is skipped on purpose — it costs a getMe round trip and
        # PTB puts the token into the InvalidToken message it raises there.
        request = HTTPXRequest(
            connection_pool_size=1,
            connect_timeout=self._timeout,
            read_timeout=self._timeout,
            write_timeout=self._timeout,
        )
        kwargs: dict[str, str] = {} if self._base_url is None else {"base_url": self._base_url}
        bot = Bot(token, request=request, get_updates_request=request, **kwargs)
        await request.initialize()
        mode = ParseMode.HTML if html else None
        try:
            delivered = [await self._deliver(bot, chat, text, mode) for chat in chats]
            return all(delivered)
        finally:
            await request.shutdown()

    async def _deliver(self, bot: Bot, chat_id: str, text: str, parse_mode: str | None) -> bool:
        for attempt in range(1, self._rate_limit_attempts + 1):
            try:
                await self._with_network_retries(bot, chat_id, text, parse_mode)
                return True
            except RetryAfter as error:
                wait = _retry_after(error)
                if wait > self._max_retry_after or attempt == self._rate_limit_attempts:
                    log.error(
                        "telegram flood control outlasts our patience; message dropped",
                        retry_after=wait,
                        attempts=attempt,
                        chat_id=chat_id,
                    )
                    return False
                log.warning(
                    "telegram flood control; waiting before retry",
                    retry_after=wait,
                    chat_id=chat_id,
                )
                await asyncio.sleep(wait)
            except (InvalidToken, Forbidden) as error:
                log.error(
                    "telegram refused the bot; check AWAN_TELEGRAM_TOKEN and that the bot may "
                    "write to the chat",
                    error=_describe(error),
                )
                return False
            except NetworkError as error:
                if _is_transient(error):
                    log.error(
                        "telegram unreachable; message dropped",
                        error=_describe(error),
                        attempts=self._network_attempts,
                    )
                else:
                    log.error("telegram rejected the message", error=_describe(error))
                return False
        return False

    async def _with_network_retries(
        self, bot: Bot, chat_id: str, text: str, parse_mode: str | None
    ) -> None:
        def before_sleep(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            log.warning(
                "telegram network error; retrying",
                error=_describe(error) if error else "",
                attempt=state.attempt_number,
            )

        async for attempt in AsyncRetrying(
            retry=retry_if_exception(_is_transient),
            stop=stop_after_attempt(self._network_attempts),
            wait=wait_exponential(multiplier=self._backoff, max=10),
            before_sleep=before_sleep,
            reraise=True,
        ):
            with attempt:
                await bot.send_message(chat_id=chat_id, text=text, parse_mode=parse_mode)
