"""What a broken history is, how it is described in one line, and how it is set aside."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
import time
from pathlib import Path

__all__ = ["describe", "identity", "is_unreadable", "print_warning", "set_aside"]

# The primary result codes (the low byte of an extended code) that mean the bytes on
# disk are not a history, as opposed to a history we may not open (CANTOPEN, READONLY,
# PERM), one that is busy, or a disk that is full: only those are set aside.
_BROKEN_CODES = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})
# A valid SQLite file that lacks our tables or columns fails with the generic code.
_WRONG_SHAPE_CODES = frozenset({sqlite3.SQLITE_ERROR})


def print_warning(message: str) -> None:
    """The default `warn`: one line on stderr."""
    print(message, file=sys.stderr)


def describe(error: BaseException) -> str:
    """The reason, short, for inside parentheses: `file is not a database`."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror.lower()
    return str(error) or type(error).__name__


def identity(path: Path) -> tuple[int, int] | None:
    """The file at `path` as (device, inode), or None when there is none."""
    try:
        status = os.lstat(path)
    except OSError:
        return None
    return status.st_dev, status.st_ino


def is_unreadable(error: BaseException, path: Path, *, opening: bool) -> bool:
    """True when the history at `path` is junk to set aside, not merely out of reach.

    While `opening`, a file that is SQLite but not shaped as a history counts too:
    after that, the same error is more likely ours, and the file is left alone.
    """
    if os.path.isdir(path):  # unlike Path.is_dir, never raises (a folder we may not enter)
        return True
    if not isinstance(error, sqlite3.Error):
        return False
    code = getattr(error, "sqlite_errorcode", None)
    if code is None:
        return False
    primary = code & 0xFF
    return primary in _BROKEN_CODES or (opening and primary in _WRONG_SHAPE_CODES)


def set_aside(path: Path, now: float, expected: tuple[int, int] | None) -> Path | None:
    """Rename the history (and its -wal and -shm) to `PATH.corrupt-<timestamp>`.

    Returns the new name, or None when the file at `path` is no longer the one found
    broken (`expected`): another process set it aside first, and what is there now
    is its fresh history, not to be touched. Raises OSError when it cannot rename
    (a read-only directory).
    """
    if identity(path) != expected:
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    attempt = 1
    while os.path.lexists(target):
        attempt += 1
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{attempt}")
    os.rename(path, target)
    # SQLite finds a database's journal files by appending to its name, so moving
    # them along keeps the set-aside copy whole for anyone who wants to rescue it.
    for suffix in ("-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.rename(f"{path}{suffix}", f"{target}{suffix}")
    return target
