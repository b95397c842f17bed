"""Opening the history's SQLite file: WAL, the schema, and retrying while it is locked."""

from __future__ import annotations

import errno
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from forkjoin.telemetry._rows import JOB_COLUMNS, SPAN_COLUMNS
from forkjoin.telemetry._schema import migrate

__all__ = ["open_connection"]

# How long a writer waits for another to finish. Transactions here last
# milliseconds, so waiting this long means something is wrong, not busy.
_BUSY_SECONDS = 30.0


def open_connection(path: Path) -> sqlite3.Connection:
    """A connection to the history at `path`, creating it (and its folder) if missing.

    Raises sqlite3.Error, OSError or NewerSchema when it cannot; the connection is
    closed before the error leaves.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, "it is a directory", str(path))
    connection = sqlite3.connect(
        path, timeout=_BUSY_SECONDS, isolation_level=None, check_same_thread=False
    )
    try:
        # WAL lets readers go on while one process writes; a filesystem without
        # shared memory (some network mounts) keeps the rollback journal, which
        # is slower but as safe.
        _while_busy(lambda: connection.execute("PRAGMA journal_mode = WAL").fetchone())
        # NORMAL in WAL survives a crash of the process; a power cut may lose
        # the last runs, an acceptable price for a history of timings.
        connection.execute("PRAGMA synchronous = NORMAL")
        connection.execute("PRAGMA foreign_keys = ON")
        _while_busy(lambda: migrate(connection))
        # Touch the newest rows of both tables: a file cut short loses its last
        # pages, so it fails here, where it can be set aside, rather than in the
        # middle of a run. Not PRAGMA quick_check: it reads the whole file, some
        # 3 ms per MB on every run; damage it alone would find is caught when a
        # later read or write meets it (SqliteStore._fail).
        connection.execute(f"SELECT {JOB_COLUMNS} FROM jobs ORDER BY id DESC LIMIT 1")
        connection.execute(f"SELECT {SPAN_COLUMNS} FROM spans ORDER BY id DESC LIMIT 1")
    except BaseException:
        connection.close()
        raise
    return connection


def _while_busy(action: Callable[[], object]) -> None:
    """Run `action`, again while SQLite says the file is locked, for up to the busy time.

    SQLite skips its busy handler in a few states, such as switching a new file to
    WAL while another process does the same, and answers "database is locked" at once:
    8 processes opening one new history together met it about once in three runs.
    """
    deadline = time.monotonic() + _BUSY_SECONDS
    pause = 0.005
    while True:
        try:
            action()
            return
        except sqlite3.OperationalError as error:
            busy = "locked" in str(error) or "busy" in str(error)
            if not busy or time.monotonic() >= deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.1)
