"""The embedded store's DuckDB settings: a capped buffer pool by default, the URL may override."""

from __future__ import annotations

from pathlib import Path

import pytest

from awan_trading.storage import open_store
from awan_trading.storage.base import StoreError
from awan_trading.storage.duckdb_store import DuckDBStore, path_from_url


def _settings(store: DuckDBStore) -> dict[str, str]:
    with store.held(), store._connection() as con:
        rows = con.execute(
            "SELECT name, value FROM duckdb_settings() WHERE name IN ('memory_limit', 'threads')"
        ).fetchall()
    return dict(rows)


def test_the_default_caps_the_buffer_pool(tmp_path: Path) -> None:
    store = open_store(f"duckdb:///{tmp_path / 'a.duckdb'}", migrate=True)
    assert _settings(store)["memory_limit"] == "953.6 MiB"  # 1GB, not 80% of the machine


def test_the_url_query_sets_threads_and_memory_limit(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'a.duckdb'}?threads=1&memory_limit=256MB"
    store = open_store(url, migrate=True)
    assert isinstance(store, DuckDBStore) and store.path == tmp_path / "a.duckdb"
    assert _settings(store) == {"memory_limit": "244.1 MiB", "threads": "1"}
    assert path_from_url(url) == tmp_path / "a.duckdb"
    assert store.url == f"duckdb:///{(tmp_path / 'a.duckdb').as_posix()}"


@pytest.mark.parametrize("query", ["thread=1", "threads=", "memory_limit"])
def test_an_unknown_or_empty_setting_is_refused_naming_it(tmp_path: Path, query: str) -> None:
    with pytest.raises(StoreError, match=f"'{query}'; settings are memory_limit=…, threads=…"):
        open_store(f"duckdb:///{tmp_path / 'a.duckdb'}?{query}")
    assert not (tmp_path / "a.duckdb").exists()
