"""Close → order acknowledged with a Telegram that hangs, against no Telegram at all.

The same inline sim replay (3 symbols × 1m, boll_stoch, DuckDB store) runs `--rounds` times
each way, alternating, so load drifts on a shared machine hit both sides alike: with the
notification outbox sending to the loopback fake Bot API, whose every `sendMessage` hangs for
30 s (the sender is stuck in its first message before the first close), and with no notifier.
The latency of each order is the time from the start of its candle close's step to the
executor returning with the exchange's acknowledgement, as `benchmarks/live.py` measures it.

Run: `.venv/bin/python benchmarks/notify_latency.py [--hours 4] [--rounds 2]`.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from machine import cpu_model

from awan_trading.config import AwanConfig
from awan_trading.live.runner import build_loop, plan_from, run_replay
from awan_trading.notify.fake_bot_api import FakeBotApi
from awan_trading.notify.outbox import NotificationOutbox
from awan_trading.notify.telegram import TelegramNotifier
from awan_trading.storage import open_store
from awan_trading.storage.memory_cache import MemoryCache
from awan_trading.testing.latency import time_acknowledgements

SYMBOLS = "BTC/USDT,ETH/USDT,SOL/USDT"
TOKEN = "bench-bot-credential"
START = datetime(2024, 3, 1, 20)


def replay(tmp: Path, name: str, hours: int, outbox: NotificationOutbox | None) -> list[float]:
    config = AwanConfig()
    end = (START + timedelta(hours=hours)).isoformat(timespec="minutes")
    plan = plan_from(config, mode="sim", execution="inline", symbols=SYMBOLS, timeframe="1m",
                     strategy="boll_stoch", start=START.isoformat(timespec="minutes"), end=end)  # fmt: skip
    store = open_store(f"duckdb:///{tmp / f'{name}.duckdb'}", migrate=True)
    loop, clock = build_loop(plan, config, store, MemoryCache(), notifier=outbox)
    latencies = time_acknowledgements(loop)
    run_replay(loop, clock, plan)  # type: ignore[arg-type]
    return latencies


def hanging(tmp: Path, name: str, hours: int) -> list[float]:
    with FakeBotApi(token=TOKEN) as fake:
        fake.fail_next("sendMessage", "hang", hang_seconds=30, times=10_000)
        notifier = TelegramNotifier(TOKEN, "1,2", fake.base_url, timeout=35)
        outbox = NotificationOutbox(notifier).start()
        outbox.send("started")
        while fake.hanging == 0:
            time.sleep(0.01)
        latencies = replay(tmp, name, hours, outbox)
        assert fake.sent_messages() == [], "a message got through: the fake did not hang"
        outbox.close(0.5)
    outbox.join(30)
    return latencies


def _pct(values: list[float]) -> str:
    a = np.asarray(values)
    return (f"n={a.size} p50 {np.percentile(a, 50):.0f} ms, p90 {np.percentile(a, 90):.0f} ms, "
            f"max {a.max():.0f} ms")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=int, default=4, help="replay length (1m candles)")
    parser.add_argument("--rounds", type=int, default=2, help="replays each way, alternating")
    args = parser.parse_args()
    print(f"machine: {cpu_model()}")
    hung: list[float] = []
    quiet: list[float] = []
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        for i in range(args.rounds):
            hung += hanging(tmp, f"hung{i}", args.hours)
            quiet += replay(tmp, f"quiet{i}", args.hours, None)
    print(f"close → order acknowledged, Telegram hanging 30 s: {_pct(hung)}")
    print(f"close → order acknowledged, no Telegram:           {_pct(quiet)}")


if __name__ == "__main__":
    main()
