"""Test doubles for the scheduler: a fake clock, a recording observer, a fake async executor.

They stand at the engine's three true boundaries (DESIGN.md, "Layers"): time, the
observer and the executor. `FakeAsyncExecutor` is the important one: its futures run
only when the test says so, in the order the test (or hypothesis) chooses, which is
what a Dask or Ray cluster does to the engine: calls end in any order, on their own
schedule, and possibly never.

The test modules import these classes with `from conftest import ...`; pytest puts
this directory on `sys.path` (rootdir-relative "prepend" import mode, no
`__init__.py`), and imports this conftest before the test modules beside it.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from forkjoin.errors import Cancelled
from forkjoin.scheduler import STATE_NAMES, Engine, Node

__all__ = ["FakeAsyncExecutor", "FakeClock", "FakeFuture", "RecordingObserver"]


# -- time ----------------------------------------------------------------------------


class _Alarm:
    __slots__ = ("cancelled", "fn", "when")

    def __init__(self, when: float, fn: Callable[[], object]) -> None:
        self.when = when
        self.fn = fn
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    """The Clock protocol on a time that moves only when the test calls `advance`.

    `advance(seconds)` fires every alarm that falls due on the way, in order of due
    time (then of setting), with `now()` reading each alarm's own due time while it
    fires; alarms set while firing fire too if they fall due within the advance.
    `on_call_later(delay)`, if set, is called at the start of each `call_later`: a
    test uses it to pause the caller there, a real scheduling point.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._due: list[tuple[float, int, _Alarm]] = []
        self._order = itertools.count()
        self._lock = threading.Lock()
        self.on_call_later: Callable[[float], object] | None = None

    def now(self) -> float:
        return self._now

    def call_later(self, delay: float, fn: Callable[[], object]) -> _Alarm:
        if self.on_call_later is not None:
            self.on_call_later(delay)
        with self._lock:
            alarm = _Alarm(self._now + delay, fn)
            heapq.heappush(self._due, (alarm.when, next(self._order), alarm))
        return alarm

    def advance(self, seconds: float) -> int:
        """Move time forward, firing what falls due; returns how many alarms fired."""
        if seconds < 0:
            raise ValueError("a clock does not go back")
        with self._lock:
            target = self._now + seconds
        fired = 0
        while True:
            with self._lock:
                if not self._due or self._due[0][0] > target:
                    self._now = target
                    return fired
                when, _, alarm = heapq.heappop(self._due)
                self._now = max(self._now, when)
            if not alarm.cancelled:
                fired += 1
                alarm.fn()

    @property
    def live_alarms(self) -> int:
        """Alarms set and neither fired nor cancelled."""
        with self._lock:
            return sum(1 for _, _, alarm in self._due if not alarm.cancelled)

    @property
    def next_due(self) -> float | None:
        """Seconds from now to the next live alarm, or None."""
        with self._lock:
            live = [when for when, _, alarm in self._due if not alarm.cancelled]
        return None if not live else min(live) - self._now


# -- observing -----------------------------------------------------------------------


class RecordingObserver:
    """The Observer protocol, recording every event as a tuple, from any thread.

    Events: ("job_started", engine), ("started", node, attempt), ("retried", node,
    error), ("finished", node, state), ("job_finished", engine). The attempt and the
    state are read when the event arrives, not at the end.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: list[tuple[Any, ...]] = []

    def _record(self, event: tuple[Any, ...]) -> None:
        with self._lock:
            self.events.append(event)

    def job_started(self, engine: Engine) -> None:
        self._record(("job_started", engine))

    def node_started(self, node: Node) -> None:
        self._record(("started", node, node.attempts))

    def node_retried(self, node: Node, error: BaseException) -> None:
        self._record(("retried", node, error))

    def node_finished(self, node: Node) -> None:
        self._record(("finished", node, node.state))

    def job_finished(self, engine: Engine) -> None:
        self._record(("job_finished", engine))

    def snapshot(self) -> list[tuple[Any, ...]]:
        with self._lock:
            return list(self.events)

    def kinds_for(self, node: Node) -> list[str]:
        """The kinds of event this node got, in the order they arrived."""
        return [event[0] for event in self.snapshot() if len(event) > 1 and event[1] is node]

    def finished_states(self, node: Node) -> list[str]:
        return [
            STATE_NAMES[event[2]]
            for event in self.snapshot()
            if event[0] == "finished" and event[1] is node
        ]


# -- executing -----------------------------------------------------------------------

_PENDING, _RUNNING, _DONE, _CANCELLED = "pending", "running", "done", "cancelled"


class FakeFuture:
    """A call that ends only when its executor's test says so.

    Pending, it can be cancelled (like a queued Dask task); once `start()`ed it
    cannot (like a call already running on a thread), and its late end is still
    delivered to its callbacks.
    """

    def __init__(
        self,
        executor: FakeAsyncExecutor,
        index: int,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        self.executor = executor
        self.index = index
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.state = _PENDING
        # Set once something (a run, a cancel) has taken the call to end it.
        self._claimed = False
        self._value: Any = None
        self._error: BaseException | None = None
        self._callbacks: list[Callable[[Any], object]] = []

    def __repr__(self) -> str:
        name = getattr(self.fn, "__name__", self.fn)
        return f"<FakeFuture #{self.index} {name}{self.args} {self.state}>"

    # The protocol -------------------------------------------------------------------

    def add_done_callback(self, fn: Callable[[Any], object], /) -> None:
        with self.executor._lock:
            if not self.done():
                self._callbacks.append(fn)
                return
        self.executor._call_back(fn, self)

    def result(self, timeout: float | None = None) -> Any:
        self._check_done()
        if self.state == _CANCELLED:
            raise Cancelled("the fake call was cancelled")
        if self._error is not None:
            raise self._error
        return self._value

    def exception(self, timeout: float | None = None) -> BaseException | None:
        self._check_done()
        if self.state == _CANCELLED:
            return Cancelled("the fake call was cancelled")
        return self._error

    def cancel(self) -> bool:
        with self.executor._lock:
            if self.state == _CANCELLED:
                return True
            if self.state != _PENDING or self._claimed:
                return False
            self._claimed = True
        self._finish(_CANCELLED, None, None)
        return True

    def done(self) -> bool:
        return self.state in (_DONE, _CANCELLED)

    def cancelled(self) -> bool:
        return self.state == _CANCELLED

    def running(self) -> bool:
        return self.state == _RUNNING

    # Test controls ------------------------------------------------------------------

    def start(self) -> None:
        """Begin the call without ending it: from now on it cannot be cancelled."""
        with self.executor._lock:
            if self.state != _PENDING or self._claimed:
                raise AssertionError(f"cannot start {self!r}")
            self.state = _RUNNING

    def _check_done(self) -> None:
        # A real future would block; in a single-threaded test that is a hang, so
        # asking an unfinished fake for its result is the test's (or engine's) bug.
        if not self.done():
            raise AssertionError(f"{self!r} has not ended; the engine must wait for its callback")

    def _run(self, error: BaseException | None) -> None:
        with self.executor._lock:
            if self._claimed:
                raise AssertionError(f"{self!r} has already ended")
            self._claimed = True
            self.state = _RUNNING
        value = None
        if error is None:
            try:
                value = self.fn(*self.args, **self.kwargs)
            except BaseException as raised:
                error = raised
        self._finish(_DONE, value, error)

    def _finish(self, state: str, value: Any, error: BaseException | None) -> None:
        executor = self.executor
        with executor._lock:
            self.state = state
            self._value = value
            self._error = error
            callbacks, self._callbacks = self._callbacks, []
            executor._pending.remove(self)
            executor.in_flight -= 1
            if state == _CANCELLED:
                executor.cancelled.append(self)
        for callback in callbacks:
            executor._call_back(callback, self)


class FakeAsyncExecutor:
    """The Executor protocol, out of process in spirit: calls run only on `run_one`.

    `in_process` is False, so the engine submits the task's own function and learns
    of its end through `add_done_callback`, as it will with Dask or Ray. `in_flight`
    counts calls submitted and not yet ended (run or cancelled); `max_in_flight` is
    its high-water mark. `on_submit(future)`, if set, is called inside `submit`
    before the future is returned, where a real cluster's call may already run.

    A done-callback that raises is recorded in `callback_errors` and the other
    callbacks still run, as `concurrent.futures` does; tests assert it stays empty.
    Safe to drive from several threads (each call of `run_one` takes a future).
    """

    in_process = False

    def __init__(
        self, workers: int = 2, on_submit: Callable[[FakeFuture], object] | None = None
    ) -> None:
        self.workers = workers
        self.on_submit = on_submit
        self.submitted: list[FakeFuture] = []
        self.cancelled: list[FakeFuture] = []
        self.callback_errors: list[BaseException] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.is_shut_down = False
        self._pending: list[FakeFuture] = []
        self._lock = threading.RLock()

    @property
    def pending(self) -> list[FakeFuture]:
        """Calls submitted and not ended, in submission order."""
        with self._lock:
            return list(self._pending)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> FakeFuture:
        with self._lock:
            if self.is_shut_down:
                raise RuntimeError("cannot submit to a fake executor that was shut down")
            future = FakeFuture(self, len(self.submitted), fn, args, kwargs)
            self.submitted.append(future)
            self._pending.append(future)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        if self.on_submit is not None:
            self.on_submit(future)
        return future

    def run_one(
        self, choice: int | FakeFuture = 0, *, error: BaseException | None = None
    ) -> FakeFuture:
        """End one pending call: run it, or fail it with `error` without running it.

        `choice` is a future, or an index into `pending` taken modulo its length,
        so any integer a strategy draws picks a call.
        """
        with self._lock:
            if isinstance(choice, FakeFuture):
                future = choice
            else:
                if not self._pending:
                    raise AssertionError("no call is pending")
                future = self._pending[choice % len(self._pending)]
        future._run(error)
        return future

    def run_all(self, order: Iterable[int] | None = None) -> int:
        """End pending calls until none is left; `order` picks each (modulo), else FIFO."""
        choices = iter(order) if order is not None else None
        count = 0
        while self._pending:
            choice = next(choices, 0) if choices is not None else 0
            self.run_one(choice)
            count += 1
        return count

    def shutdown(self, *, wait: bool = True, cancel_pending: bool = False) -> None:
        self.is_shut_down = True
        if cancel_pending:
            for future in self.pending:
                future.cancel()

    def _call_back(self, callback: Callable[[Any], object], future: FakeFuture) -> None:
        try:
            callback(future)
        except BaseException as error:
            with self._lock:
                self.callback_errors.append(error)


# -- fixtures ------------------------------------------------------------------------


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def observer() -> RecordingObserver:
    return RecordingObserver()


@pytest.fixture
def executor() -> FakeAsyncExecutor:
    return FakeAsyncExecutor(workers=2)
