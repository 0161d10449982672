"""`python -m awan_trading.exchange.emulator --port 8765`: the emulator without the CLI."""

from __future__ import annotations

import argparse

from awan_trading.exchange.emulator.server import make_state, serve


def main() -> None:
    parser = argparse.ArgumentParser(description="Loopback Binance-spot emulator (sim-backed)")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--api-key", default=None, help="accept only this X-MBX-APIKEY")
    parser.add_argument(
        "--fees-in-received-asset",
        action="store_true",
        help="charge commissions as Binance does without BNB: a buy's in the base asset",
    )
    args = parser.parse_args()
    serve(
        args.port,
        make_state(
            seed=args.seed,
            api_key=args.api_key,
            fees_in_received_asset=args.fees_in_received_asset,
        ),
    )


if __name__ == "__main__":
    main()
