"""The engine: add work, wait for it, cancel it; the core runs it (see `_core`).

An executor that `runs_in_caller` (inline) is pulled rather than pushed to: nothing
starts when something finishes; the caller's thread runs nodes one at a time when
it spawns at the top level or waits, and a task that waits pulls only what it waits
for. So a chain of a million never recurses, and nested fetches go depth first.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any, Literal

from forkjoin.scheduler._clock import SHARED_CLOCK, Clock
from forkjoin.scheduler._context import current_attempt, current_node
from forkjoin.scheduler._core import Core, release_once
from forkjoin.scheduler._node import CANCELLED, PENDING, READY, RUNNING, SKIPPED, SUCCEEDED, Node
from forkjoin.scheduler._observe import Estimator, Observer, call_reporting
from forkjoin.scheduler._resolve import find_nodes

__all__ = ["Engine", "FailureMode"]

FailureMode = Literal["fail_fast", "keep_going"]


class Engine(Core):
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
        super().__init__(executor, max_concurrency, failure_mode == "fail_fast", observer, clock)
        self.failure_mode: FailureMode = failure_mode
        self.estimator = estimator
        # The front end this engine serves (a Session), for nested spawns to find it.
        self.owner = owner
        self._sequence = 0
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

    def add(self, node: Node, needs: Sequence[Node] = ()) -> Node:
        """Add a node that runs once every node in `needs` has succeeded.

        Raises ValueError, before anything changes, if a need was never added.
        """
        if self._pulled:
            self.add_all(((node, needs),))
            return node
        if needs:
            _check_needs_were_added(((node, needs),))
        # The hot path of `spawn`: one node, one short lock hold, no lists unless a
        # need failed or belongs to another engine.
        with self._lock:
            outcome = self._add_locked(node, needs)
            startable = self._take_startable_locked()
        if outcome is None:
            if startable is not None:
                self._launch(startable)
        else:
            self._after_adding(*outcome, startable)
        return node

    def add_all(self, nodes: Iterable[tuple[Node, Sequence[Node]]]) -> None:
        """Add many nodes under one lock hold, each after the nodes it needs.

        Raises ValueError, before anything changes, if a need was never added.
        """
        nodes = list(nodes)
        _check_needs_were_added(nodes)
        settled: list[Node] = []
        foreign: list[tuple[Node, Node]] = []
        with self._lock:
            for node, needs in nodes:
                outcome = self._add_locked(node, needs)
                if outcome is not None:
                    settled.extend(outcome[0])
                    foreign.extend(outcome[1])
            startable = self._take_startable_locked()
        self._after_adding(settled, foreign, startable)
        if self._pulled and not self._is_running_here():
            self._pull(None)

    def _add_locked(
        self, node: Node, needs: Sequence[Node]
    ) -> tuple[list[Node], list[tuple[Node, Node]]] | None:
        """Count the node in, after its needs; None, or what it settled and what
        foreign needs it waits on."""
        self._sequence += 1
        node.sequence = self._sequence
        node.engine = self
        self._unfinished += 1
        foreign: list[tuple[Node, Node]] = []
        failed_need = None
        for need in needs:
            if need.engine is not self:
                foreign.append((node, need))
                self._awaiting_foreign.add(node)
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
        settled: list[Node] = []
        if failed_need is not None:
            state = CANCELLED if failed_need.state == CANCELLED else SKIPPED
            self._settle_locked(node, state, None, failed_need, settled)
        elif self._stopping:
            self._settle_locked(node, self._stop_state, None, None, settled)
        elif node.waiting == 0:
            self._plan.push(node)
        return (settled, foreign) if settled or foreign else None

    def _after_adding(
        self,
        settled: list[Node],
        foreign: list[tuple[Node, Node]],
        startable: list[Node] | None,
    ) -> None:
        for node, need in foreign:
            need.engine.add_done_callback(need, partial(self._foreign_need_done, node))  # type: ignore[union-attr]
        self._after(settled, (), startable)

    def _foreign_need_done(self, node: Node, need: Node) -> None:
        # A node may need a node of another engine; that engine tells us here.
        settled: list[Node] = []
        with self._lock:
            if node.state != PENDING:
                return
            if need.state == SUCCEEDED:
                node.waiting -= 1
                if node.waiting == 0:
                    self._make_ready_locked(node, settled)
            else:
                state = CANCELLED if need.state == CANCELLED else SKIPPED
                self._settle_locked(node, state, None, need, settled)
            startable = self._take_startable_locked()
        self._after(settled, (), startable)

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

    def add_done_callback(self, node: Node, callback: Callable[[Node], object]) -> None:
        """Call `callback(node)` once the node is done; at once if it already is.

        Keep it quick, as with concurrent.futures: it runs on whatever thread
        finished the node, and must not block waiting on other nodes.
        """
        with self._lock:
            if node.state < SUCCEEDED:
                if node.callbacks is None:
                    node.callbacks = [callback]
                else:
                    node.callbacks.append(callback)
                return
        call_reporting(callback, node, message="Exception in a forkjoin done-callback")

    def wait(self, node: Node, timeout: float | None = None) -> bool:
        """Block until `node` is done or `timeout` seconds pass; True if it is done."""
        if node.state >= SUCCEEDED:
            return True
        if self._pulled:
            return self._pull_and_wait(node, timeout)
        done = threading.Lock()
        done.acquire()
        woken = partial(_release_for, done.release)
        self.add_done_callback(node, woken)
        if done.acquire(timeout=-1 if timeout is None else max(timeout, 0)):
            return True
        self._forget_callback(node, woken)  # a poller must not pile up callbacks
        return node.state >= SUCCEEDED

    @property
    def pulled(self) -> bool:
        """True when nothing runs unless a waiting thread pulls it (inline)."""
        return self._pulled

    def _pull_and_wait(self, until: Node | None, timeout: float | None) -> bool:
        # A pulled engine runs nothing unless someone pulls: so pull, and sleep only
        # until the awaited thing is done or new ready work arrives from another
        # thread (a foreign need done, a retry's backoff over) to be pulled.
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                arrivals = self._arrivals
            self._pull(until)
            wake = threading.Lock()
            wake.acquire()
            woken = partial(_release_for, wake.release)
            with self._lock:
                if self._unfinished == 0 if until is None else until.state >= SUCCEEDED:
                    return True
                if self._arrivals != arrivals:
                    continue  # work came while this thread pulled: pull it
                self._pullers.append(wake.release)
                if until is None:
                    self._idle_waiters.append(wake.release)
                elif until.callbacks is None:
                    until.callbacks = [woken]
                else:
                    until.callbacks.append(woken)
            left = None if deadline is None else deadline - time.monotonic()
            if left is None or left > 0:
                wake.acquire(timeout=-1 if left is None else left)
            elif until is not None:
                self._forget_callback(until, woken)
                return False
            else:
                return False

    def _forget_callback(self, node: Node, callback: Callable[[Node], object]) -> None:
        with self._lock:
            if node.callbacks is not None and callback in node.callbacks:
                node.callbacks.remove(callback)

    def suspend(self, node: Node, wanted: Sequence[Node] = ()) -> bool:
        """Give back the slot of a running node that is about to wait on `wanted`.

        This is how nesting never deadlocks: a task blocked in `fetch` frees its
        slot for the tasks it waits on. The first wanted node that is ready runs
        right here, on the waiting thread, as in TBB or Dagger: the work goes depth
        first, and no thread is started only to wait. Then whatever else became
        startable is launched, even when the caller is itself inside a launch (an
        inline task that fetches). Returns False if the node was not running.
        """
        attempt = current_attempt() if current_node() is node else node.attempts
        with self._lock:
            # Only the attempt that runs now: a timed-out one may still be waiting
            # on this thread while its retry holds the slot.
            if node.state != RUNNING or node.attempts != attempt or node in self._suspended:
                return False
            self._suspended[node] = attempt
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
        """Take a slot again for a node that `suspend` released, if that attempt runs.

        The end of an attempt forgets its suspension, so a late resume of an
        attempt that timed out takes nothing from the retry that replaced it.
        """
        attempt = current_attempt() if current_node() is node else node.attempts
        with self._lock:
            if self._suspended.get(node) == attempt:
                del self._suspended[node]
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

    @property
    def unfinished(self) -> int:
        return self._unfinished

    def close(self) -> None:
        """Tell the observer the job has finished, after every node's end. Call once,
        after `wait_all`."""
        if self._notifier is not None:
            self._notifier.job_finished(self, self._sequence)


def _check_needs_were_added(nodes: Iterable[tuple[Node, Sequence[Node]]]) -> None:
    """Raise ValueError, before anything is counted, for a need that was never added."""
    earlier: set[int] = set()
    for node, needs in nodes:
        for need in needs:
            if need.engine is None and id(need) not in earlier:
                raise ValueError(f"{node!r} needs {need!r}, which was never added to an engine")
        earlier.add(id(node))


def _release_for(release: Callable[[], object], _node: Node) -> None:
    release_once(release)
