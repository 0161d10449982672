"""Request parameters, checked the way Binance checks them, in one place.

Binance refuses a bad parameter with HTTP 400 and a `{"code", "msg"}` body before it does any
work, and ccxt maps those codes onto its exceptions (`-1100`/`-1102`/`-1111`/`-1130` →
BadRequest, `-1121` → BadSymbol, `-1013` → InvalidOrder via its message), so the emulator has to
answer the same way for the connector's error handling to be tested at all. An endpoint reads
each parameter through one of the functions below; anything that does not parse becomes a
`BinanceError`, never an exception that escapes as HTTP 500. New endpoints (stop-loss orders,
…) read their parameters through the same functions.

Codes and messages follow Binance's spot error list:

- `-1100` ILLEGAL_CHARS: "Illegal characters found in parameter 'X'; legal range is 'R'."
  (R is a pattern for numbers, the allowed values for enums)
- `-1101` TOO_MANY_PARAMETERS: a parameter sent twice.
- `-1102` MANDATORY_PARAM_EMPTY_OR_MALFORMED: a required parameter missing or empty.
- `-1111` BAD_PRECISION: more decimals than the asset allows.
- `-1130` INVALID_PARAMETER: well-formed, but outside the values the endpoint accepts.
- `-1013` "Invalid quantity." / "Invalid price.": a zero amount or price.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from urllib.parse import parse_qsl

from aiohttp import web

# Binance's own patterns, quoted in its -1100 messages.
INT_PATTERN = r"^[0-9]{1,20}$"
DECIMAL_PATTERN = r"^([0-9]{1,20})(\.[0-9]{1,20})?$"
_INT = re.compile(INT_PATTERN)
_DECIMAL = re.compile(DECIMAL_PATTERN)
# Spot assets carry 8 decimals; more is -1111 whatever the filters say.
MAX_DECIMALS = 8
# Milliseconds up to the last instant of year 9999: beyond it no date exists to convert to.
MAX_EPOCH_MS = 253_402_300_799_999
CLIENT_ORDER_ID_PATTERN = r"^[\.A-Z\:/a-z0-9_-]{1,36}$"


class BinanceError(Exception):
    """A Binance-style refusal: HTTP status plus `{"code", "msg"}`."""

    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(msg)
        self.status, self.code, self.msg = status, code, msg


def illegal_chars(name: str, pattern: str) -> BinanceError:
    return BinanceError(
        400, -1100, f"Illegal characters found in parameter '{name}'; legal range is '{pattern}'."
    )


def mandatory(name: str) -> BinanceError:
    return BinanceError(
        400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    )


def invalid(name: str) -> BinanceError:
    return BinanceError(400, -1130, f"Data sent for parameter '{name}' is not valid.")


def single_values(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Query and form pairs as one dict; a name sent twice is -1101, as on Binance."""
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params:
            raise BinanceError(400, -1101, "Duplicate values for a parameter detected.")
        params[name] = value
    return params


def _raw(params: Mapping[str, str], name: str, required: bool) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise mandatory(name)
        return None
    return value


def int_param(
    params: Mapping[str, str],
    name: str,
    *,
    required: bool = False,
    low: int = 0,
    high: int = MAX_EPOCH_MS,
) -> int | None:
    """A non-negative integer in [low, high], or None when optional and absent."""
    raw = _raw(params, name, required)
    if raw is None:
        return None
    if not _INT.match(raw):
        raise illegal_chars(name, INT_PATTERN)
    value = int(raw)
    if not low <= value <= high:
        raise invalid(name)
    return value


def epoch_ms_param(params: Mapping[str, str], name: str, *, required: bool = False) -> int | None:
    """A time as Binance takes it: integer milliseconds since the epoch, up to year 9999."""
    return int_param(params, name, required=required, low=0, high=MAX_EPOCH_MS)


def decimal_param(
    params: Mapping[str, str],
    name: str,
    *,
    required: bool = False,
    invalid_msg: str | None = None,
) -> Decimal | None:
    """A positive decimal written as Binance accepts it (digits, an optional fraction).

    `invalid_msg` is the -1013 message for zero ("Invalid quantity."); without it, zero is
    -1130 like any other value out of range.
    """
    raw = _raw(params, name, required)
    if raw is None:
        return None
    if not _DECIMAL.match(raw):
        raise illegal_chars(name, DECIMAL_PATTERN)
    value = Decimal(raw)
    exponent = value.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > MAX_DECIMALS:
        raise BinanceError(400, -1111, "Precision is over the maximum defined for this asset.")
    if value <= 0:
        if invalid_msg is not None:
            raise BinanceError(400, -1013, invalid_msg)
        raise invalid(name)
    return value


def text_param(
    params: Mapping[str, str], name: str, pattern: str, *, required: bool = False
) -> str | None:
    """A string matching Binance's `pattern` for it (client order ids, …)."""
    raw = _raw(params, name, required)
    if raw is None:
        return None
    if not re.fullmatch(pattern, raw):
        raise illegal_chars(name, pattern)
    return raw


def choice_param(
    params: Mapping[str, str], name: str, allowed: Iterable[str], *, required: bool = False
) -> str | None:
    """One of `allowed` (Binance's enums are upper case: BUY, LIMIT, GTC, …); anything else
    is -1100 with the allowed values as the legal range, as Binance words it."""
    raw = _raw(params, name, required)
    if raw is None:
        return None
    options = tuple(allowed)
    if raw not in options:
        raise illegal_chars(name, ", ".join(options))
    return raw


async def read_params(request: web.Request) -> dict[str, str]:
    """Query string and form body as one dict, decoded strictly.

    aiohttp would turn undecodable bytes into U+FFFD (query) or raise (body); Binance refuses
    them, so bytes that are not UTF-8 are -1100 and a name sent twice is -1101.
    """
    try:
        pairs = parse_qsl(request.rel_url.raw_query_string, keep_blank_values=True, errors="strict")
        if request.can_read_body:
            body = (await request.read()).decode("utf-8")
            pairs += parse_qsl(body, keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise BinanceError(400, -1100, "Illegal characters found in a parameter.") from None
    return single_values(pairs)
