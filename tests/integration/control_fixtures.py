"""A store with a known trading history, made by the real executor on the sim.

Three hours ago the `boll_stoch` bot bought BTC/USDT and sold it an hour later (one closed
trade, today), then bought ETH/USDT (one open position). The 1h candles of both symbols are
stored up to the last closed hour, so positions are marked at the last stored close.

The sim's prices depend on the hour the test runs, so what a reply must say is computed here
from the raw fills and candles (`Facts`), by arithmetic of its own — not by the code under
test.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from awan_trading.config import RiskConfig
from awan_trading.control import ControlContext
from awan_trading.domain.signals import SignalRecord
from awan_trading.exchange.sim import SimExchange
from awan_trading.exchange.sim_market import SimMarket
from awan_trading.execution.executor import Executor
from awan_trading.signals import signal_id
from awan_trading.storage import Store
from awan_trading.strategies.base import StrategyParams
from tests.integration.manual_clock import ManualClock

BOT = "awan"
STRATEGY = "boll_stoch"
NO_EXITS = StrategyParams(stop_loss=None, take_profit=None)
SYMBOLS = ("BTC/USDT", "ETH/USDT")


@dataclass(frozen=True)
class Facts:
    """The history's numbers, from the fills (fees are charged in USDT by the sim)."""

    btc_entry: float
    btc_exit: float
    btc_stake: float  # quote paid, fee included
    pnl: float  # proceeds after the exit fee, minus the stake
    fees: float
    eth_amount: float
    eth_entry: float
    eth_stake: float
    eth_mark: float  # the last stored 1h close
    usdt: float
    exit_at: datetime

    @property
    def today_pnl(self) -> float:
        """The realized PnL of today (UTC): none in the first hours of a day."""
        return self.pnl if self.exit_at.date() == datetime.now(UTC).date() else 0.0

    @property
    def unrealized(self) -> float:
        return self.eth_amount * self.eth_mark - self.eth_stake


@dataclass
class Trading:
    store: Store
    sim: SimExchange
    clock: ManualClock
    executor: Executor
    facts: Facts | None = None

    def context(self, home, **kwargs) -> ControlContext:
        return ControlContext(self.store, bot=BOT, mode="sim", symbols=SYMBOLS, timeframe="1h",
                              home=home, **kwargs)  # fmt: skip

    def signal(self, side: str, symbol: str) -> SignalRecord:
        ts = self.sim.now()
        sid = signal_id(STRATEGY, NO_EXITS.params_hash(), symbol, "1h", ts, side)
        price = self.sim.fetch_ticker(symbol).last
        record = SignalRecord(sid, STRATEGY, NO_EXITS.params_hash(), "sim", symbol, "1h", ts,
                              side, price)  # type: ignore[arg-type]  # fmt: skip
        self.store.insert_signal(record)
        return record


def make_trading(store: Store) -> Trading:
    """The history in the module docstring, on `store`; the sim's clock ends at the last
    closed hour (so "today" is today, except in the first hours of a UTC day)."""
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = hour - timedelta(hours=3)
    clock = ManualClock(start)
    sim = SimExchange(SimMarket(11), balances={"USDT": 10_000.0}, clock=clock)
    executor = Executor(sim, store, bot=BOT, strategy=NO_EXITS, risk=RiskConfig(), fee=0.001,
                        slippage=0.0, clock=clock)  # fmt: skip
    trading = Trading(store, sim, clock, executor)
    assert executor.reconcile().ok
    assert executor.execute(trading.signal("buy", "BTC/USDT")).outcome == "filled"
    clock.now = start + timedelta(hours=1)
    assert executor.execute(trading.signal("sell", "BTC/USDT")).outcome == "filled"
    assert executor.execute(trading.signal("buy", "ETH/USDT")).outcome == "filled"
    clock.now = hour
    for symbol in SYMBOLS:
        candles = sim.fetch_ohlcv(symbol, "1h", start - timedelta(hours=5), hour)
        store.upsert_candles("sim", "1h", candles)
    store.heartbeat(BOT, "ok close=test")
    fills = {(r["symbol"], r["side"]): r for r in store.fills().iter_rows(named=True)}
    assert len(fills) == 3 and all(r["fee_currency"] == "USDT" for r in fills.values())
    buy, sell, eth = fills["BTC/USDT", "buy"], fills["BTC/USDT", "sell"], fills["ETH/USDT", "buy"]
    stake = buy["amount"] * buy["price"] + buy["fee"]
    proceeds = sell["amount"] * sell["price"] - sell["fee"]
    eth_stake = eth["amount"] * eth["price"] + eth["fee"]
    last = store.read_candles("sim", "ETH/USDT", "1h")["close"][-1]
    trading.facts = Facts(buy["price"], sell["price"], stake, proceeds - stake,
                          buy["fee"] + sell["fee"], eth["amount"], eth["price"], eth_stake, last,
                          10_000.0 - stake + proceeds - eth_stake, start + timedelta(hours=1))  # fmt: skip
    return trading
