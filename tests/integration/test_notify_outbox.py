"""The notification outbox over the real python-telegram-bot client and the fake Bot API.

What a deployment gets: each allowed chat is retried on its own (flood control with
`retry_after`, server errors), a flood of error events sends at most the error rate, and the
bot token is in no log line, at any level, whatever went wrong.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest

from awan_trading.logs import configure_logging, get_logger
from awan_trading.notify.events import FillFacts, fill_notice
from awan_trading.notify.fake_bot_api import FakeBotApi
from awan_trading.notify.outbox import ErrorForwarder, NotificationOutbox, OutboxLimits
from awan_trading.notify.telegram import TelegramNotifier

# Not the shape of a real token, so only the notifier's own registration can hide it.
TOKEN = "awan-outbox-test-credential-91c3"
CHAT_A, CHAT_B = "111", "-100222"

pytestmark = pytest.mark.filterwarnings("ignore:.*attribute `retry_after`:DeprecationWarning")


@pytest.fixture
def fake() -> Iterator[FakeBotApi]:
    with FakeBotApi(token=TOKEN) as server:
        yield server


@pytest.fixture
def debug_logs(
    capsys, caplog
) -> Iterator[tuple[pytest.CaptureFixture[str], pytest.LogCaptureFixture]]:
    """awan's logging at DEBUG on the root logger: httpx, httpcore and telegram log too."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    configure_logging(level="DEBUG", fmt="console")
    root.addHandler(caplog.handler)
    caplog.set_level(logging.DEBUG)
    yield capsys, caplog
    root.handlers, root.level = handlers, level


def outbox_to(fake: FakeBotApi, limits: OutboxLimits | None = None, **kwargs) -> NotificationOutbox:
    notifier = TelegramNotifier(TOKEN, f"{CHAT_A},{CHAT_B}", fake.base_url, backoff=0.01, **kwargs)
    return NotificationOutbox(notifier, limits).start()


def a_fill(order: str = "e0-1") -> object:
    return fill_notice(FillFacts("BTC/USDT", "buy", 42000.5, 0.01, 0.042, "USDT", order,
                                 "boll_stoch entry signal", "sig_1"))  # fmt: skip


def calls_to(fake: FakeBotApi, chat: str) -> int:
    return sum(1 for c in fake.calls if c.method == "sendMessage" and c.params["chat_id"] == chat)


def test_flood_control_in_one_chat_is_waited_out_there_and_both_chats_get_the_fill(
    fake, debug_logs
):
    fake.fail_next("sendMessage", "rate_limit", retry_after=1, chat_id=CHAT_B)
    outbox = outbox_to(fake)
    assert outbox.post(a_fill())
    outbox.close(timeout=20)
    delivered = fake.sent_messages()
    assert [m["chat_id"] for m in delivered] == [CHAT_A, CHAT_B]
    assert all(m["parse_mode"] == "HTML" for m in delivered)
    assert delivered[0]["text"].startswith("<b>awan: entry filled BTC/USDT</b>")
    assert (calls_to(fake, CHAT_A), calls_to(fake, CHAT_B)) == (1, 2)
    assert outbox.sent == 1 and outbox.dropped == 0
    err = debug_logs[0].readouterr().err
    assert "telegram flood control; waiting before retry" in err and f"chat_id={CHAT_B}" in err


def test_server_errors_in_one_chat_are_retried_there_and_both_chats_get_the_fill(fake):
    fake.fail_next("sendMessage", "server_error", times=2, chat_id=CHAT_A)
    outbox = outbox_to(fake, network_attempts=3)
    assert outbox.post(a_fill())
    outbox.close(timeout=20)
    assert sorted(m["chat_id"] for m in fake.sent_messages()) == sorted([CHAT_A, CHAT_B])
    assert (calls_to(fake, CHAT_A), calls_to(fake, CHAT_B)) == (3, 1)
    assert outbox.sent == 1


def test_a_flood_of_1000_error_events_sends_at_most_the_error_rate(fake, debug_logs):
    limits = OutboxLimits()  # the production numbers
    outbox = outbox_to(fake, limits)
    forwarder = ErrorForwarder(outbox)
    logger = logging.getLogger("awan_trading")
    logger.addHandler(forwarder)
    started = time.monotonic()
    try:
        for i in range(1000):  # e.g. an exchange failing every call, each error a new order id
            get_logger("awan_trading.execution.executor").error(f"order e{i} failed: 503")
    finally:
        logger.removeHandler(forwarder)
    outbox.close(timeout=20)
    window = time.monotonic() - started
    allowed = limits.error_burst + limits.error_rate * window
    per_chat = [calls_to(fake, chat) for chat in (CHAT_A, CHAT_B)]
    print(f"\n1000 error events in {window:.1f} s: {per_chat} message(s) per chat, "
          f"allowed {allowed:.2f}; {outbox.suppressed} left out")  # fmt: skip
    assert per_chat[0] == per_chat[1] and 1 <= per_chat[0] <= allowed
    assert outbox.suppressed == 1000 - per_chat[0]
    texts = [m["text"] for m in fake.sent_messages()]
    assert texts[0].splitlines()[0] == "<b>awan: error</b>"
    assert "error: order e0 failed: 503" in texts[0]


def test_the_token_is_in_no_log_line_whatever_goes_wrong(fake, debug_logs):
    capsys, caplog = debug_logs
    fake.fail_next("sendMessage", "rate_limit", retry_after=1, chat_id=CHAT_A)
    fake.fail_next("sendMessage", "server_error", chat_id=CHAT_B)
    fake.fail_next("sendMessage", "drop", chat_id=CHAT_A)
    fake.fail_next("sendMessage", "hang", hang_seconds=5, times=3, chat_id=CHAT_B)
    fake.fail_next("sendMessage", "forbidden", chat_id=CHAT_A)
    outbox = outbox_to(fake, OutboxLimits(rate=100.0, burst=100), timeout=0.5)
    for i in range(4):
        outbox.post(a_fill(f"e0-{i}"))
    outbox.post_error(f"exchange rejected the key {TOKEN}", "awan_trading.exchange")
    outbox.close(timeout=30)
    revoked = TelegramNotifier("awan-revoked-credential-0b7", CHAT_A, fake.base_url)
    rejected = NotificationOutbox(revoked).start()
    assert rejected.post(a_fill()) is True  # queued; Telegram then answers 401
    rejected.close(timeout=20)
    assert rejected.dropped == 1
    out, err = capsys.readouterr()
    logged = out + err + caplog.text + "".join(str(r.msg) for r in caplog.records)
    assert "notification dropped" in err  # the hung / forbidden chats cost messages
    assert "telegram refused the bot" in err and "TimedOut" in err
    assert TOKEN not in logged
    assert all(TOKEN not in m["text"] for m in fake.sent_messages())
    assert TOKEN not in repr(outbox.notifier)
