"""The bot's replies are HTML Telegram accepts: only `<b>` tags, every value escaped.

Telegram refuses a whole message whose HTML does not parse, so a symbol, a strategy name or an
error message carrying `<`, `&` or `>` must arrive escaped, while `/`, `_` and `-` (which
MarkdownV2 would need escaped) arrive as they are.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from html.parser import HTMLParser

import pytest

from awan_trading.control.actions import COMMANDS, ControlAck, Refusal
from awan_trading.control.context import Mark
from awan_trading.control.money import (
    DailyReport,
    DayProfit,
    OpenPosition,
    PairPerformance,
    PerformanceReport,
    ProfitReport,
    StrategyProfit,
)
from awan_trading.control.status import CandleAge, LastError, StatusReport
from awan_trading.notify import replies

NOW = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
STRATEGY = "my_<fast>&strategy"


class Tags(HTMLParser):
    """The tags and the visible text of a message, as Telegram's parser would see them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.open = 0
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append(tag)
        self.open += 1

    def handle_endtag(self, tag: str) -> None:
        self.open -= 1

    def handle_data(self, data: str) -> None:
        self.text += data


def parsed(message: str) -> Tags:
    tags = Tags()
    tags.feed(message)
    tags.close()
    assert set(tags.tags) <= {"b"} and tags.open == 0, message
    return tags


def position(symbol: str = "BTC/USDT", price: float | None = 41_000.0) -> OpenPosition:
    mark = None if price is None else Mark(price, "candle", NOW)
    return OpenPosition(symbol, STRATEGY, 0.5, 42_000.0, 21_010.0, NOW, 40_000.0, None, mark)


def status() -> StatusReport:
    return StatusReport(
        bot="awan_main", mode="paper:binance", execution="inline", checked_at=NOW,
        started_at=datetime(2026, 1, 1, 9, 30, tzinfo=UTC), heartbeat_at=NOW,
        heartbeat_status="ok close=2026-01-02T12:00:00+00:00", candles=(
            CandleAge("BTC/USDT", NOW, 65.0), CandleAge("ETH/USDT", None, None)),
        positions=(position(), position("ETH/USDT", None)), today_realized_pnl=-12.5,
        paused=True, pending_controls=("resume (by telegram:-100)",),
        last_error=LastError(NOW, "order_unknown", "price < stop & <b>oops</b>"),
        status_file="/var/lib/awan/status/awan_main.json", status_file_written_at=NOW,
    )  # fmt: skip


def test_status_is_escaped_and_keeps_symbols_signs_and_underscores_as_they_are():
    message = replies.reply_status(status())
    text = parsed(message).text
    assert "price < stop & <b>oops</b>" in text  # arrived as text, not markup
    assert "price &lt; stop &amp; &lt;b&gt;oops&lt;/b&gt;" in message
    assert "awan_main · paper:binance · inline" in text
    assert "uptime: 1d 2h" in text and "paused: yes · pending: resume (by telegram:-100)" in text
    assert "today: realized -12.5 · unrealized -510" in text
    assert "BTC/USDT 0.5 @ 42000 · last close 41000 · -510 (-2.43%)" in text
    assert "ETH/USDT 0.5 @ 42000 · no price yet: unrealized unknown" in text
    assert "BTC/USDT: 2026-01-02 12:00 UTC (1m ago)" in text and "ETH/USDT: none stored" in text


def test_every_reply_parses_and_escapes_what_came_from_the_store():
    row = StrategyProfit(STRATEGY, 3, 2, -1.25, 0.3, 1, 4.5, 1)
    total = StrategyProfit("total", 3, 2, -1.25, 0.3, 1, 4.5, 1)
    messages = [
        replies.reply_profit(ProfitReport(None, (row,), total)),
        replies.reply_daily(DailyReport((DayProfit(date(2026, 1, 2), 2, -3.5, 0.1),))),
        replies.reply_performance(
            PerformanceReport((PairPerformance("BTC/USDT", 3, 2, -1.25, -0.004),))
        ),
        replies.reply_positions([position()]),
        replies.reply_ack(ControlAck("force_exit", ("BTC/USDT",), 7, "telegram:1", "sells <now>")),
        replies.reply_refusal(Refusal("reload_config", "restart & reconcile")),
        replies.reply_help(COMMANDS),
        replies.reply_error("force-exit: no open position in <X/Y>"),
        replies.confirm_force_exit(["BTC/USDT", "ETH/USDT"], "all"),
    ]
    texts = [parsed(m).text for m in messages]
    assert f"{STRATEGY}: realized -1.25 over 3 trade(s), 67% won · unrealized +4.5 on 1 open " \
           "(1 without a price)" in texts[0]  # fmt: skip
    assert "2026-01-02: -3.5 (2 trade(s))" in texts[1]
    assert "BTC/USDT: -1.25 (-0.40%) over 3 trade(s), 2 won" in texts[2]
    assert "force-exit BTC/USDT: request #7 recorded; sells <now>" in texts[4]
    assert "restart & reconcile" in texts[5]
    assert "/forceexit SYMBOL|all" in texts[6] and "/reload_config" in texts[6]
    assert "no open position in <X/Y>" in texts[7]
    assert "every open position: BTC/USDT, ETH/USDT — sell at market?" in texts[8]


def test_a_long_reply_is_cut_by_whole_lines_under_telegrams_limit():
    many = [position(f"C{i:04d}/USDT") for i in range(400)]
    message = replies.reply_positions(many)
    assert len(message) <= replies.LIMIT and message.endswith("\n…")
    parsed(message)  # still well-formed: no tag cut in half


@pytest.mark.parametrize("value", [-0.000123, -1e9, 0.0])
def test_signed_numbers_always_carry_their_sign(value):
    assert replies.signed(value)[0] in "+-"
