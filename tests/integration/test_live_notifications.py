"""`awan live` with Telegram configured: what reaches every allowed chat during a replay.

The real command (a sim replay of 2 symbols, 5m, seven hours holding one boll_stoch round
trip, across a UTC midnight), with `AWAN_TELEGRAM_TOKEN`, `AWAN_TELEGRAM_CHAT_IDS` and
`AWAN_TELEGRAM_API_URL` pointing the real python-telegram-bot client at the fake Bot API.
"""

from __future__ import annotations

from typer.testing import CliRunner

from awan_trading.cli import app
from awan_trading.notify.fake_bot_api import FakeBotApi

TOKEN = "awan-live-notify-credential-3f"
CHATS = ("501", "-100502")
REPLAY = ["live", "--mode", "sim", "--execution", "inline", "--symbols", "BTC/USDT,ETH/USDT",
          "--timeframe", "5m", "--strategy", "boll_stoch",
          "--start", "2024-03-01T20:00", "--end", "2024-03-02T03:00"]  # fmt: skip


def test_a_replay_tells_every_chat_start_fills_daily_summary_and_stop(tmp_path, monkeypatch):
    with FakeBotApi(token=TOKEN) as fake:
        env = {
            "AWAN_STORE_URL": f"duckdb:///{tmp_path / 'live.duckdb'}",
            "AWAN_HOME": str(tmp_path),
            "AWAN_TELEGRAM_TOKEN": TOKEN,
            "AWAN_TELEGRAM_CHAT_IDS": ",".join(CHATS),
            "AWAN_TELEGRAM_API_URL": fake.base_url,
        }
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        for key in ("AWAN_REDIS_URL", "AWAN_CONFIG_FILE", "AWAN_TELEGRAM_CHAT_ID"):
            monkeypatch.delenv(key, raising=False)
        result = CliRunner().invoke(app, REPLAY)
        assert result.exit_code == 0, result.output
        messages = fake.sent_messages()
    assert TOKEN not in result.output
    by_chat = {chat: [m["text"] for m in messages if m["chat_id"] == chat] for chat in CHATS}
    assert by_chat[CHATS[0]] == by_chat[CHATS[1]]
    texts = by_chat[CHATS[0]]
    heads = [t.splitlines()[0] for t in texts]
    assert heads == [
        "<b>awan: awan started</b>",
        "<b>awan: entry filled BTC/USDT</b>",
        "<b>awan: awan daily summary 2024-03-01</b>",
        "<b>awan: exit filled BTC/USDT</b>",
        "<b>awan: awan stopped</b>",
    ]
    assert "detail: boll_stoch on BTC/USDT,ETH/USDT 5m · sim · inline" in texts[0]
    assert "reason: boll_stoch entry signal" in texts[1]
    summary = texts[2].splitlines()
    assert "closed trades: 0 (0 won, 0 lost)" in summary and "open: BTC/USDT" in summary
    exit_lines = texts[3].splitlines()
    assert any(line.startswith("pnl: ") and line.endswith(" %)") for line in exit_lines)
    assert "reason: boll_stoch exit signal" in exit_lines
    assert all(m["parse_mode"] == "HTML" for m in messages)


def test_without_a_token_nothing_is_sent(tmp_path, monkeypatch):
    with FakeBotApi(token=TOKEN) as fake:
        monkeypatch.setenv("AWAN_STORE_URL", f"duckdb:///{tmp_path / 'quiet.duckdb'}")
        monkeypatch.setenv("AWAN_HOME", str(tmp_path))
        monkeypatch.setenv("AWAN_TELEGRAM_CHAT_IDS", "501")
        monkeypatch.setenv("AWAN_TELEGRAM_API_URL", fake.base_url)
        for key in ("AWAN_REDIS_URL", "AWAN_CONFIG_FILE", "AWAN_TELEGRAM_TOKEN"):
            monkeypatch.delenv(key, raising=False)
        short = [*REPLAY[:-4], "--start", "2024-03-01T20:00", "--end", "2024-03-01T20:30"]
        result = CliRunner().invoke(app, short)
        assert result.exit_code == 0, result.output
        assert fake.calls == []
