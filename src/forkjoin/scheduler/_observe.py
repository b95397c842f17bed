"""What the engine is told and tells: the estimator it asks, the observer it informs."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from forkjoin.scheduler._node import RUNNING, Node

if TYPE_CHECKING:
    from forkjoin.scheduler._engine import Engine

__all__ = ["Estimator", "Notifier", "Observer", "call_reporting", "report_unraisable"]


class Estimator(Protocol):
    """Expected seconds for a node key, from history; never raises."""

    def estimate(self, key: str) -> float: ...


class Observer(Protocol):
    """Told what happens in a run; the progress display and telemetry are observers.

    Calls come one at a time (never two at once, even from many threads), never
    under the engine's lock, and in order for any one node: started (once per
    attempt), retried, then finished once in its final state. A node that never
    started gets only `node_finished` (skipped, cancelled). An observer that raises
    is reported and ignored: it cannot break the run it watches.
    """

    def job_started(self, engine: Engine) -> None: ...

    def node_started(self, node: Node) -> None: ...

    def node_retried(self, node: Node, error: BaseException) -> None: ...

    def node_finished(self, node: Node) -> None: ...

    def job_finished(self, engine: Engine) -> None: ...


class Notifier:
    """Calls an observer one call at a time, and survives an observer that raises.

    Reentrant, so an observer may spawn work whose news comes back on its thread.
    """

    __slots__ = ("_lock", "_told_finished", "observer")

    # How long `job_finished` waits for the news of nodes still being told: a node
    # settled is told on the thread that settled it, soon, unless that thread died.
    TELLING_TIMEOUT = 10.0

    def __init__(self, observer: Observer) -> None:
        self.observer = observer
        self._lock = threading.Condition(threading.RLock())
        self._told_finished = 0

    def started(self, node: Node, attempt: int) -> bool:
        """Tell of an attempt's start, unless it already ended; False if it did."""
        with self._lock:
            # Checked under this lock: an attempt cancelled meanwhile has been told
            # finished already, and must not be told started after it.
            if node.state != RUNNING or node.attempts != attempt:
                return False
            self._tell(self.observer.node_started, node)
            return True

    def retried(self, node: Node, error: BaseException) -> None:
        with self._lock:
            self._tell(self.observer.node_retried, node, error)

    def finished(self, node: Node) -> None:
        with self._lock:
            self._tell(self.observer.node_finished, node)
            self._told_finished += 1
            self._lock.notify_all()

    def job_started(self, engine: Engine) -> None:
        with self._lock:
            self._tell(self.observer.job_started, engine)

    def job_finished(self, engine: Engine, nodes: int) -> None:
        """Tell of the job's end once all `nodes` of it were told finished: a waiter
        on the engine wakes when the last node settles, before its news is told."""
        with self._lock:
            self._lock.wait_for(lambda: self._told_finished >= nodes, self.TELLING_TIMEOUT)
            self._tell(self.observer.job_finished, engine)

    @staticmethod
    def _tell(method: Callable[..., object], *args: Any) -> None:
        call_reporting(method, *args, message="Exception in a forkjoin observer")


def call_reporting(fn: Callable[..., object], *args: Any, message: str) -> None:
    """Call `fn(*args)`; an Exception it raises is reported, never raised.

    For callbacks and observers: their bug must not break the bookkeeping of every
    other node, so it is reported the way Python reports a thread's.
    """
    try:
        fn(*args)
    except Exception as error:
        report_unraisable(error, fn, message)


def report_unraisable(error: BaseException, source: object, message: str) -> None:
    """Report an error nobody can catch, the way Python reports an ignored one.

    A hook someone installed (pytest does) gets it; Python's own hook accepts only
    its own argument type, so in its place the report is printed as it would.
    """
    hook = sys.unraisablehook
    if hook is not sys.__unraisablehook__:
        hook(_Unraisable(error, source, message))  # type: ignore[arg-type]
        return
    import traceback

    print(f"{message}: {source!r}", file=sys.stderr)
    traceback.print_exception(error, file=sys.stderr)


class _Unraisable:
    def __init__(self, error: BaseException, source: object, message: str) -> None:
        self.exc_type = type(error)
        self.exc_value = error
        self.exc_traceback = error.__traceback__
        self.err_msg = message
        self.object = source
