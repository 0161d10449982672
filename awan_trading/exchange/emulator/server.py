"""Running the emulator: on a background thread for tests, in the foreground for people.

Tests need a real socket that the real ccxt (requests) talks to, on a free port so parallel
workers never collide, started and stopped within a fixture; `EmulatorServer` runs the aiohttp
app on its own event loop in a daemon thread and exposes the state (sim, faults, request log)
to the test. `serve` is the same app in the foreground for `awan emulator --port`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from aiohttp import web

from awan_trading.exchange.emulator.app import EmulatorState, build_app
from awan_trading.exchange.emulator.faults import FaultScript
from awan_trading.exchange.sim import DEFAULT_SYMBOLS, SimExchange
from awan_trading.exchange.sim_market import SimMarket
from awan_trading.logs import get_logger

log = get_logger(__name__)
HOST = "127.0.0.1"


def shifted_clock(start: datetime | None):
    """The wall clock, moved so that it reads `start` now (None: the wall clock itself).

    Time keeps running, so resting orders fill and candles close as on a real exchange.
    """
    offset = (start - datetime.now(UTC)) if start is not None else None

    def clock() -> datetime:
        now = datetime.now(UTC)
        return now + offset if offset is not None else now

    return clock


def make_state(
    *,
    seed: int = 42,
    symbols: tuple[str, ...] = DEFAULT_SYMBOLS,
    balances: dict[str, float] | None = None,
    api_key: str | None = None,
    start: datetime | None = None,
    fee_rate: float | None = None,
    slippage_bps: float = 0.0,
    clock: Callable[[], datetime] | None = None,
    fees_in_received_asset: bool = False,
) -> EmulatorState:
    """A sim-backed emulator state. Its clock is the wall clock moved to `start`, or `clock`
    itself when given (a test that drives time, say to make a resting stop trigger).
    `fees_in_received_asset`: commissions as Binance charges them without BNB (a buy's in the
    base asset), instead of the sim's quote-only fees."""
    sim = SimExchange(
        SimMarket(seed),
        fee_rate=fee_rate,
        slippage_bps=slippage_bps,
        balances=dict(balances if balances is not None else {"USDT": 100_000.0}),
        clock=clock or shifted_clock(start),
        fees_in_received_asset=fees_in_received_asset,
    )
    return EmulatorState(sim=sim, symbols=tuple(symbols), api_key=api_key)


class EmulatorServer:
    """The emulator on a free loopback port in a background thread (a context manager)."""

    def __init__(self, state: EmulatorState | None = None, *, port: int = 0) -> None:
        self.state = state or make_state()
        self._port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def faults(self) -> FaultScript:
        return self.state.faults

    def start(self) -> EmulatorServer:
        self._thread = threading.Thread(target=self._run, name="awan-emulator", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=30)
        if self._error is not None:
            raise self._error
        return self

    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        runner = web.AppRunner(
            build_app(self.state), handler_cancellation=True, access_log=None, shutdown_timeout=1
        )
        try:
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, HOST, self._port)
            loop.run_until_complete(site.start())
            self.port = runner.addresses[0][1]
        except BaseException as exc:  # surfaced by start() in the caller's thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(runner.cleanup())
            loop.close()

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def serve(port: int, state: EmulatorState | None = None) -> None:
    """Run the emulator in the foreground until interrupted (`awan emulator`)."""
    state = state or make_state()
    log.info("exchange emulator listening", url=f"http://{HOST}:{port}", symbols=state.symbols)
    web.run_app(
        build_app(state), host=HOST, port=port, print=None, handler_cancellation=True,
        access_log=None,
    )  # fmt: skip
