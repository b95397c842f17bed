"""A session's history: each task attempt a span, and estimates that rank the next run.

`Session(history=True)` opts in. The session's engine then asks `estimator` for the
expected seconds of each task by its name (the function's qualified name), and this
observer records a span per attempt: a failed attempt that is retried ends its span
`failed`, so only successes teach the estimator. A span's worker is the thread that
ran the attempt, and a task spawned inside a running task hangs from that task's span.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from forkjoin.errors import TaskTimeout
from forkjoin.scheduler import (
    CANCELLED,
    FAILED,
    STATE_NAMES,
    SUCCEEDED,
    Engine,
    Node,
    Observer,
    call_reporting,
    current_node,
)
from forkjoin.telemetry import (
    HistoryEstimator,
    HistoryStore,
    Recorder,
    history_path,
    open_history,
)

__all__ = ["SessionHistory", "Observers"]


class SessionHistory:
    """The Observer that records a session's tasks; its `estimator` reads the history."""

    def __init__(self, where: bool | str | Path) -> None:
        explicit = None if where is True else Path(str(where))
        self.store: HistoryStore = open_history(history_path(explicit, Path.cwd()))
        self.estimator = HistoryEstimator.from_store(self.store)
        what = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
        self.recorder = Recorder(self.store, self.store.start_job("tasks", what))
        # The span id and start of each running attempt.
        self._open: dict[Node, tuple[str, float]] = {}
        # The span a task hangs from: the attempt of the task that spawned it.
        self._parents: dict[Node, str] = {}
        # The last span of finished nodes whose function asked for it (`keep_span_of`),
        # until `span_of` takes it: a `@parallel` bucket's, the parent of its items.
        self._keeps: list[Callable[..., Any]] = []
        self._kept: dict[Node, str] = {}
        self._worst = "succeeded"

    def keep_span_of(self, fn: Callable[..., Any]) -> None:
        """Keep the span of each task of `fn` past its end, for `span_of`."""
        if not any(kept is fn for kept in self._keeps):
            self._keeps.append(fn)

    def span_of(self, node: Node) -> str | None:
        """The span of a finished task of a function passed to `keep_span_of`, once."""
        return self._kept.pop(node, None)

    def job_started(self, engine: Engine) -> None:
        pass

    def spawned(self, tasks: Sequence[Node]) -> None:
        """Before `tasks` are added: a task spawned by a running task hangs from the
        span of that task's attempt. Called on the spawning thread."""
        spawner = current_node()
        attempt = self._open.get(spawner) if spawner is not None else None
        if attempt is not None:
            for task in tasks:
                self._parents[task] = attempt[0]

    def node_started(self, node: Node) -> None:
        # Told on the thread that dispatches the attempt, which is not always the one
        # that runs it: the worker is known only at the attempt's end (`_worker`).
        self._open[node] = (self.recorder.new_span_id(), time.time())

    def node_retried(self, node: Node, error: BaseException) -> None:
        self._end(node, "failed", ran_here=not isinstance(error, TaskTimeout))

    def node_finished(self, node: Node) -> None:
        status = STATE_NAMES[node.state]
        ran_here = node.state == SUCCEEDED or (
            node.state == FAILED and not isinstance(node.error, TaskTimeout)
        )
        span = self._end(node, status, ran_here=ran_here)
        self._parents.pop(node, None)
        if span is None:  # never started: skipped or cancelled while waiting
            moment = time.time()
            self.recorder.record(node.name, kind="task", status=status, start=moment, end=moment)
        elif any(node.fn is kept for kept in self._keeps):  # by identity: any callable
            self._kept[node] = span
        if node.state == FAILED:
            self._worst = "failed"
        elif node.state == CANCELLED and self._worst == "succeeded":
            self._worst = "cancelled"

    def _end(self, node: Node, status: str, *, ran_here: bool) -> str | None:
        """Record the span of the attempt that just ended, if one started; its id."""
        attempt = self._open.pop(node, None)
        if attempt is None:
            return None
        span, start = attempt
        self.recorder.record(
            node.name,
            kind="task",
            status=status,
            start=start,
            end=time.time(),
            worker=_worker(node, ran_here=ran_here),
            attributes={"attempt": node.attempts},
            parent=self._parents.get(node),
            span_id=span,
        )
        return span

    def job_finished(self, engine: Engine) -> None:
        for node in list(self._open):  # not told finished in time: still running
            self._end(node, "cancelled", ran_here=False)
        try:
            self.recorder.finish(self._worst)
        finally:
            self.store.close()


def _worker(node: Node, *, ran_here: bool) -> str:
    """The thread that ran the attempt, when the news of its end comes from it.

    An attempt's own return or raise is told on the thread that ran it on an
    in-process executor; a timeout or a cancellation is told from elsewhere, and a
    worker process's thread is not ours to name, so those say nothing ("").
    """
    engine = node.engine
    if ran_here and engine is not None and engine.executor.in_process:
        return threading.current_thread().name
    return ""


class Observers:
    """Several observers told the same news, in order; one that raises is reported
    and spares the others."""

    def __init__(self, observers: Sequence[Observer]) -> None:
        self.observers = tuple(observers)

    def _tell(self, method: str, *args: object) -> None:
        for observer in self.observers:
            call_reporting(getattr(observer, method), *args, message=_REPORT)

    def job_started(self, engine: Engine) -> None:
        self._tell("job_started", engine)

    def node_started(self, node: Node) -> None:
        self._tell("node_started", node)

    def node_retried(self, node: Node, error: BaseException) -> None:
        self._tell("node_retried", node, error)

    def node_finished(self, node: Node) -> None:
        self._tell("node_finished", node)

    def job_finished(self, engine: Engine) -> None:
        self._tell("job_finished", engine)


_REPORT = "Exception in a forkjoin observer"
