"""A session's history: each task attempt a span, and estimates that rank the next run.

`Session(history=True)` opts in. The session's engine then asks `estimator` for the
expected seconds of each task by its name (the function's qualified name), and this
observer records a span per attempt: a failed attempt that is retried ends its span
`failed`, so only successes teach the estimator.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from forkjoin.scheduler import (
    CANCELLED,
    FAILED,
    STATE_NAMES,
    Engine,
    Node,
    Observer,
    call_reporting,
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
        self._open: dict[Node, str] = {}  # the span of each running attempt
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

    def node_started(self, node: Node) -> None:
        self._open[node] = self.recorder.start_span(
            node.name, kind="task", worker=threading.current_thread().name
        )

    def node_retried(self, node: Node, error: BaseException) -> None:
        span = self._open.pop(node, None)
        if span is not None:
            self.recorder.end_span(span, "failed", attributes={"attempt": node.attempts})

    def node_finished(self, node: Node) -> None:
        status = STATE_NAMES[node.state]
        span = self._open.pop(node, None)
        if span is not None:
            self.recorder.end_span(span, status, attributes={"attempt": node.attempts})
            if any(node.fn is kept for kept in self._keeps):  # by identity: any callable
                self._kept[node] = span
        else:  # never started: skipped or cancelled while waiting
            moment = time.time()
            self.recorder.record(node.name, kind="task", status=status, start=moment, end=moment)
        if node.state == FAILED:
            self._worst = "failed"
        elif node.state == CANCELLED and self._worst == "succeeded":
            self._worst = "cancelled"

    def job_finished(self, engine: Engine) -> None:
        try:
            self.recorder.finish(self._worst)
        finally:
            self.store.close()


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
