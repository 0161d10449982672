"""One keyed row write, spelled two ways: the portable upsert and its UPDATE / INSERT halves.

`statement()` is the `INSERT … ON CONFLICT (key) DO UPDATE` both backends run by default
(cheap and concurrency-safe on PostgreSQL). DuckDB pays ~3.5 ms per ON CONFLICT statement
on a small machine, against ~0.5 ms for a plain one, so its order path runs `update()` and,
when that matched no row, `insert()` (`storage.duckdb_orders`). Both spellings come from the
same fields, so they cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

Statement = tuple[str, Sequence[Any]]


@dataclass(frozen=True)
class Upsert:
    """`values` for `columns` of `table`, keyed by `key`.

    On an existing row every column is overwritten except the key and `fixed` (e.g. a
    creation time); a `kept` column keeps its recorded value when the new one is NULL.
    """

    table: str
    columns: tuple[str, ...]
    values: tuple[Any, ...]
    key: tuple[str, ...]
    fixed: frozenset[str] = frozenset()
    kept: frozenset[str] = frozenset()

    def _updated(self) -> list[str]:
        return [c for c in self.columns if c not in self.key and c not in self.fixed]

    def _set(self, column: str, new: str) -> str:
        if column in self.kept:
            return f"{column} = coalesce({new}, {self.table}.{column})"
        return f"{column} = {new}"

    def insert(self) -> Statement:
        """The plain INSERT (fails with a key violation when the row exists)."""
        marks = ", ".join(["%s"] * len(self.columns))
        return f"INSERT INTO {self.table} ({', '.join(self.columns)}) VALUES ({marks})", self.values

    def statement(self) -> Statement:
        """The portable upsert: INSERT … ON CONFLICT (key) DO UPDATE."""
        sql, values = self.insert()
        sets = ", ".join(self._set(c, f"excluded.{c}") for c in self._updated())
        return f"{sql} ON CONFLICT ({', '.join(self.key)}) DO UPDATE SET {sets}", values

    def update(self) -> Statement:
        """UPDATE of the keyed row; it returns the number of rows it changed (0 or 1)."""
        value = dict(zip(self.columns, self.values, strict=True))
        updated = self._updated()
        sets = ", ".join(self._set(c, "%s") for c in updated)
        where = " AND ".join(f"{k} = %s" for k in self.key)
        params = (*(value[c] for c in updated), *(value[k] for k in self.key))
        return f"UPDATE {self.table} SET {sets} WHERE {where}", params
