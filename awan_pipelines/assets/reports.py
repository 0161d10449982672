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

from awan_pipelines.assets.features import signals_key
from awan_pipelines.assets.market import ohlcv_key
from awan_pipelines.resources import CacheResource, ExchangeResource, StoreResource
from awan_trading.backtest import BacktestConfig, run_backtest
from awan_trading.backtest.plots import plot_equity, plot_trades
from awan_trading.strategies import BaseStrategy


def png_markdown(path: Path, title: str) -> dg.MetadataValue:
    """A PNG inlined as a data URI: the UI's markdown renderer allows `data:` images."""
    encoded = base64.b64encode(path.read_bytes()).decode()
    return dg.MetadataValue.md(f"![{title}](data:image/png;base64,{encoded})")


def table(records: list[dict], columns: dict[str, str]) -> dg.MetadataValue:
    return dg.MetadataValue.table(
        records=[dg.TableRecord(r) for r in records],
        schema=dg.TableSchema(
            columns=[dg.TableColumn(name, kind) for name, kind in columns.items()]
        ),
    )


def build_backtest_asset(
    strategy: BaseStrategy, timeframe: str, symbols: list[str], days: int, config: BacktestConfig
) -> dg.AssetsDefinition:
    @dg.asset(
        key=dg.AssetKey(f"backtest_{strategy.name}"),
        group_name="reports",
        deps=[ohlcv_key(timeframe)],
        kinds={"numba"},
        description=f"{strategy.name} backtested on the last {days} days of stored {timeframe} candles.",
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
        candles = db.read_candles(
            exchange.name, symbols, timeframe, end - timedelta(days=days), end
        )
        context.log.info(f"backtesting {strategy!r} on {candles.height} candles")
        result = run_backtest(candles, strategy, config, timeframe=timeframe)
        with tempfile.TemporaryDirectory() as tmp:
            equity_png = plot_equity(result.equity, Path(tmp) / "equity.png")
            chart_png = plot_trades(result.frame, result.trades, Path(tmp) / "chart.png")
            plots = {
                "equity_curve": png_markdown(equity_png, "equity"),
                "entries_exits": png_markdown(chart_png, "chart"),
            }
        metrics = {k: v for k, v in result.metrics.items() if v is not None}
        return dg.MaterializeResult(
            metadata={
                **plots,
                "metrics": table(
                    [{"metric": k, "value": float(v)} for k, v in metrics.items()],
                    {"metric": "string", "value": "float"},
                ),
                "trades": dg.MetadataValue.int(result.trades.height),
                "total_return": dg.MetadataValue.float(float(result.metrics["total_return"])),
                "params": dg.MetadataValue.json(strategy.params.model_dump(mode="json")),
                "window": dg.MetadataValue.text(
                    f"{candles['ts'].min()} → {candles['ts'].max()}" if candles.height else "empty"
                ),
            }
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
