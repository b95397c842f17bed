"""The engine's core: the life of an attempt, and the failure policy, under one lock.

Like Ninja's `Builder`, it starts as much as the plan allows and reacts to what
finishes; unlike it, there is no loop thread. Whoever changes the state (a spawn, a
finishing task, a timer) starts what became startable, on its own thread. On an
in-process executor a worker that finishes a node goes on with the next one itself,
so a task costs one executor hand-off and two short lock holds, never a thread
switch through a central loop.

Every state change happens under one lock; callbacks, observers and executor calls
happen outside it, so a callback may spawn, fetch or cancel freely.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any

from forkjoin.errors import TaskTimeout
from forkjoin.scheduler._clock import Clock
from forkjoin.scheduler._context import THREAD as _thread
from forkjoin.scheduler._node import (
    CANCELLED,
    FAILED,
    PENDING,
    RUNNING,
    SKIPPED,
    SUCCEEDED,
    Node,
    RemoteValue,
)
from forkjoin.scheduler._observe import Notifier, Observer, call_reporting
from forkjoin.scheduler._plan import Plan
from forkjoin.scheduler._resolve import resolve_call

__all__ = ["Core", "release_once"]


class Core:
    """The state of one run, and every transition of a node from ready to final."""

    def __init__(
        self,
        executor: Any,
        max_concurrency: int | None,
        fail_fast: bool,
        observer: Observer | None,
        clock: Clock,
    ) -> None:
        self.executor = executor
        self.fail_fast = fail_fast
        self.observer = observer
        self.clock = clock
        self._notifier = None if observer is None else Notifier(observer)
        self._in_process: bool = executor.in_process
        self._pulled: bool = getattr(executor, "runs_in_caller", False)
        # A cluster executor whose results stay on the cluster: a node's value is
        # then its future, and its dependents there get the future's handle.
        self._keep_on: Any = executor if getattr(executor, "keeps_results", False) else None
        # A cluster executor may ask for more calls in flight than it has threads,
        # so its queue never runs dry while news of a finished call travels back.
        default = getattr(executor, "default_concurrency", None) or executor.workers
        self._plan = Plan(max_concurrency or default)
        self._lock = threading.Lock()
        self._unfinished = 0
        self._running: set[Node] = set()
        # Running nodes that gave their slot back while they wait: node -> attempt.
        self._suspended: dict[Node, int] = {}
        self._backing_off: set[Node] = set()
        # Pending nodes that wait on a node of another engine: no list of this
        # engine reaches them, so a stop must find them here.
        self._awaiting_foreign: set[Node] = set()
        self._idle_waiters: list[Callable[[], object]] = []
        # Threads waiting to pull: woken when a pulled engine gets ready work from
        # another thread (a foreign need done, a retry after its backoff).
        self._pullers: list[Callable[[], object]] = []
        self._arrivals = 0  # how many times such work arrived
        self._stopping = False
        self._stop_state = SKIPPED
        self._first_failure: Node | None = None
        self.failures: list[Node] = []

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
        """Start nodes on their executors, without recursing.

        A remote future may be done already when its callback is attached, and
        then the callback runs at once: it completes the node, which launches the
        next, and so on, one stack frame deeper per node of a chain. So a launch
        made while this thread is already launching only queues its nodes, and
        the outer loop starts them. (In-process calls never end inside `submit`;
        inline engines are pulled, not launched.)
        """
        state = _thread
        if state.launching:
            state.backlog.extend(nodes)
            return
        state.launching = True
        try:
            for node in nodes:
                node.engine._start(node)  # type: ignore[union-attr]
            backlog = state.backlog
            while backlog:
                node = backlog.pop()
                node.engine._start(node)  # type: ignore[union-attr]
        finally:
            state.launching = False

    def _is_running_here(self) -> bool:
        node = _thread.node
        return node is not None and node.engine is self

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
            args, kwargs = resolve_call(args, kwargs, self._keep_on)
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
        previous, previous_attempt = state.node, state.attempt
        while True:
            state.node, state.attempt = node, attempt
            try:
                value = node.fn(*args, **kwargs) if kwargs else node.fn(*args)
            except BaseException as error:
                state.node, state.attempt = previous, previous_attempt
                self._complete(node, attempt, None, error)
                if not isinstance(error, Exception):
                    # KeyboardInterrupt and SystemExit are the caller's, too. On a
                    # caller's thread (inline, or under a waiting task) it reaches
                    # them here; a worker thread's executor absorbs it.
                    node.reported = self._pulled or previous is not None
                    raise
                return
            state.node, state.attempt = previous, previous_attempt
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
        if error is not None:
            value = None
        elif self._keep_on is not None:
            value = RemoteValue(future)  # fetched only if someone reads it
        else:
            value = future.result()
        self._complete(node, attempt, value, error)

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
                node._value = value
                node.error = None  # of an earlier attempt
                if self._awaiting_foreign:
                    self._awaiting_foreign.discard(node)
                node.args = ()
                node.kwargs = None
                self._unfinished -= 1
                dependents = node.dependents
                if dependents is not None:
                    node.dependents = None
                    # `_make_ready_locked`, inlined: this loop is the hot path.
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
            del self._suspended[node]  # its slot was given back when it suspended
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
        # Only an Exception is worth another try: KeyboardInterrupt and SystemExit
        # mean the program wants to stop.
        if (
            isinstance(error, Exception)
            and node.attempts <= node.options.retries
            and not self._stopping
        ):
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
        if self.fail_fast and not self._stopping:
            self._stop_locked(node, SKIPPED, settled)

    def _retry(self, node: Node) -> None:
        settled: list[Node] = []
        with self._lock:
            self._backing_off.discard(node)
            if node.state != PENDING:
                return  # settled while backing off
            self._make_ready_locked(node, settled)
            startable = self._take_startable_locked()
        self._after(settled, (), startable)

    def _make_ready_locked(self, node: Node, settled: list[Node]) -> None:
        """A node whose needs are all done: queue it, or settle it if the run stopped.

        `_complete` inlines the same rule on its hot path. Pullers are woken,
        since this is called from other threads than the one that pulls.
        """
        if self._stopping:
            self._settle_locked(node, self._stop_state, None, None, settled)
        else:
            self._plan.push(node)
            self._wake_pullers_locked()

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
            self._awaiting_foreign.discard(node)
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
        waiting_elsewhere = [node for node in self._awaiting_foreign if node.state == PENDING]
        for node in [*self._plan.drain(), *self._backing_off, *waiting_elsewhere]:
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
                    call_reporting(callback, node, message="Exception in a forkjoin done-callback")
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

    def _wake_pullers_locked(self) -> None:
        self._arrivals += 1
        pullers, self._pullers = self._pullers, []
        for release in pullers:
            release_once(release)

    def _wake_idle_waiters_locked(self) -> None:
        waiters, self._idle_waiters = self._idle_waiters, []
        for release in waiters:
            release_once(release)


def release_once(release: Callable[[], object]) -> None:
    # A waiter may be woken by two causes (its node finished, new work arrived).
    with contextlib.suppress(RuntimeError):  # released already
        release()
