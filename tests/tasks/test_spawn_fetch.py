"""spawn / fetch / wait / as_completed: values, shapes, errors, nesting, cancellation."""

from __future__ import annotations

import threading
import time

import pytest

import forkjoin as fj
from forkjoin.errors import Cancelled


def add1(x: int) -> int:
    return x + 1


def add2(x: int) -> int:
    return x + 2


def combine(a: int, b: int, c: int) -> int:
    return a + b + c


def boom(message: str = "boom") -> int:
    raise ValueError(message)


def fib(n: int) -> int:
    if n < 2:
        return n
    a = fj.spawn(fib, n - 1)
    b = fj.spawn(fib, n - 2)
    return fj.fetch(a) + fj.fetch(b)  # type: ignore[no-any-return]


@pytest.fixture(params=["threads", "inline"])
def session(request: pytest.FixtureRequest) -> fj.Session:
    with fj.Session(request.param) as session:
        yield session


def test_the_readme_example(session: fj.Session) -> None:
    """p=add1(4) -> q=add2(p) ; s=combine(p, q, add1(3))"""
    p = fj.spawn(add1, 4)
    q = fj.spawn(add2, p)
    s = fj.spawn(combine, p, q, fj.spawn(add1, 3))
    assert fj.fetch(s) == 16
    assert fj.fetch([p, q]) == [5, 7]


def test_fetch_keeps_the_shape_of_collections(session: fj.Session) -> None:
    p = fj.spawn(add1, 1)
    shaped = {"one": p, "many": [p, (p, 7)], "plain": "x"}
    assert fj.fetch(shaped) == {"one": 2, "many": [2, (2, 7)], "plain": "x"}


def test_tasks_inside_containers_are_resolved_before_the_call(session: fj.Session) -> None:
    """p -> total([p, (p,), {k: p}])"""
    p = fj.spawn(add1, 1)

    def total(values: list[object]) -> int:
        first, (second,), third = values
        return first + second + third["k"]  # type: ignore[operator,index,no-any-return]

    assert fj.fetch(fj.spawn(total, [p, (p,), {"k": p}])) == 6


def test_a_downstream_failure_has_the_roots_type_and_names_the_chain(session: fj.Session) -> None:
    """boom -> add1 -> add2 ; add1(1) independent"""
    root = fj.spawn(boom, "bad input")
    middle = fj.spawn(add1, root)
    leaf = fj.spawn(add2, middle)
    independent = fj.spawn(add1, 1)
    with pytest.raises(ValueError, match="bad input") as caught:
        fj.fetch(leaf)
    notes = "\n".join(caught.value.__notes__)
    assert "boom" in notes
    assert "boom#1 -> add1#2 -> add2#3" in notes
    assert caught.value.__cause__ is root.exception()
    assert fj.fetch(independent) == 2
    assert leaf.done() and fj.wait(leaf) is True
    assert [root.status, middle.status, leaf.status] == ["failed", "skipped", "skipped"]


def test_the_root_error_itself_names_its_task(session: fj.Session) -> None:
    root = fj.spawn(boom)
    with pytest.raises(ValueError) as caught:
        fj.fetch(root)
    assert any("task boom#1 failed" in note for note in caught.value.__notes__)


def test_wait_and_done_never_raise(session: fj.Session) -> None:
    failing = fj.spawn(boom)
    assert fj.wait([failing]) is True
    assert failing.done()
    assert isinstance(failing.exception(), ValueError)


@pytest.mark.parametrize("executor", ["threads", "inline"])
def test_recursive_fib_on_one_worker_never_deadlocks(executor: str) -> None:
    with fj.Session(executor, workers=1):
        assert fj.fetch(fj.spawn(fib, 12)) == 144


def test_cancel_a_pending_task_and_its_dependents() -> None:
    gate = threading.Event()
    with fj.Session("threads", workers=1):
        blocker = fj.spawn(gate.wait, 10)
        pending = fj.spawn(add1, 1)
        downstream = fj.spawn(add1, pending)
        assert pending.cancel() is True
        with pytest.raises(Cancelled):
            fj.fetch(pending)
        with pytest.raises(Cancelled, match="because task add1#2 was"):
            fj.fetch(downstream)
        gate.set()
        assert fj.fetch(blocker) is True
    assert pending.cancelled() and downstream.cancelled()


def test_cancel_a_running_thread_task_is_prompt() -> None:
    started = threading.Event()
    release = threading.Event()

    def slow() -> str:
        started.set()
        release.wait(10)
        return "late"

    with fj.Session("threads", workers=2):
        task = fj.spawn(slow)
        assert started.wait(5)
        began = time.monotonic()
        assert task.cancel() is True
        with pytest.raises(Cancelled):
            fj.fetch(task)
        assert time.monotonic() - began < 1.0
        release.set()
    assert task.cancel() is False  # already done


def test_result_and_exception_time_out_with_the_builtin_error() -> None:
    gate = threading.Event()
    with fj.Session("threads", workers=1):
        task = fj.spawn(gate.wait, 10)
        with pytest.raises(TimeoutError):
            task.result(timeout=0.05)
        with pytest.raises(TimeoutError):
            task.exception(timeout=0.05)
        assert fj.wait(task, timeout=0.05) is False
        gate.set()
        assert task.result(timeout=5) is True


def test_as_completed_yields_in_completion_order() -> None:
    with fj.Session("threads", workers=3):
        tasks = [fj.spawn(time.sleep, delay) for delay in (0.3, 0.0, 0.15)]
        order = [tasks.index(task) for task in fj.as_completed(tasks, timeout=10)]
    assert order == [1, 2, 0]


def test_as_completed_times_out() -> None:
    gate = threading.Event()
    with fj.Session("threads", workers=1):
        task = fj.spawn(gate.wait, 10)
        with pytest.raises(TimeoutError):
            list(fj.as_completed([task], timeout=0.05))
        gate.set()


def test_task_name_and_repr(session: fj.Session) -> None:
    task = fj.spawn(add1, 1)
    fj.fetch(task)
    assert task.name == "add1"
    assert repr(task) == "<Task add1#1 succeeded>"


def test_tasks_run_in_parallel_on_threads() -> None:
    """4 x 0.4 s with 4 slots in < 1.2 s"""
    with fj.Session("threads", workers=4):
        began = time.monotonic()
        fj.fetch([fj.spawn(time.sleep, 0.4) for _ in range(4)])
        assert time.monotonic() - began < 1.2


def test_a_spawn_may_need_a_task_of_another_session() -> None:
    with fj.Session("threads", workers=1) as first:
        gate = threading.Event()
        slow = first.spawn(lambda: gate.wait(10) and 41)
        with fj.Session("inline"):
            dependent = fj.spawn(add1, slow)
            gate.set()
            assert fj.fetch(dependent) == 42
