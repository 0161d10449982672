"""The `execute_signal` job's `notify` step: the fill message the live loop sends inline, sent
once to every allowed chat, through the real python-telegram-bot client and the fake Bot API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from awan_pipelines.assets.market import ohlcv_key
from awan_pipelines.definitions import build_definitions
from awan_pipelines.execution import JOB_NAME, signal_run_request
from awan_pipelines.partitions import partition_key
from awan_pipelines.resources import TelegramResource
from awan_trading.domain.ids import client_order_id
from awan_trading.notify.fake_bot_api import FakeBotApi
from tests.pipelines.execution_fixtures import share, sim_venue
from tests.pipelines.signal_rows import signal_frame

CANDLE = datetime(2024, 3, 1, 10, tzinfo=UTC)
NOW = CANDLE + timedelta(hours=1, seconds=3)
SYMBOL = "BTC/USDT"
TOKEN = "awan-exec-notify-credential-2c"
CHATS = "601,602"


def test_the_run_that_places_the_order_sends_its_fill_once_to_every_chat(
    config, settings, instance, request
):
    venue = sim_venue(lambda: NOW)
    with FakeBotApi(token=TOKEN) as fake:
        telegram = TelegramResource(token=TOKEN, chat_id=CHATS, base_url=fake.base_url)
        defs = build_definitions(
            config, settings, {"exchange": share(request.node.name, venue), "telegram": telegram}
        )
        store = defs.resources["store"].get()
        assert (
            defs.resolve_implicit_global_asset_job_def()
            .execute_in_process(
                instance=instance,
                partition_key=str(partition_key("2024-03-01", SYMBOL)),
                asset_selection=[ohlcv_key("1h")],
            )
            .success
        )
        price = venue.fetch_ohlcv(SYMBOL, "1h", CANDLE, CANDLE + timedelta(hours=1))["close"][0]
        store.insert_signals("sim", signal_frame([(SYMBOL, CANDLE, "buy", price)]))
        row = store.signals_after(0).row(-1, named=True)
        run = signal_run_request(row)
        job = defs.resolve_job_def(JOB_NAME)
        for _ in range(2):  # a re-delivery resumes the order and stays quiet
            assert job.execute_in_process(
                run_config=run.run_config, tags=run.tags, instance=instance
            ).success
        messages = fake.sent_messages()
    assert [m["chat_id"] for m in messages] == CHATS.split(",")
    lines = messages[0]["text"].splitlines()
    order = store.orders().filter(client_order_id=client_order_id(row["signal_id"], "entry"))
    assert lines[0] == "<b>awan: entry filled BTC/USDT</b>"
    assert f"price: {order['average'][0]:.10g} USDT" in lines
    assert f"fee: {order['fee'][0]:.10g} USDT" in lines
    assert "reason: boll_stoch entry signal" in lines
    assert f"signal: {row['signal_id']}" in lines
    assert messages[0]["parse_mode"] == "HTML"
