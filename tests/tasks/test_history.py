"""Sessions that keep a history: a span per task attempt, estimates for the next run."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

import forkjoin as fj
from forkjoin.telemetry import HistoryEstimator, open_history


def quick() -> int:
    time.sleep(0.01)
    return 1


def slow() -> int:
    time.sleep(0.2)
    return 2


def test_a_session_records_a_job_with_a_span_per_task(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    with fj.Session(workers=2, history=path):
        assert fj.fetch(fj.spawn(quick)) == 1
        assert fj.fetch(fj.spawn(slow)) == 2
    with open_history(path) as store:
        (job,) = store.recent_jobs()
        assert job.kind == "tasks" and job.status == "succeeded"
        spans = store.spans(job)
    assert sorted(span.key for span in spans) == sorted([quick.__qualname__, slow.__qualname__])
    assert all(span.status == "succeeded" and span.kind == "task" for span in spans)
    by_key = {span.key: span.end - span.start for span in spans}
    assert by_key[slow.__qualname__] > by_key[quick.__qualname__]


def test_the_next_session_ranks_tasks_by_their_history(tmp_path: Path) -> None:
    """quick ; slow    the second session ranks slow above quick"""
    path = tmp_path / "history.db"
    with fj.Session(workers=2, history=path):
        fj.wait([fj.spawn(quick), fj.spawn(slow)])
    with fj.Session(workers=2, history=path):
        ranked = fj.spawn(slow), fj.spawn(quick)
        fj.wait(list(ranked))
    assert ranked[0].rank > ranked[1].rank
    with open_history(path) as store:
        estimator = HistoryEstimator.from_store(store)
    assert estimator.estimate(slow.__qualname__) > estimator.estimate(quick.__qualname__)


def test_a_retried_attempt_is_a_failed_span_and_a_failure_fails_the_job(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("first time")
        return "ok"

    def broken() -> None:
        raise RuntimeError("always")

    with pytest.raises(ExceptionGroup), fj.Session(workers=1, history=path):
        with fj.options(retries=1):
            fj.spawn(flaky)
        fj.spawn(broken)
    with open_history(path) as store:
        (job,) = store.recent_jobs()
        statuses = sorted((span.key.rsplit(".", 1)[-1], span.status) for span in store.spans(job))
    assert job.status == "failed"
    assert statuses == [("broken", "failed"), ("flaky", "failed"), ("flaky", "succeeded")]


def test_no_history_unless_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with fj.Session(workers=1):
        fj.fetch(fj.spawn(quick))
    assert not (tmp_path / ".forkjoin").exists()


def outer() -> int:
    return fj.fetch(fj.spawn(quick)) + fj.fetch(fj.spawn(quick))


def test_a_nested_task_hangs_from_its_spawner_and_names_the_thread_that_ran_it(
    tmp_path: Path,
) -> None:
    """outer -> (quick, quick)    both quick spans under outer's; none on MainThread"""
    path = tmp_path / "history.db"
    with fj.Session(workers=2, history=path):
        assert fj.fetch(fj.spawn(outer)) == 2
    with open_history(path) as store:
        (job,) = store.recent_jobs()
        spans = store.spans(job)
    (parent,) = [span for span in spans if span.key == outer.__qualname__]
    children = [span for span in spans if span.key == quick.__qualname__]
    assert len(children) == 2
    assert parent.parent is None
    assert {span.parent for span in children} == {parent.uid}
    assert {span.worker for span in spans} <= {"forkjoin-1", "forkjoin-2"}


def test_the_worker_of_an_inline_session_is_the_callers_thread(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    with fj.Session("inline", history=path):
        assert fj.fetch(fj.spawn(outer)) == 2
    with open_history(path) as store:
        (job,) = store.recent_jobs()
        workers = {span.worker for span in store.spans(job)}
    assert workers == {threading.current_thread().name}
