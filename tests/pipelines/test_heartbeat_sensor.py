"""The live loop's heartbeat alert: once when the loop stopped beating, once when it is back.

A real live loop (a short sim replay, which beats at every close and `stopped` at its end)
writes the heartbeats into a DuckDB store; the sensor is evaluated tick by tick against a real
DagsterInstance with the cursor each tick returned, as the daemon does, and its "now" is
moved forward to where the last beat is more than two candles old. The alerts are read back
from the fake Bot API, through the real python-telegram-bot client, in both allowed chats.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from awan_pipelines.definitions import build_definitions
from awan_pipelines.resources import StoreResource, TelegramResource
from awan_pipelines.sensors import HEARTBEAT_SENSOR, HeartbeatCursor, make_heartbeat_sensor
from awan_trading.config import AwanConfig
from awan_trading.live.runner import build_loop, plan_from, run_replay
from awan_trading.notify.fake_bot_api import FakeBotApi
from awan_trading.storage import open_store
from awan_trading.storage.memory_cache import MemoryCache

TOKEN = "awan-heartbeat-test-credential-7"
CHATS = ("101", "-100202")


@pytest.fixture
def fake() -> Iterator[FakeBotApi]:
    with FakeBotApi(token=TOKEN) as server:
        yield server


def test_the_alert_fires_once_for_a_stopped_loop_and_once_on_its_recovery(
    tmp_path, instance, fake, caplog
):
    url = f"duckdb:///{tmp_path / 'live.duckdb'}"
    config = AwanConfig()
    plan = plan_from(config, mode="sim", symbols="BTC/USDT", timeframe="5m",
                     start="2024-03-01T10:00", end="2024-03-01T10:30", bot="awan")  # fmt: skip
    store = open_store(url, migrate=True)
    loop, clock = build_loop(plan, config, store, MemoryCache())
    run_replay(loop, clock, plan)  # beats at every close, then "stopped"
    assert store.last_heartbeat("awan")[1] == "stopped"

    shift = [timedelta(0)]
    sensor = make_heartbeat_sensor("awan", "5m", clock=lambda: datetime.now(UTC) + shift[0])
    resources = {
        "store": StoreResource(url=url),
        "telegram": TelegramResource(token=TOKEN, chat_id=",".join(CHATS), base_url=fake.base_url),
    }

    def tick(cursor: str | None):
        # As the daemon runs a tick: resources set up for it and torn down after it.
        with dg.build_sensor_context(
            instance=instance, cursor=cursor, resources=resources
        ) as context:
            return sensor.evaluate_tick(context)

    def texts() -> list[str]:
        return [m["text"] for m in fake.sent_messages()]

    fresh = tick(None)  # just stopped: the beat is seconds old
    assert texts() == [] and not HeartbeatCursor.parse(fresh.cursor).down
    assert "awan alive" in fresh.skip_message

    shift[0] = timedelta(minutes=9)  # under two candles (10 min): nothing yet
    cursor = tick(fresh.cursor).cursor
    assert texts() == []

    shift[0] = timedelta(minutes=11)
    down = tick(cursor)
    assert HeartbeatCursor.parse(down.cursor).down
    assert [m["chat_id"] for m in fake.sent_messages()] == list(CHATS)
    assert all(m["parse_mode"] == "HTML" for m in fake.sent_messages())
    alert = texts()[0].splitlines()
    assert alert[0] == "<b>awan: live loop awan is down</b>"
    assert alert[1].startswith("last beat: 11 min ago")
    assert "last status: stopped" in alert and "limit: 10 min" in alert

    for minutes in (12, 60, 600):  # still down: no second alert
        shift[0] = timedelta(minutes=minutes)
        down = tick(down.cursor)
    assert len(texts()) == 2 and HeartbeatCursor.parse(down.cursor).down

    loop.tick()  # the loop beats again ("ok tick")
    shift[0] = timedelta(0)
    back = tick(down.cursor)
    assert not HeartbeatCursor.parse(back.cursor).down
    assert len(texts()) == 4
    recovered = texts()[2].splitlines()
    assert recovered[0] == "<b>awan: live loop awan is back</b>"
    assert "status: ok tick" in recovered
    assert texts()[3] == texts()[2]  # the second chat got the same

    again = tick(back.cursor)
    assert len(texts()) == 4 and not HeartbeatCursor.parse(again.cursor).down
    assert TOKEN not in caplog.text


def test_a_bot_that_never_beat_is_not_alerted(tmp_path, instance, fake):
    url = f"duckdb:///{tmp_path / 'empty.duckdb'}"
    open_store(url, migrate=True).close()
    sensor = make_heartbeat_sensor("awan", "1h")
    with dg.build_sensor_context(
        instance=instance,
        resources={"store": StoreResource(url=url),
                   "telegram": TelegramResource(token=TOKEN, chat_id="1", base_url=fake.base_url)},
    ) as context:  # fmt: skip
        result = sensor.evaluate_tick(context)
    assert "never written a heartbeat" in result.skip_message
    assert fake.calls == []


def test_the_heartbeat_sensor_is_registered_for_the_strategy_timeframe(config, settings):
    defs = build_definitions(config, settings)
    sensor = defs.resolve_sensor_def(HEARTBEAT_SENSOR)
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert "2 1h candles" in (sensor.description or "")
    assert {"store", "telegram"} <= set(sensor.required_resource_keys)
