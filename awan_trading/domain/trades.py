"""Closed trades: the round trips a symbol's fills add up to, with the orders and signals behind them.

A closed trade is not stored anywhere: like a position, it is a projection of the fills, so it
can never disagree with them. A round trip starts with a buy on a flat symbol and ends with
the sell that brings the amount back to zero (the same fold as `positions.Position`, within
`AMOUNT_TOLERANCE`), or below the smallest amount the venue accepts a sell of (`dust_below`:
the dust a base-asset fee leaves, written off in the trade's PnL, as `positions` explains); a
round trip still open is a position, not a trade.

What each field means, so the backtest's trades table and this one compare column by column:

- `entry_ts` / `exit_ts`: the first buy fill and the closing sell fill (epoch ms UTC).
- `entry_price` / `exit_price`: fill-weighted averages of the buys / sells, fees excluded.
- `amount`: base currency bought (a base-currency fee on a buy shrinks it, as on Binance).
- `stake`: quote paid, entry fees included (the backtest's `stake`).
- `fee`: quote value of every fee of the round trip (entry and exit).
- `pnl`: quote received for the sells, exit fees deducted, minus `stake`.
- `exit_reason`: from the closing order's leg (`domain.ids`): `exit_signal` (a strategy
  exit), `take_profit`, `stop_loss`, `trailing_stop` (a stop leg whose trigger was raised
  above the round trip's first stop), `risk_exit` (a market exit of the position manager),
  `force_exit` (a user's request), or `manual` (an order awan did not place).
- `entry_signal_id` / `exit_signal_id`: the signals behind the first buy and the closing sell
  (a protective leg carries the entry signal's id, so a stop-out has no exit signal).
- `trade_id`: 16 hex chars derived from (exchange, symbol, first buy fill's venue trade id),
  so the same fills always name the same trade. It is not a venue id: a fill's
  `Fill.trade_id` names one execution, a closed trade's `trade_id` the round trip it belongs
  to, and `awan lineage` accepts either.

Pure: no I/O, no clock. `closed_trades` is what `awan trades` prints and what the Dagster
`trades` asset materializes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from awan_trading.domain.ids import parse_client_order_id
from awan_trading.domain.orders import AMOUNT_TOLERANCE, Fill, Order
from awan_trading.domain.positions import epoch_ms
from awan_trading.errors import ClientOrderIdError, PositionError

_REASON_OF_LEG = {
    "exit": "exit_signal",
    "take_profit": "take_profit",
    "stop": "stop_loss",
    "risk_exit": "risk_exit",
    "force_exit": "force_exit",
}
# `tolerance.PRICE_RTOL`, restated: the domain stays free of polars, which tolerance imports.
PRICE_RTOL = 1e-10
EXIT_REASONS = (
    "exit_signal",
    "take_profit",
    "stop_loss",
    "trailing_stop",
    "risk_exit",
    "force_exit",
    "manual",
)


@dataclass(frozen=True)
class ClosedTrade:
    """One finished round trip of one symbol (field meanings in the module docstring)."""

    trade_id: str
    exchange: str
    symbol: str
    strategy: str | None
    entry_ts: int
    entry_price: float
    exit_ts: int
    exit_price: float
    amount: float
    stake: float
    fee: float
    pnl: float
    exit_reason: str
    entry_signal_id: str | None
    exit_signal_id: str | None
    entry_client_order_ids: tuple[str, ...]
    exit_client_order_ids: tuple[str, ...]

    @property
    def client_order_ids(self) -> tuple[str, ...]:
        return self.entry_client_order_ids + self.exit_client_order_ids


def trade_id_of(exchange: str, symbol: str, first_fill_trade_id: str) -> str:
    """The closed trade's id: a pure function of its first buy fill."""
    key = f"{exchange}|{symbol}|{first_fill_trade_id}"
    return hashlib.blake2b(key.encode(), digest_size=8).hexdigest()


def _leg(client_order_id: str) -> tuple[str, str, int] | None:
    try:
        parsed = parse_client_order_id(client_order_id)
    except ClientOrderIdError:
        return None
    return parsed.leg, parsed.signal_id, parsed.n


@dataclass
class _Open:
    """A round trip being folded: the buys and sells so far."""

    first: Fill
    held: float = 0.0
    bought: float = 0.0
    bought_notional: float = 0.0
    stake: float = 0.0
    sold: float = 0.0
    sold_notional: float = 0.0
    proceeds: float = 0.0
    fees: float = 0.0
    entries: list[str] = field(default_factory=list)
    exits: list[str] = field(default_factory=list)


def _fees(fill: Fill) -> tuple[float, float]:
    """(base fee, quote fee) of a fill; a fee in a third currency has no price here."""
    base, _, quote = fill.symbol.partition("/")
    return (
        fill.fee if fill.fee_currency == base else 0.0,
        fill.fee if fill.fee_currency == quote else 0.0,
    )


def _add(ids: list[str], cid: str) -> None:
    if cid and cid not in ids:
        ids.append(cid)


def _exit_reason(closing: str, orders: Mapping[str, Order], entry_signal: str | None) -> str:
    """The reason a round trip ended, from the leg of the order whose fill closed it."""
    parsed = _leg(closing)
    if parsed is None:
        return "manual"
    leg, signal, n = parsed
    reason = _REASON_OF_LEG.get(leg, "manual")
    if leg == "stop" and n > 0:
        # A stop leg replaced n times was moved by the trailing stop only if its trigger is
        # now above the round trip's first stop (a re-placed stop at the same level is not).
        first = orders.get(f"s0-{signal}")
        this = orders.get(closing)
        raised = first and this and first.stop_price and this.stop_price
        if raised and this.stop_price > first.stop_price * (1.0 + PRICE_RTOL):
            reason = "trailing_stop"
    return reason


def _close(
    trip: _Open,
    closing: Fill,
    exchange: str,
    orders: Mapping[str, Order],
    strategies: Mapping[str, str],
) -> ClosedTrade:
    entry = _leg(trip.first.client_order_id)
    entry_signal = entry[1] if entry and entry[0] == "entry" else None
    exit_leg = _leg(closing.client_order_id)
    exit_signal = exit_leg[1] if exit_leg and exit_leg[0] == "exit" else None
    return ClosedTrade(
        trade_id=trade_id_of(exchange, trip.first.symbol, str(trip.first.trade_id)),
        exchange=exchange,
        symbol=trip.first.symbol,
        strategy=strategies.get(entry_signal) if entry_signal else None,
        entry_ts=epoch_ms(trip.first.ts),
        entry_price=trip.bought_notional / trip.bought,
        exit_ts=epoch_ms(closing.ts),
        exit_price=trip.sold_notional / trip.sold,
        amount=trip.bought,
        stake=trip.stake,
        fee=trip.fees,
        pnl=trip.proceeds - trip.stake,
        exit_reason=_exit_reason(closing.client_order_id, orders, entry_signal),
        entry_signal_id=entry_signal,
        exit_signal_id=exit_signal,
        entry_client_order_ids=tuple(trip.entries),
        exit_client_order_ids=tuple(trip.exits),
    )


def _symbol_trades(
    fills: list[Fill],
    exchange: str,
    orders: Mapping[str, Order],
    strategies: Mapping[str, str],
    dust_below: float,
) -> list[ClosedTrade]:
    out: list[ClosedTrade] = []
    trip: _Open | None = None
    dust = 0.0  # left below the venue's minimum by closed round trips (`positions`)
    for fill in sorted(fills, key=lambda f: (f.ts, str(f.trade_id))):
        base_fee, quote_fee = _fees(fill)
        if fill.side == "buy":
            trip = trip or _Open(fill)
            received = fill.amount - base_fee
            trip.held += received
            trip.bought += received
            trip.bought_notional += fill.amount * fill.price
            trip.stake += fill.amount * fill.price + quote_fee
            _add(trip.entries, fill.client_order_id)
        else:
            delivered = fill.amount + base_fee
            if trip is None and 0.0 < delivered <= dust * (1.0 + AMOUNT_TOLERANCE):
                dust = max(dust - delivered, 0.0)  # a late fill of a closed trip's remainder
                continue
            if trip is None or delivered > trip.held * (1.0 + AMOUNT_TOLERANCE):
                held = trip.held if trip else 0.0
                raise PositionError(
                    f"{fill.symbol}: trade {fill.trade_id} sells {delivered} but only {held} is "
                    "held (spot positions are long only)"
                )
            trip.held -= delivered
            trip.sold += fill.amount
            trip.sold_notional += fill.amount * fill.price
            trip.proceeds += fill.amount * fill.price - quote_fee
            _add(trip.exits, fill.client_order_id)
        trip.fees += quote_fee + base_fee * fill.price
        if trip.sold > 0.0:
            flat = trip.held <= trip.bought * AMOUNT_TOLERANCE
            if flat or trip.held < dust_below * (1.0 - AMOUNT_TOLERANCE):
                out.append(_close(trip, fill, exchange, orders, strategies))
                dust += 0.0 if flat else trip.held
                trip = None
    return out


def closed_trades(
    fills: Iterable[Fill],
    *,
    exchange: str = "",
    orders: Iterable[Order] = (),
    strategies: Mapping[str, str] | None = None,
    dust_below: Mapping[str, float] | None = None,
) -> list[ClosedTrade]:
    """Every finished round trip in `fills`, oldest exit first (ties by symbol).

    `orders` (by client order id) tells a trailing stop from a fixed one; `strategies` maps a
    signal id to the strategy that emitted it (the signals table). Both are optional: without
    them those two fields are less specific, never wrong. `dust_below` maps a symbol to the
    smallest amount its venue accepts a sell of (`Store.sell_minimums`); without it a round
    trip that left dust stays open. Raises `PositionError` for a sell of more than is held.
    """
    by_symbol: dict[str, list[Fill]] = {}
    for fill in fills:
        by_symbol.setdefault(fill.symbol, []).append(fill)
    by_id = {o.client_order_id: o for o in orders}
    names = dict(strategies or {})
    trades = [
        trade
        for symbol in sorted(by_symbol)
        for trade in _symbol_trades(
            by_symbol[symbol], exchange, by_id, names, (dust_below or {}).get(symbol, 0.0)
        )
    ]
    return sorted(trades, key=lambda t: (t.exit_ts, t.symbol, t.entry_ts))
