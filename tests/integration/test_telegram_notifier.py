"""The Telegram notifier with the real python-telegram-bot client against the fake Bot API.

Every test goes over loopback HTTP through PTB and httpx, so what is proven is the behaviour a
deployment gets: what arrives at the Bot API, what is retried, what is given up on, and that
the bot token shows up in no log line at any level and in no error text.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest

from awan_trading.logs import configure_logging
from awan_trading.notify import TelegramNotifier, format_fill
from awan_trading.notify.fake_bot_api import FakeBotApi

# Deliberately not the shape of a real token, so no generic pattern hides it: only the
# notifier's own registration and filters can keep it out of logs.
TOKEN = "awan-test-bot-credential-5e1f0c9a"
CHAT = "-100777"

# PTB 22 itself warns, on every RetryAfter it builds, that `retry_after` will become a timedelta.
pytestmark = pytest.mark.filterwarnings("ignore:.*attribute `retry_after`:DeprecationWarning")


@pytest.fixture
def fake() -> Iterator[FakeBotApi]:
    with FakeBotApi(token=TOKEN) as server:
        yield server


@pytest.fixture
def debug_logs(capsys) -> Iterator[pytest.CaptureFixture[str]]:
    """awan's logging at DEBUG on the root logger, so httpx, httpcore and telegram log too."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    configure_logging(level="DEBUG", fmt="console")
    yield capsys
    root.handlers, root.level = handlers, level


def notifier(fake: FakeBotApi, token: str = TOKEN, **kwargs: float) -> TelegramNotifier:
    return TelegramNotifier(token, CHAT, fake.base_url, backoff=0.01, **kwargs)


def test_message_arrives_with_chat_id_and_text(fake):
    assert notifier(fake).send("BTC/USDT bought\nline two") is True
    [message] = fake.sent_messages()
    assert message["chat_id"] == CHAT
    assert message["text"] == "BTC/USDT bought\nline two"
    assert "parse_mode" not in message
    assert [c.token for c in fake.calls] == [TOKEN]


def test_html_messages_are_sent_escaped_with_parse_mode(fake):
    text = format_fill("BTC/USDT", "buy", 0.5, 42000.5, "awan-<1>&2", html=True)
    assert notifier(fake).send(text, html=True)
    [message] = fake.sent_messages()
    assert message["parse_mode"] == "HTML"
    assert message["text"].startswith("<b>awan: buy filled BTC/USDT</b>")
    assert "order: awan-&lt;1&gt;&amp;2" in message["text"]


def test_flood_control_is_waited_out_and_the_message_sent_once(fake, debug_logs):
    fake.fail_next("sendMessage", "rate_limit", retry_after=1)
    assert notifier(fake).send("after the flood") is True
    assert [c.method for c in fake.calls] == ["sendMessage", "sendMessage"]
    assert [m["text"] for m in fake.sent_messages()] == ["after the flood"]
    err = debug_logs.readouterr().err
    assert "telegram flood control; waiting before retry" in err
    assert "retry_after=1.0" in err


def test_flood_control_longer_than_the_bound_drops_the_message_without_waiting(fake, debug_logs):
    fake.fail_next("sendMessage", "rate_limit", retry_after=3600)
    assert notifier(fake, max_retry_after=5).send("too late") is False
    assert len(fake.calls) == 1 and fake.sent_messages() == []
    assert "outlasts our patience" in debug_logs.readouterr().err


def test_persistent_flood_control_gives_up_after_the_attempt_budget(fake):
    fake.fail_next("sendMessage", "rate_limit", times=5, retry_after=1)
    assert notifier(fake, rate_limit_attempts=2).send("never") is False
    assert len(fake.calls) == 2 and fake.sent_messages() == []


def test_rejected_token_gives_up_at_once_and_logs_an_error_without_the_token(fake, debug_logs):
    wrong = "awan-revoked-credential-77aa31"
    assert notifier(fake, token=wrong).send("hello") is False
    assert len(fake.calls) == 1  # no retry: a revoked token stays revoked
    err = debug_logs.readouterr().err
    assert "telegram refused the bot" in err and "InvalidToken" in err
    assert "error" in err
    assert wrong not in err and TOKEN not in err


def test_bot_blocked_by_the_chat_gives_up_at_once(fake, debug_logs):
    fake.fail_next("sendMessage", "forbidden")
    assert notifier(fake).send("hello") is False
    assert len(fake.calls) == 1
    assert "Forbidden" in debug_logs.readouterr().err


def test_dropped_connections_are_retried_then_delivered(fake):
    fake.fail_next("sendMessage", "drop", times=2)
    assert notifier(fake, network_attempts=3).send("third time") is True
    assert len(fake.calls) == 3
    assert [m["text"] for m in fake.sent_messages()] == ["third time"]


def test_server_down_returns_false_without_raising(fake, debug_logs):
    url = fake.base_url
    fake.stop()
    down = TelegramNotifier(TOKEN, CHAT, url, backoff=0.01, network_attempts=2)
    assert down.send("anyone there?") is False
    err = debug_logs.readouterr().err
    assert "telegram network error; retrying" in err
    assert "telegram unreachable; message dropped" in err
    assert TOKEN not in err


def test_disabled_notifier_sends_nothing_and_says_so_once(fake, debug_logs):
    for silent in (
        TelegramNotifier(None, CHAT, fake.base_url),
        TelegramNotifier(TOKEN, None, fake.base_url),
        TelegramNotifier("  ", "", fake.base_url),
    ):
        assert not silent.enabled
        assert silent.send("x") is False and silent.send("y") is False
        assert asyncio.run(silent.send_async("z")) is False
    assert fake.calls == []
    err = debug_logs.readouterr().err
    assert err.count("telegram notifications disabled") == 3


def test_send_works_from_inside_a_running_event_loop_and_async(fake):
    async def live_loop() -> tuple[bool, bool]:
        n = notifier(fake)
        return n.send("from sync call in a loop"), await n.send_async("awaited")

    assert asyncio.run(live_loop()) == (True, True)
    assert [m["text"] for m in fake.sent_messages()] == ["from sync call in a loop", "awaited"]


def test_token_never_reaches_logs_at_debug(fake, debug_logs):
    n = notifier(fake)
    assert n.send("ok")
    fake.fail_next("sendMessage", "rate_limit", retry_after=1)
    fake.fail_next("sendMessage", "drop")
    assert n.send("rate limited then dropped then ok")
    notifier(fake, token=TOKEN + "-wrong").send("refused")
    err = debug_logs.readouterr().err
    assert "HTTP Request: POST" in err  # httpx's INFO line with the URL was logged …
    assert "sendMessage" in err  # … and PTB's DEBUG lines too
    assert TOKEN not in err
    assert TOKEN not in repr(n)


def test_token_stays_out_of_a_plain_stdlib_handler_too(fake):
    """Even a handler that is not awan's redacting one (a library default, a test harness)
    never sees the token: the notifier filters the HTTP client's own loggers."""
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler = Collect(level=logging.DEBUG)
    loggers = [logging.getLogger(n) for n in ("httpx", "httpcore.http11", "telegram.Bot")]
    saved = [(lg.level, lg.propagate) for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.DEBUG)
    try:
        assert notifier(fake).send("plain handler")
    finally:
        for lg, (level, _) in zip(loggers, saved, strict=True):
            lg.removeHandler(handler)
            lg.setLevel(level)
    assert any("HTTP Request: POST" in r for r in records)
    assert not any(TOKEN in r for r in records)


def test_secrets_inside_the_text_are_not_sent(fake):
    """A failure message can quote a connection string or a key; redact before sending."""
    n = notifier(fake)
    assert n.send(f"store down: postgresql://awan:hunter2pass@db/awan token={TOKEN}")
    [message] = fake.sent_messages()
    assert "hunter2pass" not in message["text"] and TOKEN not in message["text"]
    assert message["text"].startswith("store down: postgresql://awan:***@db/awan")
