"""The records every layer shares, with no I/O: ids, orders and fills, positions, signals.

Storage and exchange both import from here and never from each other, so a record's shape
is stated once. Plain Python only (no polars, no dagster): the executor, reconciliation and
the live loop build on these types and their unit tests run in milliseconds.

- `ids`: client order ids derived from signal ids (idempotent placement), typed venue ids.
- `orders`: `Order`, `Fill`, the status table `TRANSITIONS` and `apply(order, event)`.
- `reports`: a venue's order snapshot → the events that bring our record up to date.
- `positions`: `Position`, derived from fills, shared by the backtest replay and live.
- `signals`: `SignalRecord` and `OrderIntent`.
"""
