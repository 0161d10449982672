"""Secrets never reach log output, whatever path they take into a log line."""

import io
import logging
import sys
import warnings

import pytest

from awan_trading.config import load_settings
from awan_trading.logs import configure_logging, get_logger, redact, setup_logging

API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
BOT_TOKEN = "110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


@pytest.fixture(params=["console", "json"])
def log_output(request, capsys):
    configure_logging(level="DEBUG", fmt=request.param, secrets=[API_KEY])
    yield capsys
    logging.getLogger().handlers.clear()


def test_registered_key_and_token_shapes_never_reach_output(log_output):
    log = get_logger("awan.test")
    log.info("connecting", api_key=API_KEY, url=f"https://api.telegram.org/bot{BOT_TOKEN}/getMe")
    try:
        raise RuntimeError(f"binance said no for key {API_KEY} (token {BOT_TOKEN})")
    except RuntimeError:
        log.exception("order failed")
    logging.getLogger("ccxt.base.exchange").error("request headers X-MBX-APIKEY: %s", API_KEY)
    try:
        raise ValueError(f"postgresql://awan:s3cretpass@db/awan refused; apiSecret={API_KEY[:20]}")
    except ValueError:
        logging.getLogger("psycopg").exception("connect failed")
    err = log_output.readouterr().err
    assert "order failed" in err and "connecting" in err and "connect failed" in err
    assert API_KEY not in err
    assert API_KEY[:20] not in err
    assert BOT_TOKEN not in err
    assert "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw" not in err
    assert "s3cretpass" not in err
    assert "***" in err


def test_redact_leaves_ordinary_text_alone():
    text = "filled 0.01 BTC/USDT at 42000.5 order 12345 client awan-1f2e3d"
    assert redact(text) == text


SECRET = 'p/ss@wörd "quoted" 42'


@pytest.fixture
def fresh_logging(capsys):
    """Run a test against awan's set-up, then restore what it changes process-wide."""
    root = logging.getLogger()
    saved = (
        list(root.handlers),
        root.level,
        logging.getLogRecordFactory(),
        logging.lastResort,
        sys.excepthook,
        {name: logging.getLogger(name).level for name in ("awan", "urllib3", "lib.quiet")},
    )
    yield capsys
    handlers, level, factory, last_resort, hook, levels = saved
    root.handlers = handlers
    root.setLevel(level)
    logging.setLogRecordFactory(factory)
    logging.lastResort = last_resort
    sys.excepthook = hook
    logging.captureWarnings(False)
    for name, value in levels.items():
        logging.getLogger(name).setLevel(value)
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True


def test_a_handler_a_library_adds_later_sees_no_secret(fresh_logging):
    configure_logging(level="INFO", secrets=[SECRET])
    stream = io.StringIO()
    library = logging.getLogger("lib.quiet")
    handler = logging.StreamHandler(stream)  # a plain formatter: not awan's
    library.addHandler(handler)
    library.propagate = False
    library.warning("connecting with %s", SECRET)
    try:
        raise RuntimeError(f"refused postgresql://u:{SECRET}@db/x")
    except RuntimeError:
        library.exception("connect failed")
    text = stream.getvalue()
    assert "connecting with ***" in text and "connect failed" in text
    assert "RuntimeError: refused postgresql://u:***@db/x" in text
    assert SECRET not in text


def test_last_resort_and_warnings_are_redacted(fresh_logging):
    configure_logging(level="INFO", secrets=[SECRET])
    orphan = logging.getLogger("lib.quiet")
    orphan.propagate = False  # no handler anywhere: the stdlib's lastResort prints it
    orphan.error("orphan says %s", SECRET)
    warnings.warn(f"deprecated URL postgresql://u:{SECRET}@db/x", UserWarning, stacklevel=1)
    err = fresh_logging.readouterr().err
    assert "orphan says ***" in err and "deprecated URL postgresql://u:***@db/x" in err
    assert SECRET not in err


def test_uncaught_exceptions_are_redacted(fresh_logging):
    configure_logging(level="INFO", secrets=[SECRET])
    try:
        raise ValueError(f"bad URL redis://:{SECRET}@cache")
    except ValueError as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)
    err = fresh_logging.readouterr().err
    assert "ValueError: bad URL redis://:***@cache" in err and SECRET not in err


@pytest.mark.parametrize("fmt", ["console", "json"])
def test_structured_values_are_redacted_before_rendering(fresh_logging, fmt):
    # JSON escapes `"` and non-ASCII; redacting only the rendered line would miss them.
    configure_logging(level="INFO", fmt=fmt, secrets=[SECRET])
    get_logger("awan.test").info("connect", dsn={"password": SECRET}, attempt=[SECRET, 2])
    err = fresh_logging.readouterr().err
    assert "connect" in err and "wörd" not in err and "quoted" not in err


def test_third_party_loggers_stay_at_warning_unless_debug(fresh_logging):
    configure_logging(level="INFO")
    logging.getLogger("urllib3").info("third-party chatter")
    logging.getLogger("urllib3").warning("third-party warning")
    get_logger("awan.test").info("awan info")
    err = fresh_logging.readouterr().err
    assert "third-party chatter" not in err
    assert "third-party warning" in err and "awan info" in err
    configure_logging(level="DEBUG")
    logging.getLogger("urllib3").debug("third-party debug")
    assert "third-party debug" in fresh_logging.readouterr().err


def test_setup_logging_registers_every_secret_from_settings(fresh_logging):
    settings = load_settings(
        store_url="postgresql://postgres:st/ore@pw 1@127.0.0.1:1/x",
        redis_url="redis://:red is@cache:6379/0",
        exchange_api_key="key-ünïcode-1",
        exchange_api_secret="secret-2-abcdef",
        telegram_token="123:tok en",
        log_format="json",
    )
    setup_logging(settings)
    for value in ("st/ore@pw 1", "red is", "key-ünïcode-1", "secret-2-abcdef", "123:tok en"):
        logging.getLogger("psycopg.pool").warning("quoting %s", value)
    err = fresh_logging.readouterr().err
    assert err.count('"event": "quoting ***"') == 5, err
