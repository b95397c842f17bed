"""The SQL the store runs, and the rows of the history's tables as values and back."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from forkjoin.telemetry._values import Job, Span, SpanFields

__all__ = [
    "INSERT_SPAN",
    "JOB_COLUMNS",
    "LATEST_OF_EVERY_KEY",
    "LATEST_OF_KEYS",
    "SPAN_COLUMNS",
    "dumps",
    "fields_row",
    "job_from_row",
    "next_number",
    "row_id",
    "span_from_row",
    "span_row",
]

JOB_COLUMNS = "id, uid, day, number, kind, what, started_at, finished_at, status, attributes"
SPAN_COLUMNS = 'uid, parent, kind, key, status, start, "end", worker, attributes'
# The latest successful durations of each key, as a JSON array per key. The keys
# are walked by a recursive skip-scan (each the least one greater than the last),
# so both the keys and their latest spans are index seeks: some 30 ms for 2,000
# keys among a million spans, where a window function over the spans took 2 s.
#
# ESTIMATED is the estimator's index's WHERE, word for word (_schema.py): SQLite
# uses a partial index only for a query that states its condition. A test's phases
# (setup, call, teardown) are left out: they are part of the test's duration.
# `"end" <= ?` reads the history as it was at a time (+inf: as it is); a key with
# nothing that old gets "[]". Both are parameters: (before, last), or for
# LATEST_OF_KEYS (the keys as a JSON array, before, last).
ESTIMATED = "status = 'succeeded' AND kind <> 'setup' AND kind <> 'call' AND kind <> 'teardown'"
_LATEST = f"""
    SELECT key, (
        SELECT json_group_array(seconds) FROM (
            SELECT "end" - start AS seconds FROM spans
            WHERE {ESTIMATED} AND spans.key = keys.key AND "end" <= ?
            ORDER BY "end" DESC LIMIT ?
        )
    ) FROM keys WHERE key IS NOT NULL
"""
LATEST_OF_EVERY_KEY = (
    f"""
    WITH RECURSIVE keys (key) AS (
        SELECT min(key) FROM spans WHERE {ESTIMATED}
        UNION ALL
        SELECT (SELECT min(key) FROM spans WHERE {ESTIMATED} AND key > keys.key)
        FROM keys WHERE keys.key IS NOT NULL
    )"""
    + _LATEST
)
LATEST_OF_KEYS = "WITH keys (key) AS (SELECT DISTINCT value FROM json_each(?))" + _LATEST
INSERT_SPAN = (
    f"INSERT OR IGNORE INTO spans (job_id, {SPAN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


# default=str: an attribute JSON cannot hold (a Path) is kept as text rather than
# lost, and never breaks the recording. Made once: json.dumps with options builds
# an encoder per call, which was most of the cost of writing a span.
_ENCODER = json.JSONEncoder(separators=(",", ":"), sort_keys=True, default=str)


def dumps(attributes: Mapping[str, object]) -> str:
    return _ENCODER.encode(attributes) if attributes else "{}"


def next_number(connection: sqlite3.Connection, day: date) -> int:
    (number,) = connection.execute(
        "SELECT coalesce(max(number), 0) + 1 FROM jobs WHERE day = ?", (day.isoformat(),)
    ).fetchone()
    return int(number)


def row_id(cursor: sqlite3.Cursor) -> int:
    assert cursor.lastrowid is not None  # an INSERT that succeeded always has one
    return cursor.lastrowid


def span_row(job_id: int, span: Span) -> tuple[object, ...]:
    fields = (span.uid, span.key, span.kind, span.status, span.start, span.end, span.worker)
    return fields_row(job_id, (*fields, span.parent, span.attributes))


def fields_row(job_id: int, fields: SpanFields) -> tuple[object, ...]:
    """The row of INSERT_SPAN for a span of job `job_id`, given by its fields."""
    uid, key, kind, status, start, end, worker, parent, attributes = fields
    return (job_id, uid, parent, kind, key, status, start, end, worker, dumps(attributes or {}))


def job_from_row(row: Sequence[Any]) -> Job:
    id_, uid, day, number, kind, what, started_at, finished_at, status, attributes = row
    return Job(
        id_,
        uid,
        date.fromisoformat(day),
        number,
        kind,
        what,
        started_at,
        finished_at,
        status,
        json.loads(attributes),
    )


def span_from_row(row: Sequence[Any]) -> Span:
    uid, parent, kind, key, status, start, end, worker, attributes = row
    return Span(uid, key, kind, status, start, end, worker, parent, json.loads(attributes))
