"""`awan emulator`: the loopback Binance-spot emulator, for trying the ccxt path by hand.

Pointing a paper or live account at `http://127.0.0.1:<port>` (`open_exchange(...,
api_url=...)`) exercises the real ccxt connector — pagination, retries, order lookups —
against the deterministic sim market, with no internet and no account.
"""

from __future__ import annotations

from typing import Annotated

import typer

from awan_trading.cli.app import app, awan_command


@app.command("emulator")
@awan_command
def emulator(
    port: Annotated[int, typer.Option(help="loopback port to listen on")] = 8765,
    seed: Annotated[int, typer.Option(help="sim market seed (same seed, same candles)")] = 42,
    api_key: Annotated[
        str | None, typer.Option(help="accept only this X-MBX-APIKEY on signed endpoints")
    ] = None,
    fees_in_received_asset: Annotated[
        bool,
        typer.Option(
            help="charge commissions as Binance does without BNB: a buy's in the base asset "
            "(the position is then not a whole number of lot steps, and exits leave dust)"
        ),
    ] = False,
) -> None:
    """Serve Binance spot's REST API (as ccxt uses it) from the sim exchange on 127.0.0.1."""
    from awan_trading.exchange.emulator import make_state, serve

    typer.echo(f"exchange emulator on http://127.0.0.1:{port} (seed {seed}); Ctrl-C stops it")
    state = make_state(seed=seed, api_key=api_key, fees_in_received_asset=fees_in_received_asset)
    serve(port, state)
