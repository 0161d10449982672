-- awan schema v7: the smallest amount of each symbol its venue accepts a sell of (the market's
-- minimum rounded up to the lot step), as the executor last read it from the venue. A sell
-- that leaves less than this closes the round trip, the rest is dust (a base-asset fee's
-- remainder: awan_trading/domain/positions.py). Stored because every fold of the fills —
-- the positions projection, `awan trades`, the Dagster `trades` asset — must draw that line
-- where the executor did, and only the executor talks to the venue.
CREATE TABLE sell_minimums (
    exchange    text NOT NULL,
    symbol      text NOT NULL,
    min_sell    double precision NOT NULL,
    recorded_at timestamptz NOT NULL,
    PRIMARY KEY (exchange, symbol)
);
