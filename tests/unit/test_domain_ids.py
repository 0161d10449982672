"""Client order ids derived from signal ids: length, charset, determinism, round trip."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from awan_trading.domain.ids import (
    LEGS,
    MAX_N,
    client_order_id,
    control_key,
    parse_client_order_id,
    signal_id_of,
)
from awan_trading.errors import ClientOrderIdError
from awan_trading.exchange.sim import CLIENT_ORDER_ID_RE
from awan_trading.signals import signal_id

SID = signal_id("boll_stoch", "p1", "BTC/USDT", "1h", 1_700_000_000_000, "buy")
BINANCE = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")

signal_ids = st.text(alphabet="0123456789abcdef", min_size=32, max_size=32)
legs = st.sampled_from(LEGS)
ns = st.integers(min_value=0, max_value=MAX_N)


@given(signal_ids, legs, ns)
def test_ids_fit_the_venue_and_parse_back(sid: str, leg: str, n: int) -> None:
    cid = client_order_id(sid, leg, n)  # type: ignore[arg-type]
    assert len(cid) <= 36 and BINANCE.match(cid) and CLIENT_ORDER_ID_RE.match(cid)
    assert sid in cid  # the full signal id: the order leads back to its signal
    assert parse_client_order_id(cid) == (leg, sid, n)
    assert client_order_id(sid, leg, n) == cid  # deterministic


def test_the_longest_id_is_exactly_the_limit() -> None:
    assert len(client_order_id(SID, "stop", MAX_N)) == 36


def test_ids_differ_per_leg_and_per_replacement() -> None:
    ids = {client_order_id(SID, leg, n) for leg in LEGS for n in (0, 1, 35, 36, MAX_N)}
    assert len(ids) == len(LEGS) * 5


def test_foreign_and_malformed_ids_are_refused_by_name() -> None:
    good = client_order_id(SID, "entry")
    for foreign in ("sig-1", "web_12345", "", good.upper(), good[:-1], "e00-" + SID, "q0-" + SID):
        with pytest.raises(ClientOrderIdError, match="not made by awan"):
            parse_client_order_id(foreign)
    assert signal_id_of("sig-1") is None and signal_id_of(good) == SID


@pytest.mark.parametrize(
    ("sid", "leg", "n", "fragment"),
    [
        ("abc", "entry", 0, "32 lowercase hex"),
        (SID.upper(), "entry", 0, "32 lowercase hex"),
        (SID, "hedge", 0, "unknown order leg"),
        (SID, "stop", MAX_N + 1, "n="),
        (SID, "stop", -1, "n="),
        (SID, "stop", True, "n="),
    ],
)
def test_bad_inputs_are_refused(sid: str, leg: str, n: int, fragment: str) -> None:
    with pytest.raises(ClientOrderIdError, match=fragment):
        client_order_id(sid, leg, n)  # type: ignore[arg-type]


def test_force_exit_is_keyed_by_the_control_request_and_symbol() -> None:
    a = client_order_id(control_key(7, "BTC/USDT"), "force_exit")
    assert a == client_order_id(control_key(7, "BTC/USDT"), "force_exit")
    assert a != client_order_id(control_key(7, "ETH/USDT"), "force_exit")
    assert a != client_order_id(control_key(8, "BTC/USDT"), "force_exit")
    assert parse_client_order_id(a).leg == "force_exit"
    assert signal_id_of(a) is None  # a control key is not a signal
