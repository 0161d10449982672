-- awan schema v4 (PostgreSQL): the order-path tables follow the domain records
-- (awan_trading.domain). Numbered 4 on both backends (2 and 3 are PostgreSQL-only candle
-- layouts) so a version names the same order tables everywhere. Existing rows are kept.
-- Data moves first, under the old column names, as in the DuckDB version.

-- orders: domain statuses (ccxt's 'open' split by what is filled, 'closed' is 'filled').
UPDATE orders SET state = CASE
    WHEN state = 'open' AND filled > 0 THEN 'partially_filled'
    WHEN state = 'open' THEN 'accepted'
    WHEN state = 'closed' THEN 'filled'
    ELSE state END;

-- orders: one name per thing (`status`), and the fields of an order the exchange has not
-- acknowledged yet (no exchange order id) and of stop orders.
ALTER TABLE orders RENAME COLUMN state TO status;
ALTER INDEX orders_state RENAME TO orders_status;
ALTER TABLE orders ALTER COLUMN exchange_order_id DROP NOT NULL;
ALTER TABLE orders ADD COLUMN stop_price double precision;
ALTER TABLE orders ADD COLUMN signal_id text;

ALTER TABLE order_intents ADD COLUMN stop_price double precision;

ALTER TABLE fills RENAME COLUMN order_id TO exchange_order_id;

-- positions: the fields of domain.positions.Position, rebuilt as a new table (DuckDB cannot
-- add NOT NULL columns to a keyed table it updated in the same transaction). The old
-- trailing_stop column had no single meaning: the trailing level now follows from
-- high_water, which starts at the entry price.
CREATE TABLE positions_v4 (
    exchange             text NOT NULL,
    symbol               text NOT NULL,
    amount               double precision NOT NULL,
    stake                double precision NOT NULL,
    entry_price          double precision NOT NULL,
    entry_ts             timestamptz NOT NULL,
    signal_ts            timestamptz,
    stop_price           double precision,
    target_price         double precision,
    high_water           double precision NOT NULL,
    signal_id            text,
    stop_client_order_id text,
    realized_pnl         double precision NOT NULL,
    fees                 double precision NOT NULL,
    updated_at           timestamptz NOT NULL,
    PRIMARY KEY (exchange, symbol)
);
INSERT INTO positions_v4
    SELECT exchange, symbol, amount, amount * entry_price, entry_price,
           coalesce(opened_at, updated_at), NULL, stop_loss, take_profit, entry_price,
           NULL, NULL, 0, 0, updated_at
    FROM positions;
DROP TABLE positions;
ALTER TABLE positions_v4 RENAME TO positions;
ALTER INDEX positions_v4_pkey RENAME TO positions_pkey;
