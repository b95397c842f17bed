"""The SQLite store: jobs numbered per day, spans in batches, queries, the null store."""

from __future__ import annotations

import math
import sqlite3
from datetime import date, datetime
from pathlib import Path

import pytest

from forkjoin.errors import HistoryError
from forkjoin.telemetry import (
    JOB_STATUSES,
    NullStore,
    Span,
    SpanFields,
    SqliteStore,
    history_path,
    open_history,
)
from forkjoin.telemetry._rows import LATEST_OF_EVERY_KEY, LATEST_OF_KEYS
from forkjoin.telemetry._schema import _MIGRATIONS, SCHEMA_VERSION

NOV_24 = datetime(2025, 11, 24, 12, 0).timestamp()
NOV_25 = datetime(2025, 11, 25, 12, 0).timestamp()
NOV_24_LAST_YEAR = datetime(2024, 11, 24, 12, 0).timestamp()


def spans_of(job_uid: str, *durations: float, key: str = "build", status: str = "succeeded"):
    return [
        Span(f"{job_uid}.{n}", key, "step", status, 100.0 * n, 100.0 * n + seconds)
        for n, seconds in enumerate(durations, start=1)
    ]


# -- where the history is ------------------------------------------------------------


def test_history_path_prefers_the_option_then_the_variable_then_the_default(
    tmp_path: Path,
) -> None:
    environ = {"FORKJOIN_HISTORY": "from-env.db"}
    assert history_path("given.db", tmp_path, environ) == tmp_path / "given.db"
    assert history_path(None, tmp_path, environ) == tmp_path / "from-env.db"
    assert history_path(None, tmp_path, {}) == tmp_path / ".forkjoin" / "history.db"
    assert history_path("", tmp_path, {"FORKJOIN_HISTORY": ""}) == (
        tmp_path / ".forkjoin" / "history.db"
    )
    assert history_path("/abs/h.db", tmp_path, environ) == Path("/abs/h.db")


def test_the_history_is_made_on_first_use_in_wal_mode_with_a_schema_version(
    history: Path, store: SqliteStore
) -> None:
    assert history.is_file()
    connection = sqlite3.connect(history)
    assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert connection.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    connection.close()


def test_an_empty_sqlite_file_is_migrated_to_the_schema(history: Path) -> None:
    history.parent.mkdir(parents=True)
    sqlite3.connect(history).close()  # a valid, empty database at version 0
    opened = open_history(history, warn=pytest.fail)
    assert isinstance(opened, SqliteStore)
    assert opened.recent_jobs() == []
    opened.close()


# -- jobs ----------------------------------------------------------------------------


def test_jobs_are_numbered_from_1_in_each_local_day(store: SqliteStore, clock) -> None:
    clock.now = NOV_24
    first, second = store.start_job("workflow", "a.yaml"), store.start_job("tasks", "b.py")
    clock.now = NOV_25
    third = store.start_job("tests", "pytest")
    assert [job.qualified_id for job in (first, second, third)] == [
        "j1124.1",
        "j1124.2",
        "j1125.1",
    ]
    assert third.short_id == "j1"
    assert third.day == date(2025, 11, 25)
    assert third.status == "running"
    assert third.is_recorded


def test_a_finished_job_is_read_back_as_it_was_recorded(store: SqliteStore, clock) -> None:
    job = store.start_job("workflow", "forkjoin.yaml", {"steps": 3, "branch": "main"})
    finished = store.finish_job(job, "failed", clock.advance(12.5))
    assert finished.status == "failed"
    assert finished.duration == 12.5
    assert store.job("j1") == finished
    assert store.job("j1").attributes == {"steps": 3, "branch": "main"}


def test_finishing_with_a_status_jobs_do_not_have_is_a_value_error(store: SqliteStore) -> None:
    job = store.start_job("workflow", "x")
    for status in ("running", "skipped", "ok"):
        with pytest.raises(ValueError, match="a job finishes as one of"):
            store.finish_job(job, status)
    assert "interrupted" in JOB_STATUSES


def test_recent_jobs_are_the_latest_first(store: SqliteStore, clock) -> None:
    for what in ("a", "b", "c"):
        store.start_job("workflow", what)
        clock.advance(60)
    assert [job.what for job in store.recent_jobs(2)] == ["c", "b"]
    assert [job.what for job in store.jobs()] == ["a", "b", "c"]


# -- short ids -------------------------------------------------------------------------


@pytest.fixture
def two_days(store: SqliteStore, clock) -> SqliteStore:
    """Nov 24: j1 j2 j3 ; Nov 25 (today): j1 j2 ; and Nov 24 of last year: j1"""
    clock.now = NOV_24_LAST_YEAR
    store.start_job("workflow", "last year")
    clock.now = NOV_24
    for n in (1, 2, 3):
        store.start_job("workflow", f"nov24 #{n}")
    clock.now = NOV_25
    for n in (1, 2):
        store.start_job("workflow", f"nov25 #{n}")
    return store


@pytest.mark.parametrize(
    ("short_id", "what"),
    [
        ("j2", "nov25 #2"),
        ("2", "nov25 #2"),
        ("j1125.2", "nov25 #2"),
        ("1125.2", "nov25 #2"),
        ("j1124.3", "nov24 #3"),
        ("j1124.1", "nov24 #1"),  # this year's Nov 24, not last year's
    ],
)
def test_a_short_id_names_a_job_today_or_on_the_day_it_gives(
    two_days: SqliteStore, short_id: str, what: str
) -> None:
    assert two_days.job(short_id).what == what


def test_an_old_job_is_found_by_its_uid_too(two_days: SqliteStore) -> None:
    last_year = two_days.jobs().__next__()
    assert two_days.job(last_year.uid) == last_year


@pytest.mark.parametrize(
    ("short_id", "message"),
    [
        ("j3", "no job j3 today"),
        ("j1124.9", "no job j1124.9 "),
        ("j1201.1", "no job j1201.1 "),
        ("deploy", "'deploy' is not a job id: give j7 for today's 7th job"),
    ],
)
def test_an_id_that_names_no_job_is_a_history_error(
    two_days: SqliteStore, short_id: str, message: str
) -> None:
    with pytest.raises(HistoryError, match=message) as raised:
        two_days.job(short_id)
    assert raised.value.path == str(two_days.path)
    assert isinstance(raised.value, ValueError)


# -- spans -----------------------------------------------------------------------------


def test_spans_are_written_in_a_batch_and_read_back_in_start_order(store: SqliteStore) -> None:
    job = store.start_job("workflow", "x")
    parent = Span(f"{job.uid}.1", "deploy", "step", "succeeded", 10.0, 20.0, "thread-1")
    children = [
        Span(f"{job.uid}.3", "deploy[us]", "item", "failed", 12.0, 19.0, "w2", parent.uid),
        Span(
            f"{job.uid}.2",
            "deploy[eu]",
            "item",
            "succeeded",
            11.0,
            15.0,
            "w1",
            parent.uid,
            {"exit_code": 0},
        ),
    ]
    store.record_spans(job, [parent, *children])
    store.record_spans(job, [parent])  # written twice: still once
    assert store.spans(job) == [parent, children[1], children[0]]
    assert store.spans(job)[1].attributes == {"exit_code": 0}


def test_spans_of_a_kind_and_a_status_are_picked_out(store: SqliteStore) -> None:
    job = store.start_job("tests", "pytest")
    spans = [
        *a_test_and_its_phases(job.uid, "test_a.py::test_x", 10.0),
        Span(f"{job.uid}.f", "test_a.py::test_f", "test", "failed", 20.0, 21.0),
        Span(f"{job.uid}.c", "call:test_a.py::test_f", "call", "failed", 20.2, 21.0),
    ]
    store.record_spans(job, spans)
    assert store.spans(job, kind="test", status="failed") == [spans[4]]
    assert store.spans(job, status="failed") == spans[4:]
    assert store.spans(job, kind="test") == [spans[0], spans[4]]
    assert store.spans(job) == spans


def test_spans_given_by_their_fields_are_read_back_as_the_same_spans(store: SqliteStore) -> None:
    job = store.start_job("tests", "pytest")
    spans = [
        Span(f"{job.uid}.1", "t.py::test_a", "test", "failed", 1.0, 2.5, "w1", None, {"n": 1}),
        Span(f"{job.uid}.2", "call:t.py::test_a", "call", "failed", 1.5, 2.5, "w1", f"{job.uid}.1"),
    ]
    fields: list[SpanFields] = [
        (s.uid, s.key, s.kind, s.status, s.start, s.end, s.worker, s.parent, s.attributes or None)
        for s in spans
    ]
    store.record_fields(job, fields)
    store.record_fields(job, fields[:1])  # written twice: still once
    assert store.spans(job) == spans


def test_durations_are_the_latest_successful_runs_of_each_key(store: SqliteStore) -> None:
    job = store.start_job("workflow", "x")
    store.record_spans(job, spans_of(job.uid, *range(1, 15), key="build"))
    store.record_spans(job, [Span(f"{job.uid}.f", "build", "step", "failed", 5000.0, 5999.0)])
    store.record_spans(job, [Span(f"{job.uid}.t", "test", "step", "succeeded", 0.0, 2.0)])
    durations = store.durations(last=10)
    # spans_of puts span n at 100 n: the latest are the longest, 14 s down to 5 s
    assert durations["build"] == [14, 13, 12, 11, 10, 9, 8, 7, 6, 5]
    assert durations["test"] == [2.0]
    assert store.durations(["test", "unknown"]) == {"test": [2.0]}


def a_test_and_its_phases(job_uid: str, nodeid: str, start: float) -> list[Span]:
    """A test of 2 s and its phases, its children:

    test_a.py::test_x            test      2 s
      setup:test_a.py::test_x    setup     0.5 s
      call:test_a.py::test_x     call      1 s
      teardown:test_a.py::test_x teardown  0.5 s
    """
    test = Span(f"{job_uid}.{nodeid}", nodeid, "test", "succeeded", start, start + 2.0)
    return [
        test,
        *(
            Span(
                f"{job_uid}.{when}:{nodeid}",
                f"{when}:{nodeid}",
                when,
                "succeeded",
                start + offset,
                start + offset + seconds,
                parent=test.uid,
            )
            for when, offset, seconds in (
                ("setup", 0.0, 0.5),
                ("call", 0.5, 1.0),
                ("teardown", 1.5, 0.5),
            )
        ),
    ]


def test_a_tests_phases_are_kept_as_spans_but_never_estimated(store: SqliteStore) -> None:
    job = store.start_job("tests", "pytest")
    spans = a_test_and_its_phases(job.uid, "test_a.py::test_x", 10.0)
    store.record_spans(job, spans)
    assert [span.kind for span in store.spans(job)] == ["test", "setup", "call", "teardown"]
    assert store.durations() == {"test_a.py::test_x": [2.0]}
    assert store.durations(["test_a.py::test_x", "call:test_a.py::test_x"]) == {
        "test_a.py::test_x": [2.0]
    }


@pytest.mark.parametrize("query", [LATEST_OF_EVERY_KEY, LATEST_OF_KEYS])
def test_the_estimators_queries_read_its_index_and_never_sort(
    store: SqliteStore, history: Path, query: str
) -> None:
    connection = sqlite3.connect(history)
    parameters = (math.inf, 10) if query is LATEST_OF_EVERY_KEY else ('["a"]', math.inf, 10)
    plan = " | ".join(
        row[3] for row in connection.execute(f"EXPLAIN QUERY PLAN {query}", parameters)
    )
    connection.close()
    assert "estimated_spans_by_key" in plan
    assert "ORDER BY" not in plan  # no sort: the index hands the rows over in order


def test_a_version_1_history_is_migrated_and_keeps_its_spans(history: Path) -> None:
    history.parent.mkdir(parents=True)
    connection = sqlite3.connect(history)
    for statement in _MIGRATIONS[0]:
        connection.execute(statement)
    connection.execute("PRAGMA user_version = 1")
    connection.execute(
        "INSERT INTO jobs (uid, day, number, kind, what, started_at, status)"
        " VALUES ('u', '2025-11-25', 1, 'tests', 'pytest', 10.0, 'succeeded')"
    )
    for span in a_test_and_its_phases("u", "test_a.py::test_x", 10.0):
        connection.execute(
            'INSERT INTO spans (uid, job_id, parent, kind, key, status, start, "end")'
            " VALUES (?, 1, ?, ?, ?, ?, ?, ?)",
            (span.uid, span.parent, span.kind, span.key, span.status, span.start, span.end),
        )
    connection.commit()
    connection.close()
    opened = open_history(history, warn=pytest.fail)
    assert isinstance(opened, SqliteStore)
    (job,) = opened.recent_jobs()
    assert len(opened.spans(job)) == 4
    assert opened.durations() == {"test_a.py::test_x": [2.0]}
    opened.close()
    connection = sqlite3.connect(history)
    assert connection.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    connection.close()


def test_durations_before_a_time_are_the_history_as_it_was_then(store: SqliteStore) -> None:
    """build: 1 s ending at 101, 2 s at 202, 3 s at 303; test: 5 s ending at 500"""
    job = store.start_job("workflow", "x")
    store.record_spans(job, spans_of(job.uid, 1.0, 2.0, 3.0, key="build"))
    store.record_spans(job, [Span(f"{job.uid}.t", "test", "step", "succeeded", 495.0, 500.0)])
    assert store.durations(before=202.0) == {"build": [2.0, 1.0]}
    assert store.durations(["build", "test"], before=250.0) == {"build": [2.0, 1.0]}
    assert store.durations(["build"], before=100.0) == {}
    assert store.durations(["build", "test"]) == {"build": [3.0, 2.0, 1.0], "test": [5.0]}


def test_a_job_without_number_is_not_written(store: SqliteStore) -> None:
    unrecorded = NullStore(store.path).start_job("workflow", "x")
    store.record_spans(unrecorded, spans_of(unrecorded.uid, 1.0))
    assert store.durations() == {}


# -- the null store ------------------------------------------------------------------


def test_the_null_store_records_nothing_and_knows_nothing(tmp_path: Path, clock) -> None:
    null = NullStore(tmp_path / "none.db", clock=clock)
    job = null.start_job("workflow", "x", {"a": 1})
    assert not job.is_recorded and job.short_id == "j0"
    null.record_spans(job, spans_of(job.uid, 1.0))
    assert null.finish_job(job, "succeeded").status == "succeeded"
    assert null.recent_jobs() == [] and null.durations() == {} and null.spans(job) == []
    with pytest.raises(HistoryError, match="no usable history"):
        null.job("j1")
    assert not (tmp_path / "none.db").exists()
