"""`indicators_<tf>` and `signals_<tf>_<strategy>`: features computed partition by partition.

Each reads its own partitions plus the days of look-back its longest window needs (a
`MultiPartitionMapping` that shifts only the date dimension), computes over that window with
the same awan_trading code the backtester and the live loop use, and keeps only its own days.
That is why a value computed one day at a time equals the value over the whole series (to the
tolerance `warmup_candles` documents for recursive indicators).
"""

import math
from collections.abc import Iterator

import dagster as dg
import polars as pl

import awan_trading.indicators.core
import awan_trading.indicators.frame
import awan_trading.signals
from awan_pipelines.assets.market import ohlcv_key
from awan_pipelines.automation import features_condition
from awan_pipelines.io_managers import INDICATORS, KIND, SIGNALS, STRATEGY, TIMEFRAME
from awan_pipelines.metadata import add_partition_metadata
from awan_pipelines.partitions import DATE, SYMBOL, windows_by_symbol
from awan_pipelines.versions import code_version
from awan_trading.indicators import (
    IndicatorParams,
    add_indicators,
    lookbacks,
    warmup_candles,
)
from awan_trading.market.schema import CANDLE_COLUMNS
from awan_trading.market.timeframes import Timeframe, parse_timeframe
from awan_trading.market.validation import findings_frame
from awan_trading.signals import SIGNAL_SCHEMA, SignalContext, signals_from_frame
from awan_trading.strategies import BaseStrategy

DAY_MS = 86_400_000
UNIQUE_IDS_CHECK = "unique_signal_ids"
ON_VALID_CANDLES_CHECK = "on_valid_candles"
WARMED_UP_CHECK = "no_null_after_warmup"


def lookback_days(candles: int, tf: Timeframe) -> int:
    """Whole days of earlier partitions that hold at least `candles` candles of `tf`."""
    return math.ceil(candles * tf.ms / DAY_MS)


def with_lookback(days: int) -> dg.MultiPartitionMapping:
    return dg.MultiPartitionMapping(
        {
            DATE: dg.DimensionPartitionMapping(
                DATE, dg.TimeWindowPartitionMapping(start_offset=-days)
            ),
            SYMBOL: dg.DimensionPartitionMapping(SYMBOL, dg.IdentityPartitionMapping()),
        }
    )


def own_rows(frame: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Trim a look-back window back to the partitions being materialized."""
    keep = pl.lit(False)
    for symbol, spans in windows_by_symbol(keys).items():
        for start, end in spans:
            keep = keep | (
                (pl.col("symbol") == symbol) & pl.col("ts").is_between(start, end, closed="left")
            )
    return frame.filter(keep) if frame.height else frame


def signal_checks(
    signals: pl.DataFrame, candles: pl.DataFrame, tf: Timeframe
) -> Iterator[dg.AssetCheckResult]:
    """No duplicate ids; no signal on a candle that is missing or breaks a rule.

    Both are invariants the executor relies on (one order per signal id; bad input never reaches
    a trade), so they are blocking and visible per partition in the UI.
    """
    duplicates = signals.filter(pl.col("signal_id").is_duplicated()) if signals.height else signals
    yield dg.AssetCheckResult(
        check_name=UNIQUE_IDS_CHECK,
        passed=duplicates.height == 0,
        metadata={"signals": signals.height, "duplicates": duplicates.height},
    )
    bad = pl.DataFrame(
        schema={"symbol": pl.String, "ts": signals.schema.get("ts", pl.Datetime("ms", "UTC"))}
    )
    if signals.height:
        keys = signals.select("symbol", "ts").unique()
        present = candles.select("symbol", "ts") if candles.height else keys.clear()
        missing = keys.join(present, on=["symbol", "ts"], how="anti")
        errors = (
            findings_frame(candles.select(CANDLE_COLUMNS), tf).filter(pl.col("severity") == "error")
            if candles.height
            else candles
        )
        broken = (
            keys.join(errors.select("symbol", "ts"), on=["symbol", "ts"], how="semi")
            if errors.height
            else keys.clear()
        )
        bad = pl.concat([missing, broken]).unique()
    yield dg.AssetCheckResult(
        check_name=ON_VALID_CANDLES_CHECK,
        passed=bad.height == 0,
        metadata={"signals_on_bad_or_missing_candles": bad.height},
    )


def nulls_after_warmup(
    computed: pl.DataFrame, own: pl.DataFrame, params: IndicatorParams
) -> pl.DataFrame:
    """Own rows with a null indicator where TA-Lib must already have given a value.

    An indicator's first value comes at a fixed row of its input (`lookbacks`); past that row
    of a symbol's window (look-back included) every value must exist, or a signal downstream
    would decide on a hole.
    """
    if own.is_empty():
        return own
    position = pl.int_range(pl.len()).over("symbol", order_by="ts")
    late_null = pl.any_horizontal(
        [pl.col(c).is_null() & (position >= n) for c, n in lookbacks(params).items()]
    )
    flagged = computed.filter(late_null).select("symbol", "ts")
    return own.join(flagged, on=["symbol", "ts"], how="semi")


def indicators_key(timeframe: str) -> dg.AssetKey:
    return dg.AssetKey(f"indicators_{timeframe}")


def signals_key(timeframe: str, strategy: str) -> dg.AssetKey:
    return dg.AssetKey(f"signals_{timeframe}_{strategy}")


def build_indicators_asset(
    timeframe: str, partitions: dg.MultiPartitionsDefinition, strategy: BaseStrategy
) -> dg.AssetsDefinition:
    tf = parse_timeframe(timeframe)
    params = strategy.indicator_params()
    days = lookback_days(warmup_candles(params), tf)
    key = indicators_key(tf.name)

    @dg.asset(
        key=key,
        group_name="features",
        partitions_def=partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        io_manager_key="store_io_manager",
        metadata={
            KIND: INDICATORS,
            TIMEFRAME: tf.name,
            "lookback_days": days,
            "params": params.model_dump(),
        },
        ins={"candles": dg.AssetIn(ohlcv_key(tf.name), partition_mapping=with_lookback(days))},
        kinds={"polars", "talib"},
        description=f"Bollinger, EMA, RSI, Stochastic RSI, ATR and MACD on {tf} candles ({days} day(s) of look-back).",
        code_version=code_version(
            awan_trading.indicators.core, awan_trading.indicators.frame, params=params.model_dump()
        ),
        automation_condition=features_condition(),
        check_specs=[
            dg.AssetCheckSpec(
                WARMED_UP_CHECK,
                asset=key,
                blocking=True,
                description="no indicator is null once its warm-up rows have passed",
            )
        ],
    )
    def indicators(context: dg.AssetExecutionContext, candles: pl.DataFrame):
        context.log.info(
            f"computing indicators over {candles.height} candles incl. {days} day(s) of look-back"
        )
        computed = add_indicators(candles, params) if candles.height else candles
        result = own_rows(computed, context.partition_keys)
        add_partition_metadata(context, result)
        yield dg.Output(result)
        late = nulls_after_warmup(computed, result, params) if result.height else result
        yield dg.AssetCheckResult(
            check_name=WARMED_UP_CHECK,
            passed=late.height == 0,
            metadata={
                "rows": result.height,
                "null_after_warmup": late.height,
                "first": str(late["ts"].min()) if late.height else "-",
            },
        )

    return indicators


def build_signals_asset(
    timeframe: str, partitions: dg.MultiPartitionsDefinition, strategy: BaseStrategy
) -> dg.AssetsDefinition:
    tf = parse_timeframe(timeframe)
    days = lookback_days(strategy.lookback, tf)
    key = signals_key(tf.name, strategy.name)

    @dg.asset(
        key=key,
        group_name="features",
        partitions_def=partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        io_manager_key="store_io_manager",
        metadata={
            KIND: SIGNALS,
            TIMEFRAME: tf.name,
            STRATEGY: strategy.name,
            "params": strategy.params.model_dump(),
            "params_hash": strategy.params.params_hash(),
        },
        ins={
            "indicators": dg.AssetIn(
                indicators_key(tf.name), partition_mapping=with_lookback(max(days, 1))
            )
        },
        kinds={"polars"},
        description=f"{strategy.name} entry/exit signals on {tf} candles; each signal id seeds one idempotent order.",
        code_version=code_version(
            type(strategy), awan_trading.signals, params=strategy.params.model_dump(mode="json")
        ),
        automation_condition=features_condition(),
        check_specs=[
            dg.AssetCheckSpec(
                UNIQUE_IDS_CHECK, asset=key, blocking=True, description="no signal_id twice"
            ),
            dg.AssetCheckSpec(
                ON_VALID_CANDLES_CHECK,
                asset=key,
                blocking=True,
                description="every signal sits on a stored candle that passes every rule",
            ),
        ],
    )
    def signals(context: dg.AssetExecutionContext, indicators: pl.DataFrame):
        if indicators.height:
            populated = strategy.populate(indicators.sort("symbol", "ts"))
            rows = signals_from_frame(populated, SignalContext.of(strategy, tf.name))
        else:
            rows = pl.DataFrame(schema=SIGNAL_SCHEMA)
        context.log.info(
            f"{rows.height} signal(s) over {indicators.height} candles incl. look-back"
        )
        result = own_rows(rows, context.partition_keys)
        add_partition_metadata(context, result)
        yield dg.Output(result)
        yield from signal_checks(result, indicators, tf)

    return signals
