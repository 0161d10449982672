"""Domain records ⇄ table rows for the order path, where the two shapes differ.

A `Position` keeps times as epoch milliseconds and "no stop" / "no target" as 0.0 / inf (what
the replay loop compares against); the table keeps timestamps and NULLs, which read better
in SQL. The conversion is stated once here for both backends.
"""

from __future__ import annotations

from awan_trading.domain.orders import Fill
from awan_trading.domain.positions import Position
from awan_trading.errors import DataError
from awan_trading.market.timeframes import from_epoch_ms, to_epoch_ms
from awan_trading.storage.base import utcnow
from awan_trading.storage.schema import as_utc
from awan_trading.storage.upsert import Upsert

POSITION_COLUMNS = (
    "exchange, symbol, amount, stake, entry_price, entry_ts, signal_ts, stop_price, "
    "target_price, high_water, signal_id, stop_client_order_id, realized_pnl, fees, updated_at"
)


def upsert_position(p: Position) -> Upsert:
    """The position row: "no stop" / "no target" / "unknown signal time" are stored as NULL."""
    if not p.exchange:
        raise DataError(f"position {p.symbol}: exchange is not set")
    values = (
        p.exchange, p.symbol, float(p.amount), float(p.stake), float(p.entry_price),
        from_epoch_ms(p.entry_ts), from_epoch_ms(p.signal_ts) if p.signal_ts else None,
        p.stop_price or None, None if p.target_price == float("inf") else p.target_price,
        float(p.high_water), p.signal_id, p.stop_client_order_id, float(p.realized_pnl),
        float(p.fees), utcnow(),
    )  # fmt: skip
    columns = tuple(POSITION_COLUMNS.replace(" ", "").split(","))
    return Upsert("positions", columns, values, key=("exchange", "symbol"))


def position_from_row(row: tuple) -> Position:
    (exchange, symbol, amount, stake, entry_price, entry_ts, signal_ts, stop_price, target,
     high_water, signal_id, stop_cid, realized, fees, _updated) = row  # fmt: skip
    return Position(
        symbol, amount, stake, entry_price, to_epoch_ms(entry_ts),
        to_epoch_ms(signal_ts) if signal_ts is not None else 0,
        stop_price or 0.0, float("inf") if target is None else target, high_water,
        exchange, signal_id, stop_cid, realized, fees,
    )  # fmt: skip


def fill_from_row(row: tuple) -> Fill:
    """A `FILLS_SCHEMA` row (exchange first) as the domain's `Fill`."""
    _exchange, trade_id, eoid, cid, symbol, side, amount, price, fee, cur, ts, taker = row
    return Fill(trade_id, eoid, cid or "", symbol, side, amount, price, fee, cur, as_utc(ts), taker)
