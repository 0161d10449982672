"""The secrets registry, and masking of secrets in any text: URLs, messages, log lines.

`register_secrets` records literal values (API keys, tokens, passwords and their fragments)
and `redact` hides them, plus anything shaped like a secret, in any text. Logging (every
record), errors (every `AwanError` message) and the CLI's one-line errors all go through it.

Masking passwords in connection URLs and in the text that quotes them:

A password in a URL can hold any character once a user stops encoding it: `/`, a space, `:`,
`%`, unicode, even `@`. Parsers disagree on such URLs (urllib splits the authority at the
first `/`, libpq at the first `@`), so masking does not parse: it takes everything between
`scheme://` and the LAST `@` on the line as the userinfo and hides all of it after the first
`:`. When that guess is wrong it hides more than the password, never less.

This module is stdlib-only on purpose: the log set-up and the error root import it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from urllib.parse import quote, unquote

MASK = "***"

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")
# A URL's region runs to the end of the line or the next URL; a password may hold spaces.
_REGION_END = re.compile(r"[\r\n]|[A-Za-z][A-Za-z0-9+.\-]*://")
_SECRET_KEYS = r"password|passwd|pwd|sslpassword|secret|token|api[_-]?key"
# In a query string a value ends only where the next `&key=` begins (an unencoded `&` or `#`
# inside the password stays masked).
_QUERY_SECRET = re.compile(
    rf"(?i)([?&;](?:{_SECRET_KEYS})=)((?:(?!&[A-Za-z_][A-Za-z0-9_.\-]*=).)*)", re.DOTALL
)
# libpq keyword form (`host=db password='a b'`) and messages that quote it.
_KEYWORD_SECRET = re.compile(
    rf"(?i)\b((?:{_SECRET_KEYS})\s*=\s*)('(?:[^'\\]|\\.)*'?|\"(?:[^\"\\]|\\.)*\"?|\S+)"
)


def _mask_query(text: str) -> str:
    return _QUERY_SECRET.sub(lambda m: m.group(1) + MASK, text)


def _mask_region(region: str) -> str:
    """Mask what follows `scheme://`: the userinfo's password and secret query parameters."""
    at = region.rfind("@")
    user, colon, _ = region[:at].partition(":") if at >= 0 else ("", "", "")
    if colon:
        return f"{user}:{MASK}@{_mask_query(region[at + 1 :])}"
    return _mask_query(region)


def _regions(text: str) -> list[tuple[bool, str]]:
    """Split `text` into (is_url_region, piece); a URL region is what follows `scheme://`."""
    pieces: list[tuple[bool, str]] = []
    pos = 0
    while (scheme := _SCHEME.search(text, pos)) is not None:
        end = _REGION_END.search(text, scheme.end())
        stop = end.start() if end is not None else len(text)
        pieces += [(False, text[pos : scheme.end()]), (True, text[scheme.end() : stop])]
        pos = stop
    pieces.append((False, text[pos:]))
    return pieces


def mask_url(text: str) -> str:
    """`text` (a URL, or a message quoting URLs or `password=…`) with every password as `***`.

    Safe for logs, errors and `awan db status`. Text that is not a URL is still masked for
    `password=`-style keywords, so a libpq keyword DSN or an error message quoting one is safe too.
    """
    out = []
    for is_url, piece in _regions(text):
        if is_url:
            out.append(_mask_region(piece))
        else:
            out.append(_KEYWORD_SECRET.sub(lambda m: m.group(1) + MASK, piece))
    return "".join(out)


# Where URL parsers cut a userinfo they misread: libpq ends it at the first `@`, urllib the
# authority at the first `/`, and each then quotes the rest as a host, port or database name.
_PARSER_CUTS = re.compile(r"[@/?#:\s]")
MAX_CUTS = 32  # pieces grow with the square of the cuts; no real password has more


def _fragments(password: str) -> list[str]:
    """`password` and every stretch of it between two cuts (`@`, `/`, `?`, `#`, `:`, a space):
    what a parser that misreads the URL may quote as a host, port, database or bad token."""
    cuts = [m.start() for m in _PARSER_CUTS.finditer(password)][:MAX_CUTS]
    starts = [0, *(i + 1 for i in cuts)]
    ends = [*cuts, len(password)]
    pieces = [password[a:b] for a in starts for b in ends if b > a]
    return list(dict.fromkeys(sorted(pieces, key=len, reverse=True)))


def url_passwords(url: str) -> list[str]:
    """The password(s) a URL carries, and the fragments a misparse would quote, for the redactor.

    `libpq` reading `postgresql://u:pw@rest@host/db` says "failed to resolve host 'rest@host'":
    the fragment after the first `@` must be hidden as surely as the whole password.
    """
    found: list[str] = []
    for is_url, piece in _regions(url):
        if not is_url:
            continue
        at = piece.rfind("@")
        _, colon, password = piece[:at].partition(":") if at >= 0 else ("", "", "")
        if colon and password:
            found += _fragments(password)
        found += [m.group(2) for m in _QUERY_SECRET.finditer(piece) if m.group(2)]
    return list(dict.fromkeys(found))


def secret_forms(value: str) -> list[str]:
    """`value` as typed, percent-decoded and percent-encoded: the shapes text may quote it in."""
    decoded = unquote(value)
    forms = [value, decoded, quote(decoded, safe=""), quote(value, safe="")]
    return list(dict.fromkeys(f for f in forms if f))


# Shapes of secrets that must never be shown even when nobody registered the value.
_TELEGRAM_TOKEN = re.compile(r"\b\d{6,12}:[A-Za-z0-9_-]{30,}\b")
_BOT_API_TOKEN = re.compile(r"(?i)(?<=/bot)[^/\s]+")  # token inside a Bot API URL
_KEY_VALUE = re.compile(
    r"(?i)((?:api[_-]?key|api[_-]?secret|secret|password|passwd|token|signature|x-mbx-apikey)"
    r"[\"']?\s*[:=]\s*[\"']?)([^\s\"'&,}]+)"
)

_lock = threading.Lock()
_secrets: set[str] = set()


def register_secrets(values: Iterable[str | None]) -> None:
    """Add literal secret values (API keys, tokens, passwords) that every output must hide.

    Each is registered as typed, percent-decoded and percent-encoded, the forms a URL or an
    error message may quote it in. Values shorter than 4 characters would redact ordinary
    words; URL-shaped passwords that short are still masked by `mask_url`.
    """
    forms = [form for value in values if value for form in secret_forms(value)]
    with _lock:
        _secrets.update(f for f in forms if len(f) >= 4)


def redact(text: str) -> str:
    """Replace every registered secret and every secret-shaped substring with `***`."""
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    text = _TELEGRAM_TOKEN.sub(MASK, text)
    text = _BOT_API_TOKEN.sub(MASK, text)
    text = _KEY_VALUE.sub(lambda m: m.group(1) + MASK, text)
    return mask_url(text)
