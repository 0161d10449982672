-- awan schema v1 (PostgreSQL). Key text columns use the "C" collation: byte-wise comparison
-- makes the candle primary key several times cheaper to maintain than a locale collation.
CREATE TABLE candles (
    exchange  text COLLATE "C" NOT NULL,
    symbol    text COLLATE "C" NOT NULL,
    timeframe text COLLATE "C" NOT NULL,
    ts        timestamptz NOT NULL,
    open      double precision NOT NULL,
    high      double precision NOT NULL,
    low       double precision NOT NULL,
    close     double precision NOT NULL,
    volume    double precision NOT NULL,
    PRIMARY KEY (exchange, symbol, timeframe, ts)
);

CREATE TABLE indicators (
    exchange  text COLLATE "C" NOT NULL,
    symbol    text COLLATE "C" NOT NULL,
    timeframe text COLLATE "C" NOT NULL,
    name      text COLLATE "C" NOT NULL,
    ts        timestamptz NOT NULL,
    value     double precision,
    PRIMARY KEY (exchange, symbol, timeframe, name, ts)
);

CREATE SEQUENCE signals_seq;
CREATE TABLE signals (
    seq        bigint NOT NULL DEFAULT nextval('signals_seq') UNIQUE,
    signal_id  text PRIMARY KEY,
    strategy   text NOT NULL,
    params_hash text NOT NULL,
    exchange   text NOT NULL,
    symbol     text NOT NULL,
    timeframe  text NOT NULL,
    ts         timestamptz NOT NULL,
    side       text NOT NULL CHECK (side IN ('buy', 'sell')),
    price      double precision NOT NULL,
    score      double precision NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX signals_lookup ON signals (exchange, timeframe, symbol, ts);

CREATE TABLE order_intents (
    client_order_id text PRIMARY KEY,
    attempt         text NOT NULL,
    signal_id       text,
    exchange        text NOT NULL,
    symbol          text NOT NULL,
    side            text NOT NULL,
    type            text NOT NULL,
    amount          double precision NOT NULL,
    price           double precision,
    created_at      timestamptz NOT NULL
);

CREATE TABLE orders (
    client_order_id   text PRIMARY KEY,
    exchange          text NOT NULL,
    exchange_order_id text NOT NULL,
    symbol            text NOT NULL,
    side              text NOT NULL,
    type              text NOT NULL,
    amount            double precision NOT NULL,
    price             double precision,
    state             text NOT NULL,
    filled            double precision NOT NULL,
    average           double precision,
    fee               double precision NOT NULL,
    fee_currency      text NOT NULL,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL
);
CREATE INDEX orders_state ON orders (state);

CREATE TABLE fills (
    exchange        text NOT NULL,
    trade_id        text NOT NULL,
    order_id        text NOT NULL,
    client_order_id text,
    symbol          text NOT NULL,
    side            text NOT NULL,
    amount          double precision NOT NULL,
    price           double precision NOT NULL,
    fee             double precision NOT NULL,
    fee_currency    text NOT NULL,
    ts              timestamptz NOT NULL,
    taker           boolean NOT NULL,
    PRIMARY KEY (exchange, trade_id)
);

CREATE TABLE positions (
    exchange      text NOT NULL,
    symbol        text NOT NULL,
    amount        double precision NOT NULL,
    entry_price   double precision NOT NULL,
    stop_loss     double precision,
    take_profit   double precision,
    trailing_stop double precision,
    opened_at     timestamptz,
    updated_at    timestamptz NOT NULL,
    PRIMARY KEY (exchange, symbol)
);

CREATE TABLE equity_snapshots (
    exchange text NOT NULL,
    ts       timestamptz NOT NULL,
    equity   double precision NOT NULL,
    cash     double precision NOT NULL,
    PRIMARY KEY (exchange, ts)
);

CREATE SEQUENCE bot_events_seq;
CREATE TABLE bot_events (
    id      bigint PRIMARY KEY DEFAULT nextval('bot_events_seq'),
    ts      timestamptz NOT NULL,
    bot     text NOT NULL,
    kind    text NOT NULL,
    message text NOT NULL,
    data    text NOT NULL
);

CREATE TABLE heartbeats (
    bot    text PRIMARY KEY,
    ts     timestamptz NOT NULL,
    status text NOT NULL
);

CREATE SEQUENCE control_requests_seq;
CREATE TABLE control_requests (
    id           bigint PRIMARY KEY DEFAULT nextval('control_requests_seq'),
    bot          text NOT NULL,
    action       text NOT NULL CHECK (action IN ('pause', 'resume', 'force_exit')),
    symbol       text,
    requested_by text NOT NULL,
    ts           timestamptz NOT NULL,
    handled_at   timestamptz
);
