"""Pure parts of the storage layer: TimescaleDB DDL selection, COPY encoding, cache records,
the circuit breaker, URL handling and secret masking. No server needed."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from awan_trading.errors import DataError
from awan_trading.storage import StoreError, mask_url, open_store
from awan_trading.storage.cache import (
    RECORD_SIZE,
    CircuitBreaker,
    decode_records,
    encode_records,
    is_contiguous,
)
from awan_trading.storage.duckdb_store import path_from_url
from awan_trading.storage.migrations import (
    SERIES_VERSION,
    TIMESCALE_VERSION,
    TimescaleOptions,
    load_migrations,
    series_plan,
    timescale_plan,
)
from awan_trading.storage.pgcopy import HEADER, PG_EPOCH_MS, TRAILER, encode_candles
from awan_trading.storage.schema import (
    candles_by_series,
    indicators_long,
    indicators_wide,
    sorted_candles,
)

T0 = datetime(2024, 3, 1, tzinfo=UTC)


def frame(symbols: list[str], n: int = 3) -> pl.DataFrame:
    rows = [(s, T0 + timedelta(minutes=i), 1.0 + i, 2.0 + i, 0.5, 1.5, 9.0) for s in symbols
            for i in range(n)]  # fmt: skip
    return pl.DataFrame(
        rows, schema=["symbol", "ts", "open", "high", "low", "close", "volume"], orient="row"
    ).with_columns(pl.col("ts").dt.cast_time_unit("ms"))


def test_timescale_plan_with_extension_builds_hypertable_and_policies() -> None:
    plan = timescale_plan(True, TimescaleOptions(chunk_days=1, compress_after_days=3))
    assert plan.version == TIMESCALE_VERSION and plan.name == "candles_timescale"
    assert "CREATE EXTENSION IF NOT EXISTS timescaledb" in plan.sql
    assert "create_hypertable('candles', 'ts'" in plan.sql and "INTERVAL '1 days'" in plan.sql
    assert "compress_segmentby = 'exchange, symbol, timeframe'" in plan.sql
    assert "add_compression_policy('candles', INTERVAL '3 days'" in plan.sql
    assert "retention" not in plan.sql
    kept = timescale_plan(True, TimescaleOptions(retention_days=365))
    assert "add_retention_policy('candles', INTERVAL '365 days'" in kept.sql


def test_timescale_plan_without_extension_is_plain_postgres() -> None:
    plan = timescale_plan(False, TimescaleOptions(retention_days=30))
    assert plan.version == TIMESCALE_VERSION and plan.name == "candles_plain_postgres"
    assert "timescaledb" not in plan.sql and "hypertable" not in plan.sql
    assert "USING brin (ts)" in plan.sql


def test_migrations_are_versioned_per_backend() -> None:
    for backend in ("postgres", "duckdb"):
        migrations = load_migrations(backend)
        assert [m.version for m in migrations] == sorted({m.version for m in migrations})
        assert migrations[0].version == 1 and "CREATE TABLE candles" in migrations[0].sql
    generated = {TIMESCALE_VERSION, SERIES_VERSION}
    assert all(m.version not in generated for m in load_migrations("postgres"))


def test_series_plan_rebuilds_candles_and_reapplies_the_same_features() -> None:
    hyper = series_plan(True, TimescaleOptions(chunk_days=2, retention_days=90))
    assert hyper.version == SERIES_VERSION
    assert "CREATE TABLE candle_series" in hyper.sql and "PRIMARY KEY (series_id, ts)" in hyper.sql
    # the old table is gone before the features are applied to the new one
    assert hyper.sql.index("DROP TABLE candles_v2") < hyper.sql.index("create_hypertable")
    assert "compress_segmentby = 'series_id'" in hyper.sql
    assert "add_retention_policy('candles', INTERVAL '90 days'" in hyper.sql
    plain = series_plan(False)
    assert "timescaledb" not in plain.sql
    assert plain.sql.index("DROP INDEX IF EXISTS candles_ts_brin") < plain.sql.index(
        "CREATE INDEX IF NOT EXISTS candles_ts_brin"
    )


def test_copy_payload_is_postgres_binary_format() -> None:
    candles = frame(["BTC/USDT", "ETH/USDT"], 2)
    payload = encode_candles(candles, {"BTC/USDT": 7, "ETH/USDT": 300})
    assert payload.startswith(HEADER) and payload.endswith(TRAILER)
    body = payload[len(HEADER) : -len(TRAILER)]
    rows = []
    offset = 0
    while offset < len(body):
        (nfields,) = struct.unpack_from(">h", body, offset)
        offset, fields = offset + 2, []
        for _ in range(nfields):
            (length,) = struct.unpack_from(">i", body, offset)
            fields.append(body[offset + 4 : offset + 4 + length])
            offset += 4 + length
        rows.append(fields)
    assert len(rows) == 4 and all(len(r) == 7 for r in rows)
    assert [struct.unpack(">i", r[0])[0] for r in rows] == [7, 7, 300, 300]
    micros = struct.unpack(">q", rows[0][1])[0]
    assert micros == (int(T0.timestamp() * 1000) - PG_EPOCH_MS) * 1000
    assert [struct.unpack(">d", f)[0] for f in rows[0][2:]] == [1.0, 2.0, 0.5, 1.5, 9.0]
    one = encode_candles(candles.head(2), {"BTC/USDT": 7})  # the one-symbol fast path
    assert one[len(HEADER) : -len(TRAILER)] == body[: len(body) // 2]


@pytest.mark.parametrize("n", [1, 3, 50])  # both the struct and the numpy encoder
def test_cache_records_round_trip(n: int) -> None:
    candles = frame(["SOL/USDT"], n)
    payload = encode_records(candles)
    assert len(payload) == n * RECORD_SIZE
    assert decode_records("SOL/USDT", payload).equals(candles)


def test_contiguity() -> None:
    candles = frame(["A/B"], 5)
    assert is_contiguous(candles, "1m") and is_contiguous(candles.head(1), "1m")
    assert not is_contiguous(candles, "5m")
    assert not is_contiguous(pl.concat([candles.head(2), candles.tail(2)]), "1m")


def test_contiguity_of_calendar_months() -> None:
    opens = [datetime(2024, m, 1, tzinfo=UTC) for m in (1, 2, 3, 4)]  # 31, 29, 31 days apart
    months = frame(["A/B"], 4).with_columns(
        ts=pl.Series(opens).dt.cast_time_unit("ms").dt.convert_time_zone("UTC")
    )
    assert is_contiguous(months, "1M")
    assert not is_contiguous(months.filter(pl.col("ts") != opens[1]), "1M")
    assert not is_contiguous(months, "1w")


def test_circuit_breaker_opens_then_probes_once_then_closes() -> None:
    now = [0.0]
    breaker = CircuitBreaker("t", threshold=2, cooldown=10, clock=lambda: now[0])
    assert breaker.allow()
    breaker.failure(ConnectionError("x"))
    assert breaker.state == "closed" and breaker.allow()
    breaker.failure(ConnectionError("x"))
    assert breaker.state == "open" and not breaker.allow()
    now[0] = 10.5
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # only one per cool-down
    breaker.failure(ConnectionError("still down"))
    assert breaker.state == "open"
    now[0] = 21.0
    assert breaker.allow()
    breaker.success()
    assert breaker.state == "closed" and breaker.allow()


def test_mask_url_hides_passwords() -> None:
    assert mask_url("postgresql://bob:pa55@db:5432/awan") == "postgresql://bob:***@db:5432/awan"
    assert mask_url("redis://:s3cret@cache:6379/0") == "redis://:***@cache:6379/0"
    assert mask_url("postgresql://db/awan?password=pa55&x=1") == (
        "postgresql://db/awan?password=***&x=1"
    )
    assert mask_url("duckdb:///.awan/awan.duckdb") == "duckdb:///.awan/awan.duckdb"


def test_unsupported_url_error_does_not_leak_the_password() -> None:
    with pytest.raises(StoreError) as caught:
        open_store("mysql://bob:pa55word@db/awan")
    assert "pa55word" not in str(caught.value) and "bob:***@" in str(caught.value)


def test_duckdb_url_paths() -> None:
    assert str(path_from_url("duckdb:///.awan/awan.duckdb")) == ".awan/awan.duckdb"
    assert str(path_from_url("duckdb:////tmp/x.duckdb")) == "/tmp/x.duckdb"
    with pytest.raises(StoreError):
        path_from_url("duckdb://")


def test_indicators_long_and_wide_round_trip() -> None:
    wide = frame(["A/B"], 3).select("symbol", "ts", pl.col("close").alias("ema"), "volume")
    wide = wide.with_columns(pl.Series("ema", [float("nan"), 1.0, 2.0]))
    long = indicators_long(wide)
    assert long.height == 6 and long["value"].null_count() == 1
    back = indicators_wide(long)
    assert back.columns == ["symbol", "ts", "ema", "volume"]
    assert back["ema"].to_list() == [None, 1.0, 2.0]
    with pytest.raises(DataError, match="no indicator columns"):
        indicators_long(wide.select("symbol", "ts"))


def test_sorted_candles_sorts_only_when_needed() -> None:
    ordered = frame(["A/B", "C/D"], 4)
    assert sorted_candles(ordered) is ordered
    shuffled = pl.concat([ordered.tail(3), ordered.head(5)])
    assert sorted_candles(shuffled).equals(ordered)
    repeated_ts = pl.concat([ordered.head(2), ordered.slice(1, 1)])
    assert sorted_candles(repeated_ts)["ts"].to_list() == [T0, T0 + timedelta(minutes=1)] * 1 + [
        T0 + timedelta(minutes=1)
    ]


def test_candles_by_series_maps_ids_to_symbols_in_symbol_order() -> None:
    want = frame(["A/B", "C/D", "E/F"], 4)
    ids = {"A/B": 30, "C/D": 10, "E/F": 20}  # id order is not symbol order
    rows = want.with_columns(
        pl.col("symbol").replace_strict(ids, return_dtype=pl.Int32).alias("series_id")
    ).select("series_id", "ts", "open", "high", "low", "close", "volume")
    by_id = rows.sort("series_id", maintain_order=True)  # storage order: series out of rank
    shuffled = rows.sample(fraction=1.0, shuffle=True, seed=3)
    for stored in (rows, by_id, shuffled):
        assert candles_by_series(stored.to_arrow(), ids).equals(want)
    assert candles_by_series(rows.head(0).to_arrow(), ids).is_empty()
