"""The engine against hostile timing: cancels mid-run, timeouts, backoff, bad callbacks.

Time is a `FakeClock`, so a timeout or a backoff passes exactly when a test says;
calls end when the test says, through `FakeAsyncExecutor`. Races on real threads
are run many times with seeded choices, and assert only what must hold under every
interleaving. Where a race has to be forced, a test pauses one thread at a real
scheduling point (a lock release, a clock call) and lets another go first.

The tests at the end are regression tests for engine bugs found here and fixed.
"""

from __future__ import annotations

import random
import sys
import threading
import time
from typing import Any

import pytest

import forkjoin
from conftest import FakeAsyncExecutor, FakeClock, RecordingObserver
from forkjoin.errors import Cancelled, TaskTimeout
from forkjoin.executors import InlineExecutor, ThreadExecutor
from forkjoin.scheduler import (
    CANCELLED,
    FAILED,
    PENDING,
    READY,
    RUNNING,
    SKIPPED,
    SUCCEEDED,
    Engine,
    Node,
    Options,
)


class Boom(Exception):
    pass


def boom() -> None:
    raise Boom("boom")


def counting(results: list[str]) -> Any:
    """A call that returns "call 1", "call 2"... so a late result is told apart."""

    def call() -> str:
        results.append(f"call {len(results) + 1}")
        return results[-1]

    return call


# -- a final failure gives its slot back once (found here, fixed in _engine.py) -------


def test_a_failure_gives_its_slot_back_once(clock: FakeClock) -> None:
    """a (fails) ; b ; c ; d      keep_going, max_concurrency 1   (expect b, c, d one at a time)

    A node's last failed attempt used to release its slot twice (once when the
    attempt ended, again when the node settled), so each failure raised the bound.
    """
    executor = FakeAsyncExecutor(workers=1)
    engine = Engine(executor, max_concurrency=1, failure_mode="keep_going", clock=clock)
    a, b, c, d = (Node(boom, options=Options(name=name)) for name in "abcd")
    b.fn = c.fn = d.fn = lambda: "ok"
    engine.add_all([(a, []), (b, []), (c, []), (d, [])])
    assert [future.fn for future in executor.pending] == [a.fn]
    executor.run_one(0)
    assert a.state == FAILED
    assert executor.in_flight == 1
    executor.run_all()
    assert executor.max_in_flight == 1
    assert [b.state, c.state, d.state] == [SUCCEEDED] * 3


def test_a_time_out_gives_its_slot_back_once(clock: FakeClock) -> None:
    """a (times out) ; b ; c      keep_going, max_concurrency 1   (expect b, then c)"""
    executor = FakeAsyncExecutor(workers=1)
    engine = Engine(executor, max_concurrency=1, failure_mode="keep_going", clock=clock)
    a = Node(lambda: "late", options=Options(name="a", timeout=1))
    b, c = Node(lambda: "b"), Node(lambda: "c")
    engine.add_all([(a, []), (b, []), (c, [])])
    clock.advance(1)
    assert a.state == FAILED and isinstance(a.error, TaskTimeout)
    assert [future.fn for future in executor.pending] == [b.fn]
    executor.run_all()
    assert executor.max_in_flight == 1
    assert (b.value, c.value) == ("b", "c")


def test_failures_on_threads_never_raise_the_bound() -> None:
    """f0 ; f1 ; f2 (fail) ; w0 .. w7 (5 ms each)    keep_going, max_concurrency 2"""
    executor = ThreadExecutor(4)
    engine = Engine(executor, max_concurrency=2, failure_mode="keep_going")
    lock = threading.Lock()
    running = [0, 0]  # now, most

    def work() -> None:
        with lock:
            running[0] += 1
            running[1] = max(running)
        time.sleep(0.005)
        with lock:
            running[0] -= 1

    try:
        failing = [Node(boom) for _ in range(3)]
        working = [Node(work) for _ in range(8)]
        engine.add_all([(node, []) for node in failing + working])
        assert engine.wait_all(timeout=30)
        assert [node.state for node in failing] == [FAILED] * 3
        assert [node.state for node in working] == [SUCCEEDED] * 8
        assert running[1] <= 2
    finally:
        executor.shutdown()


# -- cancel of a node this engine does not hold (found here, fixed in _engine.py) ------


def test_cancelling_a_node_not_added_yet_changes_nothing(
    executor: FakeAsyncExecutor, clock: FakeClock
) -> None:
    """It used to be settled anyway: unfinished fell to -1 (wait_all never returned),
    and the "cancelled" node ran and succeeded once added."""
    engine = Engine(executor, clock=clock)
    early = Node(lambda: "ran")
    assert engine.cancel([early]) == 0
    assert (early.state, engine.unfinished) == (PENDING, 0)
    engine.add(early)
    executor.run_all()
    assert (early.state, early.value) == (SUCCEEDED, "ran")
    assert engine.unfinished == 0 and engine.wait_all(timeout=0)


def test_cancelling_a_node_of_another_engine_changes_neither(clock: FakeClock) -> None:
    mine, theirs = FakeAsyncExecutor(workers=1), FakeAsyncExecutor(workers=1)
    engine, other = Engine(mine, clock=clock), Engine(theirs, clock=clock)
    foreign = other.add(Node(lambda: "theirs"))
    assert engine.cancel([foreign]) == 0
    assert (foreign.state, engine.unfinished, other.unfinished) == (RUNNING, 0, 1)
    theirs.run_all()
    assert foreign.state == SUCCEEDED and other.wait_all(timeout=0)


# -- timeouts on the fake clock ---------------------------------------------------------


def test_a_call_that_never_ends_times_out(
    executor: FakeAsyncExecutor, clock: FakeClock, observer: RecordingObserver
) -> None:
    """slow (timeout 5 s, never ends) -> after     (expect TaskTimeout; after skipped)"""
    engine = Engine(executor, observer=observer, clock=clock)
    slow = engine.add(Node(lambda: "never", options=Options(name="slow", timeout=5)))
    after = engine.add(Node(lambda: "after"), [slow])
    (call,) = executor.pending
    clock.advance(4.999)
    assert slow.state == RUNNING
    clock.advance(0.001)
    assert slow.state == FAILED
    assert isinstance(slow.error, TaskTimeout)
    assert (slow.error.task, slow.error.seconds) == (slow.label, 5)
    assert after.state == SKIPPED and after.cause is slow
    assert call.cancelled()  # the engine stopped the call it gave up on
    assert engine.unfinished == 0 and engine.wait_all(timeout=0)
    assert observer.kinds_for(slow) == ["started", "finished"]
    assert executor.callback_errors == []


def test_a_timed_out_attempt_runs_again_and_its_late_end_is_ignored(
    executor: FakeAsyncExecutor, clock: FakeClock, observer: RecordingObserver
) -> None:
    """slow (timeout 5 s, retries 1): attempt 1 hangs, attempt 2 answers, then 1 does too."""
    results: list[str] = []
    engine = Engine(executor, max_concurrency=1, observer=observer, clock=clock)
    slow = engine.add(Node(counting(results), options=Options(timeout=5, retries=1)))
    first = executor.pending[0]
    first.start()  # already running, like a thread: it cannot be cancelled
    clock.advance(5)
    assert len(executor.submitted) == 2
    assert (slow.state, slow.attempts) == (RUNNING, 2)
    second = executor.submitted[1]
    executor.run_one(first)  # the first attempt ends at last: "call 1", too late
    assert (slow.state, slow.value) == (RUNNING, None)
    executor.run_one(second)
    assert (slow.state, slow.value) == (SUCCEEDED, "call 2")
    assert len(executor.submitted) == 2
    assert observer.kinds_for(slow) == ["started", "retried", "started", "finished"]
    retried_with = [event[2] for event in observer.snapshot() if event[0] == "retried"]
    assert [type(error) for error in retried_with] == [TaskTimeout]
    # The second attempt's alarm went with it.
    assert clock.live_alarms == 0
    assert executor.callback_errors == []


def test_the_late_failure_of_a_timed_out_attempt_is_ignored(
    executor: FakeAsyncExecutor, clock: FakeClock
) -> None:
    engine = Engine(executor, clock=clock)
    slow = engine.add(Node(lambda: "second", options=Options(timeout=1, retries=1)))
    first = executor.pending[0]
    first.start()
    clock.advance(1)
    executor.run_one(first, error=Boom("late"))
    assert (slow.state, slow.attempts, len(executor.submitted)) == (RUNNING, 2, 2)
    executor.run_one(executor.submitted[1])
    assert (slow.state, slow.value, slow.error) == (SUCCEEDED, "second", None)


def test_every_attempt_timing_out_fails_with_task_timeout(
    executor: FakeAsyncExecutor, clock: FakeClock, observer: RecordingObserver
) -> None:
    engine = Engine(executor, observer=observer, clock=clock)
    slow = engine.add(Node(lambda: None, options=Options(timeout=2, retries=1)))
    clock.advance(2)
    clock.advance(2)
    assert (slow.state, slow.attempts) == (FAILED, 2)
    assert isinstance(slow.error, TaskTimeout)
    assert [future.cancelled() for future in executor.submitted] == [True, True]
    assert observer.kinds_for(slow) == ["started", "retried", "started", "finished"]
    assert engine.unfinished == 0


def test_an_attempt_that_ends_in_time_leaves_no_alarm(
    executor: FakeAsyncExecutor, clock: FakeClock
) -> None:
    engine = Engine(executor, clock=clock)
    quick = engine.add(Node(lambda: 1, options=Options(timeout=3)))
    assert clock.live_alarms == 1
    executor.run_one(0)
    assert clock.live_alarms == 0
    clock.advance(10)
    assert (quick.state, quick.value, quick.error) == (SUCCEEDED, 1, None)


# -- backoff on the fake clock -------------------------------------------------------------


def test_a_retry_waits_its_backoff_doubled_each_time(
    executor: FakeAsyncExecutor, clock: FakeClock, observer: RecordingObserver
) -> None:
    """flaky (retries 2, backoff 1 s) fails twice: retried after 1 s, then after 2 s."""
    engine = Engine(executor, observer=observer, clock=clock)
    flaky = engine.add(Node(lambda: "at last", options=Options(retries=2, backoff=1.0)))
    executor.run_one(0, error=Boom("first"))
    assert (flaky.state, len(executor.submitted)) == (PENDING, 1)
    clock.advance(0.999)
    assert len(executor.submitted) == 1
    clock.advance(0.001)
    assert (flaky.state, flaky.attempts, len(executor.submitted)) == (RUNNING, 2, 2)
    executor.run_one(0, error=Boom("second"))
    clock.advance(1.999)
    assert len(executor.submitted) == 2
    clock.advance(0.001)
    assert len(executor.submitted) == 3
    executor.run_one(0)
    assert (flaky.state, flaky.attempts, flaky.value) == (SUCCEEDED, 3, "at last")
    assert observer.kinds_for(flaky) == [
        "started",
        "retried",
        "started",
        "retried",
        "started",
        "finished",
    ]


def test_a_node_backing_off_holds_no_slot(executor: FakeAsyncExecutor, clock: FakeClock) -> None:
    """flaky (backoff 10 s) ; other      max_concurrency 1   (expect other to run meanwhile)"""
    engine = Engine(executor, max_concurrency=1, clock=clock)
    flaky = engine.add(Node(lambda: "f", options=Options(retries=1, backoff=10)))
    other = engine.add(Node(lambda: "o"))
    executor.run_one(0, error=Boom("first"))
    assert [future.fn for future in executor.pending] == [other.fn]
    executor.run_one(0)
    assert other.state == SUCCEEDED and flaky.state == PENDING
    clock.advance(10)
    executor.run_one(0)
    assert flaky.state == SUCCEEDED


def test_a_node_cancelled_while_backing_off_is_never_tried_again(
    executor: FakeAsyncExecutor, clock: FakeClock, observer: RecordingObserver
) -> None:
    engine = Engine(executor, observer=observer, clock=clock)
    flaky = engine.add(Node(lambda: "f", options=Options(retries=3, backoff=1)))
    after = engine.add(Node(lambda: "a"), [flaky])
    executor.run_one(0, error=Boom("first"))
    assert engine.cancel([flaky]) == 1
    clock.advance(100)
    assert len(executor.submitted) == 1
    assert (flaky.state, after.state, after.cause) == (CANCELLED, CANCELLED, flaky)
    assert engine.unfinished == 0
    assert observer.kinds_for(flaky) == ["started", "retried", "finished"]


def test_fail_fast_stops_a_node_that_was_backing_off(
    executor: FakeAsyncExecutor, clock: FakeClock
) -> None:
    """flaky (retries 1, backoff 1 s) fails once ; broken fails

    (expect flaky failed with its own error: it did fail, and its retry was stopped)
    """
    engine = Engine(executor, failure_mode="fail_fast", clock=clock)
    flaky = engine.add(Node(lambda: "f", options=Options(retries=1, backoff=1)))
    broken = engine.add(Node(boom))
    executor.run_one(executor.pending[0], error=Boom("flaky"))
    executor.run_one(executor.pending[0])
    assert broken.state == FAILED and engine.first_failure is broken
    assert (flaky.state, flaky.cause, str(flaky.error)) == (FAILED, None, "flaky")
    clock.advance(5)
    assert len(executor.submitted) == 2
    assert engine.unfinished == 0


def test_a_time_out_is_retried_after_its_backoff(
    executor: FakeAsyncExecutor, clock: FakeClock
) -> None:
    engine = Engine(executor, clock=clock)
    slow = engine.add(Node(lambda: "ok", options=Options(timeout=2, retries=1, backoff=3)))
    clock.advance(2)
    assert (slow.state, len(executor.submitted)) == (PENDING, 1)
    clock.advance(2.999)
    assert len(executor.submitted) == 1
    clock.advance(0.001)
    assert len(executor.submitted) == 2
    executor.run_one(executor.submitted[1])
    assert (slow.state, slow.attempts, slow.value) == (SUCCEEDED, 2, "ok")


def test_the_inline_executor_runs_a_retry_after_a_real_backoff() -> None:
    """Pulled engines run nothing unless someone pulls: the waiter must wake for the retry."""
    results: list[str] = []
    calls = counting(results)

    def flaky() -> str:
        if not results:
            results.append("failed")
            raise Boom("first")
        return calls()

    engine = Engine(InlineExecutor())
    node = engine.add(Node(flaky, options=Options(retries=1, backoff=0.02)))
    assert engine.wait_all(timeout=10)
    assert (node.state, node.attempts, node.value) == (SUCCEEDED, 2, "call 2")
    results.clear()
    other = engine.add(Node(flaky, options=Options(retries=1, backoff=0.02)))
    assert engine.wait(other, timeout=10)
    assert other.state == SUCCEEDED


# -- callbacks that raise ---------------------------------------------------------------


def test_a_done_callback_that_raises_does_not_break_the_engine(
    executor: FakeAsyncExecutor, observer: RecordingObserver, clock: FakeClock, monkeypatch: Any
) -> None:
    """a -> b, with a callback on a that raises     (expect b to run, the error reported)"""
    reported: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)
    engine = Engine(executor, observer=observer, clock=clock)
    a = engine.add(Node(lambda: "a"))
    b = engine.add(Node(lambda: "b"), [a])
    seen: list[Node] = []

    def broken(node: Node) -> None:
        raise RuntimeError(f"callback bug on {node.label}")

    engine.add_done_callback(a, broken)
    engine.add_done_callback(a, seen.append)
    executor.run_one(0)
    assert seen == [a]  # the callback after the broken one still ran
    assert b.state == RUNNING
    executor.run_one(0)
    assert b.state == SUCCEEDED and engine.unfinished == 0
    # On a node already done the callback runs at once; its error is reported too.
    engine.add_done_callback(b, broken)
    assert [str(report.exc_value) for report in reported] == [
        f"callback bug on {a.label}",
        f"callback bug on {b.label}",
    ]
    assert executor.callback_errors == []
    assert observer.kinds_for(a) == ["started", "finished"]


def test_done_callbacks_that_raise_on_worker_threads(monkeypatch: Any) -> None:
    reported: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)
    executor = ThreadExecutor(3)
    engine = Engine(executor, max_concurrency=3)

    def broken(node: Node) -> None:
        raise RuntimeError("callback bug")

    try:
        roots = [Node(time.sleep, (0.001,)) for _ in range(10)]
        engine.add_all([(node, []) for node in roots])
        for node in roots:
            engine.add_done_callback(node, broken)
        leaves = [Node(lambda: "leaf") for _ in roots]
        engine.add_all([(leaf, [root]) for leaf, root in zip(leaves, roots, strict=True)])
        assert engine.wait_all(timeout=30)
        assert [leaf.value for leaf in leaves] == ["leaf"] * 10
        assert len(reported) == 10
    finally:
        executor.shutdown()


# -- cancellation races on real threads -------------------------------------------------


@pytest.mark.parametrize("seed", range(12))
def test_cancelling_at_random_moments_while_threads_run(seed: int) -> None:
    """A random graph of 30 tasks on 4 threads; another thread cancels 8 at random moments."""
    rng = random.Random(seed)
    count = 30
    needs = [rng.sample(range(index), k=min(index, rng.randint(0, 2))) for index in range(count)]
    sleeps = [rng.choice((0.0, 0.0005, 0.001, 0.003)) for _ in range(count)]
    lock = threading.Lock()
    running = [0, 0]

    def work(index: int) -> int:
        with lock:
            running[0] += 1
            running[1] = max(running)
        time.sleep(sleeps[index])
        with lock:
            running[0] -= 1
        return index

    observer = RecordingObserver()
    executor = ThreadExecutor(4)
    engine = Engine(executor, max_concurrency=3, failure_mode="keep_going", observer=observer)
    tasks = [
        forkjoin.Task(work, (index,), None, Options(name=f"t{index}")) for index in range(count)
    ]
    cancelled_here: list[Node] = []
    choices = random.Random(seed + 1000)

    def canceller() -> None:
        for round_ in range(8):
            time.sleep(choices.uniform(0, 0.004))
            target = tasks[choices.randrange(count)]
            # Half through the task's own API, half through the engine's.
            done = target.cancel() if round_ % 2 else engine.cancel([target]) == 1
            if done:
                cancelled_here.append(target)

    try:
        thread = threading.Thread(target=canceller)
        thread.start()
        half = count // 2
        engine.add_all((tasks[i], [tasks[j] for j in needs[i]]) for i in range(half))
        time.sleep(choices.uniform(0, 0.003))
        engine.add_all((tasks[i], [tasks[j] for j in needs[i]]) for i in range(half, count))
        thread.join(timeout=30)
        assert engine.wait_all(timeout=30), "the run hung"
        assert engine.unfinished == 0
        outcome = [(task.state, task.value, task.cause) for task in tasks]
        executor.shutdown(wait=True)  # the threads of cancelled calls end now...
        assert [(task.state, task.value, task.cause) for task in tasks] == outcome  # ...ignored
    finally:
        executor.shutdown()

    for index, task in enumerate(tasks):
        assert task.state in (SUCCEEDED, CANCELLED), task
        assert observer.finished_states(task) == [task.status]  # never both
        need_tasks = [tasks[j] for j in needs[index]]
        if task in cancelled_here:
            assert (task.state, task.cause) == (CANCELLED, None)
        elif any(need.state == CANCELLED for need in need_tasks):
            assert task.state == CANCELLED
            assert task.cause in need_tasks and task.cause.state == CANCELLED
        else:
            assert (task.state, task.value) == (SUCCEEDED, index)
        if task.state == CANCELLED:
            assert task.value is None
            with pytest.raises(Cancelled):
                forkjoin.fetch(task)
        else:
            assert forkjoin.fetch(task) == index
    # A cancelled call still running on its thread no longer holds a slot.
    assert running[1] <= 3 + len(cancelled_here)


@pytest.mark.parametrize("seed", range(6))
def test_cancel_all_at_a_random_moment(seed: int) -> None:
    rng = random.Random(seed)
    executor = ThreadExecutor(3)
    observer = RecordingObserver()
    engine = Engine(executor, max_concurrency=3, observer=observer)
    try:
        nodes = [Node(time.sleep, (rng.choice((0.0, 0.001, 0.002)),)) for _ in range(40)]
        engine.add_all((node, nodes[index - 1 : index]) for index, node in enumerate(nodes))
        time.sleep(rng.uniform(0, 0.02))
        engine.cancel_all()
        assert engine.unfinished == 0 and engine.wait_all(timeout=0)
        states = [node.state for node in nodes]
        assert set(states) <= {SUCCEEDED, CANCELLED}
        # A chain: what succeeded is a prefix, the rest was cancelled.
        assert states == sorted(states)
        late = engine.add(Node(boom))
        assert late.state == CANCELLED
        executor.shutdown(wait=True)
        assert [node.state for node in nodes] == states
        for node in [*nodes, late]:
            assert observer.finished_states(node) == [node.status]
    finally:
        executor.shutdown()


# -- many threads spawning at once ------------------------------------------------------


def square(value: int) -> int:
    return value * value


def total(first: int, others: list[int]) -> int:
    return first + sum(others)


def nested(value: int) -> int:
    child = forkjoin.spawn(square, value)  # goes to the running task's session
    return forkjoin.fetch(child) + 1


def test_two_hundred_threads_spawning_into_one_session() -> None:
    count = 200
    observer = RecordingObserver()
    barrier = threading.Barrier(count)
    spawned: list[tuple[int, forkjoin.Task]] = []
    spawned_lock = threading.Lock()
    made: dict[int, tuple[forkjoin.Task, forkjoin.Task, forkjoin.Task, list[int]]] = {}
    fetched: dict[int, int] = {}
    errors: list[BaseException] = []

    with forkjoin.Session("threads", workers=4, observer=observer) as session:

        def spawner(index: int) -> None:
            try:
                barrier.wait(timeout=30)
                first = session.spawn(square, index)
                with spawned_lock:
                    others = random.Random(index).sample(spawned, k=min(3, len(spawned)))
                    spawned.append((index, first))
                # Needs tasks of other threads, some of them maybe done already.
                summed = session.spawn(total, first, [task for _, task in others])
                inner = session.spawn(nested, index)
                made[index] = (first, summed, inner, [other for other, _ in others])
                if index % 2:
                    fetched[index] = forkjoin.fetch(summed)
            except BaseException as error:
                errors.append(error)

        threads = [threading.Thread(target=spawner, args=(index,)) for index in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert session.engine.unfinished == 0
    for index, (first, summed, inner, others) in made.items():
        assert first.value == index * index
        assert summed.value == index * index + sum(other * other for other in others)
        assert inner.value == index * index + 1
        if index % 2:
            assert fetched[index] == summed.value
    assert len(made) == count
    finished = [event[1] for event in observer.snapshot() if event[0] == "finished"]
    assert len(finished) == 4 * count  # three spawned by each thread, one nested in a task
    assert len({node.sequence for node in finished}) == 4 * count
    assert all(node.state == SUCCEEDED for node in finished)


# -- regressions: engine bugs found here, fixed since ------------------------------------


def test_cancel_reaches_the_call_of_a_retry_started_during_submit(clock: FakeClock) -> None:
    """A cluster call can end before `add_done_callback`: the retry starts inside it."""

    def first_call_fails_at_once(future: Any) -> None:
        if future.index == 0:
            future.executor.run_one(future, error=Boom("worker lost"))

    executor = FakeAsyncExecutor(workers=2, on_submit=first_call_fails_at_once)
    engine = Engine(executor, clock=clock)
    node = engine.add(Node(lambda: "v", options=Options(retries=1)))
    first, second = executor.submitted
    assert first.done() and not second.done()
    assert (node.state, node.attempts) == (RUNNING, 2)
    assert engine.cancel([node]) == 1
    assert node.state == CANCELLED
    assert second.cancelled(), "the live call of attempt 2 was not cancelled"


class _PausingLock:
    """The engine's lock, able to pause one thread right after it releases it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.pause_when: Any = None  # called under the lock, by the thread to pause
        self.paused = threading.Event()
        self.go_on = threading.Event()

    def __enter__(self) -> _PausingLock:
        self._lock.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        pause = self.pause_when is not None and self.pause_when()
        if pause:
            self.pause_when = None
        self._lock.release()
        if pause:
            self.paused.set()
            self.go_on.wait(timeout=10)


def test_the_observer_hears_of_a_retry_before_the_retry_starts(clock: FakeClock) -> None:
    """x (retries 1) ; w ; y (priority 5)     max_concurrency 2

    x fails on thread T, whose freed slot goes to the better y; T is pre-empted right
    after the lock; w ends on the main thread, whose freed slot starts x again.
    """
    observer = RecordingObserver()
    executor = FakeAsyncExecutor(workers=2)
    engine = Engine(executor, max_concurrency=2, observer=observer, clock=clock)
    lock = _PausingLock()
    engine._lock = lock  # type: ignore[assignment]  # the one scheduling point we choose
    x = engine.add(Node(lambda: "x", options=Options(name="x", retries=1)))
    w = engine.add(Node(lambda: "w", options=Options(name="w")))
    y = engine.add(Node(lambda: "y", options=Options(name="y", priority=5)))
    call_x, call_w = executor.pending
    assert y.state == READY

    def paused_thread_is_t() -> bool:
        return threading.current_thread().name == "T" and x.state == READY

    lock.pause_when = paused_thread_is_t
    thread = threading.Thread(
        target=executor.run_one, args=(call_x,), kwargs={"error": Boom("x")}, name="T"
    )
    thread.start()
    assert lock.paused.wait(timeout=10)
    executor.run_one(call_w)
    lock.go_on.set()
    thread.join(timeout=10)
    assert (w.state, x.state, x.attempts, y.state) == (SUCCEEDED, RUNNING, 2, RUNNING)
    assert observer.kinds_for(x) == ["started", "retried", "started"]


def test_a_node_cancelled_as_it_starts_is_not_reported_started_after_it_finished() -> None:
    """slow (timeout 5 s) starts on T; T is pre-empted in the clock's call_later; main cancels."""
    clock = FakeClock()
    observer = RecordingObserver()
    executor = FakeAsyncExecutor(workers=1)
    engine = Engine(executor, observer=observer, clock=clock)
    paused, go_on = threading.Event(), threading.Event()

    def pause_in_call_later(delay: float) -> None:
        if threading.current_thread().name == "T":
            paused.set()
            go_on.wait(timeout=10)

    clock.on_call_later = pause_in_call_later
    slow = Node(lambda: "never", options=Options(name="slow", timeout=5))
    thread = threading.Thread(target=engine.add, args=(slow,), name="T")
    thread.start()
    assert paused.wait(timeout=10)
    assert engine.cancel([slow]) == 1
    go_on.set()
    thread.join(timeout=10)
    assert slow.state == CANCELLED
    assert executor.pending == []
    assert observer.kinds_for(slow) in (["finished"], ["started", "finished"])


def test_an_observer_that_raises_does_not_hang_the_run(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """a -> b, and the observer raises when told a finished     (expect b to run)"""
    reported: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)

    class BrokenObserver(RecordingObserver):
        def node_finished(self, node: Node) -> None:
            super().node_finished(node)
            if node.options.name == "a":
                raise OSError("the progress display lost its terminal")

    executor = FakeAsyncExecutor(workers=2)
    engine = Engine(executor, observer=BrokenObserver(), clock=clock)
    a = engine.add(Node(lambda: "a", options=Options(name="a")))
    b = engine.add(Node(lambda: "b", options=Options(name="b")), [a])
    executor.run_one(0)
    assert a.state == SUCCEEDED
    executor.run_all()
    assert b.state == SUCCEEDED
    assert engine.wait_all(timeout=0)
    # Reported the way a thread's uncaught error is, not swallowed.
    assert [(type(r.exc_value), r.err_msg) for r in reported] == [
        (OSError, "Exception in a forkjoin observer")
    ]


def test_adding_a_node_whose_need_was_never_added_leaves_the_engine_sound(
    clock: FakeClock,
) -> None:
    executor = FakeAsyncExecutor(workers=1)
    engine = Engine(executor, clock=clock)
    orphan = Node(lambda: "never added")
    with pytest.raises(ValueError, match="which was never added to an engine"):
        engine.add(Node(lambda: "x"), [orphan])
    assert engine.unfinished == 0
    assert engine.wait_all(timeout=0)


def test_wait_all_with_a_timeout_returns_on_an_inline_engine_with_a_fake_clock() -> None:
    clock = FakeClock()
    engine = Engine(InlineExecutor(), clock=clock)
    flaky = engine.add(Node(boom, options=Options(retries=1, backoff=5)))
    assert flaky.state == PENDING  # backing off, on a clock that does not move
    returned: list[bool] = []
    waiter = threading.Thread(target=lambda: returned.append(engine.wait_all(timeout=0.2)))
    waiter.start()
    waiter.join(timeout=3)
    try:
        assert returned == [False], "wait_all(timeout=0.2) did not return within 3 s"
    finally:
        clock.advance(5)  # lets the retry run, which frees the waiter either way
        waiter.join(timeout=10)


def test_job_finished_comes_after_the_news_of_every_node() -> None:
    """a ; b ; c   on two threads, each with a done-callback that takes its time.

    `wait_all` wakes when the last node settles, before its news is told on the
    worker's thread; `close` must still tell the job's end last (found by the
    progress display of `forkjoin run`, which printed its closing line too early)."""

    def slow_callback(_node: Node) -> None:
        time.sleep(0.1)  # runs after the node settled, before the observer hears of it

    observer = RecordingObserver()
    engine = Engine(ThreadExecutor(2), max_concurrency=2, observer=observer)
    nodes = [Node(lambda: None) for _ in range(3)]
    for node in nodes:
        node.callbacks = [slow_callback]
    engine.add_all((node, ()) for node in nodes)
    assert engine.wait_all(timeout=5)
    engine.close()
    kinds = [event[0] for event in observer.snapshot()]
    assert kinds[-1] == "job_finished", kinds
    assert kinds.count("finished") == 3
    engine.executor.shutdown()
