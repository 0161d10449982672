"""The control bot with the real python-telegram-bot against the fake Bot API, on a real store.

PTB long-polls the fake (`base_url` pointed at it), so what is proven is what a deployment
does: every command's reply as it arrives at the Bot API, the allowlist, HTML escaping, the
force-exit confirmation through to the executor acting on the control row, replies retried
after a 429 and a 500, and the token absent from every log line.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from awan_trading.control import ControlContext
from awan_trading.domain.ids import client_order_id, control_key
from awan_trading.logs import configure_logging
from awan_trading.notify.bot import ControlBot
from awan_trading.notify.fake_bot_api import FakeBotApi
from awan_trading.notify.replies import num, signed
from awan_trading.storage import open_store
from awan_trading.storage.base import BotEvent
from tests.integration.control_fixtures import BOT, Trading, make_trading

TOKEN = "awan-control-bot-credential-77c1d0"  # not token-shaped: only registration hides it
CHAT = -100555
OTHER_CHAT = 999

pytestmark = pytest.mark.filterwarnings("ignore:.*attribute `retry_after`:DeprecationWarning")


@pytest.fixture
def logs(capsys) -> Iterator[pytest.CaptureFixture[str]]:
    """awan's logging at DEBUG on the root logger: httpx, httpcore and PTB log every URL."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    configure_logging(level="DEBUG", fmt="console")
    yield capsys
    root.handlers, root.level = handlers, level


@pytest.fixture
def trading(tmp_path: Path) -> Iterator[Trading]:
    store = open_store(f"duckdb:///{tmp_path / 'awan.duckdb'}", migrate=True)
    yield make_trading(store)
    store.close()


@pytest.fixture
def fake() -> Iterator[FakeBotApi]:
    with FakeBotApi(token=TOKEN) as server:
        yield server


class Running:
    """A bot polling the fake on its own thread, and a way to talk to it."""

    def __init__(self, fake: FakeBotApi, ctx: ControlContext) -> None:
        self.fake = fake
        self.bot = ControlBot(ctx, TOKEN, (CHAT,), fake.base_url, poll_timeout=1, backoff=0.01)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.bot.run, args=(self.stop,), daemon=True)

    def __enter__(self) -> Running:
        self.thread.start()
        self._wait(lambda: any(c.method == "getUpdates" for c in self.fake.calls), "polling")
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=20)
        assert not self.thread.is_alive()

    def _wait(self, done: Any, what: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.02)

    def ask(self, text: str, chat: int = CHAT) -> dict[str, Any]:
        """Send `text` from `chat`; the one reply it gets."""
        before = len(self.fake.sent_messages())
        self.fake.push_update(text, chat_id=chat)
        self._wait(lambda: len(self.fake.sent_messages()) > before, f"a reply to {text}")
        (reply,) = self.fake.sent_messages()[before:]
        assert int(reply["chat_id"]) == chat and reply["parse_mode"] == "HTML"
        return reply

    def press(self, data: str, message_id: int) -> dict[str, Any]:
        """Press an inline button; the edit it causes."""
        before = len(self.fake.succeeded("editMessageText"))
        self.fake.push_callback(data, chat_id=CHAT, message_id=message_id)
        self._wait(lambda: len(self.fake.succeeded("editMessageText")) > before, "an edit")
        return self.fake.succeeded("editMessageText")[-1]


def buttons(reply: dict[str, Any]) -> dict[str, str]:
    markup = json.loads(reply["reply_markup"])
    return {b["text"]: b["callback_data"] for row in markup["inline_keyboard"] for b in row}


def test_every_command_replies_from_the_store(fake, trading, tmp_path, logs):
    f = trading.facts
    rate, wins = ("100%", 1) if f.pnl > 0 else ("0%", 0)
    pct = f"{f.pnl / f.btc_stake:+.2%}"
    eth = (f"<b>ETH/USDT</b> {num(f.eth_amount)} @ {num(f.eth_entry)} · last close "
           f"{num(f.eth_mark)} · {signed(f.unrealized)} ({f.unrealized / f.eth_stake:+.2%})")  # fmt: skip
    with Running(fake, trading.context(tmp_path)) as bot:
        status = bot.ask("/status")["text"]
        assert "<b>awan</b> · sim" in status
        assert "paused: no" in status and "ok close=test" in status
        assert eth in status
        assert (
            f"today: realized {signed(f.today_pnl)} · unrealized {signed(f.unrealized)}" in status
        )
        assert "BTC/USDT: " in status and "UTC (" in status
        balance = bot.ask("/balance")["text"]
        assert f"ETH: {num(f.eth_amount)}" in balance and f"USDT: {num(f.usdt)}" in balance
        assert eth in bot.ask("/positions")["text"]
        profit = bot.ask("/profit")["text"]
        assert f"<b>boll_stoch</b>: realized {signed(f.pnl)} over 1 trade(s), {rate} won" in profit
        assert "<b>total</b>" in profit and f"unrealized {signed(f.unrealized)} on 1 open" in profit
        assert "over 0 trade(s)" in bot.ask("/profit 2100-01-01")["text"]
        daily = bot.ask("/daily 2")["text"]
        assert daily.count("\n") == 3 and f"{signed(f.pnl)} (1 trade(s))" in daily
        perf = bot.ask("/performance")["text"]
        assert f"BTC/USDT: {signed(f.pnl)} ({pct}) over 1 trade(s), {wins} won" in perf
        trades = bot.ask("/trades")["text"]
        assert "last 1 of 1 closed trade(s)" in trades
        assert (f"BTC/USDT boll_stoch: {num(f.btc_entry)} → {num(f.btc_exit)} · {signed(f.pnl)} · "
                "exit_signal") in trades  # fmt: skip
        assert "not supported" in bot.ask("/reload_config")["text"]
        help_text = bot.ask("/help")["text"]
        for command in ("/status", "/forceexit SYMBOL|all", "/reload_config", "/daily [N]"):
            assert command in help_text
        (menu,) = fake.succeeded("setMyCommands")  # Telegram's menu lists the same commands
        names = [c["command"] for c in json.loads(menu["commands"])]
        assert names[:3] == ["status", "balance", "positions"] and "forceexit" in names
        # bad input: one line, nothing recorded
        assert bot.ask("/daily many")["text"] == (
            "<b>refused</b>: days must be a whole number, got 'many'"
        )
        assert "invalid date 'soon'" in bot.ask("/profit soon")["text"]
        assert "unknown command; /help lists them" in bot.ask("/moon")["text"]
        assert (
            "no open position in XRP/USDT (open: ETH/USDT)"
            in bot.ask("/forceexit xrp/usdt")["text"]
        )
        assert trading.store.pending_controls(BOT) == []


def test_pause_and_resume_are_recorded_with_the_chat_and_obeyed(fake, trading, tmp_path):
    with Running(fake, trading.context(tmp_path)) as bot:
        assert "request #1 recorded" in bot.ask("/pause")["text"]
        assert "already paused" in bot.ask("/pause")["text"]
        (request,) = trading.store.pending_controls(BOT)
        assert (request.action, request.requested_by) == ("pause", f"telegram:{CHAT}")
        trading.executor.on_candle_close("ETH/USDT", {"high": 1.0})  # the loop's wake-up
        assert trading.executor.paused
        assert "paused: yes" in bot.ask("/status")["text"]
        assert "request #2 recorded" in bot.ask("/resume")["text"]
        assert "pending: resume (by telegram:-100555)" in bot.ask("/status")["text"]


def test_force_exit_waits_for_confirm_then_the_executor_sells(fake, trading, tmp_path):
    with Running(fake, trading.context(tmp_path)) as bot:
        question = bot.ask("/forceexit ETH/USDT")
        assert question["text"] == "<b>force-exit</b> the position: ETH/USDT — sell at market?"
        choice = buttons(question)
        assert set(choice) == {"Confirm", "Cancel"}
        assert trading.store.pending_controls(BOT) == []  # nothing until Confirm
        cancelled = bot.press(choice["Cancel"], message_id=1)
        assert "cancelled, nothing recorded" in cancelled["text"]
        assert trading.store.pending_controls(BOT) == []
        done = bot.press(choice["Confirm"], message_id=1)
        assert done["text"].startswith("<b>force-exit ETH/USDT</b>: request #1 recorded")
        assert fake.succeeded("answerCallbackQuery")
    (request,) = trading.store.pending_controls(BOT)
    assert (request.action, request.symbol, request.requested_by) == (
        "force_exit", "ETH/USDT", f"telegram:{CHAT}")  # fmt: skip
    (result,) = trading.executor.on_candle_close("ETH/USDT", {"high": 1.0})
    assert result.outcome == "filled" and result.order.side == "sell"
    assert result.client_order_id == client_order_id(
        control_key(request.id, "ETH/USDT"), "force_exit"
    )
    assert trading.store.positions("sim") == [] and trading.store.pending_controls(BOT) == []


def test_an_expired_confirmation_records_nothing(fake, trading, tmp_path):
    with Running(fake, trading.context(tmp_path)) as bot:
        stale = f"fx:{int(time.time()) - 3600}:yes:ETH/USDT"
        assert "expired" in bot.press(stale, message_id=1)["text"]
    assert trading.store.pending_controls(BOT) == []


def test_a_chat_not_in_the_allowlist_gets_nothing_and_its_text_is_not_logged(
    fake, trading, tmp_path, logs
):
    with Running(fake, trading.context(tmp_path)) as bot:
        fake.push_update("/pause secret-words-from-a-stranger", chat_id=OTHER_CHAT)
        fake.push_callback("fx:1:yes:all", chat_id=OTHER_CHAT, message_id=1)
        bot.ask("/help")  # served after the two foreign updates: they were seen and dropped
    assert [int(m["chat_id"]) for m in fake.sent_messages()] == [CHAT]
    assert fake.succeeded("answerCallbackQuery") == [] and fake.succeeded("editMessageText") == []
    assert trading.store.pending_controls(BOT) == []
    err = logs.readouterr().err
    assert err.count("not in the allowlist") == 2 and f"chat_id={OTHER_CHAT}" in err
    assert "secret-words-from-a-stranger" not in err


def test_replies_are_retried_after_429_and_500_and_the_token_never_logged(
    fake, trading, tmp_path, logs
):
    trading.store.record_event(
        BotEvent(BOT, "order_unknown", "BTC/USDT: price < stop & under_score -1.5")
    )
    with Running(fake, trading.context(tmp_path)) as bot:
        fake.fail_next("sendMessage", "rate_limit", retry_after=1)
        started = time.monotonic()
        text = bot.ask("/status")["text"]
        assert time.monotonic() - started >= 1.0  # the server's retry_after was honoured
        assert "order_unknown: BTC/USDT: price &lt; stop &amp; under_score -1.5" in text
        fake.fail_next("sendMessage", "server_error", times=2)
        assert "<b>awan commands</b>" in bot.ask("/help")["text"]
    sends = [c for c in fake.calls if c.method == "sendMessage"]
    assert len(sends) == 5  # 429 + retry, 500 + 500 + retry
    err = logs.readouterr().err
    assert "telegram flood control; waiting before retry" in err
    assert err.count("telegram network error; retrying") == 2
    assert "getUpdates" in err  # the client libraries' URL lines were captured...
    assert TOKEN not in err  # ...with the token masked in every one of them
