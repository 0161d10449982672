"""A loopback Binance-spot emulator backed by the sim exchange, with scriptable faults.

The ccxt connector is only trustworthy if it is tested through the real ccxt library against
something that answers like Binance — including 429s, bans, 5xx, timeouts, garbage and lost
order replies — without internet. See `app` (the API), `faults` (what can go wrong) and
`server` (running it).
"""

from awan_trading.exchange.emulator.app import EmulatorState, Request
from awan_trading.exchange.emulator.faults import FAULT_KINDS, Fault, FaultScript
from awan_trading.exchange.emulator.server import EmulatorServer, make_state, serve

__all__ = [
    "FAULT_KINDS",
    "EmulatorServer",
    "EmulatorState",
    "Fault",
    "FaultScript",
    "Request",
    "make_state",
    "serve",
]
