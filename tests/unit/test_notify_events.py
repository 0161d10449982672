"""The live loop's notices as Telegram HTML: values escaped, numbers clean, signs explicit."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser

from awan_trading.notify.events import (
    DaySummary,
    FillFacts,
    error_notice,
    fill_notice,
    heartbeat_recovered_notice,
    heartbeat_stale_notice,
    lifecycle_notice,
    number,
    refusal_notice,
    signed,
    summary_notice,
)


class _Tags(HTMLParser):
    """Collects the tags and the text Telegram's HTML parser would see."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.text = ""

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text += data


def parsed(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    parser.close()
    return parser


def exit_facts(**overrides) -> FillFacts:
    base = dict(
        symbol="BTC/USDT", side="sell", price=41000.25, amount=0.1 + 0.2, fee=12.3,
        fee_currency="USDT", client_order_id="x-abc_def", reason="boll_stoch exit signal",
        signal_id="sig_1", pnl=-123.456, pnl_pct=-2.5,
    )  # fmt: skip
    return FillFacts(**{**base, **overrides})


def test_an_exit_fill_shows_price_amount_fee_signed_pnl_and_reason():
    notice = fill_notice(exit_facts())
    assert notice.kind == "fill" and notice.html
    assert notice.text.splitlines() == [
        "<b>awan: exit filled BTC/USDT</b>",
        "side: sell",
        "price: 41000.25 USDT",
        "amount: 0.3",
        "fee: 12.3 USDT",
        "pnl: -123.46 USDT (-2.50 %)",
        "reason: boll_stoch exit signal",
        "order: x-abc_def",
        "signal: sig_1",
    ]
    assert parsed(notice.text).tags == ["b"]  # underscores and slashes need no escaping


def test_an_entry_has_no_pnl_and_a_winning_exit_a_plus_sign():
    entry = fill_notice(
        exit_facts(side="buy", pnl=None, pnl_pct=None, reason="ema_trend entry signal")
    )
    assert entry.text.startswith("<b>awan: entry filled BTC/USDT</b>")
    assert "pnl" not in entry.text
    assert "pnl: +5.00 USDT (+0.10 %)" in fill_notice(exit_facts(pnl=5.0, pnl_pct=0.1)).text


def test_protective_fills_read_as_the_stop_or_target_they_were():
    stop = fill_notice(exit_facts(reason="stop_loss"))
    assert stop.kind == "stop" and stop.text.startswith("<b>awan: stop hit BTC/USDT</b>")
    assert fill_notice(exit_facts(reason="trailing_stop")).text.startswith(
        "<b>awan: trailing stop hit"
    )
    assert fill_notice(exit_facts(reason="take_profit")).text.startswith("<b>awan: target hit")


def test_outside_text_is_escaped_so_telegram_takes_it_literally():
    refusal = refusal_notice(
        "BTC/USDT", "below_min_notional", "BTC/USDT: 0.5 < 10 & a <b>tag</b>\nsecond line", "s<1>"
    )
    tags = parsed(refusal.text)
    assert tags.tags == ["b"]
    assert "why: BTC/USDT: 0.5 < 10 & a <b>tag</b>" in tags.text
    assert "second line" not in refusal.text
    assert "&lt;b&gt;tag&lt;/b&gt;" in refusal.text and "&amp;" in refusal.text
    error = error_notice("ValueError: x < 0 for <SOL/USDT>\n  traceback", "awan_trading.live")
    assert parsed(error.text).tags == ["b"]
    assert error.key == "awan_trading.live|ValueError: x < 0 for <SOL/USDT>"
    assert error_notice("ValueError: x < 0 for <SOL/USDT>\n  other", "awan_trading.live").key == (
        error.key
    )


def test_numbers_have_no_float_noise_and_no_negative_zero():
    assert number(0.1 + 0.2) == "0.3" and number(-0.0) == "0" and number(-1.5e-7) == "-1.5e-07"
    assert signed(-0.001) == "0.00" and signed(0.0) == "0.00" and signed(-0.006) == "-0.01"


def test_lifecycle_summary_and_heartbeat_notices():
    assert lifecycle_notice("paused", "awan", "trading paused (stops keep working)").text == (
        "<b>awan: awan paused</b>\ndetail: trading paused (stops keep working)"
    )
    summary = summary_notice(
        DaySummary(date(2024, 3, 1), 3, 2, 1, -4.5, 1.25, "USDT", ["ETH/USDT"], 9995.5,
                   ("BTC/USDT", 3.0), ("SOL/USDT", -10.0)),
        "awan",
    )  # fmt: skip
    assert summary.kind == "summary"
    assert summary.text.splitlines() == [
        "<b>awan: awan daily summary 2024-03-01</b>",
        "closed trades: 3 (2 won, 1 lost)",
        "pnl: -4.50 USDT",
        "fees: 1.25 USDT",
        "best: BTC/USDT +3.00 USDT",
        "worst: SOL/USDT -10.00 USDT",
        "open: ETH/USDT",
        "equity: 9995.50 USDT",
    ]
    at = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
    down = heartbeat_stale_notice(
        "awan", timedelta(minutes=11), timedelta(minutes=10), "stopped", at
    )
    assert down.kind == "alert"
    assert down.text.splitlines()[:3] == [
        "<b>awan: live loop awan is down</b>",
        "last beat: 11 min ago (2024-03-01T12:00:00+00:00)",
        "last status: stopped",
    ]
    back = heartbeat_recovered_notice("awan", timedelta(hours=3), "ok tick")
    assert back.text.splitlines() == [
        "<b>awan: live loop awan is back</b>",
        "down for: 3.0 h",
        "status: ok tick",
    ]
