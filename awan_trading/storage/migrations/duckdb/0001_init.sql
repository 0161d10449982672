-- awan schema v1 (DuckDB). candles and indicators carry no primary key: an ART index slows
-- bulk inserts, and every write to them deletes its keys first in the same transaction
-- (DuckDB admits one writer process at a time, so no concurrent insert can slip in).
CREATE TABLE candles (
    exchange  text NOT NULL,
    symbol    text NOT NULL,
    timeframe text NOT NULL,
    ts        timestamptz NOT NULL,
    open      DOUBLE NOT NULL,
    high      DOUBLE NOT NULL,
    low       DOUBLE NOT NULL,
    close     DOUBLE NOT NULL,
    volume    DOUBLE NOT NULL
);

CREATE TABLE indicators (
    exchange  text NOT NULL,
    symbol    text NOT NULL,
    timeframe text NOT NULL,
    name      text NOT NULL,
    ts        timestamptz NOT NULL,
    value     DOUBLE
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
    price      DOUBLE NOT NULL,
    score      DOUBLE NOT NULL,
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
    amount          DOUBLE NOT NULL,
    price           DOUBLE,
    created_at      timestamptz NOT NULL
);

CREATE TABLE orders (
    client_order_id   text PRIMARY KEY,
    exchange          text NOT NULL,
    exchange_order_id text NOT NULL,
    symbol            text NOT NULL,
    side              text NOT NULL,
    type              text NOT NULL,
    amount            DOUBLE NOT NULL,
    price             DOUBLE,
    state             text NOT NULL,
    filled            DOUBLE NOT NULL,
    average           DOUBLE,
    fee               DOUBLE NOT NULL,
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
    amount          DOUBLE NOT NULL,
    price           DOUBLE NOT NULL,
    fee             DOUBLE NOT NULL,
    fee_currency    text NOT NULL,
    ts              timestamptz NOT NULL,
    taker           boolean NOT NULL,
    PRIMARY KEY (exchange, trade_id)
);

CREATE TABLE positions (
    exchange      text NOT NULL,
    symbol        text NOT NULL,
    amount        DOUBLE NOT NULL,
    entry_price   DOUBLE NOT NULL,
    stop_loss     DOUBLE,
    take_profit   DOUBLE,
    trailing_stop DOUBLE,
    opened_at     timestamptz,
    updated_at    timestamptz NOT NULL,
    PRIMARY KEY (exchange, symbol)
);

CREATE TABLE equity_snapshots (
    exchange text NOT NULL,
    ts       timestamptz NOT NULL,
    equity   DOUBLE NOT NULL,
    cash     DOUBLE NOT NULL,
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
