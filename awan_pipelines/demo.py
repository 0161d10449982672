"""The main job on the embedded defaults: what `make demo` runs.

A newcomer's first command should show the real system, not a toy: it backfills the last 7
days × the configured symbols from the offline sim exchange into DuckDB through the same
Dagster jobs a deployment runs (validation, checks, indicators, signals), refreshes the
backtest and ranking reports, prints what happened, and leaves the runs in a Dagster instance
under `.awan/dagster` so `dagster dev` shows their lineage, checks and plots.

Its runs are the code location's (`runs.py`): one ingest run per symbol, as a backfill
launches them, then the reports. Its partitions start where its data does: it writes
`<AWAN_HOME>/demo.toml`, the config with `history_start` set to the first demo day, and the UI
command it prints loads that file — so a fresh demo shows 7 materialized days, not 7 days in a
sea of missing ones since `history_start`.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
from rich.console import Console
from rich.table import Table

from awan_pipelines.run_limits import DEMO_MAX_RUNTIME_S, max_runtime_tags, symbol_tags
from awan_pipelines.runs import CodeLocation, code_location, execute_job_run
from awan_trading.config import DEFAULT_CONFIG_FILE, Settings, load_config, load_settings
from awan_trading.errors import AwanError, ConfigError
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


def demo_config(settings: Settings, first: date) -> Path:
    """`<AWAN_HOME>/demo.toml`: the active config with `history_start = first`.

    Written as text so the file keeps its comments; then loaded like any config, which
    refuses anything the substitution could have broken.
    """
    source = settings.config_file or Path(DEFAULT_CONFIG_FILE)
    text = source.read_text() if source.exists() else ""
    line = f"history_start = {first.isoformat()}"
    text, found = re.subn(r"(?m)^history_start\s*=\s*[0-9-]+", line, text)
    if not found:
        text, found = re.subn(r"(?m)^\[universe\]\s*$", f"[universe]\n{line}", text)
    if not found:
        text += f"\n[universe]\n{line}\n"
    target = settings.home / "demo.toml"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    if load_config(target).universe.history_start != first:
        raise ConfigError(f"{source}: could not set universe.history_start for the demo")
    return target


def run_demo(days: int = DAYS) -> int:
    settings = load_settings()
    setup_logging(settings)
    today = datetime.now(UTC).date()
    first_day = today - timedelta(days=days)
    config_file = demo_config(settings, first_day).resolve()
    # The code location (here and in `dagster dev`) reads its config from this variable.
    os.environ["AWAN_CONFIG_FILE"] = str(config_file)
    config = load_config(config_file)
    home = dagster_home(settings.home)

    symbols = sorted(config.universe.symbols)
    first, last = first_day.isoformat(), (today - timedelta(days=1)).isoformat()
    instance = dg.DagsterInstance.get()
    console.print(
        f"[bold]awan demo[/]: backfilling {first} → {last} × {', '.join(symbols)} from the "
        f"{config.universe.exchange} exchange into {mask_url(settings.resolved_store_url())}"
    )
    with code_location(instance) as location:
        ingest = []
        for symbol in symbols:
            with console.status(
                f"ingest_job {symbol}: fetch, validate, store, indicators, signals …"
            ):
                ingest.append(run_ingest(instance, location, first, last, symbol))
            ok = ingest[-1].success
            console.print(
                f"ingest run {ingest[-1].run_id} ({symbol}): "
                f"{'[green]success' if ok else '[red]failed'}"
            )
            if not ok:
                return 1
        with console.status("reports_job: backtests and pair ranking …"):
            reports = execute_job_run(
                instance,
                location,
                "reports_job",
                {"awan/trigger": "demo", **max_runtime_tags(DEMO_MAX_RUNTIME_S)},
                QUIET_LOGS,
            )
    console.print(
        f"reports run {reports.run_id}: {'[green]success' if reports.success else '[red]failed'}"
    )
    print_summary(ingest, reports)
    console.print(
        "\nOpen the UI (asset graph, lineage, checks, plots):\n"
        f"  [bold]AWAN_CONFIG_FILE={config_file} DAGSTER_HOME={home} "
        ".venv/bin/dagster dev -w workspace.yaml[/]"
    )
    return 0 if reports.success else 1


def run_ingest(
    instance: dg.DagsterInstance,
    location: CodeLocation,
    first: str,
    last: str,
    symbol: str,
    max_runtime_s: int = DEMO_MAX_RUNTIME_S,
) -> dg.ExecutionResult:
    """One symbol's days in one run of `ingest_job`, as a single-run backfill launches them.

    The run executes inside this process, so no code server watches it: if the demo is killed,
    only the monitoring daemon (`dagster dev` on this instance) ends the run, after
    `max_runtime_s` (`awan_pipelines.run_limits`).
    """
    return execute_job_run(
        instance,
        location,
        "ingest_job",
        {
            "dagster/asset_partition_range_start": f"{first}|{symbol}",
            "dagster/asset_partition_range_end": f"{last}|{symbol}",
            "awan/trigger": "demo",
            **symbol_tags(symbol),
            **max_runtime_tags(max_runtime_s),
        },
        QUIET_LOGS,
    )


def print_summary(ingest: Sequence[dg.ExecutionResult], reports: dg.ExecutionResult) -> None:
    assets = Table(title="materialized")
    for column in ("asset", "partitions", "rows", "first", "last"):
        assets.add_column(column)
    for node in sorted(
        {e.asset_key.to_user_string() for r in ingest for e in r.get_asset_materialization_events()}
    ):
        events = [e for r in ingest for e in r.asset_materializations_for_node(node)]
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
            _utc(min(s[0] for s in spans)) if spans else "-",
            _utc(max(s[1] for s in spans)) if spans else "-",
        )
    console.print(assets)
    checks = [c for r in ingest for c in r.get_asset_check_evaluations()]
    failed = [c for c in checks if not c.passed]
    console.print(f"asset checks: {len(checks) - len(failed)} passed, {len(failed)} failed")
    metrics = Table(title="backtests (on the stored signals)")
    for column in ("strategy", "window", "trades", "total return", "sharpe", "max drawdown"):
        metrics.add_column(column, justify="right")
    for node in ("backtest_boll_stoch", "backtest_ema_trend"):
        for event in reports.asset_materializations_for_node(node):
            values = {k: v.value for k, v in event.metadata.items()}
            metrics.add_row(
                node.removeprefix("backtest_"),
                f"{values['window_days']:.1f} days to {_utc(values['window_end'])}",
                f"{values.get('trade_count', 0)}",
                f"{values.get('total_return_pct', 0):+.2f} %",
                f"{values['sharpe']:.2f}" if "sharpe" in values else "-",
                f"{values.get('max_drawdown_pct', 0):.2f} %",
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


def _utc(timestamp: float) -> str:
    return f"{datetime.fromtimestamp(timestamp, UTC):%Y-%m-%d %H:%M}"


def main() -> None:
    try:
        sys.exit(run_demo())
    except AwanError as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(2)


if __name__ == "__main__":
    main()
