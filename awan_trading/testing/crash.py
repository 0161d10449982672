"""The crash harness: kill the executor at a fault point, restart it, check the money.

`run_kill(seed, workdir)` is one randomized run: a loopback Binance emulator runs in this
process (its sim holds the exchange state across the executor's deaths); the executor runs in
a child process (`python -m awan_trading.testing.crash CONFIG`) over a list of signals, with
`AWAN_FAULT=crash_after:<random point>:<random n>`, so it dies with exit code 137 there; a
second child, unarmed, starts over the same store — reconcile, then every signal again — and
must finish. `check` then counts, on the exchange and in the store:
- venue orders per signal leg (must be exactly 1: none lost, none doubled),
- protective lists resting per open position (exactly 1) and for flat symbols (0),
- disagreements between the store and the exchange (orders' status and filled amount,
  fills per order, positions against balances) — must be 0.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from awan_trading.domain.ids import client_order_id, parse_client_order_id
from awan_trading.execution.faults import ENV, POINTS

SYMBOLS = ("BTC/USDT", "ETH/USDT", "SOL/USDT")
API_KEY = "crash-key"
PARAMS = {"stop_loss": 0.05, "take_profit": 0.1}


@dataclass
class RunResult:
    seed: int
    fault: str
    killed: bool  # the armed child died at the fault point (exit 137)
    finished: bool  # the restarted child completed
    legs: int = 0
    legs_with_one_order: int = 0
    open_positions: int = 0
    positions_with_one_list: int = 0
    stray_lists: int = 0
    disagreements: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.finished
            and self.legs == self.legs_with_one_order
            and self.open_positions == self.positions_with_one_list
            and self.stray_lists == 0
            and not self.disagreements
        )


def make_signals(rng: random.Random) -> list[dict]:
    """Per symbol buy, sell, buy (the last position stays open), interleaved at random."""
    base = datetime(2024, 1, 1, tzinfo=UTC).timestamp() + rng.randrange(10**6) * 3600
    plan = [(s, side) for s in SYMBOLS for side in ("buy", "sell", "buy")]
    order: list[tuple[str, str]] = []
    queues = {s: [p for p in plan if p[0] == s] for s in SYMBOLS}
    while any(queues.values()):
        symbol = rng.choice([s for s in SYMBOLS if queues[s]])
        order.append(queues[symbol].pop(0))
    return [
        {"symbol": s, "side": side, "ts": base + i * 3600, "run": uuid.uuid4().hex}
        for i, (s, side) in enumerate(order)
    ]


def child(config_path: str) -> int:
    """The executor process: reconcile, then every signal in order (idempotent on restart)."""
    from awan_trading.config import RiskConfig
    from awan_trading.domain.signals import SignalRecord
    from awan_trading.exchange.ccxt_exchange import CcxtExchange
    from awan_trading.exchange.rate_limit import RetryPolicy
    from awan_trading.execution.executor import Executor
    from awan_trading.signals import signal_id
    from awan_trading.storage import open_store
    from awan_trading.strategies.base import StrategyParams

    config = json.loads(Path(config_path).read_text())
    exchange = CcxtExchange(
        "binance", api_key=API_KEY, secret="s", api_url=config["url"], timeout=5.0,
        retry=RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05, max_retry_after=2.0),
        order_lookup_delay=0.01,
    )  # fmt: skip
    store = open_store(config["store"], migrate=True)
    params = StrategyParams(**PARAMS)
    executor = Executor(exchange, store, bot="crash", strategy=params,
                        risk=RiskConfig(max_open_positions=3, max_daily_loss=0.5),
                        fee=0.001, slippage=0.0, symbols=SYMBOLS)  # fmt: skip
    report = executor.reconcile()
    if not report.ok:
        print(report.describe(), file=sys.stderr)
        return 3
    for raw in config["signals"]:
        ts = datetime.fromtimestamp(raw["ts"], UTC)
        sid = signal_id(raw["run"], params.params_hash(), raw["symbol"], "1h", ts, raw["side"])
        price = exchange.fetch_ticker(raw["symbol"]).last
        record = SignalRecord(sid, "crash", params.params_hash(), exchange.name, raw["symbol"],
                              "1h", ts, raw["side"], price)  # fmt: skip
        result = executor.execute(record)
        if result.outcome in ("refused", "unknown"):
            print(f"{sid} {raw['side']} {raw['symbol']}: {result.outcome} "
                  f"{result.refusal.message if result.refusal else ''}", file=sys.stderr)  # fmt: skip
            return 4
    store.close()
    return 0


def _spawn(config: Path, fault: str | None) -> subprocess.CompletedProcess:
    # Children may cache bytecode: each run starts two interpreters, and recompiling ccxt
    # and polars' wrappers every time would dominate the run.
    env = {k: v for k, v in os.environ.items() if k not in (ENV, "PYTHONDONTWRITEBYTECODE")}
    if fault:
        env[ENV] = fault
    return subprocess.run(
        [sys.executable, "-m", "awan_trading.testing.crash", str(config)],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def run_kill(seed: int, workdir: Path, store_url: str | None = None) -> RunResult:
    """One randomized kill run (module docstring); `workdir` holds the config (and the
    DuckDB store unless `store_url` names an empty database, say a fresh PostgreSQL one)."""
    from awan_trading.exchange.emulator import EmulatorServer, make_state

    rng = random.Random(seed)
    fault = f"crash_after:{rng.choice(POINTS)}:{rng.randint(1, 3)}"
    signals = make_signals(rng)
    workdir.mkdir(parents=True, exist_ok=True)
    state = make_state(seed=seed, api_key=API_KEY, balances={"USDT": 30_000.0})
    with EmulatorServer(state) as server:
        config = workdir / "crash.json"
        store_url = store_url or f"duckdb:///{workdir / 'awan.duckdb'}"
        config.write_text(json.dumps({"url": server.url, "store": store_url, "signals": signals}))
        first = _spawn(config, fault)
        second = _spawn(config, None)
        result = RunResult(seed, fault, first.returncode == 137, second.returncode == 0)
        if not result.finished:
            result.disagreements.append(f"restart exit {second.returncode}: {second.stderr[-800:]}")
        check(result, state, store_url, signals)
    return result


def check(result: RunResult, state, store_url: str, signals: list[dict]) -> None:
    """Count orders per leg, lists per position, and store-vs-exchange disagreements."""
    from awan_trading.exchange.errors import OrderNotFound
    from awan_trading.execution.ledger import fills_by_order, load_orders
    from awan_trading.signals import signal_id
    from awan_trading.storage import open_store
    from awan_trading.strategies.base import StrategyParams

    sim = state.sim
    params_hash = StrategyParams(**PARAMS).params_hash()
    for raw in signals:
        ts = datetime.fromtimestamp(raw["ts"], UTC)
        sid = signal_id(raw["run"], params_hash, raw["symbol"], "1h", ts, raw["side"])
        cid = client_order_id(sid, "entry" if raw["side"] == "buy" else "exit")
        result.legs += 1
        result.legs_with_one_order += state.accepted.get(cid, 0) == 1
    store = open_store(store_url, migrate=False)
    try:
        positions = {p.symbol: p for p in store.positions("binance")}
        balance = sim.fetch_balance()
        for symbol in SYMBOLS:
            base = symbol.split("/")[0]
            lists = {
                parse_client_order_id(o.client_order_id).n
                for o in sim.fetch_open_orders(symbol)
                if parse_client_order_id(o.client_order_id).leg in ("stop", "take_profit")
            }
            held = balance.total(base)
            stored = positions[symbol].amount if symbol in positions else 0.0
            if abs(held - stored) > 1e-9:
                result.disagreements.append(f"{symbol}: store holds {stored}, exchange {held}")
            if held > 0:
                result.open_positions += 1
                result.positions_with_one_list += len(lists) == 1
            else:
                result.stray_lists += len(lists)
        fills = fills_by_order(store, "binance")
        for cid, order in load_orders(store, "binance").items():
            try:
                venue = sim.fetch_order(order.symbol, client_order_id=cid)
            except OrderNotFound:
                if order.status != "rejected":
                    result.disagreements.append(
                        f"{cid}: {order.status} in the store, unknown on the exchange"
                    )
                continue
            if (order.status, round(order.filled, 9)) != (venue.status, round(venue.filled, 9)):
                result.disagreements.append(
                    f"{cid}: store {order.status} {order.filled}, exchange {venue.status} {venue.filled}"
                )
            recorded = sum(f.amount for f in fills.get(cid, []))
            if abs(recorded - venue.filled) > 1e-9:
                result.disagreements.append(
                    f"{cid}: fills {recorded} recorded, {venue.filled} filled"
                )
    finally:
        store.close()


if __name__ == "__main__":
    raise SystemExit(child(sys.argv[1]))
