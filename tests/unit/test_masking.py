"""`mask_url` and the redactor hide a password of any shape, in a URL or in text quoting one."""

from __future__ import annotations

import pytest

from awan_trading.config import load_settings
from awan_trading.errors import AwanError, ConfigError
from awan_trading.masking import mask_url, redact, register_secrets, url_passwords

# Each awkward shape a user may type into a URL without percent-encoding it.
SHAPES = {
    "slash": "pa/ss/wd",
    "at": "pa@ss@wd",
    "space": "pa ss wd",
    "percent": "pa%ss%2Fwd",
    "colon": "pa:ss:wd",
    "unicode": "päss密wörd",
    "hash-query": "pa#ss?w&d=",
    "everything": "p/a@ s%2F:ü#?&=d",
}


@pytest.mark.parametrize("password", SHAPES.values(), ids=SHAPES.keys())
@pytest.mark.parametrize(
    ("template", "masked"),
    [
        (
            "postgresql://postgres:{}@127.0.0.1:5432/awan",
            "postgresql://postgres:***@127.0.0.1:5432/awan",
        ),
        ("redis://:{}@cache:6379/0", "redis://:***@cache:6379/0"),
        ("postgresql://postgres:{}@[::1/x", "postgresql://postgres:***@[::1/x"),
    ],
    ids=["postgres", "redis", "unparsable"],
)
def test_mask_url_hides_any_password_and_keeps_user_and_host(password, template, masked):
    assert mask_url(template.format(password)) == masked


@pytest.mark.parametrize("password", SHAPES.values(), ids=SHAPES.keys())
def test_a_url_quoted_inside_a_message_is_masked(password):
    message = (
        "error connecting in 'awan-store': end of string reached in URI: "
        f'"postgresql://postgres:{password}@[::1/x"\nnext line stays'
    )
    masked = mask_url(message)
    assert password not in masked
    assert masked.startswith("error connecting in 'awan-store'")
    assert 'URI: "postgresql://postgres:***@[::1/x"' in masked
    assert masked.endswith("\nnext line stays")


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        (
            "postgresql://db/awan?password=pa55&sslmode=require",
            "postgresql://db/awan?password=***&sslmode=require",
        ),
        # An unencoded `&` or `#` in the value: masked up to the next `&key=`.
        (
            "postgresql://db/awan?sslmode=require&password=a&b#c d&user=x",
            "postgresql://db/awan?sslmode=require&password=***&user=x",
        ),
        ("redis://cache:6379/0?PASSWORD=pa55", "redis://cache:6379/0?PASSWORD=***"),
        # libpq's keyword form, quoted value with a space.
        ("host=db password='pa ss' dbname=awan", "host=db password=*** dbname=awan"),
    ],
)
def test_query_string_and_keyword_passwords_are_masked(url, masked):
    assert mask_url(url) == masked


@pytest.mark.parametrize(
    "text",
    [
        "duckdb:///.awan/awan.duckdb",
        "postgresql://postgres@127.0.0.1:5432/awan",
        "redis://127.0.0.1:6379/0",
        "https://api.binance.com/api/v3/klines?symbol=BTCUSDT&interval=1m",
        "filled 0.01 BTC/USDT at 42000.5 order 12345",
        "not a url: at all",
    ],
)
def test_text_without_a_password_is_unchanged(text):
    assert mask_url(text) == text


def test_url_passwords_include_the_fragments_a_misparse_quotes():
    # libpq ends the userinfo at the FIRST `@` and reports the rest as the host name.
    passwords = url_passwords("postgresql://postgres:pw@fragment42@x@127.0.0.1:1/x")
    assert "pw@fragment42@x" in passwords
    assert "fragment42@x" in passwords
    register_secrets(passwords)
    quoted = "failed to resolve host 'fragment42@x@127.0.0.1': Name or service not known"
    assert "fragment42" not in redact(quoted)
    # libpq quotes a stretch from the middle of a password it could not parse.
    register_secrets(url_passwords("postgresql://postgres:p/w@ middle42%3A:ü#?&=x@db/x"))
    quoted = 'unexpected spaces found in "w@ middle42%3A:ü#", use percent-encoded spaces'
    assert redact(quoted) == 'unexpected spaces found in "***", use percent-encoded spaces'


def test_settings_register_every_shape_of_url_password():
    settings = load_settings(
        store_url="postgresql://postgres:st/ore@pw 1@127.0.0.1:1/x",
        redis_url="redis://:re%40dis:pw@cache:6379/0",
        exchange_api_key="key-ünïcode",
    )
    values = settings.secret_values()
    assert {"st/ore@pw 1", "re%40dis:pw", "key-ünïcode"} <= set(values)
    register_secrets(values)
    # The percent-decoded form is hidden too: that is what the server and its errors see.
    assert redact("auth failed for re@dis:pw and st/ore@pw 1") == "auth failed for *** and ***"


def test_awan_errors_are_redacted_when_made():
    register_secrets(["Sw0rdfish!"])
    error = ConfigError("store postgresql://bob:x y@db/awan refused Sw0rdfish!")
    assert str(error) == "store postgresql://bob:***@db/awan refused ***"
    assert isinstance(error, AwanError)
