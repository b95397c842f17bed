"""The engine: starts ready nodes on an executor, reaps them, applies the failure policy.

Like Ninja's `Builder`, it starts as much as the plan allows and reacts to what
finishes; unlike it, there is no loop thread. Whoever changes the state (a spawn, a
finishing task, a timer) starts what became startable, on its own thread. On an
in-process executor a worker that finishes a node launches the next one itself, so a
task costs one executor hand-off and two short lock holds, never a thread switch
through a central loop.

An executor that `runs_in_caller` (inline) is pulled instead: nothing starts when
something finishes; the caller's thread runs nodes one at a time when it spawns at
the top level or waits, and a task that waits pulls only what it waits for. So a
chain of a million never recurses, and nested fetches go depth first.

Every state change happens under one lock; callbacks, observers and executor calls
happen outside it, so a callback may spawn, fetch or cancel freely.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any, Literal

from forkjoin.errors import TaskTimeout
from forkjoin.scheduler._clock import SHARED_CLOCK, Clock
from forkjoin.scheduler._node import (
    CANCELLED,
    FAILED,
    PENDING,
    READY,
    RUNNING,
    SKIPPED,
    SUCCEEDED,
    Node,
)
from forkjoin.scheduler._observe import Estimator, Notifier, Observer, report_unraisable
from forkjoin.scheduler._plan import Plan
from forkjoin.scheduler._resolve import find_nodes, resolve

__all__ = ["Engine", "Estimator", "FailureMode", "Observer", "current_node"]

FailureMode = Literal["fail_fast", "keep_going"]


class _ThreadState(threading.local):
    # Class attributes are each thread's defaults.
    node: Node | None = None


_thread = _ThreadState()


def current_node() -> Node | None:
    """The node running on this thread, if an in-process executor runs one here."""
    return _thread.node


class Engine:
    """Runs nodes on an executor within a concurrency bound, one job at a time.

    `failure_mode` "fail_fast" stops starting nodes after the first failure and
    marks the rest skipped; "keep_going" skips only what depends on a failure.
    """

    def __init__(
        self,
        executor: Any,
        *,
        max_concurrency: int | None = None,
        failure_mode: FailureMode = "fail_fast",
        estimator: Estimator | None = None,
        observer: Observer | None = None,
        clock: Clock = SHARED_CLOCK,
        owner: object = None,
    ) -> None:
        if failure_mode not in ("fail_fast", "keep_going"):
            raise ValueError(
                f"failure_mode must be 'fail_fast' or 'keep_going', not {failure_mode!r}"
            )
        self.executor = executor
        self.failure_mode: FailureMode = failure_mode
        self.estimator = estimator
        self.observer = observer
        self.clock = clock
        # The front end this engine serves (a Session), for nested spawns to find it.
        self.owner = owner
        self._in_process: bool = executor.in_process
        self._pulled: bool = getattr(executor, "runs_in_caller", False)
        self._plan = Plan(max_concurrency or executor.workers)
        self._lock = threading.Lock()
        self._sequence = 0
        self._unfinished = 0
        self._running: set[Node] = set()
        self._suspended: set[Node] = set()
        self._backing_off: set[Node] = set()
        self._idle_waiters: list[Callable[[], object]] = []
        # Threads waiting to pull: woken when a pulled engine gets ready work from
        # another thread (a foreign need done, a retry after its backoff).
        self._pullers: list[Callable[[], object]] = []
        self._stopping = False
        self._stop_state = SKIPPED
        self._first_failure: Node | None = None
        self.failures: list[Node] = []
        self._notifier = None if observer is None else Notifier(observer)
        if self._notifier is not None:
            self._notifier.job_started(self)

    @property
    def max_concurrency(self) -> int:
        return self._plan.limit

    @property
    def first_failure(self) -> Node | None:
        """The node whose failure stopped the run (fail_fast), or None."""
        return self._first_failure

    def estimate(self, key: str) -> float:
        """Expected seconds for `key`; 1 for every key when there is no estimator."""
        return 1.0 if self.estimator is None else self.estimator.estimate(key)

    # -- adding work -------------------------------------------------------------

    def add(self, node: Node, needs: Sequence[Node] = ()) -> Node:
        """Add a node that runs once every node in `needs` has succeeded."""
        if not needs and not self._pulled:
            # The hot path of `spawn`: a node that needs nothing, on a running engine.
            with self._lock:
                added = not self._stopping
                if added:
                    self._sequence += 1
                    node.sequence = self._sequence
                    node.engine = self
                    self._unfinished += 1
                    self._plan.push(node)
                    startable = self._take_startable_locked()
            if added:
                if startable is not None:
                    self._launch(startable)
                return node
        self.add_all(((node, needs),))
        return node

    def add_all(self, nodes: Iterable[tuple[Node, Sequence[Node]]]) -> None:
        """Add many nodes under one lock hold, each after the nodes it needs."""
        nodes = list(nodes)
        _check_needs_were_added(nodes)
        settled: list[Node] = []
        foreign: list[tuple[Node, Node]] = []
        with self._lock:
            plan = self._plan
            for node, needs in nodes:
                self._sequence += 1
                node.sequence = self._sequence
                node.engine = self
                self._unfinished += 1
                failed_need = None
                for need in needs:
                    if need.engine is not self:
                        foreign.append((node, need))
                        node.waiting += 1
                    elif need.state == SUCCEEDED:
                        continue
                    elif need.state > SUCCEEDED:
                        failed_need = need
                        break
                    else:
                        if need.dependents is None:
                            need.dependents = [node]
                        else:
                            need.dependents.append(node)
                        node.waiting += 1
                if failed_need is not None:
                    state = CANCELLED if failed_need.state == CANCELLED else SKIPPED
                    self._settle_locked(node, state, None, failed_need, settled)
                elif self._stopping:
                    self._settle_locked(node, self._stop_state, None, None, settled)
                elif node.waiting == 0:
                    plan.push(node)
            startable = self._take_startable_locked()
        for node, need in foreign:
            need.engine.add_done_callback(need, partial(self._foreign_need_done, node))  # type: ignore[union-attr]
        self._after(settled, (), startable)
        if self._pulled and not self._is_running_here():
            self._pull(None)

    def _foreign_need_done(self, node: Node, need: Node) -> None:
        # A node may need a node of another engine; that engine tells us here.
        settled: list[Node] = []
        with self._lock:
            if node.state != PENDING:
                return
            if need.state == SUCCEEDED:
                node.waiting -= 1
                if node.waiting == 0:
                    if self._stopping:
                        self._settle_locked(node, self._stop_state, None, None, settled)
                    else:
                        self._plan.push(node)
                        self._wake_pullers_locked()
            else:
                state = CANCELLED if need.state == CANCELLED else SKIPPED
                self._settle_locked(node, state, None, need, settled)
            startable = self._take_startable_locked()
        self._after(settled, (), startable)

    # -- starting ----------------------------------------------------------------

    def _take_startable_locked(self) -> list[Node] | None:
        if self._stopping or self._pulled:
            return None
        node = self._plan.next_startable()
        if node is None:
            return None
        startable = []
        while node is not None:
            node.state = RUNNING
            node.attempts += 1
            self._running.add(node)
            startable.append(node)
            node = self._plan.next_startable()
        return startable

    @staticmethod
    def _launch(nodes: Iterable[Node]) -> None:
        for node in nodes:
            node.engine._start(node)  # type: ignore[union-attr]

    def _is_running_here(self) -> bool:
        node = _thread.node
        return node is not None and node.engine is self

    def _pull(self, until: Node | None) -> None:
        """Run nodes on this thread, one at a time, until `until` is done.

        With `until` None, run everything that can start. A task waiting here pulls
        only what `until` needs, so nothing unrelated piles onto its stack. Returns
        early when nothing can start: what is left waits on other threads.
        """
        nested = self._is_running_here()
        while until is None or until.state < SUCCEEDED:
            with self._lock:
                if self._stopping:
                    return
                if until is not None and nested:
                    node = self._ready_need_locked(until)
                else:
                    node = self._plan.next_startable()
                if node is None:
                    return
                node.state = RUNNING
                node.attempts += 1
                self._running.add(node)
            self._start(node, on_this_thread=True)

    def _ready_need_locked(self, target: Node) -> Node | None:
        # Depth first through what `target` still needs, to a node that may start.
        stack = [target]
        seen: set[int] = set()
        while stack:
            node = stack.pop()
            if node.state == READY and self._plan.take(node):
                return node
            if node.state == PENDING and id(node) not in seen:
                seen.add(id(node))
                found: dict[int, Node] = {}
                find_nodes((node.args, node.kwargs), found)
                stack.extend(
                    need
                    for need in reversed(found.values())
                    if need.engine is self and need.state < SUCCEEDED
                )
        return None

    def _start(self, node: Node, *, on_this_thread: bool = False) -> None:
        prepared = self._prepare(node)
        if prepared is None:
            return  # cancelled between being taken and being started
        attempt, args, kwargs = prepared
        try:
            if on_this_thread:
                self._run_here(node, attempt, args, kwargs)
            elif self._in_process:
                # No future kept: a thread cannot be stopped, and `_run_here` skips
                # an attempt that was cancelled while it queued.
                self.executor.submit(self._run_here, node, attempt, args, kwargs)
            else:
                self._submit_remote(node, attempt, args, kwargs)
        except BaseException as error:  # a shut-down executor, an unpicklable call
            self._complete(node, attempt, None, error)
            if not isinstance(error, Exception):
                raise

    def _submit_remote(self, node: Node, attempt: int, args: tuple[Any, ...], kwargs: Any) -> None:
        future = self.executor.submit(node.fn, *args, **(kwargs or {}))
        with self._lock:
            current = node.state == RUNNING and node.attempts == attempt
            if current:
                node.future = future
        if not current:
            future.cancel()  # cancelled or timed out while being submitted
        # Last: the callback may run at once, and start a retry with its own future.
        future.add_done_callback(partial(self._remote_done, node, attempt))

    def _prepare(self, node: Node) -> tuple[int, tuple[Any, ...], Any] | None:
        """What starting an attempt takes: its arguments' values, its alarm, the news.

        None if the node stopped running before it could start.
        """
        attempt = node.attempts
        if node.state != RUNNING:
            return None
        if self._notifier is not None and not self._notifier.started(node, attempt):
            return None
        args = node.args
        kwargs = node.kwargs
        if node.needs_resolving:
            args = resolve(args)
            kwargs = resolve(kwargs)
        timeout = node.options.timeout
        if timeout is not None:
            node.timer = self.clock.call_later(timeout, partial(self._time_out, node, attempt))
        return attempt, args, kwargs

    def _run_here(self, node: Node, attempt: int, args: tuple[Any, ...], kwargs: Any) -> None:
        """Run a node on this thread, then whatever its success made startable.

        Runs on the executor's thread (or the caller's). Going on with the next
        node here, rather than through the executor's queue, saves a hand-off
        between threads per node: a chain runs on one thread without a pause.
        Only at the bottom of a thread's stack, though: on the thread of a task
        that waits, unrelated work could itself wait on that task, up its own
        stack, forever.
        """
        if node.state != RUNNING or node.attempts != attempt:
            return  # cancelled or timed out while it queued for a thread
        state = _thread
        previous = state.node
        while True:
            state.node = node
            try:
                value = node.fn(*args, **kwargs) if kwargs else node.fn(*args)
            except BaseException as error:
                state.node = previous
                self._complete(node, attempt, None, error)
                if not isinstance(error, Exception):
                    raise  # KeyboardInterrupt and SystemExit are the caller's, too
                return
            state.node = previous
            following = self._complete(node, attempt, value, None, go_on_here=previous is None)
            if following is None or following.state != RUNNING:
                return
            node = following
            prepared = self._prepare(node)
            if prepared is None:
                return
            attempt, args, kwargs = prepared

    def _remote_done(self, node: Node, attempt: int, future: Any) -> None:
        try:
            error = future.exception()
        except BaseException as cancelled:  # a future cancelled under us
            error = cancelled
        value = None if error is not None else future.result()
        self._complete(node, attempt, value, error)

    # -- finishing ---------------------------------------------------------------

    def _complete(
        self,
        node: Node,
        attempt: int,
        value: Any,
        error: BaseException | None,
        *,
        go_on_here: bool = False,
    ) -> Node | None:
        """Record how an attempt ended, and start what that made startable.

        With `go_on_here`, the best startable node is not launched but returned,
        for the calling thread to run next.
        """
        settled: list[Node] = []
        retried: list[tuple[Node, BaseException]] = []
        with self._lock:
            if node.state != RUNNING or node.attempts != attempt:
                return None  # the late end of an attempt that was cancelled or timed out
            self._end_attempt_locked(node)
            if error is None:
                # The hot path: inlined, no lists unless someone listens.
                node.state = SUCCEEDED
                node.value = value
                node.error = None  # of an earlier attempt
                node.args = ()
                node.kwargs = None
                self._unfinished -= 1
                dependents = node.dependents
                if dependents is not None:
                    node.dependents = None
                    for dependent in dependents:
                        dependent.waiting -= 1
                        if dependent.waiting == 0 and dependent.state == PENDING:
                            if self._stopping:
                                self._settle_locked(
                                    dependent, self._stop_state, None, None, settled
                                )
                            else:
                                self._plan.push(dependent)
                if node.callbacks is not None or self._notifier is not None:
                    settled.append(node)
                if self._unfinished == 0 and self._idle_waiters:
                    self._wake_idle_waiters_locked()
            else:
                self._fail_locked(node, error, settled, retried)
            startable = self._take_startable_locked()
        following = None
        if go_on_here and startable is not None:
            following = startable.pop(0)
            if not startable:
                startable = None
        if settled or retried:
            self._after(settled, retried, startable)
        elif startable is not None:
            self._launch(startable)
        return following

    def _end_attempt_locked(self, node: Node) -> None:
        self._running.discard(node)
        if self._suspended and node in self._suspended:
            self._suspended.discard(node)  # its slot was given back when it suspended
        else:
            self._plan.release(node)
        if node.timer is not None:
            node.timer.cancel()
            node.timer = None

    def _fail_locked(
        self,
        node: Node,
        error: BaseException,
        settled: list[Node],
        retried: list[tuple[Node, BaseException]],
    ) -> None:
        # The caller has ended the attempt and given its slot back: the node runs no
        # more, so settling it below must not give the slot back a second time.
        node.state = PENDING
        if node.attempts <= node.options.retries and not self._stopping:
            # Queued again only in `_after`, once the observer has heard of the retry.
            node.error = error
            self._backing_off.add(node)
            retried.append((node, error))
            return
        self._record_failure_locked(node, error, settled)

    def _record_failure_locked(self, node: Node, error: BaseException, settled: list[Node]) -> None:
        if not any(note.startswith("forkjoin: task ") for note in getattr(error, "__notes__", ())):
            error.add_note(f"forkjoin: task {node.label} failed")
        self._settle_locked(node, FAILED, error, None, settled)
        if self.failure_mode == "fail_fast" and not self._stopping:
            self._stop_locked(node, SKIPPED, settled)

    def _retry(self, node: Node) -> None:
        settled: list[Node] = []
        with self._lock:
            self._backing_off.discard(node)
            if node.state != PENDING:
                return  # settled while backing off
            if self._stopping:
                self._settle_locked(node, self._stop_state, None, None, settled)
            else:
                self._plan.push(node)
                self._wake_pullers_locked()
            startable = self._take_startable_locked()
        self._after(settled, (), startable)

    def _time_out(self, node: Node, attempt: int) -> None:
        settled: list[Node] = []
        retried: list[tuple[Node, BaseException]] = []
        with self._lock:
            if node.state != RUNNING or node.attempts != attempt:
                return
            node.timer = None
            future = node.future
            self._end_attempt_locked(node)
            timeout = node.options.timeout or 0.0
            self._fail_locked(node, TaskTimeout(node.label, timeout), settled, retried)
            startable = self._take_startable_locked()
        if future is not None:
            future.cancel()  # stops a worker process; a thread's result is ignored
        self._after(settled, retried, startable)

    def _settle_locked(
        self,
        node: Node,
        state: int,
        error: BaseException | None,
        cause: Node | None,
        settled: list[Node],
    ) -> None:
        """Give `node` its final state, and the same fate to everything downstream.

        Downstream of a cancelled node is cancelled; of anything else, skipped. Each
        node downstream keeps the need that failed as its `cause`, so the chain a
        failure travelled can be read back. Iterative: a chain may be long.
        """
        stack: list[tuple[Node, int, BaseException | None, Node | None]] = [
            (node, state, error, cause)
        ]
        while stack:
            node, state, error, cause = stack.pop()
            if node.state >= SUCCEEDED:
                continue
            if node.state == RUNNING:
                self._end_attempt_locked(node)
            elif node.state == PENDING:
                self._backing_off.discard(node)
            node.state = state
            node.error = error
            node.cause = cause
            node.args = ()
            node.kwargs = None
            self._unfinished -= 1
            if state == FAILED:
                self.failures.append(node)
            settled.append(node)
            dependents = node.dependents
            if dependents is not None:
                node.dependents = None
                downstream = CANCELLED if state == CANCELLED else SKIPPED
                stack.extend((dependent, downstream, None, node) for dependent in dependents)
        if self._unfinished == 0 and self._idle_waiters:
            self._wake_idle_waiters_locked()

    def _stop_locked(self, first_failure: Node | None, state: int, settled: list[Node]) -> None:
        """Start nothing more; settle what waits to start, `state` without a cause."""
        self._stopping = True
        self._stop_state = state
        if self._first_failure is None:
            self._first_failure = first_failure
        # A node queued or backing off for a retry has failed already: it fails
        # with its own error, unless the whole run is cancelled.
        for node in [*self._plan.drain(), *self._backing_off]:
            if state == CANCELLED or node.error is None:
                self._settle_locked(node, state, None, None, settled)
            else:
                self._record_failure_locked(node, node.error, settled)

    def _after(
        self,
        settled: Sequence[Node],
        retried: Iterable[tuple[Node, BaseException]],
        startable: list[Node] | None,
    ) -> None:
        """What follows a state change, outside the lock: stop, tell, retry, start."""
        notifier = self._notifier
        for node in settled:
            future = node.future
            if node.state == CANCELLED and future is not None:
                future.cancel()  # a no-op for what already ended
            callbacks = node.callbacks
            if callbacks is not None:
                node.callbacks = None
                for callback in callbacks:
                    _call_safely(callback, node)
            if notifier is not None:
                notifier.finished(node)
        if startable is not None:
            self._launch(startable)  # taken before any retry below was queued
        for node, error in retried:
            if notifier is not None:
                notifier.retried(node, error)
            delay = node.options.backoff * 2 ** (node.attempts - 1)
            if delay > 0:
                self.clock.call_later(delay, partial(self._retry, node))
            else:
                self._retry(node)

    # -- waiting, cancelling -----------------------------------------------------

    def add_done_callback(self, node: Node, callback: Callable[[Node], object]) -> None:
        """Call `callback(node)` once the node is done; at once if it already is."""
        with self._lock:
            if node.state < SUCCEEDED:
                if node.callbacks is None:
                    node.callbacks = [callback]
                else:
                    node.callbacks.append(callback)
                return
        _call_safely(callback, node)

    def wait(self, node: Node, timeout: float | None = None) -> bool:
        """Block until `node` is done or `timeout` seconds pass; True if it is done."""
        if node.state >= SUCCEEDED:
            return True
        if self._pulled:
            return self._pull_and_wait(node, timeout)
        done = threading.Lock()
        done.acquire()
        self.add_done_callback(node, lambda _node: done.release())
        return done.acquire(timeout=-1 if timeout is None else max(timeout, 0))

    def _pull_and_wait(self, until: Node | None, timeout: float | None) -> bool:
        # A pulled engine runs nothing unless someone pulls: so pull, and sleep only
        # until the awaited thing is done or new ready work arrives to be pulled.
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self._pull(until)
            wake = threading.Lock()
            wake.acquire()
            with self._lock:
                finished = self._unfinished == 0 if until is None else until.state >= SUCCEEDED
                if finished:
                    return True
                if len(self._plan) and not self._stopping:
                    continue
                self._pullers.append(wake.release)
                if until is None:
                    self._idle_waiters.append(wake.release)
                else:
                    woken = partial(_release_for, wake.release)
                    if until.callbacks is None:
                        until.callbacks = [woken]
                    else:
                        until.callbacks.append(woken)
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            wake.acquire(timeout=-1 if left is None else left)

    def _wake_pullers_locked(self) -> None:
        pullers, self._pullers = self._pullers, []
        for release in pullers:
            _release_once(release)

    def suspend(self, node: Node, wanted: Sequence[Node] = ()) -> bool:
        """Give back the slot of a running node that is about to wait on `wanted`.

        This is how nesting never deadlocks: a task blocked in `fetch` frees its
        slot for the tasks it waits on. The first wanted node that is ready runs
        right here, on the waiting thread, as in TBB or Dagger: the work goes depth
        first, and no thread is started only to wait. Then whatever else became
        startable is launched, even when the caller is itself inside a launch (an
        inline task that fetches). Returns False if the node was not running.
        """
        with self._lock:
            if node.state != RUNNING or node in self._suspended:
                return False
            self._suspended.add(node)
            self._plan.release(node)
            here = None
            if self._in_process and not self._pulled and not self._stopping:
                for candidate in wanted:
                    if candidate.engine is self and self._plan.take(candidate):
                        here = candidate
                        here.state = RUNNING
                        here.attempts += 1
                        self._running.add(here)
                        break
            startable = self._take_startable_locked()
        if startable is not None:
            self._launch(startable)
        if here is not None:
            self._start(here, on_this_thread=True)
        return True

    def resume(self, node: Node) -> None:
        """Take a slot again for a node that `suspend` released, if it still runs."""
        with self._lock:
            if node in self._suspended:
                self._suspended.discard(node)
                self._plan.reacquire(node)

    def cancel(self, nodes: Iterable[Node]) -> int:
        """Cancel nodes that are not done yet, and everything downstream of them.

        A queued node never starts; a running one's future is cancelled (which
        stops a worker process) and its result, if it comes, is ignored. Returns
        how many of `nodes` were cancelled by this call. A node not added to this
        engine (not yet, or to another) is left alone: settling it here would
        count it off this engine's unfinished work, which it never was.
        """
        settled: list[Node] = []
        count = 0
        with self._lock:
            for node in nodes:
                if node.engine is self and node.state < SUCCEEDED:
                    self._settle_locked(node, CANCELLED, None, None, settled)
                    count += 1
            startable = self._take_startable_locked()
        self._after(settled, (), startable)
        return count

    def cancel_all(self) -> None:
        """Stop the run: start nothing more and cancel every node not done yet."""
        settled: list[Node] = []
        with self._lock:
            self._stop_locked(None, CANCELLED, settled)
            for node in list(self._running):
                self._settle_locked(node, CANCELLED, None, None, settled)
        self._after(settled, (), None)

    def wait_all(self, timeout: float | None = None) -> bool:
        """Block until every node added so far is done; True unless `timeout` passed."""
        if self._pulled:
            return self._pull_and_wait(None, timeout)
        with self._lock:
            if self._unfinished == 0:
                return True
            idle = threading.Lock()
            idle.acquire()
            self._idle_waiters.append(idle.release)
        return idle.acquire(timeout=-1 if timeout is None else max(timeout, 0))

    def _wake_idle_waiters_locked(self) -> None:
        waiters, self._idle_waiters = self._idle_waiters, []
        for release in waiters:
            _release_once(release)

    @property
    def unfinished(self) -> int:
        return self._unfinished

    def close(self) -> None:
        """Tell the observer the job has finished. Call once, after `wait_all`."""
        if self._notifier is not None:
            self._notifier.job_finished(self)


def _check_needs_were_added(nodes: list[tuple[Node, Sequence[Node]]]) -> None:
    """Raise ValueError, before anything is counted, for a need that was never added."""
    earlier: set[int] = set()
    for node, needs in nodes:
        for need in needs:
            if need.engine is None and id(need) not in earlier:
                raise ValueError(f"{node!r} needs {need!r}, which was never added to an engine")
        earlier.add(id(node))


def _release_once(release: Callable[[], object]) -> None:
    # A waiter may be woken by two causes (its node finished, new work arrived).
    with contextlib.suppress(RuntimeError):  # released already
        release()


def _release_for(release: Callable[[], object], _node: Node) -> None:
    _release_once(release)


def _call_safely(callback: Callable[[Node], object], node: Node) -> None:
    # A failing callback is the caller's bug, but it must not break the engine's
    # bookkeeping for every other node: report it the way threads report theirs.
    try:
        callback(node)
    except Exception as error:
        report_unraisable(error, callback, "Exception in a forkjoin done-callback")
