"""Export and import: JSON lines between histories, merged by uid; import twice = once."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from forkjoin.errors import HistoryError
from forkjoin.telemetry import Recorder, SqliteStore, export, import_file, open_history


def fill(store: SqliteStore, clock) -> None:
    """j1: build, deploy -> deploy[eu] (failed) ; j2: build, still running"""
    recorder = Recorder(store, store.start_job("workflow", "forkjoin.yaml", {"branch": "main"}))
    recorder.record("build", kind="step", status="succeeded", start=clock.now, end=clock.advance(2))
    deploy = recorder.start_span("deploy", kind="step", start=clock.now)
    recorder.record(
        "deploy[eu]",
        kind="item",
        status="failed",
        start=clock.now,
        end=clock.advance(1),
        parent=deploy,
        worker="thread-2",
        attributes={"exit_code": 3},
    )
    recorder.end_span(deploy, "failed", end=clock.now)
    recorder.finish("failed", clock.advance(0.5))
    running = Recorder(store, store.start_job("tasks", "script.py"))
    running.record("task-1", kind="task", status="succeeded", start=clock.now, end=clock.advance(1))
    running.flush()


def contents(store: SqliteStore) -> list[tuple[object, ...]]:
    """Everything but the local row ids: what must survive a trip between histories."""
    return [
        (
            job.uid,
            job.kind,
            job.what,
            job.status,
            job.started_at,
            job.finished_at,
            dict(job.attributes),
            job.short_id,
            sorted(store.spans(job), key=lambda s: s.uid),
        )
        for job in store.jobs()
    ]


def exported(store: SqliteStore, path: Path) -> Path:
    with path.open("w") as file:
        export(store, file)
    return path


def test_a_history_exported_and_imported_elsewhere_is_the_same(
    store: SqliteStore, clock, tmp_path: Path
) -> None:
    fill(store, clock)
    other = open_history(tmp_path / "other.db", warn=pytest.fail, clock=clock)
    imported = import_file(other, exported(store, tmp_path / "history.jsonl"))
    assert (imported.format, imported.jobs, imported.spans) == ("jsonl", 2, 4)
    assert contents(other) == contents(store)
    again = import_file(other, tmp_path / "history.jsonl")
    assert (again.jobs, again.spans) == (0, 0)
    assert contents(other) == contents(store)
    other.close()


def test_import_merges_what_is_new_and_finishes_what_was_running(
    store: SqliteStore, clock, tmp_path: Path
) -> None:
    """node A exports, node B imports; A goes on and exports again; B imports again."""
    fill(store, clock)
    other = open_history(tmp_path / "other.db", warn=pytest.fail, clock=clock)
    import_file(other, exported(store, tmp_path / "first.jsonl"))
    running = next(job for job in store.jobs() if job.status == "running")
    store.finish_job(running, "succeeded", clock.advance(1))
    store.start_job("tests", "pytest")
    second = import_file(other, exported(store, tmp_path / "second.jsonl"))
    assert (second.jobs, second.spans) == (1, 0)
    assert contents(other) == contents(store)
    other.close()


def test_imported_jobs_are_numbered_in_their_own_day(
    store: SqliteStore, clock, tmp_path: Path
) -> None:
    fill(store, clock)
    other = open_history(tmp_path / "other.db", warn=pytest.fail, clock=clock)
    other.start_job("workflow", "local")
    import_file(other, exported(store, tmp_path / "history.jsonl"))
    assert sorted(job.short_id for job in other.jobs()) == ["j1", "j2", "j3"]
    other.close()


def test_export_writes_a_header_then_a_line_per_job_and_span(store: SqliteStore, clock) -> None:
    fill(store, clock)
    buffer = io.StringIO()
    assert export(store, buffer) == (2, 4)
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    assert lines[0] == {"type": "forkjoin-history", "version": 1}
    assert [line["type"] for line in lines[1:]] == ["job", "span", "span", "span", "job", "span"]
    assert all(line["job"] == lines[1]["uid"] for line in lines[2:5])


# -- pytest-split and JUnit --------------------------------------------------------------

DURATIONS = {
    "tests/test_a.py::test_one": 1.5,
    "tests/test_a.py::TestB::test_two[x]": 0.25,
    "tests/test_c.py::test_three": 3,
}


@pytest.mark.parametrize(
    "written",
    [json.dumps(DURATIONS, indent=4), json.dumps([[k, v] for k, v in DURATIONS.items()])],
    ids=["mapping", "pairs-before-0.2"],
)
def test_pytest_split_durations_become_one_tests_job(
    store: SqliteStore, tmp_path: Path, written: str
) -> None:
    path = tmp_path / ".test_durations"
    path.write_text(written)
    imported = import_file(store, path)
    assert (imported.format, imported.jobs, imported.spans) == ("pytest-split", 1, 3)
    [job] = store.recent_jobs()
    assert (job.kind, job.what, job.status) == ("tests", str(path), "succeeded")
    assert job.duration == 4.75
    spans = store.spans(job)
    assert {span.key: span.duration for span in spans} == DURATIONS
    assert {span.kind for span in spans} == {"test"}
    assert store.durations()["tests/test_c.py::test_three"] == [3.0]
    again = import_file(store, path)
    assert (again.jobs, again.spans) == (0, 0)
    assert len(store.recent_jobs()) == 1


JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites>
  <testsuite name="pytest" hostname="ci-3" timestamp="2025-11-24T12:00:00" time="6.5">
    <testcase classname="tests.test_api" name="test_health" file="tests/test_api.py" time="1.0"/>
    <testcase classname="tests.test_api.TestLogin" name="test_ok[admin]"
              file="tests/test_api.py" line="12" time="2.0">
      <failure message="assert 401 == 200">trace</failure>
    </testcase>
    <testcase classname="tests.test_api.TestLogin" name="test_slow" file="tests/test_api.py"
              time="0"><skipped message="slow"/></testcase>
    <testcase classname="com.example.CartTest" name="addsItem" time="1,500.5"/>
    <testcase classname="com.example.CartTest" name="crashes" time="0.5"><error/></testcase>
  </testsuite>
</testsuites>
"""


def test_junit_xml_becomes_a_tests_job_with_a_span_per_case(
    store: SqliteStore, tmp_path: Path
) -> None:
    path = tmp_path / "report.xml"
    path.write_text(JUNIT)
    imported = import_file(store, path)
    assert (imported.format, imported.jobs, imported.spans) == ("junit", 1, 6)
    [job] = store.recent_jobs()
    assert (job.kind, job.status, job.qualified_id) == ("tests", "failed", "j1124.1")
    suite, *cases = store.spans(job)
    assert (suite.key, suite.kind, suite.status, suite.worker) == (
        "pytest",
        "suite",
        "failed",
        "ci-3",
    )
    assert [(case.key, case.status, case.duration) for case in cases] == [
        ("tests/test_api.py::test_health", "succeeded", 1.0),
        ("tests/test_api.py::TestLogin::test_ok[admin]", "failed", 2.0),
        ("tests/test_api.py::TestLogin::test_slow", "skipped", 0.0),
        ("com.example.CartTest::addsItem", "succeeded", 1500.5),
        ("com.example.CartTest::crashes", "failed", 0.5),
    ]
    assert {case.parent for case in cases} == {suite.uid}
    assert cases[1].attributes == {"message": "assert 401 == 200"}
    assert import_file(store, path).spans == 0


# -- what is not an import file --------------------------------------------------------

A_JOB = (
    '{"type":"job","uid":"a1","kind":"workflow","what":"x","started_at":1.0,"status":"succeeded"}'
)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "the file is empty"),
        (b"\xff\xfe\x00garbage", "not text: byte 0 is not UTF-8"),
        (b"hello\n", "line 1: not JSON"),
        (b'{"a": "b"}', "pytest-split durations: 'a' should map to seconds, not 'b'"),
        (b'"text"', "neither forkjoin's JSON lines nor pytest-split's durations"),
        (b'{"t.py::a": "slow"}', "'t.py::a' should map to seconds, not 'slow'"),
        (b'{"t.py::a": -1}', "should map to seconds, not -1"),
        (b"[1, 2]", "neither forkjoin's JSON lines nor pytest-split's durations"),
        ((A_JOB + "\n{oops\n").encode(), "line 2: not JSON"),
        (
            (A_JOB + '\n{"type":"span","job":"zz","uid":"s"}\n').encode(),
            "line 2: a span of job zz, which no line above describes",
        ),
        (A_JOB.replace('"succeeded"', '"great"').encode(), "line 1: status 'great' is not one of"),
        (A_JOB.replace("1.0", '"noon"').encode(), "line 1: started_at should be epoch seconds"),
        (b'{"type":"forkjoin-history","version":2}\n', "format version 2: written by a newer"),
        (b'{"type":"trace"}\n{"type":"trace"}\n', "line 1: type 'trace': expected JSON lines"),
        (b"<testsuites><testcase>", "line 1, column 23: not well-formed XML"),
        (b"<html><body/></html>", "XML, but not JUnit: the root is <html>"),
        (
            b'<testsuite><testcase name="a" time="fast"/></testsuite>',
            "<testcase name='a'> has time='fast', not seconds",
        ),
    ],
)
def test_a_bad_import_file_is_a_history_error_naming_it_and_changes_nothing(
    store: SqliteStore, tmp_path: Path, content: bytes, reason: str
) -> None:
    path = tmp_path / "bad-file"
    path.write_bytes(content)
    with pytest.raises(HistoryError) as raised:
        import_file(store, path)
    assert str(raised.value).startswith(f"{path}: ")
    assert reason in str(raised.value)
    assert raised.value.path == str(path)
    assert store.recent_jobs() == []


def test_empty_pytest_split_durations_add_no_job(store: SqliteStore, tmp_path: Path) -> None:
    path = tmp_path / ".test_durations"
    path.write_text("{}")
    assert import_file(store, path).jobs == 0
    assert store.recent_jobs() == []


def test_a_missing_import_file_is_a_history_error(store: SqliteStore, tmp_path: Path) -> None:
    with pytest.raises(HistoryError, match="no-such-file: cannot read it"):
        import_file(store, tmp_path / "no-such-file")
