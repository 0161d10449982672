"""Shared fixtures: the real candle files in ../shared/data and service availability rules."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest


def _find_shared_data() -> Path:
    """`shared/` sits beside the checkout (CI copies it there); AWAN_SHARED_DATA overrides."""
    if os.environ.get("AWAN_SHARED_DATA"):
        return Path(os.environ["AWAN_SHARED_DATA"])
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "data" / "ohlcv"
        if candidate.is_dir():
            return candidate
    return Path(__file__).resolve().parents[2] / "shared" / "data" / "ohlcv"


SHARED_DATA = _find_shared_data()
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _shared_file(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.exists():
        pytest.fail(f"shared test data missing: {path}")
    return path


@pytest.fixture(scope="session")
def xrp_1m() -> pl.DataFrame:
    return pl.read_parquet(_shared_file("XRP_ETH-1m.parquet"))


@pytest.fixture(scope="session")
def xrp_5m() -> pl.DataFrame:
    return pl.read_parquet(_shared_file("XRP_ETH-5m.parquet"))


@pytest.fixture(scope="session")
def btc_30m() -> pl.DataFrame:
    return pl.read_parquet(_shared_file("UNITTEST_BTC-30m.parquet"))


def require_service(name: str, reason: str) -> None:
    """Fail in CI, skip on a developer laptop, when a real service the test needs is down."""
    message = f"{name} is not reachable: {reason}"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)
