"""Sensors of the awan code location: signals → execution runs, run-failure alerts.

`make_signal_sensor(job, selection)` turns each new row of the store's `signals` table into one
run of the execution job (the shape of Dagster's project_fully_featured sensors: a factory
over the job, unit-tested with `build_sensor_context(cursor=…)`). The cursor is the store's
`seq`, so a tick reads only rows it has not seen; the run key is the signal id, so the daemon
launches a key once per instance. That dedup lives in the instance database and goes with it
(a wiped or new instance starts from cursor 0 and re-requests every fresh signal), which is
why the execution itself is idempotent per signal id through the store's intent guard.

Not every row is for this location to trade: only the configured exchange, strategy,
parameter hash and timeframe are, and only while the signal is fresh — a backfill writes
months of historical signals, and trading those now would be wrong. Skipped rows still
advance the cursor.

`make_heartbeat_sensor(bot, timeframe)` watches the live loop (`awan live`) from outside: it
alerts once when the loop's heartbeat is older than two candles of the strategy timeframe (a
loop that died, hangs or was stopped), and once more when it beats again. Whether the alert
is out is the cursor's state, so a tick neither repeats an alert nor misses a recovery.

A failed ingest or execution run is something a trader must hear about without watching the
UI. The alert names the job and run id (to open it in the UI), the partition, the failed step
and the first line of its error. Sending goes through `TelegramResource`, which is a logged
no-op when Telegram is not configured, so the sensor itself never fails a tick for lack of it.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg

from awan_pipelines.execution import signal_run_request
from awan_pipelines.resources import StoreResource, TelegramResource
from awan_trading.market.timeframes import parse_timeframe
from awan_trading.notify import format_run_failure
from awan_trading.notify.events import heartbeat_recovered_notice, heartbeat_stale_notice

SIGNAL_SENSOR = "signal_sensor"
SIGNAL_PAGE = 500  # rows per store read; a tick reads pages until it has seen them all
HEARTBEAT_SENSOR = "live_heartbeat"


@dataclass(frozen=True)
class SignalSelection:
    """Which signals this location executes, and until when after their candle closed.

    `max_delay` counts from the close of the signal's candle (`ts + timeframe`, when the
    strategy decided); the default, one candle, keeps a signal tradable until the next
    candle closes, after which the next decision supersedes it.
    """

    exchange: str
    strategy: str
    params_hash: str
    timeframe: str
    max_delay: timedelta | None = None

    def skip_reason(self, row: Mapping[str, Any], now: datetime) -> str | None:
        """Why `row` is not executed here (a short label for the tick's log), or None."""
        for name in ("exchange", "strategy", "params_hash", "timeframe"):
            if row[name] != getattr(self, name):
                return f"other {name}"
        tf = parse_timeframe(self.timeframe)
        ts = row["ts"] if row["ts"].tzinfo else row["ts"].replace(tzinfo=UTC)
        closed = ts + tf.delta
        if now - closed > (self.max_delay if self.max_delay is not None else tf.delta):
            return "stale"
        return None


def _wall_clock() -> datetime:
    return datetime.now(UTC)


def make_signal_sensor(
    job: dg.JobDefinition,
    selection: SignalSelection,
    *,
    name: str = SIGNAL_SENSOR,
    clock: Callable[[], datetime] | None = None,
    minimum_interval_seconds: int = 5,
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.RUNNING,
) -> dg.SensorDefinition:
    """A sensor requesting one `job` run per new selected signal (run_key = signal id).

    `clock` is what "now" means for freshness (the wall clock; a replay passes the sim's).
    Dagster's default interval is 30 s; a signal waits at most `minimum_interval_seconds`
    plus the daemon's loop for its tick.
    """
    now = clock or _wall_clock

    @dg.sensor(
        name=name,
        job=job,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status,
        description=(
            f"One {job.name} run per new {selection.strategy} {selection.timeframe} signal "
            f"on {selection.exchange} (run key = signal id); cursor = the store's seq."
        ),
    )
    def signal_sensor(context: dg.SensorEvaluationContext, store: StoreResource):
        cursor = int(context.cursor or 0)
        at = now()
        requests: list[dg.RunRequest] = []
        skipped: Counter[str] = Counter()
        while True:
            page = store.get().signals_after(cursor, limit=SIGNAL_PAGE)
            for row in page.iter_rows(named=True):
                reason = selection.skip_reason(row, at)
                if reason is None:
                    requests.append(signal_run_request(row))
                else:
                    skipped[reason] += 1
            if page.height:
                cursor = int(page["seq"][-1])
            if page.height < SIGNAL_PAGE:
                break
        summary = ", ".join(f"{n} {why}" for why, n in sorted(skipped.items()))
        if summary:
            context.log.info(f"skipped signals up to seq {cursor}: {summary}")
        return dg.SensorResult(
            run_requests=requests,
            cursor=str(cursor),
            skip_reason=None
            if requests
            else f"no new signal to execute (seq {cursor}); {summary}".rstrip("; "),
        )

    return signal_sensor


@dataclass(frozen=True)
class HeartbeatCursor:
    """The heartbeat sensor's state: is the "down" alert out, and since which last beat."""

    down: bool = False
    last_beat: str | None = None  # ISO time of the last beat seen when the alert went out

    @classmethod
    def parse(cls, cursor: str | None) -> HeartbeatCursor:
        if not cursor:
            return cls()
        data = json.loads(cursor)
        return cls(bool(data.get("down")), data.get("last_beat"))

    def dump(self) -> str:
        return json.dumps({"down": self.down, "last_beat": self.last_beat}, sort_keys=True)


def make_heartbeat_sensor(
    bot: str,
    timeframe: str,
    *,
    name: str = HEARTBEAT_SENSOR,
    candles: int = 2,
    clock: Callable[[], datetime] | None = None,
    minimum_interval_seconds: int = 60,
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.RUNNING,
) -> dg.SensorDefinition:
    """A sensor alerting (sensor log and Telegram) when `bot`'s heartbeat is older than
    `candles` candles of `timeframe`, once, and once again when it recovers.

    The loop beats at every wake-up (every few seconds), so two candles of silence is no
    hiccup: the loop missed a close it should have acted on. A bot that never beat is not
    alerted (no live loop is deployed). `clock` is what "now" means (tests shift it).
    """
    limit = parse_timeframe(timeframe).delta * candles
    now = clock or _wall_clock

    @dg.sensor(
        name=name,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status,
        description=(
            f"Alerts once when the live loop {bot!r} has not beaten for {candles} {timeframe} "
            "candles, and once when it beats again (state in the cursor)."
        ),
    )
    def live_heartbeat(
        context: dg.SensorEvaluationContext, store: StoreResource, telegram: TelegramResource
    ):
        state = HeartbeatCursor.parse(context.cursor)
        last = store.get().last_heartbeat(bot)
        if last is None:
            return dg.SensorResult(
                skip_reason=f"bot {bot!r} has never written a heartbeat", cursor=state.dump()
            )
        beat_at, status = last
        beat_at = beat_at if beat_at.tzinfo else beat_at.replace(tzinfo=UTC)
        age = now() - beat_at
        if age > limit and not state.down:
            notice = heartbeat_stale_notice(bot, age, limit, status, beat_at)
            state = HeartbeatCursor(True, beat_at.isoformat())
        elif age <= limit and state.down:
            since = datetime.fromisoformat(state.last_beat) if state.last_beat else None
            notice = heartbeat_recovered_notice(bot, beat_at - since if since else None, status)
            state = HeartbeatCursor(False, None)
        else:
            word = "down" if state.down else "alive"
            return dg.SensorResult(
                skip_reason=f"{bot} {word}: last beat {age.total_seconds():.0f} s ago "
                f"({status}); limit {limit.total_seconds():.0f} s",
                cursor=state.dump(),
            )
        plain = notice.text.replace("<b>", "").replace("</b>", "")
        if state.down:
            context.log.warning(plain)
        else:
            context.log.info(plain)
        sent = telegram.notifier().send(notice.text, html=notice.html)
        context.log.info(f"heartbeat alert {'sent' if sent else 'not sent'} to Telegram")
        return dg.SensorResult(skip_reason=plain.splitlines()[0], cursor=state.dump())

    return live_heartbeat


def _error_text(event: dg.DagsterEvent) -> str:
    """The most telling message of a step failure: a `Failure`'s description, else the
    innermost cause (the user's exception, not Dagster's wrapper around it)."""
    data = event.step_failure_data
    if data is None:
        return event.message or ""
    if data.user_failure_data is not None and data.user_failure_data.description:
        return data.user_failure_data.description
    error = data.error
    if error is None:
        return event.message or ""
    while error.cause is not None:
        error = error.cause
    return error.message


def _partition(tags: Mapping[str, str]) -> str | None:
    """The run's partition, or its partition range (a backfill run covers many)."""
    if "dagster/partition" in tags:
        return tags["dagster/partition"]
    first, last = (tags.get(f"dagster/asset_partition_range_{end}") for end in ("start", "end"))
    return f"{first} … {last}" if first and last else None


def run_failure_text(context: dg.RunFailureSensorContext) -> str:
    """The alert for one failed run (the first failed step; a count when there are more)."""
    run = context.dagster_run
    steps = context.get_step_failure_events()
    if steps:
        step = steps[0].step_key or ""
        if len(steps) > 1:
            step += f" (+{len(steps) - 1} more)"
        error = _error_text(steps[0])
    else:
        step, error = None, context.failure_event.message or ""
    return format_run_failure(
        job=run.job_name,
        run_id=run.run_id,
        step=step,
        error=error,
        partition=_partition(run.tags),
    )


@dg.run_failure_sensor(
    name="run_failure_alert",
    description="Sends a Telegram alert naming the job, run, step and error of each failed run.",
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def run_failure_alert(context: dg.RunFailureSensorContext, telegram: TelegramResource) -> None:
    sent = telegram.notifier().send(run_failure_text(context))
    context.log.info(
        f"run failure alert for {context.dagster_run.run_id}: {'sent' if sent else 'not sent'}"
    )
