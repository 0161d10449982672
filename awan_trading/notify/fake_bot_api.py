"""A loopback fake of the Telegram Bot API, for tests and offline demos.

It lets the real python-telegram-bot client run end to end with no network and no real bot:
PTB is pointed at `fake.base_url` and talks HTTP to this server, which records every call and
can be scripted to answer the way Telegram does when things go wrong — flood control (429 with
`retry_after`), a rejected token (401), a bot blocked by the chat (403), a server error (500),
a dropped connection, or a request that hangs unanswered (`hang`: held for `hang_seconds`, or
until `release_hangs()`/`stop()`). Stopping it makes it a server that is down. It answers
`getMe`, `sendMessage`, `getUpdates` (honouring `offset`, and long-polling: it holds the
request up to its `timeout` until an update arrives), `deleteWebhook`, `answerCallbackQuery`,
`editMessageText` and `setMyCommands` — the methods PTB's notifier, its polling and the control
bot's inline buttons use. `push_update` queues a message, and `push_callback` a button press.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

HOST = "127.0.0.1"
BOT_ID = 4242
Fault = Literal["rate_limit", "unauthorized", "forbidden", "server_error", "drop", "hang"]
LONG_POLL_CAP = 2.0  # seconds a getUpdates is held at most, so stopping PTB stays quick


@dataclass(frozen=True)
class BotApiCall:
    """One request as the server saw it: the Bot API method, the token in the URL, the params."""

    method: str
    token: str
    params: dict[str, Any]


@dataclass
class _Scripted:
    fault: Fault
    retry_after: int = 1
    hang_seconds: float = 30.0
    chat_id: str | None = None  # only calls to this chat (None: any)


@dataclass
class _State:
    token: str | None
    calls: list[BotApiCall] = field(default_factory=list)
    delivered: list[dict[str, Any]] = field(default_factory=list)
    succeeded: list[BotApiCall] = field(default_factory=list)
    faults: dict[str, deque[_Scripted]] = field(default_factory=dict)
    updates: list[dict[str, Any]] = field(default_factory=list)
    hanging: int = 0  # requests held unanswered right now
    lock: threading.Lock = field(default_factory=threading.Lock)


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(status: int, description: str, **parameters: Any) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=status)


class FakeBotApi:
    """The fake server, run on its own event loop thread on a free loopback port.

    `token`: when given, any other token in the URL gets 401 (as Telegram answers a revoked
    token); when None every token is accepted.
    """

    def __init__(self, token: str | None = None) -> None:
        self._state = _State(token=token)
        self._message_ids = itertools.count(1)
        self._update_ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._release: asyncio.Event | None = None
        self.port = 0

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeBotApi:
        """Listen on a free port; returns self so `with FakeBotApi().start() as fake` reads well."""
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="fake-bot-api", daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), loop).result(timeout=10)
        return self

    def stop(self) -> None:
        """Stop listening: from now on the server is down (connections are refused)."""
        if self._loop is None:
            return
        self.release_hangs()  # a held request must not hold the shutdown too
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
            self._runner = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._loop.close()
        self._loop = None

    def __enter__(self) -> FakeBotApi:
        return self if self._loop is not None else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """What to pass as PTB's `base_url`; PTB appends the token."""
        return f"http://{HOST}:{self.port}/bot"

    # --- scripting and inspection ----------------------------------------------------------

    def fail_next(
        self,
        method: str,
        fault: Fault,
        *,
        times: int = 1,
        retry_after: int = 1,
        hang_seconds: float = 30.0,
        chat_id: int | str | None = None,
    ) -> None:
        """Answer the next `times` calls of `method` with `fault` instead of success.

        With `chat_id`, only calls to that chat take these faults (in order); other chats'
        calls are answered normally, as Telegram's per-chat flood control behaves.
        """
        chat = None if chat_id is None else str(chat_id)
        with self._state.lock:
            queue = self._state.faults.setdefault(method, deque())
            queue.extend(_Scripted(fault, retry_after, hang_seconds, chat) for _ in range(times))

    def release_hangs(self) -> None:
        """Answer every request held by a `hang` fault now (as a 500), and any later one at once."""
        loop, release = self._loop, self._release
        if loop is not None and release is not None and loop.is_running():
            loop.call_soon_threadsafe(release.set)

    @property
    def hanging(self) -> int:
        """How many requests the server holds unanswered right now."""
        with self._state.lock:
            return self._state.hanging

    def push_update(self, text: str, chat_id: int, user_id: int = 1) -> int:
        """Queue an incoming message for `getUpdates` (commands get a bot_command entity)."""
        update_id = next(self._update_ids)
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"},
            "from": {"id": user_id, "is_bot": False, "first_name": "trader"},
            "text": text,
        }
        if text.startswith("/"):
            length = len(text.split()[0])
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        with self._state.lock:
            self._state.updates.append({"update_id": update_id, "message": message})
        return update_id

    def push_callback(
        self, data: str, chat_id: int, message_id: int, user_id: int = 1, text: str = ""
    ) -> int:
        """Queue a press of an inline keyboard button (`callback_data` = `data`) under the
        bot's message `message_id` in `chat_id`."""
        update_id = next(self._update_ids)
        message = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"},
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "awan"},
            "text": text,
        }
        query = {
            "id": str(update_id),
            "from": {"id": user_id, "is_bot": False, "first_name": "trader"},
            "chat_instance": str(chat_id),
            "data": data,
            "message": message,
        }
        with self._state.lock:
            self._state.updates.append({"update_id": update_id, "callback_query": query})
        return update_id

    def succeeded(self, method: str) -> list[dict[str, Any]]:
        """Params of the calls of `method` that were answered with success, in order."""
        with self._state.lock:
            return [c.params for c in self._state.succeeded if c.method == method]

    @property
    def calls(self) -> list[BotApiCall]:
        """Every request received, in order, including the ones answered with a fault."""
        with self._state.lock:
            return list(self._state.calls)

    def sent_messages(self) -> list[dict[str, Any]]:
        """Params of the `sendMessage` calls that succeeded, in order."""
        with self._state.lock:
            return list(self._state.delivered)

    # --- the server ------------------------------------------------------------------------

    async def _serve(self) -> None:
        self._release = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, HOST, 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        token, method = request.match_info["token"], request.match_info["method"]
        params = await _read_params(request)
        call = BotApiCall(method, token, params)
        with self._state.lock:
            self._state.calls.append(call)
            scripted = self._take_fault(method, str(params.get("chat_id", "")))
        if scripted is not None:
            return await self._fault(request, scripted)
        if self._state.token is not None and token != self._state.token:
            return _error(401, "Unauthorized")
        if method == "getUpdates":
            await self._await_updates(params)
        answer = self._answer(method, params)
        if answer is None:
            return _error(404, "Not Found")
        with self._state.lock:
            self._state.succeeded.append(call)
            if method == "sendMessage":
                self._state.delivered.append(params)
        return answer

    async def _await_updates(self, params: dict[str, Any]) -> None:
        """Long polling: hold the request until an update at or after `offset` is queued."""
        offset = int(params.get("offset", 0) or 0)
        deadline = time.monotonic() + min(float(params.get("timeout", 0) or 0), LONG_POLL_CAP)
        while time.monotonic() < deadline:
            with self._state.lock:
                if any(u["update_id"] >= offset for u in self._state.updates):
                    return
            await asyncio.sleep(0.02)

    def _take_fault(self, method: str, chat_id: str) -> _Scripted | None:
        """The first scripted fault of `method` that applies to `chat_id` (lock held)."""
        queue = self._state.faults.get(method)
        for i, scripted in enumerate(queue or ()):
            if scripted.chat_id is None or scripted.chat_id == chat_id:
                del queue[i]  # type: ignore[arg-type]
                return scripted
        return None

    async def _fault(self, request: web.Request, scripted: _Scripted) -> web.StreamResponse:
        if scripted.fault == "rate_limit":
            return _error(
                429,
                f"Too Many Requests: retry after {scripted.retry_after}",
                retry_after=scripted.retry_after,
            )
        if scripted.fault == "unauthorized":
            return _error(401, "Unauthorized")
        if scripted.fault == "forbidden":
            return _error(403, "Forbidden: bot was blocked by the user")
        if scripted.fault == "server_error":
            return _error(500, "Internal Server Error")
        if scripted.fault == "hang":
            return await self._hang(scripted.hang_seconds)
        transport = request.transport
        if transport is not None:
            transport.abort()  # "drop": the connection dies without a reply
        return web.Response()

    async def _hang(self, seconds: float) -> web.Response:
        """Hold the request unanswered, as a Telegram that stopped answering does."""
        assert self._release is not None
        with self._state.lock:
            self._state.hanging += 1
        try:
            await asyncio.wait_for(self._release.wait(), timeout=seconds)
        except TimeoutError:
            pass
        finally:
            with self._state.lock:
                self._state.hanging -= 1
        return _error(500, "Internal Server Error: answered after a hang")

    def _answer(self, method: str, params: dict[str, Any]) -> web.Response | None:
        if method == "getMe":
            return _ok(
                {"id": BOT_ID, "is_bot": True, "first_name": "awan", "username": "awan_test_bot"}
            )
        if method == "deleteWebhook":
            return _ok(True)
        if method == "sendMessage":
            chat_id = params.get("chat_id", "0")
            chat = {"id": int(chat_id) if str(chat_id).lstrip("-").isdigit() else 0}
            return _ok(
                {
                    "message_id": next(self._message_ids),
                    "date": int(time.time()),
                    "chat": {**chat, "type": "private"},
                    "text": params.get("text", ""),
                }
            )
        if method in ("answerCallbackQuery", "setMyCommands"):
            return _ok(True)
        if method == "editMessageText":
            chat_id = str(params.get("chat_id", "0"))
            return _ok(
                {
                    "message_id": int(params.get("message_id", 0) or 0),
                    "date": int(time.time()),
                    "edit_date": int(time.time()),
                    "chat": {"id": int(chat_id) if chat_id.lstrip("-").isdigit() else 0,
                             "type": "private"},
                    "text": params.get("text", ""),
                }
            )  # fmt: skip
        if method == "getUpdates":
            offset = int(params.get("offset", 0) or 0)
            with self._state.lock:
                pending = [u for u in self._state.updates if u["update_id"] >= offset]
            return _ok(pending)
        return None


async def _read_params(request: web.Request) -> dict[str, Any]:
    """PTB sends form data (and getMe an empty octet-stream body); accept JSON too."""
    if request.content_type == "application/json":
        body = await request.read()
        return dict(json.loads(body)) if body else {}
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        return {k: v for k, v in form.items() if isinstance(v, str)}
    return dict(request.query)
