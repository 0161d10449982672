"""Report assets: `backtest_<strategy>` and `pair_ranking`.

They are what a person looks at in the UI, so their output is metadata — a metrics table, the
equity curve and price-with-entries plots as inline PNGs, the ranking as a table — computed by
the same awan_trading backtester the CLI uses, over candles already in the store.
"""

import base64
import tempfile
from datetime import timedelta
from pathlib import Path

import dagster as dg
import polars as pl

import awan_trading.backtest.engine
import awan_trading.backtest.metrics
import awan_trading.backtest.run
from awan_pipelines.assets.features import signals_key
from awan_pipelines.assets.market import ohlcv_key
from awan_pipelines.automation import reports_condition
from awan_pipelines.metadata import table
from awan_pipelines.partitions import dimensions
from awan_pipelines.resources import CacheResource, ExchangeResource, StoreResource
from awan_pipelines.versions import code_version
from awan_trading.backtest import BacktestConfig, backtest_frame, risk_exits
from awan_trading.backtest.plots import plot_equity, plot_trades
from awan_trading.signals import SignalContext
from awan_trading.strategies import BaseStrategy

EQUITY_CHECK = "equity_never_negative"
# Metrics that are fractions (0.12 = 12 %): shown as percentages, plotted in percent.
PERCENT_METRICS = ("total_return", "cagr", "max_drawdown", "win_rate", "avg_trade", "exposure")
RATIO_METRICS = ("sharpe", "sortino", "profit_factor")
TRADES_SHOWN = 100


def png_markdown(path: Path, title: str) -> dg.MetadataValue:
    """A PNG inlined as a data URI: the UI's markdown renderer allows `data:` images."""
    encoded = base64.b64encode(path.read_bytes()).decode()
    return dg.MetadataValue.md(f"![{title}](data:image/png;base64,{encoded})")


def metric_entries(metrics: dict) -> dict[str, dg.MetadataValue]:
    """One numeric entry per key metric, so the UI plots each across materializations.

    Fractions become `<name>_pct` in percent (a plot axis reads 12.5, not 0.125); a metric
    that is undefined (no trades, a flat curve) is left out rather than shown as 0.
    """
    entries: dict[str, dg.MetadataValue] = {}
    for name in PERCENT_METRICS:
        if metrics.get(name) is not None:
            entries[f"{name}_pct"] = dg.MetadataValue.float(round(100 * metrics[name], 4))
    for name in RATIO_METRICS:
        if metrics.get(name) is not None:
            entries[name] = dg.MetadataValue.float(round(float(metrics[name]), 4))
    entries["trade_count"] = dg.MetadataValue.int(int(metrics.get("trades") or 0))
    return entries


def metrics_table(metrics: dict) -> dg.MetadataValue:
    """All metrics as text, percentages as percentages (`+12.34 %`)."""
    records = []
    for name, value in metrics.items():
        if value is None:
            text = "n/a"
        elif name in PERCENT_METRICS:
            text = f"{100 * value:+.2f} %"
        elif name == "trades":
            text = f"{int(value)}"
        else:
            text = f"{value:,.2f}"
        records.append({"metric": name, "value": text})
    return table(records, {"metric": "string", "value": "string"})


def trades_table(trades: pl.DataFrame) -> dg.MetadataValue:
    """The most recent trades, newest first: what a trader scans after the equity curve."""
    rows = trades.sort("entry_ts", descending=True).head(TRADES_SHOWN)
    records = [
        {
            "symbol": r["symbol"],
            "entry": f"{r['entry_ts']:%Y-%m-%d %H:%M}",
            "exit": f"{r['exit_ts']:%Y-%m-%d %H:%M}" if r["exit_ts"] else "open",
            "entry_price": round(r["entry_price"], 6),
            "exit_price": round(r["exit_price"], 6) if r["exit_price"] is not None else None,
            "return": f"{100 * r['return']:+.2f} %" if r["return"] is not None else "",
            "pnl": round(r["pnl"], 2) if r["pnl"] is not None else None,
            "exit_reason": r["exit_reason"] or "",
        }
        for r in rows.iter_rows(named=True)
    ]
    return table(
        records,
        {
            "symbol": "string",
            "entry": "string",
            "exit": "string",
            "entry_price": "float",
            "exit_price": "float",
            "return": "string",
            "pnl": "float",
            "exit_reason": "string",
        },
    )


def with_stored_signals(
    candles: pl.DataFrame, signals: pl.DataFrame, context: SignalContext
) -> pl.DataFrame:
    """Candles flagged `enter_long` / `exit_long` (and `score`) from the stored signal rows.

    Only this strategy's current parameters count: the store keeps signals of earlier
    parameter sets too (their ids differ).
    """
    own = signals.filter(pl.col("params_hash") == context.params_hash).with_columns(
        pl.col("ts").dt.cast_time_unit("ms")
    )
    buys = own.filter(pl.col("side") == "buy").select("symbol", "ts", "score")
    sells = own.filter(pl.col("side") == "sell").select("symbol", "ts", exit_long=pl.lit(True))
    return (
        candles.join(buys.with_columns(enter_long=pl.lit(True)), on=["symbol", "ts"], how="left")
        .join(sells, on=["symbol", "ts"], how="left")
        .with_columns(
            pl.col("enter_long").fill_null(False),
            pl.col("exit_long").fill_null(False),
            pl.col("score").fill_null(0.0),
        )
        .sort("symbol", "ts")
    )


def covered_candles(candles: pl.DataFrame, materialized: set[str]) -> pl.DataFrame:
    """The candles whose day × symbol signals partition has been materialized.

    A day whose signals were never computed has no signal rows, which a backtest would read as
    "no trade"; leaving its candles out keeps the reported window the one really covered.
    """
    days = [dimensions(k) for k in materialized]
    covered = pl.DataFrame(
        {"symbol": [d["symbol"] for d in days], "day": [d["date"] for d in days]},
        schema={"symbol": pl.String, "day": pl.String},
    )
    return candles.join(
        covered,
        left_on=["symbol", pl.col("ts").dt.strftime("%Y-%m-%d")],
        right_on=["symbol", "day"],
        how="semi",
    )


def build_backtest_asset(
    strategy: BaseStrategy, timeframe: str, symbols: list[str], days: int, config: BacktestConfig
) -> dg.AssetsDefinition:
    key = dg.AssetKey(f"backtest_{strategy.name}")
    signals = signals_key(timeframe, strategy.name)
    context_ids = SignalContext.of(strategy, timeframe)

    @dg.asset(
        key=key,
        group_name="reports",
        # The decisions come from the stored signals; the candles are the prices it fills at.
        deps=[signals, ohlcv_key(timeframe)],
        kinds={"numba"},
        description=(
            f"{strategy.name} backtested on its stored {timeframe} signals over up to the last "
            f"{days} days of candles; `window_start`/`window_end` say what it covered."
        ),
        code_version=code_version(
            awan_trading.backtest.engine,
            awan_trading.backtest.run,
            awan_trading.backtest.metrics,
            params={
                "strategy": strategy.params.model_dump(mode="json"),
                "days": days,
                "config": repr(config),
            },
        ),
        automation_condition=reports_condition(),
        check_specs=[
            dg.AssetCheckSpec(
                EQUITY_CHECK, asset=key, description="the equity curve never goes below zero"
            )
        ],
    )
    def backtest(
        context: dg.AssetExecutionContext, store: StoreResource, exchange: ExchangeResource
    ) -> dg.MaterializeResult:
        db = store.get()
        latest = [
            t
            for s in symbols
            if (t := db.latest_candle_ts(exchange.name, s, timeframe)) is not None
        ]
        if not latest:
            raise dg.Failure(
                f"no {timeframe} candles stored for {', '.join(symbols)}; materialize ohlcv_{timeframe} first"
            )
        end = max(latest) + timedelta(seconds=1)
        start = end - timedelta(days=days)
        materialized = context.instance.get_materialized_partitions(signals)
        candles = covered_candles(
            db.read_candles(exchange.name, symbols, timeframe, start, end), materialized
        )
        if candles.is_empty():
            raise dg.Failure(
                f"no {signals.to_user_string()} partition materialized for the last {days} days "
                f"of {timeframe} candles; materialize the signals first"
            )
        stored = db.read_signals(exchange.name, symbols, timeframe, strategy.name, start, end)
        frame = with_stored_signals(candles, stored, context_ids)
        context.log.info(
            f"backtesting {strategy!r} on {candles.height} candles and "
            f"{int(frame['enter_long'].sum())} entry signal(s)"
        )
        result = backtest_frame(
            frame,
            timeframe=timeframe,
            config=config,
            exits=risk_exits(strategy),
            signal_ids=context_ids,
        )
        with tempfile.TemporaryDirectory() as tmp:
            equity_png = plot_equity(result.equity, Path(tmp) / "equity.png")
            chart_png = plot_trades(result.frame, result.trades, Path(tmp) / "chart.png")
            plots = {
                "equity_curve": png_markdown(equity_png, "equity"),
                "entries_exits": png_markdown(chart_png, "chart"),
            }
        first, last = candles["ts"].min(), candles["ts"].max()
        lowest = float(result.equity["equity"].min())
        return dg.MaterializeResult(
            metadata={
                "window_start": dg.MetadataValue.timestamp(first),
                "window_end": dg.MetadataValue.timestamp(last),
                "window_days": dg.MetadataValue.float(
                    round((last - first).total_seconds() / 86_400, 2)
                ),
                **metric_entries(result.metrics),
                **plots,
                "metrics": metrics_table(result.metrics),
                "trades": trades_table(result.trades),
                "symbols": dg.MetadataValue.text(", ".join(sorted(candles["symbol"].unique()))),
                "params": dg.MetadataValue.json(strategy.params.model_dump(mode="json")),
            },
            check_results=[
                dg.AssetCheckResult(
                    check_name=EQUITY_CHECK,
                    passed=lowest >= 0,
                    metadata={"lowest_equity": lowest},
                )
            ],
        )

    return backtest


def build_pair_ranking_asset(
    strategy: BaseStrategy, timeframe: str, symbols: list[str]
) -> dg.AssetsDefinition:
    @dg.asset(
        key=dg.AssetKey("pair_ranking"),
        group_name="reports",
        deps=[signals_key(timeframe, strategy.name)],
        description="Symbols ranked by their latest entry signal's score: who trades first when several signal at once.",
        code_version=code_version(build_pair_ranking_asset),
        automation_condition=reports_condition(),
    )
    def pair_ranking(
        store: StoreResource, exchange: ExchangeResource, cache: CacheResource
    ) -> dg.MaterializeResult:
        latest = store.get().latest_signals(exchange.name, timeframe, strategy.name)
        # Entries first, best score first: the order the executor serves simultaneous signals.
        ranked = latest.sort(
            [pl.col("side") != "buy", pl.col("score")], descending=[False, True]
        ).unique("symbol", keep="first", maintain_order=True)
        records = [
            {
                "rank": i + 1,
                "symbol": r["symbol"],
                "side": r["side"],
                "score": float(r["score"]),
                "ts": r["ts"].strftime("%Y-%m-%d %H:%M"),
            }
            for i, r in enumerate(ranked.iter_rows(named=True))
        ]
        top = next((r["symbol"] for r in records if r["side"] == "buy"), "none")
        # The live executor reads priorities from the hot cache (Redis sorted set when configured).
        cache.get().set_priorities({r["symbol"]: r["score"] for r in records if r["side"] == "buy"})
        return dg.MaterializeResult(
            metadata={
                "ranking": table(
                    records,
                    {
                        "rank": "int",
                        "symbol": "string",
                        "side": "string",
                        "score": "float",
                        "ts": "string",
                    },
                ),
                "top": dg.MetadataValue.text(top),
            }
        )

    return pair_ranking
