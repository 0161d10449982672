"""The main job on the embedded defaults: what `make demo` runs.

A newcomer's first command should show the real system, not a toy: it backfills the last 7
days × the configured symbols from the offline sim exchange into DuckDB through the same
Dagster jobs a deployment runs (validation, checks, indicators, signals), refreshes the
backtest and ranking reports, prints what happened, and leaves the runs in a Dagster instance
under `.awan/dagster` so `dagster dev` shows their lineage, checks and plots.
"""

from __future__ import annotations

import os
import shutil
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
from rich.console import Console
from rich.table import Table

from awan_pipelines.run_limits import DEMO_MAX_RUNTIME_S, max_runtime_tags
from awan_trading.config import load_config, load_settings
from awan_trading.errors import AwanError
from awan_trading.logs import setup_logging
from awan_trading.masking import mask_url

ROOT = Path(__file__).resolve().parents[1]
DAYS = 7
QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
console = Console()


def dagster_home(awan_home: Path) -> Path:
    """`$DAGSTER_HOME`, defaulting to `<AWAN_HOME>/dagster` with the repo's dagster.yaml."""
    home = Path(os.environ.get("DAGSTER_HOME") or (awan_home / "dagster")).resolve()
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def run_demo(days: int = DAYS) -> int:
    settings = load_settings()
    setup_logging(settings)
    config = load_config(settings.config_file)
    home = dagster_home(settings.home)
    from awan_pipelines.definitions import build_definitions

    defs = build_definitions(config, settings)

    symbols = sorted(config.universe.symbols)
    today = datetime.now(UTC).date()
    first, last = (
        (today - timedelta(days=days)).isoformat(),
        (today - timedelta(days=1)).isoformat(),
    )
    instance = dg.DagsterInstance.get()
    console.print(
        f"[bold]awan demo[/]: backfilling {first} → {last} × {', '.join(symbols)} from the "
        f"{config.universe.exchange} exchange into {mask_url(settings.resolved_store_url())}"
    )
    with console.status("ingest_job: fetch, validate, store, indicators, signals …"):
        ingest = run_ingest(defs, instance, first, last, symbols)
    console.print(
        f"ingest run {ingest.run_id}: {'[green]success' if ingest.success else '[red]failed'}"
    )
    if not ingest.success:
        return 1
    with console.status("reports_job: backtests and pair ranking …"):
        reports = defs.resolve_job_def("reports_job").execute_in_process(
            instance=instance,
            run_config=QUIET_LOGS,
            tags={"awan/trigger": "demo", **max_runtime_tags(DEMO_MAX_RUNTIME_S)},
            raise_on_error=False,
        )
    console.print(
        f"reports run {reports.run_id}: {'[green]success' if reports.success else '[red]failed'}"
    )
    print_summary(ingest, reports)
    console.print(
        "\nOpen the UI (asset graph, lineage, checks, plots):\n"
        f"  [bold]DAGSTER_HOME={home} .venv/bin/dagster dev -w workspace.yaml[/]"
    )
    return 0 if reports.success else 1


def run_ingest(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    first: str,
    last: str,
    symbols: list[str],
    max_runtime_s: int = DEMO_MAX_RUNTIME_S,
) -> dg.ExecuteInProcessResult:
    """One run over the rectangle of days × symbols, as a single-run backfill would launch.

    The run executes inside this process, so no code server watches it: if the demo is killed,
    only the monitoring daemon (`dagster dev` on this instance) ends the run, after
    `max_runtime_s` (`awan_pipelines.run_limits`).
    """
    return defs.resolve_job_def("ingest_job").execute_in_process(
        instance=instance,
        run_config=QUIET_LOGS,
        tags={
            "dagster/asset_partition_range_start": f"{first}|{symbols[0]}",
            "dagster/asset_partition_range_end": f"{last}|{symbols[-1]}",
            "awan/trigger": "demo",
            **max_runtime_tags(max_runtime_s),
        },
        raise_on_error=False,
    )


def print_summary(ingest: dg.ExecuteInProcessResult, reports: dg.ExecuteInProcessResult) -> None:
    assets = Table(title="materialized")
    for column in ("asset", "partitions", "rows", "first", "last"):
        assets.add_column(column)
    for node in sorted(
        {e.asset_key.to_user_string() for e in ingest.get_asset_materialization_events()}
    ):
        events = ingest.asset_materializations_for_node(node)
        if not events:
            continue
        rows = sum(e.metadata["dagster/row_count"].value for e in events)
        spans = [
            (e.metadata["first_ts"].value, e.metadata["last_ts"].value)
            for e in events
            if "first_ts" in e.metadata
        ]
        assets.add_row(
            node,
            str(len(events)),
            f"{rows:,}",
            min(s[0] for s in spans) if spans else "-",
            max(s[1] for s in spans) if spans else "-",
        )
    console.print(assets)
    checks = ingest.get_asset_check_evaluations()
    failed = [c for c in checks if not c.passed]
    console.print(f"asset checks: {len(checks) - len(failed)} passed, {len(failed)} failed")
    metrics = Table(title="backtests (last 30 days of stored 1h candles)")
    for column in ("strategy", "trades", "total return", "sharpe", "max drawdown"):
        metrics.add_column(column, justify="right")
    for node in ("backtest_boll_stoch", "backtest_ema_trend"):
        for event in reports.asset_materializations_for_node(node):
            values = {
                r.data["metric"]: r.data["value"] for r in event.metadata["metrics"].value.records
            }
            metrics.add_row(
                node.removeprefix("backtest_"),
                f"{values.get('trades', 0):.0f}",
                f"{values.get('total_return', 0):+.2%}",
                f"{values['sharpe']:.2f}" if "sharpe" in values else "-",
                f"{values.get('max_drawdown', 0):.2%}",
            )
    console.print(metrics)
    for event in reports.asset_materializations_for_node("pair_ranking"):
        ranking = Table(title="pair ranking (latest signal per symbol)")
        for column in ("rank", "symbol", "side", "score", "candle"):
            ranking.add_column(column)
        for record in event.metadata["ranking"].value.records:
            row = record.data
            ranking.add_row(
                str(row["rank"]), row["symbol"], row["side"], f"{row['score']:.4f}", row["ts"]
            )
        console.print(ranking)


def main() -> None:
    try:
        sys.exit(run_demo())
    except AwanError as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(2)


if __name__ == "__main__":
    main()
