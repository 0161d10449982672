"""`ohlcv_<tf>`: candles per day × symbol, fetched, validated, then handed to the IO manager.

Validation happens here, before the IO manager writes, because a blocking asset check runs
only after the write (the materialization is already recorded then): a partition with a bad candle fails with the full report
and the store keeps its previous rows. Gaps are only warnings and pass, visible as a check.
"""

from datetime import UTC, datetime

import dagster as dg
import polars as pl

import awan_trading.market.validation
from awan_pipelines.io_managers import CANDLES, KIND, TIMEFRAME
from awan_pipelines.metadata import add_partition_metadata, rows_of
from awan_pipelines.partitions import partition_dates, windows_by_symbol
from awan_pipelines.resources import ExchangeResource, StoreResource
from awan_pipelines.versions import code_version
from awan_trading.exchange.base import Exchange
from awan_trading.exchange.cache_first import missing_ranges
from awan_trading.market.schema import empty_candles
from awan_trading.market.timeframes import Timeframe, parse_timeframe
from awan_trading.market.validation import RULES, findings_frame
from awan_trading.storage import Store

CANDLE_RULES_CHECK = "candle_rules"
GAPS_CHECK = "no_gaps"
FRESHNESS_CHECK = "fresh"


def ohlcv_key(timeframe: str) -> dg.AssetKey:
    return dg.AssetKey(f"ohlcv_{timeframe}")


def rule_counts_table(findings: pl.DataFrame) -> dg.MetadataValue:
    counts = dict(findings.group_by("rule").len().iter_rows()) if findings.height else {}
    return dg.MetadataValue.table(
        records=[
            dg.TableRecord({"rule": r, "severity": s, "count": int(counts.get(r, 0))})
            for r, s in RULES.items()
        ],
        schema=dg.TableSchema(
            columns=[
                dg.TableColumn("rule", "string"),
                dg.TableColumn("severity", "string"),
                dg.TableColumn("count", "int"),
            ]
        ),
    )


def findings_markdown(findings: pl.DataFrame, limit: int = 20) -> str:
    lines = [
        f"- `{r['symbol']} {r['ts']:%Y-%m-%dT%H:%M}Z` **{r['rule']}** {r['detail']}"
        for r in findings.head(limit).iter_rows(named=True)
    ]
    more = f"\n- … and {findings.height - limit} more" if findings.height > limit else ""
    return "\n".join(lines) + more if lines else "_none_"


def build_ohlcv_asset(
    timeframe: str, partitions: dg.MultiPartitionsDefinition, *, freshness_multiple: int = 3
) -> dg.AssetsDefinition:
    tf = parse_timeframe(timeframe)
    key = ohlcv_key(tf.name)

    @dg.asset(
        key=key,
        group_name="market",
        partitions_def=partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        io_manager_key="store_io_manager",
        metadata={KIND: CANDLES, TIMEFRAME: tf.name},
        kinds={"polars"},
        description=f"{tf} OHLCV candles per UTC day and symbol, validated before they are stored.",
        code_version=code_version(awan_trading.market.validation),
        check_specs=[
            dg.AssetCheckSpec(
                CANDLE_RULES_CHECK, asset=key, blocking=True, description="every candle rule holds"
            ),
            dg.AssetCheckSpec(
                GAPS_CHECK,
                asset=key,
                description="no candles missing (warning: quiet markets skip candles)",
            ),
            dg.AssetCheckSpec(
                FRESHNESS_CHECK,
                asset=key,
                blocking=True,
                description="the running day is up to date",
            ),
        ],
    )
    def ohlcv(context: dg.AssetExecutionContext, exchange: ExchangeResource, store: StoreResource):
        venue, db = exchange.get(), store.get()
        now = venue.now()
        frames = []
        for symbol, spans in windows_by_symbol(context.partition_keys).items():
            for start, end in spans:
                stop = min(end, tf.floor(now))
                if stop <= start:
                    continue
                frame, fetched = fetch_missing(venue, db, exchange.name, symbol, tf, start, stop)
                frames.append(frame)
                context.log.info(
                    f"{symbol} {tf} {start:%Y-%m-%d} → {end:%Y-%m-%d}: "
                    f"{frame.height - fetched} stored candle(s) reused, {fetched} fetched"
                )
        candles = pl.concat(frames) if frames else empty_candles()
        findings = (
            findings_frame(candles, tf)
            if candles.height
            else pl.DataFrame(schema={"rule": pl.String})
        )
        errors = findings.filter(pl.col("severity") == "error") if findings.height else findings
        if errors.height:
            raise dg.Failure(
                description=(
                    f"{errors.height} validation error(s) on "
                    f"{errors.select('symbol', 'ts').n_unique()} candle(s); nothing was stored"
                ),
                metadata={
                    "rules": rule_counts_table(findings),
                    "findings": dg.MetadataValue.md(findings_markdown(errors)),
                },
            )
        gaps = findings.filter(pl.col("rule") == "gap") if findings.height else findings
        add_partition_metadata(
            context,
            candles,
            {str(k): {"gaps": rows_of(gaps, k).height} for k in context.partition_keys},
        )
        yield dg.Output(candles)
        yield dg.AssetCheckResult(
            check_name=CANDLE_RULES_CHECK,
            passed=True,
            metadata={"rules": rule_counts_table(findings)},
        )
        yield dg.AssetCheckResult(
            check_name=GAPS_CHECK,
            passed=gaps.height == 0,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"gaps": gaps.height, "where": dg.MetadataValue.md(findings_markdown(gaps))},
        )
        today = now.astimezone(UTC).date().isoformat()
        covers_today = today in partition_dates(context.partition_keys)
        yield _freshness(candles, tf, now, covers_today, freshness_multiple)

    return ohlcv


def fetch_missing(
    venue: Exchange,
    db: Store,
    name: str,
    symbol: str,
    tf: Timeframe,
    start: datetime,
    end: datetime,
) -> tuple[pl.DataFrame, int]:
    """Cache-first: stored candles (closed and validated when written) are reused; only the
    missing head and tail of [start, end) are asked of the exchange. Nothing is written here —
    the IO manager replaces the window after validation."""
    stored = db.read_candles(name, symbol, tf.name, start, end)
    fetched = [
        venue.fetch_ohlcv(symbol, tf, lo, hi) for lo, hi in missing_ranges(stored, start, end, tf)
    ]
    if not fetched:
        return stored, 0
    fresh = pl.concat(fetched)
    return pl.concat([stored, fresh]).sort("ts"), fresh.height


def _freshness(
    candles: pl.DataFrame, tf: Timeframe, now: datetime, covers_today: bool, multiple: int
) -> dg.AssetCheckResult:
    """When the run covers the running UTC day, its newest candle must have closed recently."""
    if not covers_today:
        return dg.AssetCheckResult(
            check_name=FRESHNESS_CHECK, passed=True, metadata={"note": "historical partitions"}
        )
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    todays = candles.filter(pl.col("ts") >= today) if candles.height else candles
    newest_close = (todays["ts"].max() + tf.delta) if todays.height else today
    lag = now - newest_close
    return dg.AssetCheckResult(
        check_name=FRESHNESS_CHECK,
        passed=lag <= tf.delta * multiple,
        metadata={
            "newest_close": str(newest_close),
            "lag_seconds": lag.total_seconds(),
            "allowed_seconds": (tf.delta * multiple).total_seconds(),
        },
    )
