"""The threads executor: a lean, elastic thread pool.

It does less than `concurrent.futures.ThreadPoolExecutor`, which is why it is
faster: no Condition per future, and work is handed over through one C-level
`SimpleQueue`. It is elastic because forkjoin tasks may wait on each other: when a
call is submitted and no thread is idle, a new thread starts, so a call never waits
behind a task blocked in `fetch`. The session's concurrency bound, not the thread
count, decides how many calls run at once.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any

from forkjoin.errors import Cancelled

__all__ = ["ThreadExecutor"]

_QUEUED, _RUNNING, _DONE, _CANCELLED = range(4)
# Guards callback registration against completion; held for a few bytecodes.
_callbacks_lock = threading.Lock()


class _Work:
    """One submitted call, and its future."""

    __slots__ = ("_callbacks", "_done_event", "_error", "_state", "_value", "args", "fn", "kwargs")

    def __init__(
        self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self._state = _QUEUED
        self._value: Any = None
        self._error: BaseException | None = None
        self._callbacks: list[Callable[[Any], object]] | None = None
        self._done_event: threading.Event | None = None

    def run(self) -> None:
        with _callbacks_lock:  # claimed in one step, or a cancel could claim it too
            if self._state != _QUEUED:
                return
            self._state = _RUNNING
        try:
            self._value = self.fn(*self.args, **self.kwargs)
        except BaseException as error:
            self._error = error
        self.fn = self.args = self.kwargs = None  # type: ignore[assignment]
        self._finish(_DONE)

    def _finish(self, state: int) -> None:
        with _callbacks_lock:
            self._state = state
            callbacks, self._callbacks = self._callbacks, None
            event = self._done_event
        if event is not None:
            event.set()
        if callbacks:
            for callback in callbacks:
                callback(self)

    def add_done_callback(self, fn: Callable[[Any], object], /) -> None:
        with _callbacks_lock:
            if self._state < _DONE:
                if self._callbacks is None:
                    self._callbacks = [fn]
                else:
                    self._callbacks.append(fn)
                return
        fn(self)

    def _wait(self, timeout: float | None) -> None:
        with _callbacks_lock:
            if self._state >= _DONE:
                return
            if self._done_event is None:
                self._done_event = threading.Event()
            event = self._done_event
        if not event.wait(timeout):
            raise TimeoutError(f"the call did not finish within {timeout} s")

    def result(self, timeout: float | None = None) -> Any:
        self._wait(timeout)
        if self._state == _CANCELLED:
            raise Cancelled("the call was cancelled before it started")
        if self._error is not None:
            raise self._error
        return self._value

    def exception(self, timeout: float | None = None) -> BaseException | None:
        self._wait(timeout)
        if self._state == _CANCELLED:
            return Cancelled("the call was cancelled before it started")
        return self._error

    def cancel(self) -> bool:
        """Cancel a call that has not started; a running thread cannot be stopped."""
        with _callbacks_lock:
            if self._state != _QUEUED:
                return self._state == _CANCELLED
            self._state = _RUNNING  # claimed: the worker will skip it
        self.fn = self.args = self.kwargs = None  # type: ignore[assignment]
        self._finish(_CANCELLED)
        return True

    def done(self) -> bool:
        return self._state >= _DONE


class ThreadExecutor:
    """Runs calls on threads of this process; `workers` is the default concurrency."""

    in_process = True

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or os.cpu_count() or 1
        if self.workers < 1:
            raise ValueError(f"workers must be 1 or more, not {workers}")
        self._queue: SimpleQueue[_Work | None] = SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0
        self._threads: list[threading.Thread] = []
        self._shut_down = False

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> _Work:
        work = _Work(fn, args, kwargs)
        with self._lock:
            if self._shut_down:
                raise RuntimeError("cannot submit to a thread executor that was shut down")
            # Each call either claims an idle thread or gets a new one, so it
            # never waits behind threads that are blocked.
            if self._idle:
                self._idle -= 1
            else:
                self._start_thread()
        self._queue.put(work)
        return work

    def _start_thread(self) -> None:
        thread = threading.Thread(
            target=self._work, name=f"forkjoin-{len(self._threads) + 1}", daemon=True
        )
        self._threads.append(thread)
        thread.start()

    def _work(self) -> None:
        queue = self._queue
        lock = self._lock
        while True:
            work = queue.get()
            if work is None:
                return
            work.run()
            del work  # drop the result before sleeping on the queue
            with lock:
                self._idle += 1

    def shutdown(self, *, wait: bool = True, cancel_pending: bool = False) -> None:
        with self._lock:
            if self._shut_down:
                return
            self._shut_down = True
            threads = list(self._threads)
        if cancel_pending:
            pending = []
            while not self._queue.empty():
                pending.append(self._queue.get_nowait())
            for work in pending:
                if work is not None:
                    work.cancel()
        for _ in threads:
            self._queue.put(None)
        if wait:
            current = threading.current_thread()
            for thread in threads:
                if thread is not current:
                    thread.join()
