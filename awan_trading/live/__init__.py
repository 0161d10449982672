"""The live loop daemon: candle close → candles → indicators → decide → signals → execution.

- `clock`: what "now" is and how the loop waits for the next candle close (wall time, or a
  replay clock that drives the sim exchange's clock through history).
- `feed`: the candle pipeline of one close: cached window, missing tail from the exchange,
  validation, store then cache, bounded indicator update.
- `outbox`: the loop's signals into the store, the Redis stream and the pair ranking.
- `health`: heartbeat rows and the SIGTERM stop flag.
- `venue_clock`: a sensor-mode replay's clock, recorded for the processes that execute.
- `loop`: `LiveLoop`, one `step` per candle close, and `run` over a clock.
- `runner`: builds a loop from `awan.toml` and the `awan live` flags.
"""
