"""Every test recorded: one job of kind tests, a span per test, its phases beneath.

test_a.py::test_db            test      succeeded   (without the fixture's setup)
  setup:test_a.py::test_db    setup
  fixture:test_a.py::db       fixture               (the module fixture, on its own)
  call:test_a.py::test_db     call
  teardown:test_a.py::test_db teardown
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from forkjoin.cli import main as forkjoin_main
from forkjoin.telemetry import Span, open_history, read_history

Run = Callable[..., pytest.RunResult]

SUITE = """
    import time
    import pytest

    @pytest.fixture(scope="module")
    def db():
        time.sleep(0.2)
        yield 1
        time.sleep(0.1)

    def test_db(db):
        time.sleep(0.05)

    def test_fails():
        assert False

    @pytest.mark.skip(reason="not today")
    def test_skipped():
        pass

    @pytest.mark.xfail
    def test_xfails():
        assert False

    @pytest.fixture
    def broken():
        raise RuntimeError("setup breaks")

    def test_setup_error(broken):
        pass
"""


def _spans(path: Path) -> tuple[str, list[Span]]:
    store = read_history(path)
    try:
        (job,) = store.recent_jobs()
        return job.status, store.spans(job)
    finally:
        store.close()


def test_a_plain_run_records_nothing(pytester: pytest.Pytester, inprocess: Run) -> None:
    pytester.makepyfile(SUITE)
    inprocess()
    assert not (pytester.path / ".forkjoin").exists()


def test_each_test_is_a_span_with_its_phases(pytester: pytest.Pytester, inprocess: Run) -> None:
    pytester.makepyfile(test_a=SUITE)
    result = inprocess("--fj-record")
    result.assert_outcomes(passed=1, failed=1, skipped=1, xfailed=1, errors=1)
    result.stdout.fnmatch_lines(["forkjoin: recorded 5 tests as job j1 in .forkjoin/history.db"])
    status, spans = _spans(pytester.path / ".forkjoin" / "history.db")
    assert status == "failed"
    tests = {span.key: span for span in spans if span.kind == "test"}
    assert {key: span.status for key, span in tests.items()} == {
        "test_a.py::test_db": "succeeded",
        "test_a.py::test_fails": "failed",
        "test_a.py::test_skipped": "skipped",
        "test_a.py::test_xfails": "skipped",
        "test_a.py::test_setup_error": "failed",
    }
    assert tests["test_a.py::test_fails"].attributes == {"outcome": "failed"}
    assert tests["test_a.py::test_xfails"].attributes == {"outcome": "xfailed"}
    assert tests["test_a.py::test_setup_error"].attributes == {"outcome": "error"}
    assert all(span.worker == "main" for span in spans)
    children = {span.key: span for span in spans if span.parent == tests["test_a.py::test_db"].uid}
    assert {(key, span.kind) for key, span in children.items()} == {
        ("setup:test_a.py::test_db", "setup"),
        ("call:test_a.py::test_db", "call"),
        ("teardown:test_a.py::test_db", "teardown"),
        ("fixture:test_a.py::db", "fixture"),
    }
    assert [span.kind for span in spans if span.parent == tests["test_a.py::test_fails"].uid] == [
        "setup",
        "call",
        "teardown",
    ]


def test_a_module_fixture_is_timed_apart_from_the_test_that_paid_for_it(
    pytester: pytest.Pytester, inprocess: Run
) -> None:
    """db takes 0.2 s to set up and 0.1 s to tear down; test_db itself 0.05 s"""
    pytester.makepyfile(test_a=SUITE)
    inprocess("--fj-record")
    _, spans = _spans(pytester.path / ".forkjoin" / "history.db")
    by_key = {span.key: span for span in spans}
    assert by_key["fixture:test_a.py::db"].duration >= 0.2
    assert by_key["fixture teardown:test_a.py::db"].duration >= 0.1
    test = by_key["test_a.py::test_db"]
    assert 0.05 <= test.duration < 0.2  # the test's own time, not the fixture's
    assert test.start >= by_key["fixture:test_a.py::db"].end


def test_history_lists_the_job_beside_others(pytester: pytest.Pytester, inprocess: Run) -> None:
    pytester.makepyfile(test_a="def test_ok(): pass")
    inprocess("--fj-record")
    inprocess("--fj-record", "--fj-history", "other.db")
    history = str(pytester.path / ".forkjoin" / "history.db")
    result = CliRunner().invoke(forkjoin_main, ["history", "--history", history])
    assert result.exit_code == 0, result.output
    assert "tests" in result.output and "pytest" in result.output and "succeeded" in result.output
    assert (pytester.path / "other.db").exists()


def test_ci_nodes_merge_their_histories(pytester: pytest.Pytester, inprocess: Run) -> None:
    """node 1 and node 2 each record their group; export, import: one history with both"""
    pytester.makepyfile(test_a="def test_one(): pass\ndef test_two(): pass\n")
    for group in ("1", "2"):
        inprocess("--fj-splits", "2", "--fj-group", group, "--fj-history", f"node{group}.db")
    runner = CliRunner()
    for group in ("1", "2"):
        exported = runner.invoke(
            forkjoin_main,
            ["history", "--history", f"node{group}.db", "export", "-o", f"node{group}.jsonl"],
        )
        assert exported.exit_code == 0, exported.output
    imported = runner.invoke(
        forkjoin_main, ["history", "--history", "merged.db", "import", "node1.jsonl", "node2.jsonl"]
    )
    assert imported.exit_code == 0, imported.output
    store = open_history(pytester.path / "merged.db")
    jobs = store.recent_jobs()
    assert [job.kind for job in jobs] == ["tests", "tests"]
    keys = sorted(span.key for job in jobs for span in store.spans(job) if span.kind == "test")
    store.close()
    assert keys == ["test_a.py::test_one", "test_a.py::test_two"]


def test_the_plugin_costs_nothing_until_asked() -> None:
    """importing the plugin, as pytest does at every start, loads no SQLite and no engine"""
    code = (
        "import sys, pytest, forkjoin.pytest_plugin;"
        "heavy = [m for m in sys.modules if m == 'sqlite3' or m.startswith(('forkjoin.scheduler',"
        " 'forkjoin.telemetry', 'forkjoin.partition', 'forkjoin.pytest_plugin._activate'))];"
        "print(heavy)"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert output.strip() == "[]"
