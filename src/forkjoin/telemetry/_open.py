"""Where the history is, and opening it so that a broken one never breaks a run."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Mapping
from pathlib import Path

from forkjoin.telemetry._failures import describe, identity, is_unreadable, print_warning, set_aside
from forkjoin.telemetry._protocol import Clock, HistoryStore, NullStore, Warn
from forkjoin.telemetry._schema import NewerSchema
from forkjoin.telemetry._store import SqliteStore

__all__ = [
    "DEFAULT_HISTORY",
    "ENVIRONMENT_VARIABLE",
    "history_path",
    "open_history",
    "read_history",
]

DEFAULT_HISTORY = Path(".forkjoin", "history.db")
ENVIRONMENT_VARIABLE = "FORKJOIN_HISTORY"


def history_path(
    explicit: str | Path | None,
    cwd: str | Path,
    environ: Mapping[str, str] | None = None,
) -> Path:
    """The history to use: `explicit` (--history), else $FORKJOIN_HISTORY, else the default.

    The default is `.forkjoin/history.db` under `cwd`; a relative path is taken
    from `cwd` too. An empty value counts as not given.
    """
    environ = os.environ if environ is None else environ
    chosen = explicit or environ.get(ENVIRONMENT_VARIABLE) or DEFAULT_HISTORY
    return Path(cwd, Path(chosen).expanduser())


def open_history(
    path: str | Path,
    *,
    warn: Warn = print_warning,
    clock: Clock = time.time,
) -> HistoryStore:
    """The history at `path`, created on first use; never raises for the history's sake.

    A file that is not a history (corrupt, cut short, random bytes, a directory) is
    renamed `PATH.corrupt-<timestamp>` and a new history started in its place,
    with one line through `warn`. When no history can be had at all (a read-only
    folder, one written by a newer forkjoin), `warn` says so and the returned
    store records nothing and estimates nothing.
    """
    path = Path(path)
    found = identity(path)
    try:
        return SqliteStore.connect(path, clock=clock, warn=warn)
    except NewerSchema as error:
        warn(f"forkjoin: history at {path} has {error}; running without history")
        return NullStore(path, clock=clock)
    except (sqlite3.Error, OSError) as error:
        first = error
    reason = describe(first)
    if not is_unreadable(first, path, opening=True):
        warn(f"forkjoin: cannot use the history at {path} ({reason}); running without history")
        return NullStore(path, clock=clock)
    try:
        aside = set_aside(path, clock(), found)
    except OSError as error:
        warn(
            f"forkjoin: history at {path} is unreadable ({reason}) and cannot be set aside"
            f" ({describe(error)}); running without history"
        )
        return NullStore(path, clock=clock)
    try:
        store = SqliteStore.connect(path, clock=clock, warn=warn)
    except (sqlite3.Error, OSError, NewerSchema) as error:
        warn(
            f"forkjoin: history at {path} is unreadable ({reason}), and a new one cannot be"
            f" made ({describe(error)}); running without history"
        )
        return NullStore(path, clock=clock)
    if aside is not None:  # None: another process set it aside and made this one
        warn(
            f"forkjoin: history at {path} is unreadable ({reason}); set aside as {aside},"
            " starting a new one"
        )
    return store


def read_history(path: str | Path, *, warn: Warn = print_warning) -> HistoryStore:
    """The history at `path`, to read: when there is none, an empty one, not created."""
    path = Path(path)
    if os.path.lexists(path):
        return open_history(path, warn=warn)
    return NullStore(path)
