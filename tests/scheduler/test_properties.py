"""Properties of the engine on random graphs with random failures, on three executors.

A graph is drawn as a list of nodes, each needing some of the nodes before it:

    n0 ; n1 -> n0 ; n2 -> n0, n1 ; n3 ; n4 -> n2, n2 ...   (duplicates allowed)

Node i fails its first `fail_times` attempts (ALWAYS: every one) and has `retries`,
so on its own it ends SUCCEEDED exactly when fail_times <= retries. Some nodes fail
through the executor (a lost worker) rather than by raising; some belong to a named
pool of depth 1 or 2 (`pool: db`). The completion order is drawn too:
`FakeAsyncExecutor` ends whichever call hypothesis picks, and nodes are added in
random batches while others run.

The same checks run on `FakeAsyncExecutor` (single-threaded: the order of observer
events is exact), `InlineExecutor` (pulled, single-threaded) and the real
`ThreadExecutor` with tiny random sleeps (only properties that hold under any
interleaving).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from conftest import FakeAsyncExecutor, FakeClock, FakeFuture, RecordingObserver
from forkjoin.executors import InlineExecutor, ThreadExecutor
from forkjoin.scheduler import (
    FAILED,
    PENDING,
    READY,
    RUNNING,
    SKIPPED,
    SUCCEEDED,
    Engine,
    Node,
    Options,
    Pool,
)

ALWAYS = 99

FAKE_SETTINGS = settings(
    max_examples=200,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
THREAD_SETTINGS = settings(
    max_examples=25,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class Boom(Exception):
    """What a node raises on an attempt that is drawn to fail."""

    def __init__(self, index: int, attempt: int) -> None:
        super().__init__(f"n{index} failed on attempt {attempt}")
        self.index = index
        self.attempt = attempt


class WorkerLost(Exception):
    """What the fake executor ends a call with when the call never ran."""

    def __init__(self, index: int, attempt: int) -> None:
        super().__init__(f"the worker running n{index} attempt {attempt} was lost")
        self.index = index
        self.attempt = attempt


@dataclass(frozen=True)
class Spec:
    needs: tuple[int, ...]
    retries: int
    fail_times: int
    priority: int
    via_executor: bool  # fail through the executor, not by raising in the call
    sleep: float
    pool: int | None  # index into Scenario.pool_depths

    @property
    def succeeds(self) -> bool:
        return self.fail_times <= self.retries


@dataclass(frozen=True)
class Scenario:
    specs: tuple[Spec, ...]
    max_concurrency: int
    failure_mode: str
    pool_depths: tuple[int, ...]

    def expected_keep_going(self) -> list[int]:
        """The final state of each node under keep_going, worked out without an engine."""
        states: list[int] = []
        for spec in self.specs:
            if any(states[need] != SUCCEEDED for need in spec.needs):
                states.append(SKIPPED)
            else:
                states.append(SUCCEEDED if spec.succeeds else FAILED)
        return states


@st.composite
def scenarios(draw: st.DrawFn, max_nodes: int = 10, sleeps: bool = False) -> Scenario:
    count = draw(st.integers(1, max_nodes), label="nodes")
    pool_depths = tuple(draw(st.lists(st.integers(1, 2), max_size=2), label="pools"))
    specs = []
    for index in range(count):
        needs = draw(st.lists(st.integers(0, index - 1), max_size=4)) if index else []
        specs.append(
            Spec(
                needs=tuple(needs),
                retries=draw(st.integers(0, 2)),
                fail_times=draw(st.sampled_from((0, 0, 0, 0, 1, 2, ALWAYS))),
                priority=draw(st.integers(0, 2)),
                via_executor=draw(st.booleans()),
                sleep=draw(st.sampled_from((0.0, 0.0, 0.0005, 0.002))) if sleeps else 0.0,
                pool=draw(st.sampled_from((None, *range(len(pool_depths))))),
            )
        )
    return Scenario(
        specs=tuple(specs),
        max_concurrency=draw(st.integers(1, 4), label="max_concurrency"),
        failure_mode=draw(st.sampled_from(("fail_fast", "keep_going")), label="failure_mode"),
        pool_depths=pool_depths,
    )


class Run:
    """One scenario on one executor: the nodes, their calls and what went wrong.

    Checks made while the run goes on are recorded in `violations`, never raised:
    an assertion raised inside a call would only make that node fail.
    """

    def __init__(self, scenario: Scenario, executor: Any, *, check_priority: bool) -> None:
        """`check_priority`: check the ready queue's order when a call begins (pulled executors)."""
        self.scenario = scenario
        self.executor = executor
        self.check_priority = check_priority
        self.observer = RecordingObserver()
        self.engine = Engine(
            executor,
            max_concurrency=scenario.max_concurrency,
            failure_mode=scenario.failure_mode,  # type: ignore[arg-type]
            observer=self.observer,
            clock=FakeClock(),
        )
        self.pools = [Pool(f"p{at}", depth) for at, depth in enumerate(scenario.pool_depths)]
        self.nodes = [
            Node(
                self.work,
                (index,),
                None,
                Options(name=f"n{index}", retries=spec.retries, priority=spec.priority),
                pool=None if spec.pool is None else self.pools[spec.pool],
            )
            for index, spec in enumerate(scenario.specs)
        ]
        self.calls = [0] * len(self.nodes)
        self.submissions = [0] * len(self.nodes)
        self.violations: list[str] = []
        self._lock = threading.Lock()
        self.running = 0
        self.max_running = 0
        self.running_in_pool = [0] * len(self.pools)
        self.max_running_in_pool = [0] * len(self.pools)

    def needs_of(self, node: Node) -> list[Node]:
        return [self.nodes[need] for need in self.scenario.specs[self.nodes.index(node)].needs]

    def add(self, start: int, stop: int) -> None:
        self.engine.add_all(
            (self.nodes[index], [self.nodes[need] for need in self.scenario.specs[index].needs])
            for index in range(start, stop)
        )

    def violation(self, message: str) -> None:
        with self._lock:
            self.violations.append(message)

    def check_may_run(self, node: Node, when: str, *, in_priority_order: bool) -> None:
        """A node runs only while RUNNING, after all it needs SUCCEEDED, and in priority order.

        The order is checked only where the node has just left the ready queue: at
        submit on the fake executor, at the call on the inline one.
        """
        if node.state != RUNNING:
            self.violation(f"{when}: {node!r} is not running")
        for need in self.needs_of(node):
            if need.state != SUCCEEDED:
                self.violation(f"{when}: {node!r} runs before {need!r} succeeded")
        if in_priority_order:
            # Nothing still waiting in the ready queue may rank before what starts,
            # unless its pool is full.
            key = (-node.options.priority, node.sequence)
            for other in self.nodes:
                if (
                    other.state == READY
                    and (-other.options.priority, other.sequence) < key
                    and not self.pool_is_full(other.pool)
                ):
                    self.violation(f"{when}: {node!r} starts before the better {other!r}")

    def pool_is_full(self, pool: Pool | None) -> bool:
        if pool is None:
            return False
        running = sum(1 for node in self.nodes if node.pool is pool and node.state == RUNNING)
        return running >= pool.depth

    def work(self, index: int) -> int:
        node = self.nodes[index]
        with self._lock:
            self.calls[index] += 1
            call = self.calls[index]
            self.running += 1
            self.max_running = max(self.max_running, self.running)
            pool = self.scenario.specs[index].pool
            if pool is not None:
                self.running_in_pool[pool] += 1
                self.max_running_in_pool[pool] = max(
                    self.max_running_in_pool[pool], self.running_in_pool[pool]
                )
        try:
            self.check_may_run(
                node, f"call {call} of n{index}", in_priority_order=self.check_priority
            )
            attempt = node.attempts
            if not isinstance(self.executor, FakeAsyncExecutor) and attempt != call:
                self.violation(f"n{index}: call {call} runs as attempt {attempt}")
            spec = self.scenario.specs[index]
            if spec.sleep:
                time.sleep(spec.sleep)
            if attempt <= spec.fail_times:
                raise Boom(index, attempt)
            return index * 10
        finally:
            with self._lock:
                self.running -= 1
                if pool is not None:
                    self.running_in_pool[pool] -= 1

    # Fake executor only ------------------------------------------------------------

    def on_submit(self, future: FakeFuture) -> None:
        index = future.args[0]
        node = self.nodes[index]
        self.submissions[index] += 1
        if node.attempts != self.submissions[index]:
            self.violation(
                f"n{index}: submission {self.submissions[index]} as attempt {node.attempts}"
            )
        if future.executor.in_flight > self.scenario.max_concurrency:
            self.violation(f"{future.executor.in_flight} calls in flight at n{index}")
        if node.pool is not None:
            in_pool = sum(
                1 for each in future.executor.pending if self.nodes[each.args[0]].pool is node.pool
            )
            if in_pool > node.pool.depth:
                self.violation(f"{in_pool} calls in flight in {node.pool!r} at n{index}")
        self.check_may_run(node, f"submit of n{index}", in_priority_order=True)

    def end_one(self, choice: int) -> None:
        future = self.executor.pending[choice]
        index = future.args[0]
        node = self.nodes[index]
        spec = self.scenario.specs[index]
        if spec.via_executor and node.state == RUNNING and node.attempts <= spec.fail_times:
            self.executor.run_one(future, error=WorkerLost(index, node.attempts))
        else:
            self.executor.run_one(future)

    def check_work_conserving(self) -> None:
        """Between steps: no slot idles while a node could start, no wakeup is lost."""
        idle_slot = len(self.executor.pending) < self.scenario.max_concurrency
        for node in self.nodes:
            if node.engine is None:
                continue  # not added yet
            if node.state == READY and idle_slot and not self.pool_is_full(node.pool):
                self.violation(f"{node!r} waits in the queue beside an idle slot")
            if node.state == PENDING and all(n.state == SUCCEEDED for n in self.needs_of(node)):
                self.violation(f"{node!r} still pending though all it needs succeeded")
            if node.state == RUNNING and not any(
                future.args[0] == self.nodes.index(node) for future in self.executor.pending
            ):
                self.violation(f"{node!r} is running with no call in flight")


# -- the checks every executor shares -------------------------------------------------


def check_outcome(run: Run, *, exact_order: bool) -> None:
    scenario, engine, nodes = run.scenario, run.engine, run.nodes
    assert run.violations == []

    # The run ended, and everything in it is in a final state.
    assert engine.unfinished == 0
    assert engine.wait_all(timeout=0)
    assert [node.status for node in nodes if node.state < SUCCEEDED] == []

    # Attempts: at most retries + 1, each one call (or one submission).
    for index, (node, spec) in enumerate(zip(nodes, scenario.specs, strict=True)):
        assert node.attempts <= spec.retries + 1, node
        if isinstance(run.executor, FakeAsyncExecutor):
            assert run.submissions[index] == node.attempts, node
            assert run.calls[index] <= node.attempts, node
        else:
            assert run.calls[index] == node.attempts, node

    # Concurrency never passed the bound.
    if isinstance(run.executor, FakeAsyncExecutor):
        assert run.executor.max_in_flight <= scenario.max_concurrency
        assert run.executor.pending == []
        assert run.executor.cancelled == []
        assert run.executor.callback_errors == []
    assert run.max_running <= scenario.max_concurrency
    for pool, most in zip(run.pools, run.max_running_in_pool, strict=True):
        assert most <= pool.depth, pool
    for pool in run.pools:
        assert pool.running == 0, pool  # every pool slot given back, and only once

    # What each final state says about the node.
    for index, (node, spec) in enumerate(zip(nodes, scenario.specs, strict=True)):
        needs = run.needs_of(node)
        if node.state == SUCCEEDED:
            assert node.value == index * 10
            assert node.cause is None and node.error is None
            assert node.attempts == spec.fail_times + 1
        elif node.state == FAILED:
            # Its last attempt's error: also when the run stopped while it waited to
            # retry, which makes it fail with its own error rather than be skipped.
            assert isinstance(node.error, Boom | WorkerLost)
            assert (node.error.index, node.error.attempt) == (index, node.attempts)
            assert f"forkjoin: task {node.label} failed" in node.error.__notes__
            assert node.cause is None
            assert node.attempts <= spec.fail_times
        else:
            assert node.state == SKIPPED, node
            assert node.error is None
            assert node.attempts == 0
        if any(need.state != SUCCEEDED for need in needs):
            # Downstream of a failure: never ran.
            assert node.state == SKIPPED and node.attempts == 0, node

    # Each skip names its cause: a need that did not succeed, back to a failure. Only a
    # fail_fast stop skips with no cause; the engine's first_failure names why then.
    first_failure = engine.first_failure
    for node in nodes:
        link = node
        while link.state == SKIPPED and link.cause is not None:
            cause = link.cause
            assert any(cause is need for need in run.needs_of(link)), (
                f"{link!r} blames {cause!r}, which it does not need"
            )
            link = cause
        if link.state == SKIPPED:
            assert scenario.failure_mode == "fail_fast", f"{link!r} skipped with no cause"
            assert first_failure is not None and first_failure.state == FAILED
        elif node.state == SKIPPED:
            assert link.state == FAILED

    failed = [node for node in nodes if node.state == FAILED]
    expected = scenario.expected_keep_going()
    if scenario.failure_mode == "keep_going":
        # Everything not downstream of a failure succeeded; exactly the failures failed.
        assert [node.state for node in nodes] == expected
        assert first_failure is None
        for node, spec in zip(nodes, scenario.specs, strict=True):
            if node.state == FAILED:
                assert node.attempts == spec.retries + 1
    else:
        if FAILED in expected:
            assert failed, "a node bound to fail did not stop the run"
            assert first_failure is not None and first_failure.state == FAILED
            # The first failure had no stop to cut its retries short.
            assert first_failure.attempts == scenario.specs[nodes.index(first_failure)].retries + 1
        else:
            assert [node.state for node in nodes] == [SUCCEEDED] * len(nodes)
            assert first_failure is None
        for node, state in zip(nodes, expected, strict=True):
            if node.state == SUCCEEDED:
                assert state == SUCCEEDED

    check_events(run, exact_order=exact_order)

    # What this example covered, for --hypothesis-show-statistics.
    event(f"{scenario.failure_mode}, {len(failed)} failed")
    if any(node.state == SUCCEEDED and node.attempts > 1 for node in nodes):
        event("a retry succeeded")
    if any(node.state == SKIPPED for node in nodes):
        event("some skipped")
    if any(node.state == SKIPPED and node.attempts for node in nodes):
        event("stopped while waiting to retry")


def check_events(run: Run, *, exact_order: bool) -> None:
    events = run.observer.snapshot()
    assert events[0] == ("job_started", run.engine)
    for node in run.nodes:
        mine = [event for event in events if len(event) > 1 and event[1] is node]
        kinds = [event[0] for event in mine]
        assert kinds.count("finished") == 1, (node, kinds)
        assert [event[2] for event in mine if event[0] == "finished"] == [node.state]
        started = [event[2] for event in mine if event[0] == "started"]
        assert sorted(started) == list(range(1, node.attempts + 1)), (node, kinds)
        retried = kinds.count("retried")
        if node.state == SUCCEEDED:
            assert retried == node.attempts - 1, (node, kinds)
        elif node.state == FAILED:
            # One "retried" more than retries run when a stop cut the retry short.
            assert retried in (node.attempts - 1, node.attempts), (node, kinds)
        else:
            assert retried in (node.attempts - 1, node.attempts) if node.attempts else retried == 0
        if node.attempts:
            assert kinds[0] == "started", (node, kinds)
        if exact_order:
            # started (retried started)* [retried] finished, attempts counting up.
            expect = []
            for attempt in range(1, node.attempts + 1):
                expect.append("started")
                if attempt < node.attempts or retried == node.attempts:
                    expect.append("retried")
            expect.append("finished")
            assert kinds == expect, (node, kinds)
            assert started == list(range(1, node.attempts + 1))

    # fail_fast: nothing starts once the first failure is recorded. On one thread
    # that is exact; on threads, only nodes already holding a slot when it failed
    # may still begin, so fewer than max_concurrency.
    if run.scenario.failure_mode == "fail_fast":
        first = next(
            (
                at
                for at, event in enumerate(events)
                if event[0] == "finished" and event[2] == FAILED
            ),
            None,
        )
        if first is not None:
            later = [event for event in events[first:] if event[0] in ("started", "retried")]
            if exact_order:
                assert later == []
            else:
                starts = [event for event in later if event[0] == "started"]
                assert len(starts) <= run.scenario.max_concurrency - 1, starts


# -- the properties ------------------------------------------------------------------


@FAKE_SETTINGS
@given(scenario=scenarios(), data=st.data())
def test_random_graphs_on_an_async_executor_in_any_completion_order(
    scenario: Scenario, data: st.DataObject
) -> None:
    executor = FakeAsyncExecutor(workers=scenario.max_concurrency)
    run = Run(scenario, executor, check_priority=False)  # checked at submit instead
    executor.on_submit = run.on_submit
    count = len(run.nodes)
    added = 0
    steps = 0
    most_steps = count + sum(spec.retries + 1 for spec in scenario.specs)
    while added < count or executor.pending:
        steps += 1
        assert steps <= most_steps, "the run keeps going after every attempt was spent"
        if added < count and (not executor.pending or data.draw(st.booleans(), label="add")):
            batch = data.draw(st.integers(1, count - added), label="batch")
            run.add(added, added + batch)
            added += batch
        else:
            run.end_one(data.draw(st.integers(0, len(executor.pending) - 1), label="end"))
        run.check_work_conserving()
    check_outcome(run, exact_order=True)


@FAKE_SETTINGS
@given(scenario=scenarios(), batches=st.lists(st.integers(1, 4), min_size=1, max_size=10))
def test_random_graphs_on_the_inline_executor(scenario: Scenario, batches: list[int]) -> None:
    run = Run(scenario, InlineExecutor(), check_priority=True)
    added = 0
    for batch in [*batches, len(run.nodes)]:
        stop = min(added + batch, len(run.nodes))
        run.add(added, stop)
        added = stop
        # The inline executor pulls on add: what was added has run to its end.
        assert [node for node in run.nodes[:added] if node.state < SUCCEEDED] == []
    check_outcome(run, exact_order=True)


@THREAD_SETTINGS
@given(
    scenario=scenarios(max_nodes=8, sleeps=True),
    workers=st.integers(2, 4),
    batches=st.lists(st.integers(1, 4), min_size=1, max_size=4),
)
def test_random_graphs_on_threads(scenario: Scenario, workers: int, batches: list[int]) -> None:
    executor = ThreadExecutor(workers)
    run = Run(scenario, executor, check_priority=False)
    try:
        added = 0
        for batch in [*batches, len(run.nodes)]:
            stop = min(added + batch, len(run.nodes))
            run.add(added, stop)  # added while earlier batches run
            added = stop
        assert run.engine.wait_all(timeout=20), "the run hung"
        check_outcome(run, exact_order=False)
    finally:
        executor.shutdown()
