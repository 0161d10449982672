"""The run-failure sensor: a failed run reaches Telegram, naming the job, run, step and error.

The run fails for real (an ingest partition whose exchange raises), the sensor is evaluated the
way the daemon does it (a first tick that sets the cursor, a tick after the failure), and the
alert is read back from the fake Bot API that PTB talked to.
"""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
import pytest

from awan_pipelines.definitions import build_definitions
from awan_pipelines.partitions import partition_key
from awan_pipelines.resources import ExchangeResource, TelegramResource
from awan_trading.notify.fake_bot_api import FakeBotApi

TOKEN = "awan-sensor-test-credential-42"
CHAT = "31337"


class FailingExchange(ExchangeResource):
    """The sim exchange, except that every candle request fails as a dead venue would."""

    def get(self):
        sim = super().get()

        class Down:
            name = sim.name
            now = staticmethod(sim.now)

            @staticmethod
            def fetch_ohlcv(symbol, timeframe, start, end):
                raise RuntimeError(f"exchange down while fetching {symbol}\nsecond line")

        return Down()


@pytest.fixture
def fake() -> Iterator[FakeBotApi]:
    with FakeBotApi(token=TOKEN) as server:
        yield server


@pytest.fixture
def no_telegram_env(monkeypatch):
    monkeypatch.delenv("AWAN_TELEGRAM_TOKEN", raising=False)


def tick(defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None):
    """One sensor evaluation as the daemon runs it, with the code location's resources."""
    sensor = defs.resolve_sensor_def("run_failure_alert")
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"telegram": defs.resources["telegram"]}
    )
    return sensor.evaluate_tick(context)


def fail_a_partition(defs: dg.Definitions, instance: dg.DagsterInstance) -> dg.ExecuteJobResult:
    result = defs.resolve_job_def("ingest_job").execute_in_process(
        instance=instance,
        partition_key=partition_key("2024-01-03", "BTC/USDT"),
        raise_on_error=False,
    )
    assert not result.success
    return result


def test_failed_run_is_alerted_with_job_run_step_and_error(
    config, settings, instance, fake, no_telegram_env
):
    telegram = TelegramResource(token=TOKEN, chat_id=CHAT, base_url=fake.base_url)
    defs = build_definitions(
        config, settings, {"exchange": FailingExchange(), "telegram": telegram}
    )
    first = tick(defs, instance, cursor=None)  # sets the cursor, as the daemon's first tick does
    assert fake.sent_messages() == []

    run_id = fail_a_partition(defs, instance).run_id
    second = tick(defs, instance, cursor=first.cursor)

    [message] = fake.sent_messages()
    assert message["chat_id"] == CHAT
    lines = message["text"].splitlines()
    assert lines[0] == "awan: run failed"
    assert "job: ingest_job" in lines
    assert f"run: {run_id}" in lines
    assert "partition: 2024-01-03|BTC/USDT" in lines
    assert "step: ohlcv_1h" in lines
    assert "error: RuntimeError: exchange down while fetching BTC/USDT" in lines
    assert "second line" not in message["text"]
    [reaction] = second.dagster_run_reactions
    assert reaction.dagster_run.run_id == run_id and reaction.error is None

    # The run is alerted once: the next tick starts after it.
    tick(defs, instance, cursor=second.cursor)
    assert len(fake.sent_messages()) == 1


def test_alert_failure_never_fails_the_tick(config, settings, instance, fake, no_telegram_env):
    """A revoked token loses the alert, but the sensor tick itself succeeds."""
    telegram = TelegramResource(token="revoked-credential-99", chat_id=CHAT, base_url=fake.base_url)
    defs = build_definitions(
        config, settings, {"exchange": FailingExchange(), "telegram": telegram}
    )
    cursor = tick(defs, instance, cursor=None).cursor
    fail_a_partition(defs, instance)
    [reaction] = tick(defs, instance, cursor=cursor).dagster_run_reactions
    assert reaction.error is None
    assert fake.sent_messages() == [] and [c.method for c in fake.calls] == ["sendMessage"]


def test_sensor_is_registered_running_and_telegram_disabled_without_a_token(
    duckdb_defs, no_telegram_env
):
    sensor = duckdb_defs.resolve_sensor_def("run_failure_alert")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    telegram = duckdb_defs.resources["telegram"]
    assert isinstance(telegram, TelegramResource)
    assert not telegram.notifier().enabled


def test_production_token_comes_from_the_environment_by_name(config, settings, monkeypatch):
    secret = "prod-telegram-credential-from-env"
    monkeypatch.setenv("AWAN_TELEGRAM_TOKEN", secret)
    defs = build_definitions(config, settings)
    dg.Definitions.validate_loadable(defs)
    telegram = defs.resources["telegram"]
    assert secret not in repr(telegram)
    assert "AWAN_TELEGRAM_TOKEN" in repr(telegram)
