"""Secrets never reach log output, whatever path they take into a log line."""

import logging

import pytest

from awan_trading.logs import configure_logging, get_logger, redact

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
