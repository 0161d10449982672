"""`awan live`'s own messages around the loop: started, stopped (and why), errors forwarded."""

from __future__ import annotations

import logging

import pytest

from awan_trading.live.alerts import notifying
from awan_trading.logs import configure_logging, get_logger
from awan_trading.notify.outbox import NotificationOutbox, OutboxLimits
from tests.unit.test_notify_outbox import FAST, Recorder


@pytest.fixture(autouse=True)
def structlog_to_stdlib():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    configure_logging(level="INFO", fmt="console")
    yield
    root.handlers, root.level = handlers, level


def test_a_run_that_ends_on_an_error_says_so_and_its_error_logs_were_sent():
    notifier = Recorder()
    outbox = NotificationOutbox(notifier, FAST).start()
    with pytest.raises(RuntimeError), notifying(outbox, "awan", "boll_stoch on BTC/USDT", flush=5):
        get_logger("awan_trading.live.feed").error("candles refused", error="gap at 12:00")
        raise RuntimeError("exchange gone\ntraceback line")
    heads = [t.splitlines()[0] for t in notifier.texts]
    assert heads == ["<b>awan: awan started</b>", "<b>awan: error</b>", "<b>awan: awan stopped</b>"]
    assert "error: candles refused: gap at 12:00" in notifier.texts[1]
    assert notifier.texts[2].endswith("detail: on an error: exchange gone")
    # After the block nothing is forwarded any more, and the outbox is closed.
    get_logger("awan_trading.live.feed").error("after the run")
    assert len(notifier.texts) == 3 and not outbox.post_error("late")


def test_a_clean_run_says_started_and_stopped_and_without_an_outbox_nothing_happens():
    notifier = Recorder()
    outbox = NotificationOutbox(notifier, OutboxLimits()).start()
    with notifying(outbox, "bot2", "ema_trend", flush=5):
        pass
    assert [t.splitlines()[0] for t in notifier.texts] == [
        "<b>awan: bot2 started</b>",
        "<b>awan: bot2 stopped</b>",
    ]
    with notifying(None, "bot2", "ema_trend"):
        pass
