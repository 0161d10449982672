"""The execution layer's decisions, with no I/O: sizing, pre-trade risk checks, exit levels.

- `sizing`: the stake rule and the market's lot rules → an amount or a `Refusal`; the backtest
  engine compiles the same functions into its loop.
- `risk`: one position per symbol, `max_open_positions`, `max_daily_loss`, pause, live
  confirmation, as pure checks over a `RiskState` snapshot.
- `exits`: stop / target / trailing levels from the strategy's parameters, the trailing update
  rule and the protective stop order's prices.
- `controls`: pause / resume / force-exit requests folded into state.
- `refusals`: the `Refusal` record and the table of its reasons (`bot_events` kinds).

Import from the submodules; this package imports nothing eagerly, so the backtest can import
`execution.sizing` without pulling in the rest.
"""
