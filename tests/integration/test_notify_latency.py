"""A Telegram that hangs never delays an order: the order path only queues notifications.

The same inline replay (2 symbols, 5m, seven hours holding a boll_stoch round trip, across a
UTC midnight so the daily summary is due too) runs twice in this test: with the outbox sending
to a fake Bot API whose every `sendMessage` hangs for 30 s, then without Telegram. The
sender is blocked in its first message ("started") before the first close; every order of the
second replay must be acknowledged while it is still blocked, and the two replays must place
the same orders. The close → order latencies of both runs are printed, not asserted: on a
shared machine they are noise-bound, and the claim is that the order path never waited on the
sender, which the blocked sender shows directly.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from awan_trading.config import AwanConfig
from awan_trading.live.alerts import DailyDigest, notifying
from awan_trading.live.runner import build_loop, plan_from, run_replay
from awan_trading.notify.fake_bot_api import FakeBotApi
from awan_trading.notify.outbox import NotificationOutbox
from awan_trading.notify.telegram import TelegramNotifier
from awan_trading.storage import open_store
from awan_trading.storage.memory_cache import MemoryCache
from awan_trading.testing.latency import time_acknowledgements

TOKEN = "awan-latency-test-credential-5d"
START, END = "2024-03-01T20:00", "2024-03-02T03:00"

pytestmark = pytest.mark.filterwarnings("ignore:.*attribute `retry_after`:DeprecationWarning")


class Watched:
    """The Telegram notifier, counting the sends in progress (the sender thread's)."""

    def __init__(self, inner: TelegramNotifier) -> None:
        self.inner = inner
        self.busy = 0

    def send(self, text: str, *, html: bool = False) -> bool:
        self.busy += 1
        try:
            return self.inner.send(text, html=html)
        finally:
            self.busy -= 1


def replay(
    tmp: Path, name: str, outbox: NotificationOutbox | None, on_ack
) -> tuple[list[float], list]:
    config = AwanConfig()
    plan = plan_from(config, mode="sim", execution="inline", symbols="BTC/USDT,ETH/USDT",
                     timeframe="5m", strategy="boll_stoch", start=START, end=END)  # fmt: skip
    store = open_store(f"duckdb:///{tmp / f'{name}.duckdb'}", migrate=True)
    loop, clock = build_loop(plan, config, store, MemoryCache(), notifier=outbox)
    latencies = time_acknowledgements(loop, on_ack)
    digest = DailyDigest(store, plan.venue, plan.bot, outbox, plan.symbols)
    run_replay(loop, clock, plan, digest.on_step)  # type: ignore[arg-type]
    orders = store.orders().sort("client_order_id").select(
        "client_order_id", "status", "filled", "average"
    ).rows()  # fmt: skip
    return latencies, orders


def pct(values: list[float]) -> str:
    return (
        f"p50 {np.percentile(values, 50):.0f} ms, max {max(values):.0f} ms ({len(values)} orders)"
    )


def test_a_hanging_telegram_never_delays_an_order(tmp_path: Path) -> None:
    # The run with the hanging Telegram goes first, so it also pays the process's warm-up
    # (first imports and compilations): any bias is against the claim, not for it.
    with FakeBotApi(token=TOKEN) as fake:
        fake.fail_next("sendMessage", "hang", hang_seconds=30, times=1000)
        notifier = Watched(TelegramNotifier(TOKEN, "1,2", fake.base_url, timeout=35))
        outbox = NotificationOutbox(notifier).start()
        acks: list[tuple[int, int, int]] = []  # (sends in progress, delivered, queued) per ack

        def on_ack(_result: Any) -> None:
            acks.append((notifier.busy, len(fake.sent_messages()), outbox.pending))

        started = time.monotonic()
        with notifying(outbox, "awan", "latency test", flush=0.5):
            deadline = time.monotonic() + 10
            while fake.hanging == 0:  # "started" is on the wire, unanswered
                assert time.monotonic() < deadline, "the sender never reached the fake"
                time.sleep(0.01)
            hung, hung_orders = replay(tmp_path, "hung", outbox, on_ack)
        elapsed = time.monotonic() - started
        dropped = outbox.dropped
    # The fake is stopped (its hangs released); the sender gives up on a server that is gone.
    assert outbox.join(30)
    quiet, quiet_orders = replay(tmp_path, "quiet", None, lambda _r: None)
    assert quiet, "the window must trade"

    print(f"\nclose → order acknowledged, no Telegram:      {pct(quiet)}")
    print(f"close → order acknowledged, Telegram hanging: {pct(hung)}")
    print(f"replay with the hanging Telegram took {elapsed:.1f} s; {dropped} notice(s) dropped")
    assert hung_orders == quiet_orders  # notifications change no order
    assert len(acks) == len(hung) == len(quiet)
    # Every order was acknowledged while the sender was stuck in its first message, with
    # nothing delivered: the order path never waited for it.
    assert all(busy == 1 and delivered == 0 for busy, delivered, _ in acks), acks
    assert acks[-1][2] >= 2  # the fills were queued behind it
    assert dropped >= 2  # and dropped at shutdown, one log line each
