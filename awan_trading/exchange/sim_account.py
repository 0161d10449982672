"""A sim (or paper) account rebuilt from the store, so several processes trade one account.

The sim keeps its account in memory, but Dagster runs each `execute_signal` run in a process
of its own, and `awan live` executes in yet another. A venue whose balances and resting
protective stops vanish with the process that placed them would make every run's start-up
reconciliation disagree with the store (its stops gone, its position's base missing). The
store already holds everything the venue knows — every order it acknowledged and every fill
— so a process's sim is rebuilt from it (`restore_account`), the way a paper account's
balances always were:

- **balances**: the configured start plus every fill recorded for this venue
  (`balances_from_fills`); funds locked by resting orders follow from those orders;
- **orders**: each order the venue acknowledged (it has an exchange order id and a venue
  status), with its fills. Open ones rest again with their funds locked; the two legs of a
  protective list (`stop` and `take_profit` legs of one entry signal and replacement count)
  are linked as an OCO again, under their list's client order id. Closed ones are kept so
  `fetch_order` by client order id answers as the venue would, and no id is ever reused;
- **matching**: a restored resting order is judged again from the candle it was placed at.
  The sim's fills are a pure function of its candles, so this re-finds exactly the fills the
  process that placed it found (recorded or not) and nothing else.

Orders recorded only as `intent` / `submitted` / `unknown` never reached this venue as far as
the store knows, so they are absent, and reconciliation resends or abandons them as it would
after a crash. Processes that trade one account at once (one execution run per symbol) must
not hand out the same exchange order id or trade id, or the store would drop a fill as
already recorded: a restored account derives both from the client order id (one fill per
order — the sim never fills partially), so two processes that see the same stop fill record
it once.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from typing import TYPE_CHECKING

import polars as pl

from awan_trading.domain.ids import client_order_id, parse_client_order_id
from awan_trading.errors import ClientOrderIdError
from awan_trading.exchange.sim_orders import SimOrder
from awan_trading.market.timeframes import to_epoch_ms
from awan_trading.storage.rows import fill_from_row
from awan_trading.storage.schema import as_utc

if TYPE_CHECKING:
    from awan_trading.exchange.sim import SimExchange
    from awan_trading.storage.base import Store

# Statuses of an order the venue acknowledged: those a rebuilt venue knows.
OPEN = ("accepted", "partially_filled")
CLOSED = ("filled", "canceled", "expired")
_LEGS = ("stop", "take_profit")


def balances_from_fills(
    starting: dict[str, float], fills: pl.DataFrame, exchange: str
) -> dict[str, float]:
    """An account's balances: the configured start plus every fill recorded for it.

    `fills` is `Store.fills()`; fees are taken from `fee_currency` (the sim charges quote).
    """
    balances = {c: float(a) for c, a in starting.items()}
    if fills.is_empty():
        return balances
    if "exchange" in fills.columns:
        fills = fills.filter(pl.col("exchange") == exchange)
    for row in fills.iter_rows(named=True):
        base, quote = row["symbol"].split("/")
        sign = 1.0 if row["side"] == "buy" else -1.0
        balances[base] = balances.get(base, 0.0) + sign * row["amount"]
        balances[quote] = balances.get(quote, 0.0) - sign * row["amount"] * row["price"]
        fee_currency = row["fee_currency"] or quote
        balances[fee_currency] = balances.get(fee_currency, 0.0) - row["fee"]
    return balances


def derived_order_id(client_order_id: str) -> str:
    """A numeric exchange order id that is a pure function of the client order id (48 bits:
    a venue's ids are integers, and JSON readers keep 48-bit integers exact)."""
    digest = hashlib.blake2b(client_order_id.encode(), digest_size=6).digest()
    return str(int.from_bytes(digest, "big"))


def _list_key(cid: str) -> tuple[str, int] | None:
    """(entry signal id, n) of a protective leg; None for any other order."""
    try:
        parsed = parse_client_order_id(cid)
    except ClientOrderIdError:
        return None
    return (parsed.signal_id, parsed.n) if parsed.leg in _LEGS else None


def restore_account(sim: SimExchange, store: Store, starting: dict[str, float]) -> SimExchange:
    """Replace `sim`'s account by the one the store records for `sim.name` (module docstring).

    Call it after setting `sim.match_timeframe`: restored resting orders are judged on it.
    """
    name = sim.name
    fills = store.fills(exchange=name)
    by_order: dict[str, list] = defaultdict(list)
    for row in fills.iter_rows():
        fill = fill_from_row(row)
        by_order[fill.client_order_id].append(fill)
    orders = store.orders(list(OPEN + CLOSED)).filter(
        (pl.col("exchange") == name) & pl.col("exchange_order_id").is_not_null()
    )
    restored: dict[str, SimOrder] = {}
    for row in orders.iter_rows(named=True):
        cid = row["client_order_id"]
        created = as_utc(row["created_at"])
        restored[cid] = SimOrder(
            exchange_order_id=row["exchange_order_id"],
            client_order_id=cid,
            symbol=row["symbol"],
            side=row["side"],
            type=row["type"],
            amount=row["amount"],
            price=row["price"],
            created_at=created,
            updated_at=as_utc(row["updated_at"]),
            stop_price=row["stop_price"],
            status="accepted" if row["status"] in OPEN else row["status"],
            next_ms=to_epoch_ms(created),
            fills=by_order.get(cid, []),
        )
    with sim._lock:
        sim._totals = balances_from_fills(starting, fills, name)
        sim._orders = {o.exchange_order_id: o for o in restored.values()}
        sim._by_client_id = {cid: o.exchange_order_id for cid, o in restored.items()}
        sim._list_ids = set()
        sim.order_ids = derived_order_id
        _link_lists(sim, restored)
        for order in restored.values():
            in_list = order.sibling is not None and order.sibling.is_open
            if order.is_open and not (in_list and order.type == "limit_maker"):
                order.locked = _locked(sim, order)  # a list locks once, on its stop leg
    return sim


def _link_lists(sim: SimExchange, orders: dict[str, SimOrder]) -> None:
    """Pair the stop and take-profit legs of each protective list as an OCO again."""
    lists: dict[tuple[str, int], dict[str, SimOrder]] = defaultdict(dict)
    for cid, order in orders.items():
        key = _list_key(cid)
        if key is not None:
            lists[key][parse_client_order_id(cid).leg] = order
    for (signal_id, n), legs in lists.items():
        stop, target = legs.get("stop"), legs.get("take_profit")
        if stop is None or target is None:
            continue  # a plain stop or a plain target: no list
        list_id = client_order_id(signal_id, "bracket", n)
        sim._list_ids.add(list_id)
        stop.list_client_order_id = target.list_client_order_id = list_id
        stop.sibling, target.sibling = target, stop


def _locked(sim: SimExchange, order: SimOrder) -> tuple[str, float]:
    """What a resting order holds back, as the sim computed it when the order was placed."""
    market = sim.market(order.symbol)
    return sim._cost(market, order.side, order.amount, order.price or 0.0, market.maker_fee)


__all__ = ["balances_from_fills", "derived_order_id", "restore_account"]
