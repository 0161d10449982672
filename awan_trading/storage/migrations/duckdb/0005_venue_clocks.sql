-- awan schema v5: the clock a live loop trades a venue on, as the loop last recorded it.
-- A sensor-mode replay runs on a clock in the past; the signal sensor judges its signals'
-- freshness, and the execution runs' sim trades, on that clock instead of the wall clock
-- (awan_trading/live/venue_clock.py). One row per venue; no row means the wall clock.
CREATE TABLE venue_clocks (
    exchange    text PRIMARY KEY,
    clock       timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL
);
