"""Declarative automation: new candles flow downstream without a schedule per asset.

Candles are materialized by the ingest schedule or a backfill; indicators, signals and the
reports follow through `AutomationCondition`s, evaluated by the automation sensor. Two changes
to Dagster's `eager()`, both because of what awan's assets are:

- features drop `in_latest_time_window()`: a backfill of last month's candles must recompute
  last month's indicators and signals, not only today's;
- reports (unpartitioned, reading every partition) keep only "a signals partition was
  updated, and nothing upstream or of their own is running": with history partitions from
  `universe.history_start` some upstream day is always missing, so `~any_deps_missing()` would
  block them for good, and `newly_missing()` would start a backtest before any candle exists.
"""

from __future__ import annotations

import dagster as dg

AUTOMATION_SENSOR = "awan_automation"


def features_condition() -> dg.AutomationCondition:
    """Every partition whose upstream partitions (incl. look-back) were updated and exist."""
    return dg.AutomationCondition.eager().without(dg.AutomationCondition.in_latest_time_window())


def reports_condition() -> dg.AutomationCondition:
    """After signals were updated (or are requested in the same tick, so the reports run after
    them), once nothing upstream is still running. Candles alone do not trigger: a backtest
    decides on signals, and new candles without their signals would show a stale backtest."""
    return (
        dg.AutomationCondition.any_deps_updated()
        .ignore(dg.AssetSelection.groups("market"))
        .since_last_handled()
        & ~dg.AutomationCondition.any_deps_in_progress()
        & ~dg.AutomationCondition.in_progress()
    ).with_label("after upstream updates")


def automation_sensor() -> dg.AutomationConditionSensorDefinition:
    """The sensor that evaluates the conditions, on from the start (a sensor is off until
    someone turns it on otherwise); its runs are tagged so the UI can filter them."""
    return dg.AutomationConditionSensorDefinition(
        AUTOMATION_SENSOR,
        target=dg.AssetSelection.all(),
        default_status=dg.DefaultSensorStatus.RUNNING,
        run_tags={"awan/trigger": "automation"},
        description="Materializes indicators, signals and reports after new candles.",
    )
