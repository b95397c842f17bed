"""The history's SQLite schema, its version (PRAGMA user_version) and its migrations."""

from __future__ import annotations

import sqlite3

__all__ = ["SCHEMA_VERSION", "NewerSchema", "migrate"]

# MIGRATIONS[n] takes a history from version n to n + 1; version 0 is an empty file.
# To change the schema, append a migration: never edit one that has shipped, since
# histories out there are at every version and each must reach the newest.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE jobs (
            id INTEGER PRIMARY KEY,
            uid TEXT NOT NULL UNIQUE,
            day TEXT NOT NULL,
            number INTEGER NOT NULL,
            kind TEXT NOT NULL,
            what TEXT NOT NULL,
            started_at REAL NOT NULL,
            finished_at REAL,
            status TEXT NOT NULL,
            attributes TEXT NOT NULL DEFAULT '{}',
            UNIQUE (day, number)
        )
        """,
        """
        CREATE TABLE spans (
            id INTEGER PRIMARY KEY,
            uid TEXT NOT NULL UNIQUE,
            job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
            parent TEXT,
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            status TEXT NOT NULL,
            start REAL NOT NULL,
            "end" REAL NOT NULL,
            worker TEXT NOT NULL DEFAULT '',
            attributes TEXT NOT NULL DEFAULT '{}'
        )
        """,
        "CREATE INDEX spans_by_job ON spans (job_id)",
        # The estimator's one query reads the latest successful spans of each key:
        # this index hands them over in order, with no sort. Partial, so failed
        # spans cost nothing to index; a query uses it only when it says
        # `status = 'succeeded'` in so many words.
        'CREATE INDEX succeeded_spans_by_key ON spans (key, "end" DESC, start)'
        " WHERE status = 'succeeded'",
    ),
    # The phases of a test (kinds setup, call, teardown) leave the estimator's index:
    # their durations are part of the test's, and nothing estimates them on their
    # own. They were three spans in four of a test suite's, and the entries of
    # their keys, spread over the whole index, made most of the pages a run
    # writes (102 MB of WAL for 20,000 tests with 16 runs behind them, now 38 MB).
    # `kind <> ...` rather than `kind NOT IN (...)`: SQLite evaluates the list
    # for every row it writes, which made inserts slower than before.
    (
        "DROP INDEX IF EXISTS succeeded_spans_by_key",
        'CREATE INDEX estimated_spans_by_key ON spans (key, "end" DESC, start)'
        " WHERE status = 'succeeded' AND kind <> 'setup' AND kind <> 'call'"
        " AND kind <> 'teardown'",
    ),
)

SCHEMA_VERSION = len(_MIGRATIONS)


class NewerSchema(Exception):
    """The history was written by a newer forkjoin; it is fine, but not for us to touch."""

    def __init__(self, version: int) -> None:
        super().__init__(f"schema version {version}, newer than this forkjoin's {SCHEMA_VERSION}")
        self.version = version


def migrate(connection: sqlite3.Connection) -> None:
    """Bring the history up to SCHEMA_VERSION, creating it if it is empty.

    Runs in one IMMEDIATE transaction, so of many processes opening a new history at
    once exactly one creates it and the others wait, then find it made. Raises
    NewerSchema for a history from a newer forkjoin, and sqlite3 errors as they come.
    """
    (version,) = connection.execute("PRAGMA user_version").fetchone()
    if version == SCHEMA_VERSION:
        return  # the common case, read without taking the write lock
    if version > SCHEMA_VERSION:
        raise NewerSchema(version)
    connection.execute("BEGIN IMMEDIATE")
    try:
        (version,) = connection.execute("PRAGMA user_version").fetchone()
        if version > SCHEMA_VERSION:
            raise NewerSchema(version)
        for statements in _MIGRATIONS[version:]:
            for statement in statements:
                connection.execute(statement)
        # PRAGMA takes no parameters; SCHEMA_VERSION is our own int.
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
