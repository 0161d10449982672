"""The executor's positions and protective lists: the projection from fills, the list that rests
on the venue while a position is open, and recording what happened to its legs.

`Protecting` is the half of `execution.executor.Executor` that keeps positions guarded; the
position manager (`execution.manager`) and reconciliation call it, and the order path calls it
after an entry filled (`ensure_protection`) and before an exit (`_cancel_protection`). The
attributes it uses are set by `Executor.__init__`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from awan_trading.domain.orders import Order
from awan_trading.domain.positions import Position
from awan_trading.errors import OrderStateError
from awan_trading.exchange.base import Exchange
from awan_trading.exchange.errors import ExchangeError
from awan_trading.execution import ledger, protection
from awan_trading.execution.exits import ExitLevels, ExitParams
from awan_trading.storage.base import Store


class Protecting:
    """The guarding half of `Executor` (module docstring)."""

    exchange: Exchange
    store: Store
    params: ExitParams
    stop_limit_offset: float
    stale: Callable[[], None]
    sell_minimums: Callable[[], Mapping[str, float]]
    positions: Callable[[], dict[str, Position]]
    event: Callable[..., None]
    _settle: Callable[..., Order]

    def sync_positions(self, *, signal_ts: Mapping[str, int] | None = None) -> dict[str, Position]:
        """Rebuild the positions from fills; give a new round trip its exit levels."""
        self.stale()
        positions = ledger.rebuild_positions(self.store, self.exchange.name, self.sell_minimums())
        for symbol, position in positions.items():
            if position.signal_ts:
                continue  # levels already set for this round trip (kept by the rebuild)
            levels = ExitLevels.at_entry(position.entry_price, self.params)
            position.stop_price = levels.stop_price
            position.target_price = levels.target_price
            position.high_water = levels.high_water
            position.signal_ts = (signal_ts or {}).get(symbol) or position.entry_ts
            self.store.save_position(position)
        return positions

    def ensure_protection(self, symbol: str, *, n: int | None = None) -> list[Order]:
        """Place the position's protective list unless its current one is resting."""
        position = self.positions().get(symbol)
        if position is None or not protection.expects_protection(self.params):
            return []
        current = protection.current_n(position)
        if n is None:
            if current is not None and self._list_resting(position):
                return []
            n = 0 if current is None else current + 1
        market = self.exchange.markets()[symbol]
        plan = protection.design(position, self.params, market, n=n,
                                 limit_offset=self.stop_limit_offset)  # fmt: skip
        if plan is None:
            return []
        self.stale()  # the legs' intents and rows are written outside the book
        legs = protection.place(self.exchange, self.store, plan)
        self._record_legs(legs)
        position.stop_client_order_id = plan.stop_id
        self.store.save_position(position)
        return legs

    def _list_resting(self, position: Position) -> bool:
        ids = protection.leg_ids_of(position) or ()
        loaded = [ledger.load_order(self.store, self.exchange.name, cid) for cid in ids]
        return any(o is not None and o.is_resting for o in loaded)

    def _cancel_protection(self, symbol: str) -> protection.CanceledList:
        """Cancel the position's list, confirmed, and return its leg ids: when a leg was
        canceled, the caller looks up and records their final states (`_settle_legs`) after
        the acknowledgement of the order that needed the cancel — until then reconciliation
        would find them on the venue. When none was (`canceled` False), or the canceled leg
        had partly filled (`partly_filled`), the position may be smaller than recorded: see
        `_settle_ended_list`."""
        position = self.positions().get(symbol)
        ids = protection.leg_ids_of(position) if position else None
        if not ids:
            return protection.CanceledList((), canceled=False)
        return protection.cancel_list(self.exchange, symbol, ids)

    def _settle_ended_list(self, symbol: str, leg_ids: tuple[str, ...]) -> list[Order] | None:
        """Look up and record the final states of a list none of whose legs was left to
        cancel, or whose canceled leg had partly filled, before the exit that needed the
        cancel is sent: a stop or target that filled on the venue since the last observation
        closed or reduced the position, and the recorded fills say what is left to sell.
        None (logged) when the venue did not answer or a leg's report could not be recorded:
        the exit must then not be sent blind."""
        looked = self._look_up_legs(symbol, leg_ids)
        return looked[0] if looked is not None and looked[1] else None

    def _settle_legs(self, symbol: str, leg_ids: tuple[str, ...]) -> list[Order]:
        """Look up and record the final states of a canceled list's legs; a venue that does
        not answer leaves them to the next observation or reconciliation (logged)."""
        looked = self._look_up_legs(symbol, leg_ids)
        return [] if looked is None else looked[0]

    def _look_up_legs(
        self, symbol: str, leg_ids: tuple[str, ...]
    ) -> tuple[list[Order], bool] | None:
        """The legs' final states, recorded, and whether every one was; None (logged as
        `record_failed`) when the venue did not answer."""
        if not leg_ids:
            return [], True
        try:
            legs = protection.final_states(self.exchange, symbol, leg_ids)
        except ExchangeError as error:
            self.stale()
            self.event("record_failed", f"{symbol}: protective legs not looked up: {error}")
            return None
        return legs, self._record_legs(legs)

    def _record_legs(self, legs: Iterable[Order]) -> bool:
        """Record the legs' reports; False when one could not be (logged)."""
        legs = list(legs)
        if legs:
            self.stale()  # written outside the book: reloaded before it is read again
        recorded = True
        for report in legs:
            local = ledger.load_order(self.store, self.exchange.name, report.client_order_id)
            try:
                if local is None:
                    ledger.record(self.store, report)
                else:
                    self._settle(local, report)
            except (OrderStateError, ExchangeError) as error:
                self.event("record_failed", f"{report.client_order_id}: {error}")
                recorded = False
        return recorded
