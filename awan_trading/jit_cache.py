"""Numba's on-disk cache for awan's kernels, keyed by every source file they compile in.

Numba's own cache judges freshness by the file that *defines* a jitted function. The backtest
kernel inlines the sizing and daily-loss rules from `awan_trading.execution` (one rule for the
backtest and the live executor), so an edit there would leave a stale compiled kernel that
still trades by the old rule — silently. This locator keys awan's cache entries by a digest of
every module the kernels may compile in (the `backtest` and `execution` packages and
`tolerance.py`) plus numba's version, so any such edit compiles afresh.

Where the cache lives, first writable wins: the package's own `__pycache__` (a checkout), then
`$AWAN_HOME/numba-cache` (an image whose package directory is read-only), then the user's cache
directory. Only functions defined inside `awan_trading` use it; everything else keeps numba's
defaults.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numba
from numba.core import caching

PACKAGE = Path(__file__).resolve().parent
KERNEL_SOURCES = ("backtest", "execution", "tolerance.py")


def source_digest(files: Iterable[Path]) -> str:
    """A short digest of the files' contents (and numba's version), stable across processes."""
    digest = hashlib.sha256(numba.__version__.encode())
    for path in sorted(files):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def kernel_source_files(package: Path = PACKAGE) -> list[Path]:
    files: list[Path] = []
    for name in KERNEL_SOURCES:
        target = package / name
        files.extend(sorted(target.glob("*.py")) if target.is_dir() else [target])
    return files


def cache_roots() -> list[Path]:
    """Candidate cache directories, most local first."""
    home = Path(os.environ.get("AWAN_HOME", ".awan")).expanduser()
    user = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "awan"
    return [PACKAGE / "__pycache__" / "numba", home.resolve() / "numba-cache", user / "numba"]


class AwanCacheLocator(caching._CacheLocator):
    """Numba cache locator for functions defined in `awan_trading` (see the module docstring)."""

    _digest: str | None = None

    def __init__(self, py_func, py_file: str, root: Path) -> None:
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        self._cache_path = root / self.digest()

    @classmethod
    def digest(cls) -> str:
        if cls._digest is None:
            cls._digest = source_digest(kernel_source_files())
        return cls._digest

    def get_cache_path(self) -> str:
        return str(self._cache_path)

    def get_source_stamp(self) -> str:
        return self.digest()

    def get_disambiguator(self) -> str:
        return str(self._lineno)

    @classmethod
    def from_function(cls, py_func, py_file: str) -> AwanCacheLocator | None:
        if not Path(py_file).resolve().is_relative_to(PACKAGE):
            return None
        for root in cache_roots():
            locator = cls(py_func, py_file, root)
            try:
                locator.ensure_cache_path()
            except OSError:
                continue
            return locator
        return None

    def ensure_cache_path(self) -> None:
        os.makedirs(self._cache_path, exist_ok=True)
        tempfile.TemporaryFile(dir=self._cache_path).close()


def install() -> None:
    """Put `AwanCacheLocator` first in numba's locator list (idempotent).

    Numba offers no public hook for a custom locator in code (only the
    NUMBA_CACHE_LOCATOR_CLASSES environment variable, read once at import), so this edits the
    class-level list that variable would otherwise replace. Call it before any `cache=True`
    function is decorated.
    """
    locators = caching.CacheImpl._locator_classes
    if AwanCacheLocator not in locators:
        locators.insert(0, AwanCacheLocator)
