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


class DomainError(AwanError):
    """A record or a move the domain model (`awan_trading.domain`) refuses.

    Not an exchange or network failure: retrying the same input gives the same refusal, so
    the caller must decide (reconciliation logs and skips a duplicate fill, stops on the rest).
    """


class ClientOrderIdError(DomainError):
    """A client order id that awan did not derive (foreign, malformed) or cannot derive."""


class OrderStateError(DomainError):
    """An event that cannot be applied to an order; the order is left as it was."""


class IllegalTransitionError(OrderStateError):
    """The order's status does not allow this event (not in `domain.orders.TRANSITIONS`)."""


class DuplicateFillError(OrderStateError):
    """A fill whose trade id the order already applied (a re-delivered trade)."""


class OverfillError(OrderStateError):
    """A fill that would take the filled amount past the order's amount."""


class FillMismatchError(OrderStateError):
    """A fill or report that belongs to another order, symbol or side."""


class PositionError(DomainError):
    """Fills that cannot form a long spot position (a sell beyond what is held, mixed symbols)."""
