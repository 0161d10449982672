"""Assets grouped by domain: market (ohlcv), features (indicators, signals), reports (backtests)."""
