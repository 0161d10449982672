"""Candle provenance, part of the store contract: on DuckDB and PostgreSQL alike, each candle
write records who made it (a Dagster run and partition, `awan live <bot>`, `awan fetch`) in its
own transaction, and `candle_write` names the newest writer of any stored candle."""

from __future__ import annotations

from datetime import timedelta

import duckdb
import polars as pl
import psycopg
import pytest

from awan_trading.storage import UNATTRIBUTED, CandleProvenance, Store, StoreError
from tests.integration.test_store_contract import MINUTE, T0, candles, pg_url, store

__all__ = ["pg_url", "store"]  # the contract's fixtures: one DuckDB file, one PG database

DAY = timedelta(days=1)
RUN = CandleProvenance.dagster_run("9f1c2d3e-run", "2024-03-01|BTC/USDT")


def test_replace_records_its_writer_and_a_later_write_takes_over(store: Store) -> None:
    store.replace_candles("sim", "BTC/USDT", "1m", T0, T0 + DAY, candles("BTC/USDT", T0, 60),
                          provenance=RUN)  # fmt: skip
    at = T0 + 30 * MINUTE
    write = store.candle_write("sim", "BTC/USDT", "1m", at)
    assert write is not None
    assert (write.writer, write.run_id, write.partition_key) == (
        "dagster",
        RUN.run_id,
        RUN.partition_key,
    )
    assert (write.start, write.end) == (T0, T0 + DAY)  # the partition's window, not its rows
    assert write.first_written_at == write.last_written_at
    assert write.describe().startswith(
        f"Dagster run {RUN.run_id} (partition {RUN.partition_key}) at "
    )

    # `awan fetch --store` re-writes part of the day: those candles are now the fetch's
    fetched = candles("BTC/USDT", at, 10, base=300)
    store.replace_candles("sim", "BTC/USDT", "1m", at, at + 10 * MINUTE, fetched,
                          provenance=CandleProvenance.fetch())  # fmt: skip
    assert store.candle_write("sim", "BTC/USDT", "1m", at + 9 * MINUTE).writer == "awan fetch"
    assert store.candle_write("sim", "BTC/USDT", "1m", at + 10 * MINUTE).run_id == RUN.run_id
    assert store.candle_write("sim", "BTC/USDT", "1m", at - MINUTE).run_id == RUN.run_id
    # other series, other times: nobody
    assert store.candle_write("sim", "BTC/USDT", "1m", T0 + DAY) is None
    assert store.candle_write("sim", "ETH/USDT", "1m", at) is None
    assert store.candle_write("sim", "BTC/USDT", "5m", at) is None
    assert store.candle_write("binance", "BTC/USDT", "1m", at) is None


def test_a_write_that_says_nobody_is_recorded_as_unattributed(store: Store) -> None:
    store.replace_candles("sim", "BTC/USDT", "1m", T0, T0 + DAY, candles("BTC/USDT", T0, 5),
                          provenance=RUN)  # fmt: skip
    store.upsert_candles("sim", "1m", candles("BTC/USDT", T0 + MINUTE, 2, base=500))
    # the rewritten candles are no longer credited to the run
    assert store.candle_write("sim", "BTC/USDT", "1m", T0 + MINUTE).writer == UNATTRIBUTED.writer
    assert store.candle_write("sim", "BTC/USDT", "1m", T0).run_id == RUN.run_id
    assert store.candle_write("sim", "BTC/USDT", "1m", T0 + 3 * MINUTE).run_id == RUN.run_id


def test_live_upserts_extend_one_row_and_never_claim_a_gap(store: Store) -> None:
    live = CandleProvenance.live("bot-a")
    store.replace_candles("sim", "ETH/USDT", "1m", T0, T0 + DAY, candles("ETH/USDT", T0, 30),
                          provenance=RUN)  # fmt: skip
    # two symbols, close after close, as the live feed writes them
    for i in range(3):
        at = T0 + (20 + i) * MINUTE
        both = pl.concat([candles("BTC/USDT", at, 1), candles("ETH/USDT", at, 1, base=70)])
        store.upsert_candles("sim", "1m", both, provenance=live)
    first = store.candle_write("sim", "BTC/USDT", "1m", T0 + 20 * MINUTE)
    last = store.candle_write("sim", "BTC/USDT", "1m", T0 + 22 * MINUTE)
    assert first == last  # one row, extended
    assert (first.start, first.end) == (T0 + 20 * MINUTE, T0 + 23 * MINUTE)
    assert first.first_written_at <= first.last_written_at
    assert first.describe().startswith("awan live bot-a ")
    assert store.candle_write("sim", "ETH/USDT", "1m", T0 + 21 * MINUTE).writer == live.writer
    assert store.candle_write("sim", "ETH/USDT", "1m", T0 + 19 * MINUTE).run_id == RUN.run_id
    # the next close brings 23 and (after a minute the venue skipped) 25: 23 extends, 25 is new
    late = pl.concat(
        [candles("BTC/USDT", T0 + 23 * MINUTE, 1), candles("BTC/USDT", T0 + 25 * MINUTE, 1)]
    )
    store.upsert_candles("sim", "1m", late, provenance=live)
    extended = store.candle_write("sim", "BTC/USDT", "1m", T0 + 23 * MINUTE)
    assert (extended.start, extended.end) == (T0 + 20 * MINUTE, T0 + 24 * MINUTE)
    assert store.candle_write("sim", "BTC/USDT", "1m", T0 + 24 * MINUTE) is None
    after = store.candle_write("sim", "BTC/USDT", "1m", T0 + 25 * MINUTE)
    assert (after.start, after.end, after.writer) == (
        T0 + 25 * MINUTE,
        T0 + 26 * MINUTE,
        live.writer,
    )

    # one upsert with a hole: the hole keeps its earlier writer
    holey = pl.concat(
        [candles("ETH/USDT", T0 + 2 * MINUTE, 2), candles("ETH/USDT", T0 + 6 * MINUTE, 2)]
    )
    store.upsert_candles("sim", "1m", holey, provenance=CandleProvenance.fetch())
    for minute, writer in [(2, "awan fetch"), (3, "awan fetch"), (4, "dagster"), (5, "dagster"),
                           (6, "awan fetch"), (7, "awan fetch"), (8, "dagster")]:  # fmt: skip
        assert store.candle_write("sim", "ETH/USDT", "1m", T0 + minute * MINUTE).writer == writer


def _rename(store: Store, old: str, new: str) -> None:
    statement = f"ALTER TABLE {old} RENAME TO {new}"
    if store.url.startswith("duckdb"):
        con = duckdb.connect(store.url.removeprefix("duckdb:///"))
        con.execute(statement)
        con.close()
    else:
        with psycopg.connect(store._dsn, autocommit=True) as conn:  # type: ignore[attr-defined]
            conn.execute(statement)


@pytest.mark.parametrize("write", ["replace", "upsert"])
def test_candles_and_their_provenance_commit_together(store: Store, write: str) -> None:
    old = candles("BTC/USDT", T0, 10)
    store.replace_candles("sim", "BTC/USDT", "1m", T0, T0 + DAY, old, provenance=RUN)
    new = candles("BTC/USDT", T0, 10, base=400)
    _rename(store, "candle_writes", "candle_writes_away")  # the provenance insert will fail
    try:
        with pytest.raises(StoreError, match="candle_writes"):
            if write == "replace":
                store.replace_candles("sim", "BTC/USDT", "1m", T0, T0 + DAY, new,
                                      provenance=CandleProvenance.fetch())  # fmt: skip
            else:
                store.upsert_candles("sim", "1m", new, provenance=CandleProvenance.fetch())
    finally:
        _rename(store, "candle_writes_away", "candle_writes")
    assert store.read_candles("sim", "BTC/USDT", "1m").equals(old)  # rolled back with it
    assert store.candle_write("sim", "BTC/USDT", "1m", T0).run_id == RUN.run_id
