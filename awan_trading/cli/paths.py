"""Output destinations: checked before any work, written under a temporary name, then renamed.

A command that downloads for minutes or backtests for seconds must not find out at the end
that `--out` points into a file or a read-only place, and a failure half-way through writing
must not leave a truncated Parquet file or three of five backtest outputs behind. So commands
call `check_output_dir` / `check_output_file` first (they create nothing), then write inside
`atomic_file` / `atomic_dir`, which rename the finished result into place only on success.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from awan_trading.errors import DataError


def _nearest_existing(path: Path) -> Path:
    """`path` itself or its closest ancestor that exists."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(".")  # unreachable for real paths: the root always exists


def _probe_writable(folder: Path, path: Path, option: str) -> None:
    """Create and remove one empty file in `folder`: the only honest test (root ignores modes)."""
    probe = folder / f".awan-probe-{uuid.uuid4().hex}"
    try:
        probe.touch(exist_ok=False)
        probe.unlink()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        where = "" if folder == path else f" (in {folder})"
        raise DataError(f"{option} {path}: cannot write there{where}: {reason}") from None


def check_output_dir(path: Path | str, option: str = "--out") -> None:
    """Raise `DataError` unless `path` is a writable directory or could be created as one."""
    path = Path(path)
    existing = _nearest_existing(path)
    if not existing.is_dir():
        where = "is a file" if existing == path else f"lies under the file {existing}"
        raise DataError(f"{option} {path}: {where}, expected a directory")
    _probe_writable(existing, path, option)


def check_output_file(path: Path | str, option: str = "--out") -> None:
    """Raise `DataError` unless `path` can be written as a file (its folder may not exist yet)."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{option} {path}: is a directory, expected a file name")
    existing = _nearest_existing(path.parent)
    if not existing.is_dir():
        raise DataError(f"{option} {path}: lies under the file {existing}, not a directory")
    _probe_writable(existing, path, option)


def make_parents(folder: Path) -> list[Path]:
    """Create `folder` and missing ancestors; return the ones created, deepest first."""
    created = []
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            break
        created.append(candidate)
    folder.mkdir(parents=True, exist_ok=True)
    return created


def remove_created(created: list[Path]) -> None:
    for folder in created:  # deepest first; a folder someone else filled meanwhile stays
        with contextlib.suppress(OSError):
            folder.rmdir()


def _temporary_name(path: Path) -> Path:
    # Beside the target, so the final rename stays on one filesystem (atomic); hidden, so a
    # glob such as `*.parquet` never picks up a half-written file. Not created here: the
    # writer creates it with the usual permissions (mkstemp would leave it 0600).
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")


@contextlib.contextmanager
def atomic_file(path: Path | str) -> Iterator[Path]:
    """Yield a temporary path to write; it replaces `path` when the block ends without error.

    On an error the temporary file and any folders created for it are removed, so the old
    `path` (or nothing) remains.
    """
    path = Path(os.path.abspath(path))  # `out/..` or `.` have no name to put a temp beside
    created = make_parents(path.parent)
    temporary = _temporary_name(path)
    try:
        yield temporary
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        remove_created(created)
        raise


@contextlib.contextmanager
def atomic_dir(path: Path | str) -> Iterator[Path]:
    """Yield an empty temporary folder; its files move into `path` when the block succeeds.

    A new `path` appears whole in one rename. An existing `path` keeps its other files and
    gets each new file by an atomic rename. On an error nothing in `path` changes.
    """
    path = Path(os.path.abspath(path))  # `.` (the current folder) has no name otherwise
    created = make_parents(path.parent)
    temporary = _temporary_name(path)
    try:
        temporary.mkdir()
        yield temporary
        if not path.exists():
            os.rename(temporary, path)
            return
        for item in sorted(temporary.iterdir()):
            os.replace(item, path / item.name)
        temporary.rmdir()
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        remove_created(created)
        raise
