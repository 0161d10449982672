"""The root of awan's exception taxonomy.

Every error a user can cause (bad config, bad file, bad candle, unknown strategy) derives from
`AwanError`, so the CLI and the Dagster adapters can turn it into one clear line instead of a
traceback, while programming errors still surface as ordinary exceptions.
"""

from __future__ import annotations

from awan_trading.masking import redact


class AwanError(Exception):
    """An expected failure whose message is meant for the user as-is.

    Its message is redacted when the error is made (registered secrets, URL passwords): it
    travels to the CLI's error line, Dagster's step failure, a Telegram alert, and every one of
    them must be safe, whatever driver message it wraps.
    """

    def __init__(self, *args: object) -> None:
        super().__init__(*(redact(a) if isinstance(a, str) else a for a in args))


class ConfigError(AwanError):
    """The settings or the config file are invalid; raised at start-up, before any work."""


class DataError(AwanError):
    """Input data (a file, a frame, an exchange reply) does not have the expected shape."""


class CandleValidationError(DataError):
    """Candles broke one or more validation rules; carries every finding."""

    def __init__(self, findings: list, context: str = "candles") -> None:
        self.findings = list(findings)
        errors = [f for f in self.findings if f.severity == "error"]
        shown = "; ".join(f.describe() for f in errors[:5])
        more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
        super().__init__(f"{context}: {len(errors)} validation error(s): {shown}{more}")
