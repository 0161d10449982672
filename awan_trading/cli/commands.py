"""Every `awan` command: its name, the module that defines it, and its one-line help.

`awan --help` is drawn from this table alone, so it imports no command module; running a
command (or asking for its `--help`) imports just the module named here, which registers its
commands on `awan_trading.cli.app.app` when imported. The help line is the first paragraph of
the command's docstring (or of its sub-app's `help`) — `tests/unit/test_cli_imports.py` checks
that each line matches and that every registered command is listed here.

A new command: define it in its module as usual (`@app.command(...)` + `@awan_command`) and add
one row here. The row order is the order `awan --help` lists the commands in.
"""

from __future__ import annotations

from typing import NamedTuple


class CommandEntry(NamedTuple):
    module: str  # under awan_trading.cli
    help: str


COMMANDS: dict[str, CommandEntry] = {
    "fetch": CommandEntry(
        "market",
        "Download candles into Parquet files (one per symbol) or the store, and print a summary.",
    ),
    "validate": CommandEntry(
        "market",
        "Check every validation rule; exit 1 on an error (or, with --strict, any finding).",
    ),
    "resample": CommandEntry(
        "market",
        "Aggregate a candle file to a higher timeframe (the still-forming last candle is dropped).",
    ),
    "indicators": CommandEntry(
        "indicators",
        "Write the input candles plus Bollinger, EMA, RSI, Stochastic RSI, ATR and MACD columns.",
    ),
    "backtest": CommandEntry(
        "backtest",
        "Backtest a strategy; write trades.parquet, equity.parquet, metrics.json, equity.png, "
        "chart.png.",
    ),
    "live": CommandEntry(
        "live",
        "Run the live loop: at each candle close, candles → indicators → signals → orders.",
    ),
    "heartbeat": CommandEntry(
        "live",
        "Exit 0 when the live loop beat within --max-age seconds, 1 otherwise (health checks).",
    ),
    "trades": CommandEntry(
        "trading",
        "List closed trades (derived from the fills in the store), oldest exit first.",
    ),
    "positions": CommandEntry(
        "trading",
        "List open positions (the store's projection of the fills).",
    ),
    "lineage": CommandEntry(
        "trading",
        "Trace a trade back: orders → signal → strategy and params → candle → the run that wrote it.",
    ),
    "status": CommandEntry(
        "control",
        "The live loop at a glance: mode, uptime, heartbeat, candle ages, positions, PnL, pause.",
    ),
    "balance": CommandEntry(
        "control",
        "Balances per currency: a live account's from the exchange, sim/paper from the fills.",
    ),
    "profit": CommandEntry(
        "control",
        "Realized PnL (closed trades) and unrealized PnL (open positions), per strategy and total.",
    ),
    "daily": CommandEntry("control", "Realized PnL per UTC day, newest first."),
    "performance": CommandEntry("control", "Realized PnL per pair, best first."),
    "pause": CommandEntry(
        "control", "Stop new entries (exits and the protective stops keep working)."
    ),
    "resume": CommandEntry("control", "Allow new entries again."),
    "forceexit": CommandEntry(
        "control",
        "Sell one open position (or all) at market at the live loop's next wake-up.",
    ),
    "telegram": CommandEntry("telegram", "The Telegram control bot."),
    "db": CommandEntry("db", "The store: schema migrations and status."),
    "cache": CommandEntry("db", "The hot cache (Redis or in-process)."),
    "emulator": CommandEntry(
        "emulator",
        "Serve Binance spot's REST API (as ccxt uses it) from the sim exchange on 127.0.0.1.",
    ),
}
