"""The text of awan's Telegram messages: short, complete, and safe to send as HTML."""

from __future__ import annotations

from pydantic import SecretStr

from awan_trading.config import Settings
from awan_trading.logs import redact
from awan_trading.notify import TelegramNotifier, format_fill, format_run_failure, format_signal
from awan_trading.notify.messages import first_line


def test_run_failure_names_job_run_step_and_first_error_line():
    text = format_run_failure(
        job="ingest_job",
        run_id="8f1c2d3e-0000",
        step="ohlcv_1h",
        error="\n  RuntimeError: exchange down\nTraceback (most recent call last):\n  ...",
        partition="2024-01-03|BTC/USDT",
    )
    assert text == (
        "awan: run failed\n"
        "job: ingest_job\n"
        "run: 8f1c2d3e-0000\n"
        "partition: 2024-01-03|BTC/USDT\n"
        "step: ohlcv_1h\n"
        "error: RuntimeError: exchange down"
    )


def test_run_failure_leaves_out_what_is_unknown():
    assert format_run_failure("reports_job", "r1") == "awan: run failed\njob: reports_job\nrun: r1"


def test_signal_and_fill_messages():
    assert format_signal("ema_trend", "ETH/USDT", "BUY", 2345.6, "sig-42") == (
        "awan: buy signal ETH/USDT\nstrategy: ema_trend\nsymbol: ETH/USDT\n"
        "price: 2345.6\nsignal: sig-42"
    )
    assert format_fill("BTC/USDT", "sell", 0.1 + 0.2, 42000.5, "awan-abc") == (
        "awan: sell filled BTC/USDT\nsymbol: BTC/USDT\nside: sell\namount: 0.3\n"
        "price: 42000.5\norder: awan-abc"
    )


def test_html_escapes_every_value_and_bolds_only_the_headline():
    text = format_run_failure("job<x>", "r&1", error="ValueError: high < low at 05:00", html=True)
    assert text == (
        "<b>awan: run failed</b>\njob: job&lt;x&gt;\nrun: r&amp;1\n"
        "error: ValueError: high &lt; low at 05:00"
    )
    assert "<b>" not in format_signal("s", "A/B", "buy", 1.0, "id")


def test_first_line_is_cut_to_its_limit():
    assert first_line("x" * 500, limit=10) == "x" * 9 + "…"
    assert first_line(None) == "" and first_line("\n \n") == ""


def test_notifier_hides_its_token_from_repr_and_registers_it_for_redaction():
    token = "unit-test-credential-0b9d4e"
    notifier = TelegramNotifier(SecretStr(token), 123)
    assert notifier.enabled
    assert token not in repr(notifier) and "123" in repr(notifier)
    assert redact(f"boom {token}") == "boom ***"


def test_notifier_from_settings_is_disabled_without_a_token(monkeypatch):
    monkeypatch.delenv("AWAN_TELEGRAM_TOKEN", raising=False)
    assert not TelegramNotifier.from_settings(
        Settings(_env_file=None, telegram_chat_id="1")
    ).enabled
    configured = Settings(
        _env_file=None, telegram_token=SecretStr("a-b-c-d-e-f"), telegram_chat_id="1"
    )
    assert TelegramNotifier.from_settings(configured).enabled
