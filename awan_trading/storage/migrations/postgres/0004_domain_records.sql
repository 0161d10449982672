-- awan schema v4 (PostgreSQL): the order-path tables follow the domain records
-- (awan_trading.domain). Numbered 4 on both backends (2 and 3 are PostgreSQL-only candle
-- layouts) so a version names the same order tables everywhere. Existing rows are kept.

-- orders: one name per thing (`status`), domain statuses, fields of a not-yet-acknowledged
-- order (no exchange order id yet) and of stop orders.
ALTER TABLE orders RENAME COLUMN state TO status;
ALTER INDEX orders_state RENAME TO orders_status;
ALTER TABLE orders ALTER COLUMN exchange_order_id DROP NOT NULL;
ALTER TABLE orders ADD COLUMN stop_price double precision;
ALTER TABLE orders ADD COLUMN signal_id text;
UPDATE orders SET status = CASE
    WHEN status = 'open' AND filled > 0 THEN 'partially_filled'
    WHEN status = 'open' THEN 'accepted'
    WHEN status = 'closed' THEN 'filled'
    ELSE status END;

ALTER TABLE order_intents ADD COLUMN stop_price double precision;

ALTER TABLE fills RENAME COLUMN order_id TO exchange_order_id;

-- positions: the fields of domain.positions.Position. The old trailing_stop column had no
-- single meaning; the trailing level now follows from high_water, which starts at entry.
ALTER TABLE positions RENAME COLUMN stop_loss TO stop_price;
ALTER TABLE positions RENAME COLUMN take_profit TO target_price;
ALTER TABLE positions RENAME COLUMN opened_at TO entry_ts;
ALTER TABLE positions DROP COLUMN trailing_stop;
UPDATE positions SET entry_ts = coalesce(entry_ts, updated_at);
ALTER TABLE positions ALTER COLUMN entry_ts SET NOT NULL;
ALTER TABLE positions ADD COLUMN stake double precision;
ALTER TABLE positions ADD COLUMN high_water double precision;
UPDATE positions SET stake = amount * entry_price, high_water = entry_price;
ALTER TABLE positions ALTER COLUMN stake SET NOT NULL;
ALTER TABLE positions ALTER COLUMN high_water SET NOT NULL;
ALTER TABLE positions ADD COLUMN signal_ts timestamptz;
ALTER TABLE positions ADD COLUMN signal_id text;
ALTER TABLE positions ADD COLUMN stop_client_order_id text;
ALTER TABLE positions ADD COLUMN realized_pnl double precision NOT NULL DEFAULT 0;
ALTER TABLE positions ADD COLUMN fees double precision NOT NULL DEFAULT 0;
