"""In a browser: what a newcomer sees in the Dagster UI after `make demo` and `dagster dev`.

One demo run (2 symbols × 7 days of 1h candles) and one `dagster dev` on its instance serve
every test here; headless Chromium (Debian's `chromium`, driven by Playwright through
`executable_path`) opens the lineage, a signals partition and the backtest, and the tests
assert on the page's text and images. With `AWAN_UPDATE_SCREENSHOTS=1` the screenshots are
also written to `docs/screenshots/`, where the README shows them.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import dagster as dg
import pytest

from tests.e2e.test_dagster_dev import _restore_signals, free_port, graphql

# One worker runs the whole module (`--dist loadgroup`), so the demo and `dagster dev` start once.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ui_browser")]

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
DAYS = 7
CONFIG = """
[universe]
symbols = ["BTC/USDT", "ETH/USDT"]
timeframes = ["1h"]
history_start = 2024-01-01
[strategy]
name = "boll_stoch"
timeframe = "1h"
"""


@pytest.fixture(scope="module")
def chromium() -> str:
    """Debian's chromium, installed when missing (Playwright's own download is unreachable)."""
    path = shutil.which("chromium")
    if path is None:
        # dpkg takes one installer at a time: wait for any other test process installing it.
        lock = open("/tmp/awan-chromium-install.lock", "w")  # noqa: SIM115  (held until exit)
        fcntl.flock(lock, fcntl.LOCK_EX)
        path = shutil.which("chromium")
    if path is None:
        for command in (
            ["apt-get", "update", "-qq"],
            ["apt-get", "install", "-y", "-qq", "chromium"],
        ):
            done = subprocess.run(command, capture_output=True, text=True, timeout=600)
            if done.returncode != 0:
                pytest.fail(f"{' '.join(command)} failed: {done.stderr[-2000:]}")
        path = shutil.which("chromium")
    if path is None:
        pytest.fail("apt-get installed chromium, but no `chromium` is on PATH")
    return path


@pytest.fixture(scope="module")
def demo_ui(tmp_path_factory) -> Iterator[tuple[int, Path, dict[str, str]]]:
    """The demo on a fresh home, then `dagster dev` with the command the demo prints."""
    tmp = tmp_path_factory.mktemp("ui")
    (tmp / "awan.toml").write_text(CONFIG)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWAN_")}
    env.update(
        DAGSTER_HOME=str(tmp / "dagster"),
        AWAN_HOME=str(tmp / "home"),
        AWAN_CONFIG_FILE=str(tmp / "awan.toml"),
    )
    demo = subprocess.run(
        [sys.executable, "-c", f"from awan_pipelines.demo import run_demo; exit(run_demo({DAYS}))"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    # The demo's printed command: its own config, so the UI's partitions start at its data.
    assert f"AWAN_CONFIG_FILE={tmp / 'home' / 'demo.toml'}" in demo.stdout.replace("\n", "")
    env["AWAN_CONFIG_FILE"] = str(tmp / "home" / "demo.toml")
    port = free_port()
    log = (tmp / "dagster.log").open("w")
    process = subprocess.Popen(
        [
            *(str(Path(sys.executable).parent / "dagster"), "dev"),
            *("-w", str(ROOT / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=_restore_signals,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError((tmp / "dagster.log").read_text()[-3000:]) from None
                time.sleep(1)
        yield port, tmp, env
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


@pytest.fixture(scope="module")
def page(chromium, demo_ui):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    port = demo_ui[0]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium)
        tab = browser.new_page(viewport={"width": 1400, "height": 1100})
        tab.set_default_timeout(120_000)
        tab.goto(f"http://127.0.0.1:{port}/overview", wait_until="networkidle")
        # A first visit asks to join the community; a newcomer clicks it away.
        with contextlib.suppress(PlaywrightTimeout):
            tab.get_by_role("button", name="Skip").click(timeout=15_000)
        tab.base = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
        yield tab
        browser.close()


def open_page(page, path: str) -> None:
    page.goto(page.base + path, wait_until="networkidle")


def screenshot(target, name: str, tmp: Path) -> None:
    shot = tmp / f"{name}.png"
    target.screenshot(path=str(shot))
    if os.environ.get("AWAN_UPDATE_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, SCREENSHOTS / shot.name)


def demo_day(offset: int) -> str:
    return (datetime.now(UTC).date() - timedelta(days=offset)).isoformat()


LINEAGE = """
query($keys: [AssetKeyInput!]) {
  assetNodes(assetKeys: $keys) { assetKey { path } dependencyKeys { path } }
}"""


def test_lineage_runs_ohlcv_indicators_signals_backtest(page, demo_ui):
    port, tmp, _ = demo_ui
    open_page(page, "/assets/backtest_boll_stoch?view=lineage&lineageScope=upstream&lineageDepth=4")
    graph = page.locator("body")
    for name in ("ohlcv_1h", "indicators_1h", "signals_1h_boll_stoch", "backtest_boll_stoch"):
        page.get_by_text(name, exact=True).first.wait_for()
    assert "market" in graph.inner_text() and "features" in graph.inner_text()
    page.wait_for_timeout(1500)  # the nodes' status rows fill in after the layout
    screenshot(page, "lineage", tmp)
    nodes = graphql(port, LINEAGE, {"keys": [{"path": ["backtest_boll_stoch"]}]})["assetNodes"]
    assert {d["path"][0] for d in nodes[0]["dependencyKeys"]} == {
        "signals_1h_boll_stoch",
        "ohlcv_1h",
    }


def test_a_signals_partition_shows_its_own_rows(page, demo_ui):
    _, tmp, _ = demo_ui
    day = demo_day(3)
    key = f"{day}|ETH/USDT"
    open_page(
        page, f"/assets/signals_1h_boll_stoch?view=partitions&partition={quote(key, safe='')}"
    )
    page.get_by_text(key, exact=True).first.wait_for()
    metadata = page.locator("table", has_text="dagster/row_count").first
    metadata.wait_for()
    text = metadata.inner_text()
    preview = metadata.locator("tr", has_text="preview").first.inner_text()
    assert "ETH/USDT" in preview and "BTC/USDT" not in preview
    assert day in preview
    shown_day = datetime.fromisoformat(day).strftime("%b %-d")  # first_ts as a date, e.g. "Nov 27"
    first_ts = metadata.locator("tr", has_text="first_ts").first.inner_text()
    assert shown_day in first_ts and "UTC" in first_ts
    assert "run_" not in text
    screenshot(page, "signals_partition", tmp)


def test_the_backtest_shows_metrics_trades_and_plots(page, demo_ui):
    _, tmp, _ = demo_ui
    # ema_trend trades more often than boll_stoch: a week of demo data gives its curve a shape.
    open_page(page, "/assets/backtest_ema_trend")
    for key in ("window_start", "total_return_pct", "sharpe", "trade_count", "trades"):
        page.get_by_text(key, exact=True).first.wait_for()
    # A plot is one click away: its row's "[Show Markdown]" opens it in a dialog.
    for key, alt, name in (
        ("equity_curve", "equity", "backtest_equity"),
        ("entries_exits", "chart", "backtest_entries"),
    ):
        row = page.locator("tr", has=page.get_by_text(key, exact=True)).first
        row.scroll_into_view_if_needed()
        row.get_by_text("[Show Markdown]").click()
        dialog = page.get_by_role("dialog")
        image = dialog.locator(f"img[alt='{alt}']").first
        image.wait_for()
        assert image.evaluate("img => img.complete && img.naturalWidth > 0"), alt
        page.wait_for_timeout(500)
        screenshot(dialog, name, tmp)
        page.keyboard.press("Escape")
        dialog.wait_for(state="hidden")
    metrics = page.locator("tr", has=page.get_by_text("metrics", exact=True)).first
    assert "%" in metrics.inner_text()  # percentages as percentages


RUNS = """
query {
  runsOrError {
    ... on Runs { results {
      runId pipelineName pipelineSnapshotId status
      repositoryOrigin { repositoryLocationName repositoryName }
      tags { key value }
    } }
  }
}"""
JOB = """
query($selector: PipelineSelector!) {
  pipelineOrError(params: $selector) { ... on Pipeline { pipelineSnapshotId } }
}"""


def test_demo_runs_are_the_code_locations_and_on_the_timeline(page, demo_ui):
    port, tmp, _ = demo_ui
    runs = graphql(port, RUNS)["runsOrError"]["results"]
    demo_runs = [r for r in runs if {"key": "awan/trigger", "value": "demo"} in r["tags"]]
    assert sorted(r["pipelineName"] for r in demo_runs) == [
        "ingest_job",
        "ingest_job",
        "reports_job",
    ]
    for run in demo_runs:
        assert run["repositoryOrigin"] == {
            "repositoryLocationName": "awan",
            "repositoryName": "__repository__",
        }
        selector = {
            "repositoryLocationName": "awan",
            "repositoryName": "__repository__",
            "pipelineName": run["pipelineName"],
        }
        current = graphql(port, JOB, {"selector": selector})["pipelineOrError"]
        # Same origin and snapshot: the UI re-executes it without a version warning.
        assert current["pipelineSnapshotId"] == run["pipelineSnapshotId"]
    symbols = {t["value"] for r in demo_runs for t in r["tags"] if t["key"] == "awan/symbol"}
    assert symbols == {"BTC/USDT", "ETH/USDT"}
    open_page(page, "/overview/activity/timeline")
    page.get_by_text("ingest_job", exact=True).first.wait_for()
    page.get_by_text("reports_job", exact=True).first.wait_for()
    screenshot(page, "timeline", tmp)


LAUNCH = """
mutation($params: ExecutionParams!) {
  launchPipelineExecution(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
  }
}"""


def test_a_ui_materialization_runs_its_steps_in_process(demo_ui):
    port, _, env = demo_ui
    key = f"{demo_day(2)}|BTC/USDT"
    day, symbol = key.split("|")
    # What the UI's "Materialize" sends for one partition of ohlcv_1h.
    params = {
        "selector": {
            "repositoryLocationName": "awan",
            "repositoryName": "__repository__",
            "pipelineName": "__ASSET_JOB",
            "assetSelection": [{"path": ["ohlcv_1h"]}],
        },
        "executionMetadata": {
            "tags": [
                {"key": "dagster/partition", "value": key},
                {"key": "dagster/partition/date", "value": day},
                {"key": "dagster/partition/symbol", "value": symbol},
            ]
        },
    }
    launched = graphql(port, LAUNCH, {"params": params})["launchPipelineExecution"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            run = instance.get_run_by_id(run_id)
            if run is not None and run.is_finished:
                break
            time.sleep(1)
        assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS, run
        engine = [
            e.message or ""
            for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT)
        ]
    assert any(m.startswith("Executing steps in process") for m in engine), engine
    assert not any("multiprocess" in m for m in engine), engine
