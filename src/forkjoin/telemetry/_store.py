"""The history in SQLite: jobs and spans written in short transactions, and read back."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import suppress
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from forkjoin.errors import HistoryError
from forkjoin.telemetry._connection import open_connection
from forkjoin.telemetry._failures import (
    describe,
    identity,
    is_unreadable,
    print_warning,
    set_aside,
)
from forkjoin.telemetry._protocol import Clock, Warn, check_status, unrecorded_job
from forkjoin.telemetry._rows import (
    INSERT_SPAN,
    JOB_COLUMNS,
    LATEST_OF_EVERY_KEY,
    LATEST_OF_KEYS,
    SPAN_COLUMNS,
    dumps,
    fields_row,
    job_from_row,
    next_number,
    row_id,
    span_from_row,
    span_row,
)
from forkjoin.telemetry._values import Job, Span, SpanFields, day_of, parse_short_id

__all__ = ["SqliteStore"]

_Result = TypeVar("_Result")

_UID = re.compile(r"[0-9a-f]{32}")


class SqliteStore:
    """The history in one SQLite file, in WAL mode, shared by concurrent processes.

    Thread-safe: one connection behind a lock. Every write is one short IMMEDIATE
    transaction, so writers queue on SQLite's busy timeout instead of failing with
    "database is locked". Build it with `open_history`, which handles a broken file.
    """

    __slots__ = ("_broken", "_clock", "_connection", "_identity", "_lock", "_path", "_warn")

    def __init__(
        self, connection: sqlite3.Connection, path: Path, *, clock: Clock, warn: Warn
    ) -> None:
        self._connection = connection
        self._path = path
        self._clock = clock
        self._warn = warn
        self._lock = threading.Lock()
        self._broken = False
        self._identity = identity(path)

    @classmethod
    def connect(
        cls, path: Path, *, clock: Clock = time.time, warn: Warn = print_warning
    ) -> SqliteStore:
        """Open the history at `path`, creating it (and its folder) if missing.

        Raises sqlite3.Error, OSError or NewerSchema when it cannot; `open_history`
        turns those into a warning.
        """
        return cls(open_connection(path), path, clock=clock, warn=warn)

    @property
    def path(self) -> Path:
        return self._path

    def today(self) -> date:
        return day_of(self._clock())

    # -- recording -------------------------------------------------------------------

    def start_job(
        self,
        kind: str,
        what: str,
        attributes: Mapping[str, object] | None = None,
        *,
        started_at: float | None = None,
    ) -> Job:
        """Record a new running job, numbered next in its day; return it.

        The number is read and taken in one IMMEDIATE transaction, so two processes
        starting at once never get the same short id.
        """
        started = self._clock() if started_at is None else started_at
        job = unrecorded_job(kind, what, attributes, started)

        def insert(connection: sqlite3.Connection) -> tuple[int, int]:
            number = next_number(connection, job.day)
            cursor = connection.execute(
                "INSERT INTO jobs (uid, day, number, kind, what, started_at, status, attributes)"
                " VALUES (?, ?, ?, ?, ?, ?, 'running', ?)",
                (job.uid, job.day.isoformat(), number, kind, what, started, dumps(job.attributes)),
            )
            return row_id(cursor), number

        made = self._recording(insert)
        if made is None:
            return job
        return dataclasses.replace(job, id=made[0], number=made[1])

    def record_spans(self, job: Job, spans: Iterable[Span]) -> None:
        """Write a batch of spans of `job` in one transaction; a span already there stays."""
        if not job.is_recorded:
            return
        rows = [span_row(job.id, span) for span in spans]
        if rows:
            self._recording(lambda connection: connection.executemany(INSERT_SPAN, rows))

    def record_fields(self, job: Job, spans: Sequence[SpanFields]) -> None:
        """`record_spans` for spans given by their fields, as a Recorder gathers them."""
        if not job.is_recorded or not spans:
            return
        rows = [fields_row(job.id, fields) for fields in spans]
        self._recording(lambda connection: connection.executemany(INSERT_SPAN, rows))

    def finish_job(self, job: Job, status: str, finished_at: float | None = None) -> Job:
        """Record how and when `job` ended; return it so. Raises ValueError for a bad status."""
        check_status(status)
        finished = self._clock() if finished_at is None else finished_at
        if job.is_recorded:
            self._recording(
                lambda connection: connection.execute(
                    "UPDATE jobs SET status = ?, finished_at = ? WHERE id = ?",
                    (status, finished, job.id),
                )
            )
        return dataclasses.replace(job, status=status, finished_at=finished)

    def merge(self, records: Sequence[tuple[Job, Sequence[Span]]]) -> tuple[int, int]:
        """Add jobs and their spans that are not here yet, matched by uid, in one transaction.

        A new job is numbered in its own day; a job here as still running takes
        the finished state it arrives with. Returns (new jobs, new spans). Raises
        HistoryError if the history cannot be written.
        """

        def write(connection: sqlite3.Connection) -> tuple[int, int]:
            new_jobs = new_spans = 0
            for job, spans in records:
                found = connection.execute(
                    "SELECT id FROM jobs WHERE uid = ?", (job.uid,)
                ).fetchone()
                if found is None:
                    day = day_of(job.started_at)
                    cursor = connection.execute(
                        f"INSERT INTO jobs ({JOB_COLUMNS})"
                        " VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            job.uid,
                            day.isoformat(),
                            next_number(connection, day),
                            job.kind,
                            job.what,
                            job.started_at,
                            job.finished_at,
                            job.status,
                            dumps(job.attributes),
                        ),
                    )
                    job_id, new_jobs = row_id(cursor), new_jobs + 1
                else:
                    job_id = found[0]
                    if job.status != "running":
                        connection.execute(
                            "UPDATE jobs SET status = ?, finished_at = ?"
                            " WHERE id = ? AND status = 'running'",
                            (job.status, job.finished_at, job_id),
                        )
                cursor = connection.executemany(
                    INSERT_SPAN, [span_row(job_id, span) for span in spans]
                )
                new_spans += max(cursor.rowcount, 0)
            return new_jobs, new_spans

        return self._transaction(write)

    # -- reading ---------------------------------------------------------------------

    def recent_jobs(self, limit: int = 20) -> list[Job]:
        """The latest `limit` jobs, the most recent first."""
        rows = self._read(
            f"SELECT {JOB_COLUMNS} FROM jobs ORDER BY started_at DESC, id DESC LIMIT ?",
            (limit,),
        )
        return [job_from_row(row) for row in rows]

    def jobs(self) -> Iterator[Job]:
        """Every job, in the order they were recorded here."""
        for row in self._read(f"SELECT {JOB_COLUMNS} FROM jobs ORDER BY id"):
            yield job_from_row(row)

    def job(self, short_id: str) -> Job:
        """The job named `j7`, `7` (today's 7th), `j1124.7` (Nov 24's 7th) or by its uid.

        A month and day name the most recent such day that is not in the future.
        Raises HistoryError when no job has that id.
        """
        text = short_id.strip().lower()
        parsed = parse_short_id(text)
        today = self.today()
        if parsed is not None and parsed.month is None:
            rows = self._read(
                f"SELECT {JOB_COLUMNS} FROM jobs WHERE day = ? AND number = ?",
                (today.isoformat(), parsed.number),
            )
        elif parsed is not None:
            rows = self._read(
                f"SELECT {JOB_COLUMNS} FROM jobs WHERE substr(day, 6) = ? AND number = ?"
                " ORDER BY day <= ? DESC, day DESC LIMIT 1",
                (f"{parsed.month:02}-{parsed.day:02}", parsed.number, today.isoformat()),
            )
        elif _UID.fullmatch(text):
            rows = self._read(f"SELECT {JOB_COLUMNS} FROM jobs WHERE uid = ?", (text,))
        else:
            raise HistoryError(
                f"{short_id!r} is not a job id: give j7 for today's 7th job,"
                " or j1124.7 for the 7th of November 24",
                path=str(self._path),
            )
        if not rows:
            when = " today" if parsed is not None and parsed.month is None else ""
            raise HistoryError(
                f"no job {short_id}{when} (`forkjoin history` lists the jobs)",
                path=str(self._path),
            )
        return job_from_row(rows[0])

    def spans(self, job: Job, *, kind: str | None = None, status: str | None = None) -> list[Span]:
        """The spans of `job`, in the order they started; only those of `kind` and of
        `status`, when given (SQLite picks them: a Span costs some 6 µs to read back)."""
        rows = self._read(
            f"SELECT {SPAN_COLUMNS} FROM spans WHERE job_id = ?"
            " AND (?2 IS NULL OR kind = ?2) AND (?3 IS NULL OR status = ?3)"
            " ORDER BY start, id",
            (job.id, kind, status),
        )
        return [span_from_row(row) for row in rows]

    def durations(
        self,
        keys: Iterable[str] | None = None,
        *,
        last: int = 10,
        before: float | None = None,
    ) -> dict[str, list[float]]:
        """Seconds taken by the latest `last` successful spans of each key, most recent first.

        All keys, or only `keys`; never a test's phases (spans of kind setup, call
        and teardown), which are part of the test's time. With `before`, only spans
        that ended by then: the history as it was at that time. One query. Never
        raises: a history that cannot be read is reported through `warn`, and then
        knows no durations.
        """
        until = math.inf if before is None else before
        parameters: tuple[object, ...]
        if keys is None:
            query, parameters = LATEST_OF_EVERY_KEY, (until, last)
        else:
            query, parameters = LATEST_OF_KEYS, (json.dumps(list(keys)), until, last)
        try:
            with self._lock:
                rows = self._connection.execute(query, parameters).fetchall()
        except sqlite3.Error as error:
            self._fail(error)
            return {}
        return {key: json.loads(seconds) for key, seconds in rows if seconds != "[]"}

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- plumbing --------------------------------------------------------------------

    def _read(self, query: str, parameters: Sequence[Any] = ()) -> list[Any]:
        try:
            with self._lock:
                return self._connection.execute(query, parameters).fetchall()
        except sqlite3.Error as error:
            raise HistoryError(
                f"cannot read the history ({describe(error)})", path=str(self._path)
            ) from error

    def _transaction(self, work: Callable[[sqlite3.Connection], _Result]) -> _Result:
        try:
            return self._immediately(work)
        except sqlite3.Error as error:
            raise HistoryError(
                f"cannot write the history ({describe(error)})", path=str(self._path)
            ) from error

    def _recording(self, work: Callable[[sqlite3.Connection], _Result]) -> _Result | None:
        if self._broken:
            return None
        try:
            return self._immediately(work)
        except sqlite3.Error as error:
            self._fail(error)
            return None

    def _immediately(self, work: Callable[[sqlite3.Connection], _Result]) -> _Result:
        with self._lock:
            connection = self._connection
            connection.execute("BEGIN IMMEDIATE")
            try:
                result = work(connection)
                connection.execute("COMMIT")
            except BaseException:
                if connection.in_transaction:
                    with suppress(sqlite3.Error):
                        connection.execute("ROLLBACK")
                raise
            return result

    def _fail(self, error: sqlite3.Error) -> None:
        """Say once that the history failed mid-run; set it aside if its bytes are bad."""
        if self._broken:
            return
        self._broken = True
        where, reason = self._path, describe(error)
        aside = None
        if is_unreadable(error, where, opening=False):
            with suppress(OSError):
                aside = set_aside(where, self._clock(), self._identity)
        if aside is not None:
            self._warn(
                f"forkjoin: history at {where} is unreadable ({reason}); set aside as"
                f" {aside}, the next run starts a new one"
            )
        else:
            self._warn(
                f"forkjoin: history at {where} failed ({reason}); this run goes on unrecorded"
            )
