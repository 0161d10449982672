"""What `awan live` tells people besides the order path's own messages: that it started or
stopped (and why), the errors it logs, and a summary of each UTC day.

The order path (the executor and the position manager) posts fills, stop hits, refusals,
pause / resume and its error events through the notifier it was given; here are the rest:

- `open_outbox(settings)`: the `NotificationOutbox` over a `TelegramNotifier` to every
  allowed chat, started; None when Telegram is not configured.
- `notifying(outbox, bot, what)`: around the loop's run, "started", then "stopped" (with the
  error's first line when the run ended with one); meanwhile every ERROR log record of awan
  becomes an error notice (`ErrorForwarder`: deduplicated and rate-limited by the outbox);
  at the end the outbox is flushed with a deadline.
- `DailyDigest`: called after each step; at the first close of a new UTC day (the loop's
  clock, so a replay summarises its simulated days too) it sends the finished day's summary.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from awan_trading.config import Settings
from awan_trading.domain.trades import closed_trades
from awan_trading.logs import get_logger
from awan_trading.notify.events import DaySummary, lifecycle_notice, quote_of, summary_notice
from awan_trading.notify.messages import first_line
from awan_trading.notify.outbox import ErrorForwarder, NotificationOutbox
from awan_trading.storage.base import Store
from awan_trading.storage.rows import fill_from_row

log = get_logger(__name__)

FLUSH_SECONDS = 10.0  # how long a stopping loop waits for queued messages to go out


def open_outbox(settings: Settings) -> NotificationOutbox | None:
    """The started outbox to every allowed chat, or None without a token or a chat."""
    if settings.telegram_token is None or not settings.telegram_chats():
        return None
    from awan_trading.notify.telegram import TelegramNotifier

    return NotificationOutbox(TelegramNotifier.from_settings(settings)).start()


@contextmanager
def notifying(
    outbox: NotificationOutbox | None, bot: str, what: str, *, flush: float = FLUSH_SECONDS
) -> Iterator[None]:
    """Start / stop messages and error forwarding around the block (module docstring)."""
    if outbox is None:
        yield
        return
    forwarder = ErrorForwarder(outbox)
    logger = logging.getLogger("awan_trading")
    logger.addHandler(forwarder)
    outbox.post(lifecycle_notice("started", bot, what))
    try:
        yield
    except BaseException as error:
        reason = first_line(str(error)) or type(error).__name__
        outbox.post(lifecycle_notice("stopped", bot, f"on an error: {reason}"))
        raise
    else:
        outbox.post(lifecycle_notice("stopped", bot, what))
    finally:
        logger.removeHandler(forwarder)
        outbox.close(flush)


def day_summary(store: Store, venue: str, day: date, symbols: tuple[str, ...]) -> DaySummary:
    """The round trips closed on `day` (UTC), their PnL and fees, what is open now, and the
    latest equity snapshot of the day."""
    start = datetime.combine(day, time(), tzinfo=UTC)
    end = start + timedelta(days=1)
    lo, hi = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
    fills = [fill_from_row(r) for r in store.fills(exchange=venue).iter_rows()]
    minimums = store.sell_minimums(venue)
    trades = [
        t for t in closed_trades(fills, exchange=venue, dust_below=minimums) if lo <= t.exit_ts < hi
    ]
    open_positions = sorted(p.symbol for p in store.positions(venue) if p.is_open)
    curve = store.equity_curve(venue)
    equity = None
    if curve.height:
        ts = curve["ts"]
        ts = ts.dt.replace_time_zone("UTC") if ts.dtype.time_zone is None else ts  # type: ignore[attr-defined]
        day_rows = curve.filter((ts >= start) & (ts < end))
        equity = float(day_rows["equity"][-1]) if day_rows.height else None
    best = max(trades, key=lambda t: t.pnl, default=None)
    worst = min(trades, key=lambda t: t.pnl, default=None)
    return DaySummary(
        day=day,
        trades=len(trades),
        wins=sum(1 for t in trades if t.pnl > 0),
        losses=sum(1 for t in trades if t.pnl <= 0),
        pnl=sum(t.pnl for t in trades),
        fees=sum(t.fee for t in trades),
        quote=quote_of(symbols[0]) if symbols else "",
        open_positions=open_positions,
        equity=equity,
        best=(best.symbol, best.pnl) if best is not None and len(trades) > 1 else None,
        worst=(worst.symbol, worst.pnl) if worst is not None and len(trades) > 1 else None,
    )


class DailyDigest:
    """Sends the summary of each UTC day once the loop's clock has passed into the next."""

    def __init__(
        self,
        store: Store,
        venue: str,
        bot: str,
        outbox: NotificationOutbox | None,
        symbols: tuple[str, ...] = (),
    ) -> None:
        self.store, self.venue, self.bot, self.outbox = store, venue, bot, outbox
        self.symbols = symbols
        self.day: date | None = None
        self.sent: list[DaySummary] = []

    def on_step(self, report: Any) -> None:
        """After a step: a close on a later UTC day than the last one closes that day."""
        close: datetime = report.close
        # The close at 00:00 ends the day: its orders fill at the new day's first open, so
        # they count in the new day, and the finished day's trades are all recorded by now.
        today = close.astimezone(UTC).date()
        if self.day is None or today <= self.day:
            self.day = today if self.day is None else self.day
            return
        finished, self.day = self.day, today
        if self.outbox is None:
            return
        try:
            summary = day_summary(self.store, self.venue, finished, self.symbols)
        except Exception as error:  # a summary is not worth stopping the loop for
            log.error("daily summary not built", day=finished.isoformat(), error=str(error))
            return
        self.sent.append(summary)
        self.outbox.post(summary_notice(summary, self.bot))
