"""awan's Dagster code location: thin adapters that wire awan_trading into assets, checks,
sensors, schedules, resources and an IO manager. Arrows run one way: this package imports
awan_trading, never the reverse."""
