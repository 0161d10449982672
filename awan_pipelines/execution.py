"""The `execute_signal` job: one run per signal, through the executor the live loop calls.

The signal sensor (`awan_pipelines.sensors.make_signal_sensor`) requests one run per signal
with the signal id as `run_key`; this module owns what such a run carries (`signal_run_request`:
config, tags) and what it does, step by step, so each stage shows in the UI:

    risk_check → place_order → record_trade → notify

- `risk_check` loads the signal from the store by its `seq` and refuses a run whose config
  names another signal id (the launchpad can be edited; the store is the source of truth),
  then shows the pre-trade state the executor will decide on: open positions, entries in
  flight, the day's realized PnL, the pause flag, and whether this signal already has an
  order (a re-delivery, resumed rather than placed).
- `place_order` reconciles with the exchange, then calls `Executor.execute`: the risk check
  that counts, sizing, the order intent recorded before the exchange is called, the order
  with the client order id derived from the signal, fills and positions recorded. The intent
  guard in the store makes this idempotent per signal id, which is what keeps "one order per
  signal" true when Dagster's own run-key dedup is lost with its instance database.
- `record_trade` reports the `trades` materialization on the signal's partition (lineage
  back to the candle, the signals and the strategy parameters) and a `positions` one.
- `notify` sends the fill to Telegram, once: only the run that placed the order sends; a
  resumed re-delivery stays quiet.

All steps run in one process (`in_process_executor`): a step subprocess would cost seconds
of imports per step on top of the run's own launch.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from awan_pipelines.assets.trading import (
    execution_partition,
    positions_materialization,
    trade_event,
)
from awan_pipelines.resources import ExchangeResource, StoreResource, TelegramResource
from awan_pipelines.run_limits import max_runtime_tags
from awan_trading.config import AwanConfig, RiskConfig
from awan_trading.domain.ids import client_order_id
from awan_trading.domain.signals import SignalRecord
from awan_trading.storage.base import Store

JOB_NAME = "execute_signal"
SIGNAL_OP = "risk_check"
# Tags every execution run carries. `awan/symbol` is what `dagster.yaml`'s tag concurrency
# limit keys on: one execution run per symbol at a time, so a symbol's orders never race.
SYMBOL_TAG = "awan/symbol"
SIGNAL_TAG = "awan/signal_id"
STRATEGY_TAG = "awan/strategy"
SIDE_TAG = "awan/side"
# The bot whose pause flag and events the executor reads and writes (shared with `awan live`).
BOT = "awan"
# A healthy run takes seconds; a hung exchange call must not hold the symbol's slot for good.
EXECUTE_MAX_RUNTIME_S = 300


class SignalConfig(dg.Config):
    """Which signal a run executes: its store sequence number and id (checked against each
    other, so a hand-edited config cannot execute a signal the store does not hold)."""

    signal_id: str
    seq: int


@dataclass(frozen=True)
class ExecutionSetup:
    """What the executor needs besides the exchange and the store (from `awan.toml`)."""

    bot: str
    strategy: Any  # a Strategy (its params carry stop / target / trailing)
    timeframe: str  # the strategy's: the sim matches resting orders on these candles
    risk: RiskConfig
    fee: float | None  # None: the venue's taker fee for the symbol (paper / live)
    slippage: float
    live_confirmed: bool = False
    symbols: tuple[str, ...] = ()


def execution_setup(config: AwanConfig, strategy: Any, bot: str = BOT) -> ExecutionSetup:
    """The executor's settings from `awan.toml`, read as `awan live` reads them."""
    return ExecutionSetup(
        bot=bot,
        strategy=strategy,
        timeframe=config.strategy.timeframe,
        risk=config.risk,
        fee=config.sim.fee_rate if config.universe.exchange == "sim" else None,
        slippage=config.sim.slippage_bps / 10_000,
        live_confirmed=config.live_confirmed,
        symbols=tuple(config.universe.symbols),
    )


def signal_run_request(row: Mapping[str, Any]) -> dg.RunRequest:
    """The run for one `signals` row: run_key = signal id (Dagster skips a key it already ran)."""
    return dg.RunRequest(
        run_key=row["signal_id"],
        run_config=dg.RunConfig(
            ops={SIGNAL_OP: SignalConfig(signal_id=row["signal_id"], seq=int(row["seq"]))}
        ),
        tags={
            SYMBOL_TAG: row["symbol"],
            SIGNAL_TAG: row["signal_id"],
            STRATEGY_TAG: row["strategy"],
            SIDE_TAG: row["side"],
            **max_runtime_tags(EXECUTE_MAX_RUNTIME_S),
        },
    )


def load_signal(store: Store, config: SignalConfig) -> SignalRecord:
    """The stored signal with sequence number `config.seq`, which must carry `config.signal_id`."""
    rows = store.signals_after(config.seq - 1, limit=1)
    row = rows.row(0, named=True) if rows.height else None
    if row is None or row["seq"] != config.seq:
        raise dg.Failure(f"no signal with seq {config.seq} in the store ({store.url})")
    if row["signal_id"] != config.signal_id:
        raise dg.Failure(
            f"signal seq {config.seq} is {row['signal_id']}, not {config.signal_id}: "
            "the run config does not match the store; nothing was placed"
        )
    return SignalRecord(
        signal_id=row["signal_id"],
        strategy=row["strategy"],
        params_hash=row["params_hash"],
        exchange=row["exchange"],
        symbol=row["symbol"],
        timeframe=row["timeframe"],
        ts=_utc(row["ts"]),
        side=row["side"],
        price=row["price"],
        score=row["score"] if row["score"] is not None else 0.0,
        created_at=_utc(row["created_at"]),
    )


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def build_executor(setup: ExecutionSetup, store: StoreResource, exchange: ExchangeResource):
    """The same `Executor` `awan live` builds (`live.runner.build_executor`), over this run's
    exchange and store: same bot, strategy, risk limits, fee and slippage rules.

    The venue is `ExchangeResource.account`: a sim or paper account rebuilt from the store
    (the previous runs' positions and resting stops are on it), matching resting orders on
    the strategy's candles, on a sim replay's clock when one runs.

    Notifications are the `notify` step's job, so the executor gets none: a message is sent
    after the trade is recorded and reported, exactly once per run that placed an order.
    """
    from awan_trading.execution.executor import Executor

    venue = exchange.account(store.get(), setup.timeframe)
    fee = setup.fee
    if fee is None:
        fee = venue.markets()[setup.symbols[0]].taker_fee
    return Executor(
        venue,
        store.get(),
        bot=setup.bot,
        strategy=setup.strategy,
        risk=setup.risk,
        fee=fee,
        slippage=setup.slippage,
        live_confirmed=setup.live_confirmed,
        symbols=setup.symbols,
    )


def build_execute_signal_job(
    setup: ExecutionSetup, partitions: dg.MultiPartitionsDefinition, candles_key: dg.AssetKey
) -> dg.JobDefinition:
    """The execution job for this config; `candles_key` is the strategy timeframe's ohlcv
    asset, whose materializing run each trade links to."""
    from awan_trading.execution.risk import check_entry, check_exit

    @dg.op(
        name=SIGNAL_OP,
        description="Loads the signal from the store and shows the pre-trade risk state.",
        out=dg.Out(SignalRecord),
    )
    def risk_check(
        context: dg.OpExecutionContext,
        config: SignalConfig,
        store: StoreResource,
        exchange: ExchangeResource,
    ) -> SignalRecord:
        signal = load_signal(store.get(), config)
        executor = build_executor(setup, store, exchange)
        leg = "entry" if signal.side == "buy" else "exit"
        attempted = store.get().get_order_intent(client_order_id(signal.signal_id, leg))
        state = executor.risk_state()
        check = check_entry if leg == "entry" else check_exit
        refusal = None if attempted else check(signal.symbol, state)
        decision = (
            "already attempted: resume, never place again"
            if attempted
            else (f"refuse: {refusal.reason}" if refusal else "pass")
        )
        context.log.info(f"{signal.symbol} {signal.side} {signal.signal_id}: {decision}")
        context.add_output_metadata(
            {
                "signal_id": signal.signal_id,
                "symbol": signal.symbol,
                "side": signal.side,
                "decision": decision,
                "refusal": refusal.message if refusal else "",
                "open_positions": ", ".join(sorted(state.open_positions)) or "none",
                "entries_in_flight": ", ".join(sorted(state.pending_entries)) or "none",
                "realized_pnl_today": float(state.realized_pnl_today),
                "paused": bool(state.paused),
            }
        )
        return signal

    @dg.op(description="Reconciles, then places the signal's order through the executor.")
    def place_order(
        context: dg.OpExecutionContext,
        signal: SignalRecord,
        store: StoreResource,
        exchange: ExchangeResource,
    ):
        executor = build_executor(setup, store, exchange)
        report = executor.reconcile()
        if not report.ok:
            raise dg.Failure(
                f"{signal.signal_id}: nothing placed, {report.describe()}",
                metadata={"problems": "\n".join(report.problems)},
            )
        result = executor.execute(signal)
        order = result.order
        context.log.info(
            f"{signal.signal_id}: {result.outcome} {result.client_order_id or ''}".strip()
        )
        context.add_output_metadata(
            {
                "outcome": result.outcome,
                "client_order_id": result.client_order_id or "",
                "status": order.status if order else "",
                "refusal": result.refusal.message if result.refusal else "",
            }
        )
        return result

    @dg.op(description="Reports the trades and positions materializations of this execution.")
    def record_trade(
        context: dg.OpExecutionContext,
        signal: SignalRecord,
        result,
        store: StoreResource,
        exchange: ExchangeResource,
    ):
        partition = execution_partition(partitions, signal)
        context.log_event(
            trade_event(context.instance, store.get(), signal, result, candles_key, partition)
        )
        venue = exchange.account(store.get(), setup.timeframe)
        context.log_event(positions_materialization(store.get(), venue))
        return result

    @dg.op(description="Sends the fill to Telegram (once, from the run that placed the order).")
    def notify(
        context: dg.OpExecutionContext,
        signal: SignalRecord,
        result,
        telegram: TelegramResource,
        store: StoreResource,
    ):
        from awan_trading.execution.notifier import notify as send

        notice = execution_message(signal, result, store.get())
        if notice is None:
            context.log.info(f"{signal.signal_id}: {result.outcome}, nothing to tell")
            return
        sent = send(telegram.notifier(), notice)
        context.log.info(f"{signal.signal_id}: notification {'sent' if sent else 'not sent'}")

    @dg.job(
        name=JOB_NAME,
        description="Executes one signal: risk check → place → record → notify.",
        executor_def=dg.in_process_executor,
        tags=max_runtime_tags(EXECUTE_MAX_RUNTIME_S),
    )
    def execute_signal():
        signal = risk_check()
        result = place_order(signal)
        notify(signal, record_trade(signal, result))

    return execute_signal


def execution_message(signal: SignalRecord, result, store: Store):
    """The fill message (a `Notice`) for an order this run placed; None otherwise.

    The same message, on the same condition, as the executor sends inline (fee, PnL of the
    round trip an exit closed, the signal's reason): a refusal is a `bot_events` row, and a
    re-delivered signal (resumed, `already_done`) stays quiet.
    """
    from awan_trading.execution.notices import facts_of
    from awan_trading.notify.events import fill_notice

    order = result.order
    if result.outcome in ("filled", "placed") and order is not None and order.filled > 0:
        return fill_notice(facts_of(store, signal.exchange, signal.strategy, order))
    return None
