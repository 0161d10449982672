"""`awan status|balance|profit|daily|performance|pause|resume|forceexit` and `awan telegram
test`, through the real commands on a real DuckDB store (and the fake Bot API).

`awan status --json` and the bot's `/status` are asked about the same store and must say the
same thing: both call `control.status`, and this is where that is held.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from awan_trading.cli import app
from awan_trading.config import load_config, load_settings
from awan_trading.control import open_context
from awan_trading.notify.fake_bot_api import FakeBotApi
from awan_trading.notify.replies import num, signed
from awan_trading.storage import open_store
from tests.integration.control_fixtures import BOT, Trading, make_trading
from tests.integration.test_telegram_bot import CHAT, TOKEN, Running

runner = CliRunner()
CONFIG = """
[universe]
exchange = "sim"
symbols = ["BTC/USDT", "ETH/USDT"]

[strategy]
name = "boll_stoch"
timeframe = "1h"
"""

pytestmark = pytest.mark.filterwarnings("ignore:.*attribute `retry_after`:DeprecationWarning")


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """AWAN_* pointing at a store, a home and a config under tmp_path; no Telegram settings."""
    for key in ("AWAN_REDIS_URL", "AWAN_TELEGRAM_TOKEN", "AWAN_TELEGRAM_CHAT_ID",
                "AWAN_TELEGRAM_CHAT_IDS", "AWAN_TELEGRAM_API_URL"):  # fmt: skip
        monkeypatch.delenv(key, raising=False)
    (tmp_path / "awan.toml").write_text(CONFIG)
    monkeypatch.setenv("AWAN_STORE_URL", f"duckdb:///{tmp_path / 'awan.duckdb'}")
    monkeypatch.setenv("AWAN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("AWAN_CONFIG_FILE", str(tmp_path / "awan.toml"))
    return tmp_path


@pytest.fixture
def trading(env: Path) -> Iterator[Trading]:
    store = open_store(f"duckdb:///{env / 'awan.duckdb'}", migrate=True)
    yield make_trading(store)
    store.close()


def awan(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_awan_status_json_and_the_bots_status_agree_on_one_store(trading, env):
    code, out, _ = awan("status", "--json")
    assert code == 0, out
    cli = json.loads(out)
    ctx = open_context(load_settings(), load_config(), bot=BOT, store=trading.store)
    with FakeBotApi(token=TOKEN) as fake, Running(fake, ctx) as bot:
        text = bot.ask("/status")["text"]
    assert (cli["bot"], cli["mode"], cli["paused"]) == ("awan", "sim", False)
    assert f"<b>{cli['bot']}</b> · {cli['mode']}" in text and "paused: no" in text
    assert f"({cli['heartbeat_status']})" in text
    today, unrealized = signed(cli["today_realized_pnl"]), signed(cli["unrealized_pnl"])
    assert today == signed(trading.facts.today_pnl) and unrealized == signed(
        trading.facts.unrealized
    )
    assert f"today: realized {today} · unrealized {unrealized}" in text
    (position,) = cli["positions"]
    assert (position["symbol"], position["mark"]["source"]) == ("ETH/USDT", "candle")
    assert (
        f"<b>ETH/USDT</b> {num(position['amount'])} @ {num(position['entry_price'])} · last close "
        f"{num(position['mark']['price'])} · {signed(position['unrealized_pnl'])}" in text
    )
    for candle in cli["candles"]:
        closed = candle["closed_at"].replace("T", " ")[:16]
        assert f"{candle['symbol']}: {closed} UTC" in text


def test_money_commands_print_the_store(trading, env):
    f = trading.facts
    code, out, _ = awan("profit", "--json")
    assert code == 0
    profit = json.loads(out)
    assert profit["total"]["trades"] == 1
    assert profit["total"]["realized_pnl"] == pytest.approx(f.pnl)
    assert profit["total"]["unrealized_pnl"] == pytest.approx(f.unrealized)
    assert [s["strategy"] for s in profit["strategies"]] == ["boll_stoch"]
    code, out, _ = awan("profit", "--since", "2100-01-01", "--json")
    assert json.loads(out)["total"]["trades"] == 0
    code, out, _ = awan("daily", "--days", "3")
    assert code == 0 and signed(f.pnl) in out and out.count("│ 20") == 3
    code, out, _ = awan("performance")
    assert code == 0 and "BTC/USDT" in out and f"{f.pnl / f.btc_stake:+.2%}" in out
    code, out, _ = awan("balance", "--json")
    totals = {c["currency"]: c["total"] for c in json.loads(out)["currencies"]}
    assert totals == pytest.approx({"ETH": f.eth_amount, "USDT": f.usdt})
    code, out, _ = awan("status")
    assert code == 0 and "ETH/USDT" in out and "last close" not in out and "(candle)" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("forceexit", "XRP/USDT"),
            "error: force-exit: no open position in XRP/USDT (open: ETH/USDT)",
        ),
        (("forceexit", "not a symbol"), "error: force-exit: 'not a symbol' is not a symbol"),
        (("daily", "--days", "0"), "error: days must be between 1 and 366, got 0"),
        (("profit", "--since", "yesterday"), "error: invalid --since 'yesterday'"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_records_nothing(trading, env, args, message):
    code, out, err = awan(*args)
    assert code == 2 and err.startswith(message) and err.count("\n") == 1, err
    assert "Traceback" not in out + err
    assert trading.store.pending_controls(BOT) == []


def test_pause_resume_and_forceexit_are_recorded_as_the_cli_and_obeyed(trading, env):
    code, out, _ = awan("pause")
    assert code == 0 and "pause: request #1 recorded" in out
    assert "already paused" in awan("pause")[1]
    code, out, _ = awan("forceexit", "all", "--json")
    ack = json.loads(out)
    assert ack["symbols"] == ["ETH/USDT"] and ack["requested_by"] == "cli"
    requests = trading.store.pending_controls(BOT)
    assert [(r.action, r.symbol, r.requested_by) for r in requests] == [
        ("pause", None, "cli"), ("force_exit", None, "cli")]  # fmt: skip
    trading.executor.on_candle_close("ETH/USDT", {"high": 1.0})  # the loop's wake-up
    assert trading.executor.paused and trading.store.positions("sim") == []
    assert json.loads(awan("status", "--json")[1])["paused"] is True
    assert "resume: request #3 recorded" in awan("resume")[1]


@pytest.fixture
def fake() -> Iterator[FakeBotApi]:
    with FakeBotApi(token=TOKEN) as server:
        yield server


def telegram_env(monkeypatch: pytest.MonkeyPatch, fake: FakeBotApi, token: str = TOKEN) -> None:
    monkeypatch.setenv("AWAN_TELEGRAM_TOKEN", token)
    monkeypatch.setenv("AWAN_TELEGRAM_CHAT_IDS", f"{CHAT},42")
    monkeypatch.setenv("AWAN_TELEGRAM_CHAT_ID", "7")
    monkeypatch.setenv("AWAN_TELEGRAM_API_URL", fake.base_url)


def test_telegram_test_writes_to_every_allowed_chat(env, fake, monkeypatch):
    telegram_env(monkeypatch, fake)
    code, out, err = awan("telegram", "test")
    assert code == 0, err
    assert "sent to 3 chat(s)" in out
    assert [int(m["chat_id"]) for m in fake.sent_messages()] == [CHAT, 42, 7]


@pytest.mark.parametrize("fault", ["forbidden", "token"])
def test_telegram_test_exits_1_with_one_line_and_no_token(env, fake, monkeypatch, fault):
    if fault == "forbidden":
        telegram_env(monkeypatch, fake)
        fake.fail_next("sendMessage", "forbidden")
        expected = f"error: telegram test: chat {CHAT}: Forbidden: bot was blocked by the user"
    else:
        telegram_env(monkeypatch, fake, token="wrong-" + TOKEN)
        expected = "error: telegram test: the Bot API refused the bot"
    code, out, err = awan("telegram", "test")
    assert code == 1 and err.startswith(expected) and err.count("\n") == 1, err
    assert TOKEN not in out + err


def test_telegram_commands_without_a_token_or_chats_exit_2(env, monkeypatch):
    assert awan("telegram", "test")[0] == 2
    assert "AWAN_TELEGRAM_TOKEN is not set" in awan("telegram", "bot")[2]
    monkeypatch.setenv("AWAN_TELEGRAM_TOKEN", TOKEN)
    code, _, err = awan("telegram", "bot")
    assert code == 2 and "AWAN_TELEGRAM_CHAT_IDS" in err and TOKEN not in err


def test_the_bot_command_with_a_rejected_token_exits_1_with_one_line(env, fake, monkeypatch):
    telegram_env(monkeypatch, fake, token="revoked-" + TOKEN)
    code, out, err = awan("telegram", "bot")
    assert code == 1 and err.startswith("error: telegram bot: ") and err.count("\n") == 1, err
    assert TOKEN not in out + err and "Traceback" not in out + err


def test_the_bot_command_serves_until_stopped(env, fake, monkeypatch):
    """`awan telegram bot` itself: polls the configured API URL and answers an allowed chat."""
    telegram_env(monkeypatch, fake)
    from awan_trading.notify import bot as bot_module

    stop = threading.Event()
    original = bot_module.ControlBot.run
    monkeypatch.setattr(bot_module.ControlBot, "run", lambda self, _stop: original(self, stop))
    thread = threading.Thread(target=lambda: awan("telegram", "bot"), daemon=True)
    thread.start()
    try:
        fake.push_update("/help", chat_id=42)
        import time

        deadline = time.monotonic() + 30
        while not fake.sent_messages():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert "<b>awan commands</b>" in fake.sent_messages()[0]["text"]
    finally:
        stop.set()
        thread.join(timeout=20)
