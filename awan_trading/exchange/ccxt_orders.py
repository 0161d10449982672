"""The order half of `CcxtExchange`: placing, looking up and canceling, at most once.

The rule every order kind follows here (market, limit, stop_loss_limit, and the OCO order
list): a placement is never retried blindly. After a transient failure (429, 5xx, timeout,
lost reply) the outcome is unknown, so the order — or each leg of the list — is looked up by
its client order id and adopted when found; only a definite "not found" allows resending,
with the SAME ids, which the venue refuses to duplicate. `place_at_most_once` holds that loop
once for both kinds.

Binance's order replies name an OCO leg's list only by its numeric `orderListId`; the domain
knows lists by `list_client_order_id`, so `_list_client_id` resolves one from the other
(remembered per connector, asked of the venue on a miss). Mapping replies onto domain records
stays in `ccxt_mapping`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import ccxt

from awan_trading.domain.orders import Order, OrderType, Side
from awan_trading.exchange import ccxt_mapping as mapping
from awan_trading.exchange.errors import (
    BadExchangeData,
    DuplicateClientOrderId,
    ExchangeTimeout,
    InvalidOrder,
    OrderNotFound,
    TransientExchangeError,
)
from awan_trading.logs import get_logger

if TYPE_CHECKING:
    from awan_trading.exchange.base import Market
    from awan_trading.exchange.rate_limit import RetryPolicy

T = TypeVar("T")
log = get_logger(__name__)


class CcxtOrders:
    """Order methods of `CcxtExchange` (a mixin over its client, retry policy and plumbing)."""

    name: str
    retry: RetryPolicy
    order_lookup_delay: float
    _client: ccxt.Exchange
    _list_ids: dict[tuple[str, int], str]  # (symbol, orderListId) -> listClientOrderId

    if TYPE_CHECKING:

        def _once(self, what: str, fn: Callable[[], T]) -> T: ...

        def _call(self, what: str, fn: Callable[[], T]) -> T: ...

        def _require_market(self, symbol: str) -> Market: ...

    # --- mapping and look-ups ------------------------------------------------------------

    def _list_client_id(self, symbol: str, raw: Any) -> str | None:
        """The `listClientOrderId` of the list an order is a leg of (None: not a leg)."""
        number = mapping.order_list_id(raw)
        if number is None:
            return None
        if (symbol, number) not in self._list_ids:
            what = f"fetch_order_list {symbol} {number}"
            reply = self._call(
                what, lambda: self._client.privateGetOrderList({"orderListId": number})
            )
            self._remember_lists(reply, what)
        found = self._list_ids.get((symbol, number))
        if found is None:
            raise BadExchangeData(f"{self.name}: {symbol}: order list {number} is unknown")
        return found

    def _remember_lists(self, reply: Any, what: str) -> None:
        for market_id, number, cid in mapping.list_entries(reply, f"{self.name}: {what}"):
            self._list_ids[(self._client.safe_symbol(market_id), number)] = cid

    def _order(self, raw: Any, symbol: str, what: str, list_cid: str | None = None) -> Order:
        if list_cid is None and isinstance(raw, dict):
            list_cid = self._list_client_id(str(raw.get("symbol") or symbol), raw)
        return mapping.to_order(
            raw, symbol, f"{self.name}: {what}", self.name, list_client_order_id=list_cid
        )

    def _lookup(
        self, symbol: str, exchange_order_id: str | None, client_order_id: str | None
    ) -> Order:
        params = {} if client_order_id is None else {"origClientOrderId": client_order_id}
        what = f"fetch_order {symbol} {exchange_order_id or client_order_id}"
        raw = self._call(what, lambda: self._client.fetch_order(exchange_order_id, symbol, params))
        return self._order(raw, symbol, what)

    def fetch_order(
        self,
        symbol: str,
        exchange_order_id: str | None = None,
        *,
        client_order_id: str | None = None,
    ) -> Order:
        if exchange_order_id is None and client_order_id is None:
            raise InvalidOrder(
                f"{self.name}: {symbol}: give an exchange_order_id or a client_order_id"
            )
        self._require_market(symbol)
        return self._lookup(symbol, exchange_order_id, client_order_id)

    def fetch_open_orders(self, symbol: str | None = None) -> list[Order]:
        if symbol is not None:
            self._require_market(symbol)
        what = f"fetch_open_orders {symbol or '(all)'}"
        raw = self._call(what, lambda: self._client.fetch_open_orders(symbol))
        if not isinstance(raw, list):
            raise BadExchangeData(f"{self.name}: {what}: expected a list, got {type(raw).__name__}")
        unknown = [
            item
            for item in raw
            if isinstance(item, dict)
            and (number := mapping.order_list_id(item)) is not None
            and (item.get("symbol"), number) not in self._list_ids
        ]
        if unknown:  # one request names every open list, instead of one per leg
            lists = self._call("fetch_open_order_lists", self._client.privateGetOpenOrderList)
            self._remember_lists(lists, "fetch_open_order_lists")
        return [self._order(item, item.get("symbol") or "", what) for item in raw]

    # --- placing -------------------------------------------------------------------------

    def place_at_most_once(
        self, what: str, ids: str, submit: Callable[[], T], lookup: Callable[[], T]
    ) -> T:
        """`submit()` at most once in effect, whatever the network does.

        A transient failure leaves the outcome unknown, so: wait, `lookup()` by client order
        id (itself retried), adopt what it finds; resubmit with the same ids only when it
        raises `OrderNotFound`; a "duplicate" refusal means it exists after all, so look
        again. Permanent refusals surface at once.
        """
        try:
            return submit()
        except TransientExchangeError as exc:
            unknown: Exception = exc
        for attempt in range(1, self.retry.attempts + 1):
            log.warning(
                "order outcome unknown; looking it up by client order id",
                client_order_id=ids,
                attempt=attempt,
                error=unknown.__class__.__name__,
            )
            time.sleep(self.order_lookup_delay * attempt)
            try:
                return lookup()
            except OrderNotFound:
                pass
            except TransientExchangeError as exc:
                unknown = exc
                continue
            try:
                return submit()
            except (TransientExchangeError, DuplicateClientOrderId) as exc:
                unknown = exc
        raise ExchangeTimeout(
            f"{what}: outcome still unknown after {self.retry.attempts} lookups "
            f"(last error: {unknown.__class__.__name__}); look it up by client order id "
            f"{ids} before doing anything else"
        )

    def create_order(
        self,
        symbol: str,
        side: Side,
        type: OrderType,
        amount: float,
        price: float | None = None,
        *,
        client_order_id: str,
        stop_price: float | None = None,
    ) -> Order:
        """Place an order at most once (`place_at_most_once`).

        A `stop_loss_limit` goes out as ccxt's unified stop-loss limit order (`limit` with
        `stopLossPrice`), which Binance's connector sends as `type=STOP_LOSS_LIMIT` with
        `stopPrice`, `price` and `timeInForce=GTC`, and other venues as their own kind.
        """
        self._require_market(symbol)
        what = f"create_order {symbol} {side} {type} {amount} @ {price} ({client_order_id})"
        params: dict[str, Any] = {"clientOrderId": client_order_id}
        ccxt_type = "limit" if type in ("limit", "stop_loss_limit") else type
        if type == "stop_loss_limit":
            if stop_price is None or price is None:
                raise InvalidOrder(
                    f"{self.name}: {what}: a stop_loss_limit needs stop_price and price"
                )
            params |= {"stopLossPrice": stop_price, "timeInForce": "GTC"}
        elif stop_price is not None:
            raise InvalidOrder(f"{self.name}: {what}: a {type} order takes no stop_price")
        if type == "limit_maker":
            ccxt_type, params = "limit", params | {"postOnly": True}

        def submit() -> Order:
            raw = self._once(
                what,
                lambda: self._client.create_order(symbol, ccxt_type, side, amount, price, params),
            )
            return self._order(raw, symbol, what)

        return self.place_at_most_once(
            what, repr(client_order_id), submit, lambda: self._lookup(symbol, None, client_order_id)
        )

    def create_oco_sell(
        self,
        symbol: str,
        amount: float,
        *,
        target_price: float,
        stop_price: float,
        stop_limit_price: float,
        list_client_order_id: str,
        target_client_order_id: str,
        stop_client_order_id: str,
    ) -> tuple[Order, Order]:
        """Place a one-cancels-the-other sell at most once: (target leg, stop leg).

        Sent through ccxt's implicit Binance method for `POST /api/v3/orderList/oco` (ccxt has
        no unified OCO): a LIMIT_MAKER leg above at `target_price`, a STOP_LOSS_LIMIT leg
        below. After a transient failure both legs are looked up by their client order ids;
        a list with one leg found and the other not is refused rather than completed, since a
        venue places a list whole.
        """
        self._require_market(symbol)
        if not callable(getattr(self._client, "privatePostOrderListOco", None)):
            raise InvalidOrder(f"{self.name}: {symbol}: OCO order lists are not supported")
        what = (
            f"create_oco_sell {symbol} {amount} target {target_price} stop {stop_price}/"
            f"{stop_limit_price} ({list_client_order_id})"
        )
        legs = {"list": list_client_order_id, "target": target_client_order_id}
        legs["stop"] = stop_client_order_id
        client = self._client
        try:
            request = {
                "symbol": client.market_id(symbol),
                "side": "SELL",
                "quantity": client.amount_to_precision(symbol, amount),
                "listClientOrderId": list_client_order_id,
                "aboveType": "LIMIT_MAKER",
                "abovePrice": client.price_to_precision(symbol, target_price),
                "aboveClientOrderId": target_client_order_id,
                "belowType": "STOP_LOSS_LIMIT",
                "belowStopPrice": client.price_to_precision(symbol, stop_price),
                "belowPrice": client.price_to_precision(symbol, stop_limit_price),
                "belowTimeInForce": "GTC",
                "belowClientOrderId": stop_client_order_id,
                "newOrderRespType": "FULL",
            }
        except ccxt.BaseError as exc:  # an amount or price that rounds to nothing
            raise mapping.map_error(exc, f"{self.name}: {what}", None) from None

        def check(found: list[Order]) -> tuple[Order, Order]:
            return mapping.check_legs(
                found,
                list_client_order_id=list_client_order_id,
                target_client_order_id=target_client_order_id,
                stop_client_order_id=stop_client_order_id,
                where=f"{self.name}: {what}",
            )

        def submit() -> tuple[Order, Order]:
            reply = self._once(what, lambda: client.privatePostOrderListOco(request))
            self._remember_lists(reply, what)
            reports = reply.get("orderReports") if isinstance(reply, dict) else None
            if not isinstance(reports, list):
                raise BadExchangeData(f"{self.name}: {what}: reply without orderReports")
            market = client.market(symbol)
            parsed = self._once(what, lambda: [client.parse_order(r, market) for r in reports])
            return check([self._order(p, symbol, what) for p in parsed])

        def lookup() -> tuple[Order, Order]:
            found, missing = [], []
            for cid in (target_client_order_id, stop_client_order_id):
                try:
                    found.append(self._lookup(symbol, None, cid))
                except OrderNotFound:
                    missing.append(cid)
            if not found:
                raise OrderNotFound(f"{self.name}: {what}: neither leg exists")
            if missing:
                raise BadExchangeData(
                    f"{self.name}: {what}: leg {missing[0]} not found while "
                    f"{found[0].client_order_id} exists; refusing to complete a list by hand"
                )
            return check(found)

        return self.place_at_most_once(what, repr(legs), submit, lookup)

    # --- canceling -----------------------------------------------------------------------

    def cancel_order(
        self,
        symbol: str,
        exchange_order_id: str | None = None,
        *,
        client_order_id: str | None = None,
    ) -> Order:
        """Cancel, retried on transient errors; a "not found" after a lost reply is checked
        against the order's state, since the first attempt may have canceled it. Canceling
        one leg of an OCO cancels the whole list (the venue does it)."""
        if exchange_order_id is None and client_order_id is None:
            raise InvalidOrder(
                f"{self.name}: {symbol}: give an exchange_order_id or a client_order_id"
            )
        self._require_market(symbol)
        params = {} if client_order_id is None else {"origClientOrderId": client_order_id}
        what = f"cancel_order {symbol} {exchange_order_id or client_order_id}"
        failed_before = False

        def attempt() -> Order:
            nonlocal failed_before
            try:
                raw = self._once(
                    what, lambda: self._client.cancel_order(exchange_order_id, symbol, params)
                )
            except TransientExchangeError:
                failed_before = True
                raise
            except OrderNotFound:
                if failed_before:
                    order = self._lookup(symbol, exchange_order_id, client_order_id)
                    if order.status == "canceled":
                        return order
                raise
            return self._order(raw, symbol, what)

        return self.retry.call(attempt, what=what)
