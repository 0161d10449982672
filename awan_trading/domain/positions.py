"""Positions: derived from fills, plus the exit levels the position manager watches.

Why a projection: fills are facts the exchange reported (each once, by trade id); a
position is arithmetic over them. Keeping the position as the source of truth would let it
drift from the fills after a crash between two writes; deriving it means the `positions`
table can always be rebuilt (`positions_from_fills`) and a restart trusts the fills.
What fills cannot say — the stop and target levels, the trailing high-water mark, which
protective stop order rests on the exchange, the entry signal's candle — is owned by the
position manager and carried over a rebuild (`Position.keep_levels`).

One type serves the backtest replay (`awan_trading.replay`) and live trading, so the
numbers a backtest reports are computed by the same definitions the live loop uses.
Accounting (spot, long only, average cost):
- `stake` is the quote paid for the amount still held, entry fees included; a partial exit
  releases its share of the stake, and `realized_pnl` gains proceeds (after the exit fee)
  minus that share.
- `entry_price` is the fill-weighted average entry price, fees excluded.
- Fees are valued in quote: a quote fee as is, a base fee at the fill price (and a base fee
  on a buy shrinks the amount received, as on Binance). A fee in a third currency (BNB)
  has no price here and is left out of `fees`.
- A buy on a flat position starts a new round trip: a fold over a symbol's whole fill
  history ends with the current (or last) round trip.
- Dust: a sell that leaves less than the smallest amount the venue accepts a sell of
  (`dust_below`, per symbol: `execution.sizing.smallest_sellable`) closes the round trip.
  What is left cannot be sold, protected or exited — on Binance a buy's fee is taken in the
  base asset unless paid in BNB, so every exit leaves a fraction of a lot step — and counting
  it as a position would block the symbol's next entry for good. Its cost is written off in
  the round trip's `realized_pnl` (as the closed trade's PnL counts it: `domain.trades`), and
  its amount is carried as `dust`, outside any position, so that a late fill of a protective
  leg's resting remainder is still accounted for.
Times are epoch milliseconds UTC, the unit candles and signals are keyed by.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from awan_trading.domain.ids import parse_client_order_id
from awan_trading.domain.orders import AMOUNT_TOLERANCE, Fill
from awan_trading.errors import ClientOrderIdError, PositionError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_ms(when: datetime) -> int:
    """Epoch milliseconds of a datetime (naive = UTC); domain code stays free of polars."""
    aware = when.replace(tzinfo=UTC) if when.tzinfo is None else when
    return (aware - _EPOCH) // timedelta(milliseconds=1)


def _entry_signal(client_order_id: str) -> str | None:
    """The signal id an entry fill's client order id carries; None for other ids."""
    try:
        parsed = parse_client_order_id(client_order_id)
    except ClientOrderIdError:
        return None
    return parsed.signal_id if parsed.leg == "entry" else None


@dataclass(slots=True)
class Position:
    """A long spot position in one symbol and the exit levels that guard it.

    Mutable on purpose: the one loop that owns it (replay or the live position manager)
    raises `high_water` every candle or tick, and `apply_fill` moves it fill by fill.
    """

    symbol: str
    amount: float = 0.0  # base currency held
    stake: float = 0.0  # quote paid for `amount`, entry fees included
    entry_price: float = 0.0  # average entry fill price
    entry_ts: int = 0  # first entry fill of this round trip
    signal_ts: int = 0  # open time of the entry signal's candle
    stop_price: float = 0.0  # 0.0 = no fixed stop
    target_price: float = math.inf  # inf = no target
    high_water: float = 0.0  # highest price since entry, for the trailing stop
    exchange: str = ""
    signal_id: str | None = None  # the entry signal
    stop_client_order_id: str | None = None  # the protective stop resting on the exchange
    realized_pnl: float = 0.0  # quote, from exits of this round trip
    fees: float = 0.0  # quote value of the fees of this round trip
    dust: float = 0.0  # base left below the venue's minimum by closed round trips, no cost

    @classmethod
    def from_fills(
        cls, fills: Iterable[Fill], *, exchange: str = "", dust_below: float = 0.0
    ) -> Position:
        """Fold fills (sorted here by ts, then trade id) into the symbol's position."""
        ordered = sorted(fills, key=lambda f: (f.ts, str(f.trade_id)))
        if not ordered:
            raise PositionError("a position needs at least one fill")
        symbols = {f.symbol for f in ordered}
        if len(symbols) > 1:
            raise PositionError(f"fills of several symbols in one position: {sorted(symbols)}")
        position = cls(ordered[0].symbol, exchange=exchange)
        for fill in ordered:
            position.apply_fill(fill, dust_below=dust_below)
        return position

    @property
    def is_open(self) -> bool:
        return self.amount > 0.0

    def unrealized_pnl(self, price: float) -> float:
        """Quote gained if the amount held were sold at `price` with no fee."""
        return self.amount * price - self.stake

    def apply_fill(self, fill: Fill, *, dust_below: float = 0.0) -> None:
        """Move the position by one fill (a buy adds, a sell reduces); a sell leaving less than
        `dust_below` closes it (see the module rules)."""
        if fill.symbol != self.symbol:
            raise PositionError(f"{self.symbol}: a fill of {fill.symbol} (trade {fill.trade_id})")
        base, _, quote = self.symbol.partition("/")
        base_fee = fill.fee if fill.fee_currency == base else 0.0
        quote_fee = fill.fee if fill.fee_currency == quote else 0.0
        ts = epoch_ms(fill.ts)
        if fill.side == "buy":
            self._buy(fill, fill.amount - base_fee, quote_fee, ts)
        else:
            self._sell(fill, fill.amount + base_fee, quote_fee, dust_below)
        self.fees += quote_fee + base_fee * fill.price

    def _buy(self, fill: Fill, received: float, quote_fee: float, ts: int) -> None:
        if not self.is_open:  # a new round trip: levels of the last one no longer apply
            self.stake = self.entry_price = self.realized_pnl = self.fees = 0.0
            self.entry_ts, self.signal_ts = ts, 0
            self.stop_price, self.target_price, self.high_water = 0.0, math.inf, fill.price
            self.signal_id = _entry_signal(fill.client_order_id)
            self.stop_client_order_id = None
        held = self.amount
        self.entry_price = (self.entry_price * held + fill.price * received) / (held + received)
        self.amount = held + received
        self.stake += fill.amount * fill.price + quote_fee

    def _sell(self, fill: Fill, delivered: float, quote_fee: float, dust_below: float) -> None:
        proceeds = fill.amount * fill.price - quote_fee
        if not self.is_open and 0.0 < delivered <= self.dust * (1.0 + AMOUNT_TOLERANCE):
            # A late fill of what a closed round trip left resting: its cost is written off.
            self.dust = max(self.dust - delivered, 0.0)
            self.realized_pnl += proceeds
            return
        held = self.amount
        if delivered > held * (1.0 + AMOUNT_TOLERANCE):
            raise PositionError(
                f"{self.symbol}: trade {fill.trade_id} sells {delivered} but only {held} is "
                "held (spot positions are long only)"
            )
        share = min(delivered / held, 1.0)
        released = self.stake * share
        self.realized_pnl += proceeds - released
        self.amount = held - delivered
        self.stake -= released
        if self.amount <= held * AMOUNT_TOLERANCE:  # closed: no dust from float sums
            self.amount = self.stake = 0.0
        elif self.amount < dust_below * (1.0 - AMOUNT_TOLERANCE):  # closed, dust left
            self.realized_pnl -= self.stake
            self.dust += self.amount
            self.amount = self.stake = 0.0

    def keep_levels(self, previous: Position) -> None:
        """Carry the manager-owned levels of `previous` over a rebuild of the same round trip.

        A different `entry_ts` means `previous` belonged to an earlier round trip whose
        levels must not guard this one.
        """
        if previous.symbol != self.symbol or previous.entry_ts != self.entry_ts:
            return
        self.signal_ts = previous.signal_ts
        self.stop_price = previous.stop_price
        self.target_price = previous.target_price
        self.high_water = max(self.high_water, previous.high_water)
        self.stop_client_order_id = previous.stop_client_order_id
        self.signal_id = self.signal_id or previous.signal_id


def positions_from_fills(
    fills: Iterable[Fill],
    *,
    exchange: str = "",
    previous: Iterable[Position] = (),
    dust_below: Mapping[str, float] | None = None,
) -> dict[str, Position]:
    """The open positions the fills add up to, per symbol, with `previous` levels kept;
    `dust_below` maps a symbol to the smallest amount the venue accepts a sell of.

    This is the rebuild of the `positions` projection: `previous` is what the table held.
    """
    by_symbol: dict[str, list[Fill]] = {}
    for fill in fills:
        by_symbol.setdefault(fill.symbol, []).append(fill)
    before = {p.symbol: p for p in previous}
    minimums = dust_below or {}
    out: dict[str, Position] = {}
    for symbol in sorted(by_symbol):
        position = Position.from_fills(
            by_symbol[symbol], exchange=exchange, dust_below=minimums.get(symbol, 0.0)
        )
        if position.is_open:
            if symbol in before:
                position.keep_levels(before[symbol])
            out[symbol] = position
    return out
