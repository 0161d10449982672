"""Why the execution layer declined to act: one record, one table of reasons.

A `Refusal` is a value, not an exception: refusing an entry is a normal outcome of a pre-trade
check, which the caller logs as a `bot_events` row (`kind` = the reason below, `message` = the
refusal's sentence, `data` = its numbers as JSON) and then carries on with the next signal.

| reason                 | raised by          | when                                                        |
| ---------------------- | ------------------ | ----------------------------------------------------------- |
| `no_cash`              | `sizing`           | the stake is 0: no free quote currency (or no equity)       |
| `below_min_amount`     | `sizing`           | the stake buys less than the market's `min_amount` once the |
|                        |                    | amount is floored to `amount_increment` (incl. floors to 0) |
| `below_min_notional`   | `sizing`           | amount × price is below the market's `min_notional`         |
| `market_inactive`      | `sizing`           | the venue reports the market as not trading                 |
| `position_open`        | `risk.check_entry` | the symbol already has a position or an entry in flight     |
|                        |                    | (one position per symbol)                                   |
| `max_open_positions`   | `risk.check_entry` | positions + entries in flight reach `max_open_positions`    |
| `max_daily_loss`       | `risk.check_entry` | today's (UTC) realized loss reached `max_daily_loss` × the  |
|                        |                    | equity at the day's start: no new entries until 00:00 UTC   |
| `paused`               | `risk.check_entry` | the bot is paused from the control table; exits and stops   |
|                        |                    | still run                                                   |
| `live_not_confirmed`   | `risk.check_entry` | a `live:` venue without `live_confirmed = true`             |
| `no_position`          | `risk.check_exit`, | an exit (or force-exit) for a symbol that holds nothing     |
|                        | `executor`         | (also found before its sell: its order is never sent)       |
| `closed_by_protection` | `executor`         | the exit's position was already closed by its protective    |
|                        |                    | stop / target on the venue (or what is left is below the    |
|                        |                    | minimum amount): the exit's order ends rejected, unsent     |
| `not_reconciled`       | `executor`         | no reconciliation with the exchange has succeeded yet (or   |
|                        |                    | the last one found a problem): nothing is placed            |
| `exchange_rejected`    | `executor`         | the exchange refused the order (funds, a market rule)       |

A stake cut down by `max_position_quote` or by free cash is not a refusal: the entry goes ahead
and `EntrySize.capped_by` says which limit applied, so the caller can log it as information.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, get_args

from awan_trading.storage.base import BotEvent, utcnow

RefusalReason = Literal[
    "no_cash",
    "below_min_amount",
    "below_min_notional",
    "market_inactive",
    "position_open",
    "max_open_positions",
    "max_daily_loss",
    "paused",
    "live_not_confirmed",
    "no_position",
    "closed_by_protection",
    "not_reconciled",
    "exchange_rejected",
]
REFUSAL_REASONS: tuple[str, ...] = get_args(RefusalReason)


@dataclass(frozen=True)
class Refusal:
    """A declined order: the rule (`reason`), a sentence for people, and the numbers behind it.

    `message` always names the symbol, the numbers compared and the rule, so a Telegram alert or
    a log line is enough to understand the refusal without looking anything up.
    """

    reason: RefusalReason
    symbol: str
    message: str
    details: dict[str, float | int | str | None] = field(default_factory=dict)

    def to_event(self, bot: str, ts: datetime | None = None) -> BotEvent:
        """The `bot_events` row that records this refusal."""
        data = json.dumps({"symbol": self.symbol, **self.details}, sort_keys=True)
        return BotEvent(
            bot=bot, kind=self.reason, message=self.message, data=data, ts=ts or utcnow()
        )
