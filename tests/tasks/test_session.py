"""Session: scoping, the ExceptionGroup on exit, bounds, options, retries, timeouts."""

from __future__ import annotations

import threading
import time

import pytest

import forkjoin as fj
from forkjoin.errors import TaskTimeout


def add1(x: int) -> int:
    return x + 1


def boom(message: str = "boom") -> int:
    raise ValueError(message)


class ConcurrencyMeter:
    """Counts how many calls are inside `run` at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0

    def run(self, seconds: float) -> None:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        time.sleep(seconds)
        with self.lock:
            self.now -= 1


def test_exit_raises_a_group_of_the_root_failures_only() -> None:
    """boom(a) -> add1 ; boom(b) ; add1(1)"""
    with pytest.raises(ExceptionGroup) as caught, fj.Session("threads", workers=2):
        first = fj.spawn(boom, "a")
        fj.spawn(add1, first)
        fj.spawn(boom, "b")
        fine = fj.spawn(add1, 1)
    assert sorted(str(error) for error in caught.value.exceptions) == ["a", "b"]
    assert fine.result() == 2


def test_exit_waits_for_every_task() -> None:
    with fj.Session("threads", workers=2):
        tasks = [fj.spawn(time.sleep, 0.05) for _ in range(6)]
    assert all(task.done() for task in tasks)


def test_an_error_in_the_block_cancels_the_pending_tasks() -> None:
    gate = threading.Event()
    with pytest.raises(KeyError), fj.Session("threads", workers=1):
        running = fj.spawn(gate.wait, 0.5)
        pending = fj.spawn(add1, 1)
        raise KeyError("the block failed")
    assert pending.cancelled()
    assert running.done()


def test_spawns_inside_go_to_the_innermost_session_also_from_nested_tasks() -> None:
    with fj.Session("threads", workers=2) as outer:

        def parent() -> object:
            return fj.spawn(add1, 1).engine

        with fj.Session("threads", workers=2) as inner:
            engine_of_child = fj.fetch(fj.spawn(parent))
        assert engine_of_child is inner.engine
        assert fj.spawn(add1, 1).engine is outer.engine


def test_the_default_session_works_outside_any_block() -> None:
    assert fj.fetch(fj.spawn(add1, 1)) == 2


def test_max_concurrency_bounds_running_tasks() -> None:
    meter = ConcurrencyMeter()
    with fj.Session("threads", workers=8, max_concurrency=3):
        fj.fetch([fj.spawn(meter.run, 0.05) for _ in range(12)])
    assert meter.most == 3


def test_a_spawn_into_a_closed_session_is_refused() -> None:
    with fj.Session("inline") as session:
        pass
    with pytest.raises(RuntimeError, match="closed"):
        session.spawn(add1, 1)


def test_unknown_executor_names_the_choices() -> None:
    with pytest.raises(ValueError, match="'inline', 'threads', 'processes'"):
        fj.Session("gpu")


def test_fail_fast_skips_what_has_not_started_and_names_the_failure() -> None:
    with pytest.raises(ExceptionGroup), fj.Session("inline", failure_mode="fail_fast"):
        fj.spawn(boom)
        later = fj.spawn(add1, 1)
    assert later.status == "skipped"
    with pytest.raises(ValueError, match="boom") as caught:
        later.result()
    assert caught.value.__notes__[-1] == (
        "forkjoin: task add1#2 did not run because the run stopped after task boom#1 failed"
    )


def test_backoff_retries_on_the_inline_executor_too() -> None:
    flaky = Flaky(failures=1)
    with fj.Session("inline"), fj.options(retries=1, backoff=0.05):
        assert fj.fetch(fj.spawn(flaky)) == "ok"


class Flaky:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError(f"attempt {self.calls}")
        return "ok"


def test_retries_try_again_until_success() -> None:
    flaky = Flaky(failures=2)
    with fj.Session("threads"), fj.options(retries=2):
        task = fj.spawn(flaky)
        assert fj.fetch(task) == "ok"
    assert flaky.calls == 3 and task.attempts == 3


def test_retries_give_up_with_the_last_error() -> None:
    flaky = Flaky(failures=5)
    with pytest.raises(ExceptionGroup), fj.Session("inline"), fj.options(retries=1):
        task = fj.spawn(flaky)
    with pytest.raises(ConnectionError, match="attempt 2"):
        task.result()


def test_backoff_waits_between_attempts() -> None:
    flaky = Flaky(failures=2)
    with fj.Session("threads"), fj.options(retries=2, backoff=0.1):
        began = time.monotonic()
        assert fj.fetch(fj.spawn(flaky)) == "ok"
        assert time.monotonic() - began >= 0.3  # 0.1 then 0.2


def test_a_timeout_raises_task_timeout_promptly() -> None:
    with fj.Session("threads"):
        with fj.options(timeout=0.2):
            task = fj.spawn(time.sleep, 5)
        began = time.monotonic()
        with pytest.raises(TaskTimeout, match=r"sleep#1 timed out after 0\.2 s") as caught:
            fj.fetch(task)
        assert time.monotonic() - began < 2
        assert isinstance(caught.value, TimeoutError)


def test_options_nest_and_are_inherited_by_nested_tasks_but_not_the_name() -> None:
    seen = {}

    def child() -> None:
        pass

    def parent() -> None:
        seen["child"] = fj.spawn(child).options

    with fj.Session("threads"), fj.options(retries=3, name="parent"):
        with fj.options(priority=5):
            task = fj.spawn(parent)
        fj.fetch(task)
    assert task.name == "parent"
    assert (task.options.retries, task.options.priority) == (3, 5)
    assert seen["child"].retries == 3 and seen["child"].priority == 5
    assert seen["child"].name is None


def test_higher_priority_starts_first() -> None:
    order: list[str] = []
    gate = threading.Event()
    with fj.Session("threads", workers=1):
        fj.spawn(gate.wait, 5)
        with fj.options(priority=0):
            low = fj.spawn(order.append, "low")
        with fj.options(priority=10):
            high = fj.spawn(order.append, "high")
        gate.set()
        fj.wait([low, high])
    assert order == ["high", "low"]


def test_the_task_decorator_calls_plainly_or_spawns_with_options() -> None:
    @fj.task(retries=1, name="doubled")
    def double(x: int) -> int:
        return 2 * x

    assert double(4) == 8
    assert double.__name__ == "double"
    with fj.Session("inline"):
        task = double.spawn(4)
        assert fj.fetch(task) == 8
    assert task.name == "doubled" and task.options.retries == 1


def test_bad_options_are_refused_at_once() -> None:
    with pytest.raises(ValueError, match="retries must be 0 or more"), fj.options(retries=-1):
        pass
    with pytest.raises(ValueError, match="timeout must be a positive"):
        fj.task(timeout=0)(add1)
