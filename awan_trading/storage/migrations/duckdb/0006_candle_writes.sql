-- awan schema v5 (DuckDB): candle provenance. One row per candle write and symbol: the
-- series, the written window [start_ts, end_ts), who wrote it (a Dagster run and its
-- partition key, or an `awan` command) and when. The store adds the row in the candles'
-- own transaction (awan_trading/storage/provenance.py), so a candle is never without the
-- write that put it there. The newest row covering a candle's ts names its writer. No index
-- besides the key: a columnar scan of this small table per lineage lookup is enough.
CREATE SEQUENCE candle_writes_seq;
CREATE TABLE candle_writes (
    id               bigint PRIMARY KEY DEFAULT nextval('candle_writes_seq'),
    exchange         text NOT NULL,
    symbol           text NOT NULL,
    timeframe        text NOT NULL,
    start_ts         timestamptz NOT NULL,
    end_ts           timestamptz NOT NULL,
    writer           text NOT NULL,
    run_id           text,
    partition_key    text,
    first_written_at timestamptz NOT NULL,
    last_written_at  timestamptz NOT NULL
);
