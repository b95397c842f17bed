"""`predict` and `forkjoin plan`: a run foretold from history, through the real queue."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from test_run import run, write

from forkjoin.workflow import loads, predict

PLAN = [sys.executable, "-m", "forkjoin.cli", "plan"]


class Table:
    """An estimator from a table of seconds; 1.0 for a key it does not hold."""

    def __init__(self, seconds: dict[str, float]) -> None:
        self.seconds = seconds

    def estimate(self, key: str) -> float:
        return self.seconds.get(key, 1.0)

    def knows(self, key: str) -> bool:
        return key in self.seconds


def test_a_ready_queue_with_ranks_from_history() -> None:
    """a(1.0) -> c(0.1) ; b(0.1) -> d(1.0)   2 workers: 1.1 s; 1 worker: 2.2 s"""
    workflow = loads(
        "steps:\n  a: {run: x}\n  b: {run: x}\n  c: {run: x, needs: [a]}\n"
        "  d: {run: x, needs: [b]}\n"
    )
    table = Table({"a": 1.0, "b": 0.1, "c": 0.1, "d": 1.0})
    two = predict(workflow, table, 2)
    assert round(two.seconds, 6) == 1.1
    assert two.critical_path in (("a", "c"), ("b", "d"))
    assert round(predict(workflow, table, 1).seconds, 6) == 2.2
    assert {placed.slot for placed in two.timeline} == {1, 2}


def test_items_play_in_their_pool_and_their_step_waits_for_them() -> None:
    """deploy(x, y, z at parallelism 2, 0.5 s each) -> after(0.2 s); 4 workers: 1.2 s"""
    workflow = loads(
        "steps:\n  deploy: {for_each: [x, y, z], parallelism: 2, run: x}\n"
        "  after: {needs: [deploy], run: x}\n"
    )
    table = Table({"deploy/x": 0.5, "deploy/y": 0.5, "deploy/z": 0.5, "after": 0.2})
    prediction = predict(workflow, table, 4)
    assert round(prediction.seconds, 6) == 1.2
    assert [p.id for p in prediction.timeline if p.id.startswith("deploy")] == [
        "deploy/x",
        "deploy/y",
        "deploy/z",
    ]  # the step that only adds its items is not in the timeline
    assert round(prediction.critical_path_seconds, 6) == 1.2


def test_unknown_steps_are_counted_as_not_known() -> None:
    workflow = loads("steps:\n  a: {run: x}\n  b: {run: x}\n")
    prediction = predict(workflow, Table({"a": 2.0}), 1)
    assert prediction.known == frozenset({"a"})
    assert prediction.as_json()["steps"] == [
        {"id": "a", "estimate_seconds": 2.0, "known": True},
        {"id": "b", "estimate_seconds": 1.0, "known": False},
    ]


def test_the_plan_is_within_15_percent_of_the_next_run(tmp_path: Path) -> None:
    """a(0.4) -> c(0.2) ; b(0.2) -> d(0.6) ; e(0.3) ; f(0.3)   at 2 workers, steady sleeps"""
    write(
        tmp_path,
        """
        max_concurrency: 2
        steps:
          a: {run: sleep 0.4}
          b: {run: sleep 0.2}
          c: {run: sleep 0.2, needs: [a]}
          d: {run: sleep 0.6, needs: [b]}
          e: {run: sleep 0.3}
          f: {run: sleep 0.3}
        """,
    )
    for _ in range(2):
        assert run(tmp_path)[0].returncode == 0
    planned = subprocess.run(
        [*PLAN, "--json"], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    prediction = json.loads(planned.stdout)
    assert prediction["workers"] == 2
    assert all(step["known"] for step in prediction["steps"])
    result, summary = run(tmp_path)
    assert result.returncode == 0 and summary is not None
    actual = summary["duration_ms"] / 1000
    assert abs(prediction["predicted_seconds"] - actual) <= 0.15 * actual, (prediction, actual)
    assert prediction["by_workers"]["1"] > prediction["by_workers"]["2"]


def test_plan_reads_no_history_into_being(tmp_path: Path) -> None:
    write(tmp_path, "steps:\n  a: {run: 'true'}\n")
    planned = subprocess.run(PLAN, cwd=tmp_path, capture_output=True, text=True, check=True)
    assert planned.stdout.startswith(
        "predicted: 1.00 s on 1 worker (no history yet: every step and item weighs 1 s)\n"
    )
    assert not (tmp_path / ".forkjoin").exists()


def test_plan_tells_new_items_of_steps_timed_before(tmp_path: Path) -> None:
    """each(x, y) ran; then z is added: every step was timed, one item is new."""
    write(tmp_path, "steps:\n  each: {for_each: [x, y], run: 'true'}\n")
    first = subprocess.run([*PLAN[:-1], "run"], cwd=tmp_path, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    planned = subprocess.run(PLAN, cwd=tmp_path, capture_output=True, text=True, check=True)
    assert planned.stdout.splitlines()[0].endswith("(every step timed before)")
    write(tmp_path, "steps:\n  each: {for_each: [x, y, z], run: 'true'}\n")
    planned = subprocess.run(PLAN, cwd=tmp_path, capture_output=True, text=True, check=True)
    assert planned.stdout.splitlines()[0].endswith(
        "(every step timed before, 1 new item; the others estimated from like ones,"
        " else the median of all)"
    )


def test_plan_of_a_bad_file_exits_2_in_one_line(tmp_path: Path) -> None:
    write(tmp_path, "steps:\n  a: {run: x, neds: [b]}\n")
    planned = subprocess.run(PLAN, cwd=tmp_path, capture_output=True, text=True)
    assert planned.returncode == 2
    assert "did you mean `needs`?" in planned.stderr
    assert len(planned.stderr.splitlines()) == 1
