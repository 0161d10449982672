"""Declarative automation: new candles flow downstream without a schedule per asset.

Candles are materialized by the ingest schedule or a backfill; indicators, signals and the
reports follow through `AutomationCondition`s, evaluated by the automation sensor. Two changes
to Dagster's `eager()`, both because of what awan's assets are:

- features drop `in_latest_time_window()`: a backfill of last month's candles must recompute
  last month's indicators and signals, not only today's;
- reports (unpartitioned, reading every partition) drop `~any_deps_missing()`: with history
  partitions from `universe.history_start`, some upstream day is always missing, which would
  block them for good. They run when any signal or candle partition they read was updated.
"""

from __future__ import annotations

import dagster as dg

AUTOMATION_SENSOR = "awan_automation"


def features_condition() -> dg.AutomationCondition:
    """Every partition whose upstream partitions (incl. look-back) were updated and exist."""
    return dg.AutomationCondition.eager().without(dg.AutomationCondition.in_latest_time_window())


def reports_condition() -> dg.AutomationCondition:
    """After any upstream partition was updated, once nothing upstream is still running."""
    return dg.AutomationCondition.eager().without(~dg.AutomationCondition.any_deps_missing())


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
