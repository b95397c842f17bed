"""Run calls in worker processes, one call per process, so a crash or a cancel stays local.

`ProcessExecutor` keeps up to `workers` processes, each with its own pipe and running
one call at a time. A worker that dies (a segfault, `os._exit`, the OOM killer, a
cancellation) takes down only the call it was running, and a fresh worker replaces it
when work is waiting. One dispatcher thread in the parent hands queued calls to idle
workers and collects what they send back. Calls and outcomes cross the pipes pickled
with cloudpickle, so lambdas and closures work.
"""

from __future__ import annotations

import atexit
import itertools
import logging
import multiprocessing
import multiprocessing.connection
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, Final

import cloudpickle

from forkjoin.errors import Cancelled, WorkerCrashed
from forkjoin.executors._process_worker import task_name, worker_main

__all__ = ["ProcessExecutor", "ProcessFuture", "kill_all_workers"]

_log = logging.getLogger(__name__)

# Workers fork from the forkserver, a clean single-threaded process, so threads of the
# parent (the dispatcher, the user's own) never leave a lock held in a child.
if sys.platform == "linux":
    _CONTEXT = multiprocessing.get_context("forkserver")
else:
    _CONTEXT = multiprocessing.get_context("spawn")

_PENDING: Final = 0
_RUNNING: Final = 1
_FINISHED: Final = 2
_CANCELLED: Final = 3

_REAP_SECONDS: Final = 2.0  # how long a killed worker may take to disappear
_EXIT_SECONDS: Final = 2.0  # how long an idle worker may take to exit once its pipe closes

_Callback = Callable[["ProcessFuture"], object]


class ProcessFuture:
    """The outcome of one call submitted to a `ProcessExecutor`.

    `result()` returns the call's value or raises its exception, with its type kept and
    the worker's traceback as its `__cause__`. A cancelled call raises `Cancelled`, a
    call whose worker died raises `WorkerCrashed`; `TimeoutError` means `timeout`
    seconds passed first.
    """

    __slots__ = (
        "_callbacks",
        "_done",
        "_error",
        "_executor",
        "_payload",
        "_state",
        "_value",
        "_worker",
        "task",
    )

    def __init__(self, executor: ProcessExecutor, task: str) -> None:
        self._executor = executor
        self.task = task
        self._payload: bytes | None = None
        self._state = _PENDING
        self._value: Any = None
        self._error: BaseException | None = None
        self._callbacks: list[_Callback] = []
        self._done = threading.Event()
        self._worker: _Worker | None = None

    def done(self) -> bool:
        """Whether the call has ended: finished, failed or cancelled."""
        return self._state >= _FINISHED

    def cancelled(self) -> bool:
        """Whether the call was cancelled."""
        return self._state == _CANCELLED

    def cancel(self) -> bool:
        """Stop the call: a queued one never starts, a running one has its worker killed.

        Returns once the killed worker is gone, true if the call is now cancelled and
        false if it had already finished. Done-callbacks run in this thread.
        """
        return self._executor._cancel(self)

    def add_done_callback(self, fn: _Callback, /) -> None:
        """Call `fn(self)` once the call has ended: now, in this thread, if it has.

        Otherwise from the dispatcher thread (or the thread that cancels). An exception
        from `fn` is logged and goes no further.
        """
        with self._executor._lock:
            if self._state < _FINISHED:
                self._callbacks.append(fn)
                return
        _run_callbacks(self, [fn])

    def result(self, timeout: float | None = None) -> Any:
        """Wait for the call and return its value, or raise its exception."""
        error = self.exception(timeout)
        if error is not None:
            raise error
        return self._value

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """Wait for the call and return its exception, or None if it returned a value."""
        if not self._done.wait(timeout):
            raise TimeoutError(f"task {self.task} did not finish within {timeout:g} s")
        if self._state == _CANCELLED:
            raise Cancelled(f"task {self.task} was cancelled", task=self.task)
        return self._error

    def _settle(
        self, state: int, value: Any = None, error: BaseException | None = None
    ) -> list[_Callback]:
        """Record the outcome and wake the waiters; the executor's lock is held.

        Returns the callbacks, for the caller to run once it has released the lock.
        """
        self._state, self._value, self._error = state, value, error
        self._payload = self._worker = None
        self._done.set()
        callbacks, self._callbacks = self._callbacks, []
        return callbacks


class _Worker:
    """One worker process, the parent's end of its pipe, and the call it is running."""

    __slots__ = ("connection", "future", "process", "stopping")

    def __init__(self, process: BaseProcess, connection: Connection) -> None:
        self.process = process
        self.connection = connection
        self.future: ProcessFuture | None = None
        # Set once the worker was killed or its pipe broke: from then on it is only
        # waited for, and whatever it still sends is ignored.
        self.stopping = False


class ProcessExecutor:
    """Runs each call in one of `workers` processes, started when work first arrives.

    Calls wait in a FIFO queue for an idle worker. A call whose worker dies fails with
    `WorkerCrashed` and the others go on. Use it as a context manager, or call
    `shutdown()`; at exit any workers left are killed.
    """

    in_process = False

    def __init__(self, workers: int | None = None) -> None:
        """Raises ValueError when `workers` is less than 1; None means one per CPU."""
        count = (os.cpu_count() or 1) if workers is None else workers
        if count < 1:
            raise ValueError(f"a ProcessExecutor needs at least 1 worker, not {count}")
        self.workers = count
        self._lock = threading.Lock()
        self._pending: deque[ProcessFuture] = deque()
        self._workers: list[_Worker] = []
        self._closed = False
        self._dispatcher: threading.Thread | None = None
        self._wake_reader: Connection | None = None
        self._wake_writer: Connection | None = None
        self._wake_pending = False
        self._names = itertools.count(1)

    def __enter__(self) -> ProcessExecutor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> ProcessFuture:
        """Queue `fn(*args, **kwargs)` to run in a worker process and return its future.

        A call that cannot be pickled gives a future failed with TypeError. Raises
        RuntimeError after `shutdown()`.
        """
        future = ProcessFuture(self, task_name(fn))
        try:
            future._payload = cloudpickle.dumps((fn, args, kwargs))
        except Exception as error:
            failure = TypeError(f"the call of task {future.task} cannot be pickled: {error}")
            failure.__cause__ = error
            future._settle(_FINISHED, error=failure)
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot submit to a ProcessExecutor that was shut down")
            if future._state == _PENDING:
                self._pending.append(future)
                if self._dispatcher is None:
                    self._start_dispatcher()
                self._wake()
        return future

    def shutdown(self, *, wait: bool = True, cancel_pending: bool = False) -> None:
        """Accept no more calls, then stop the workers and the dispatcher once idle.

        With `cancel_pending`, queued calls are cancelled; running calls always finish.
        With `wait`, returns once every worker has exited. Calling it again is harmless.
        """
        with self._lock:
            self._closed = True
            dropped = list(self._pending) if cancel_pending else []
            if cancel_pending:
                self._pending.clear()
            settled = [(future, future._settle(_CANCELLED)) for future in dropped]
            self._wake()
            dispatcher = self._dispatcher
        for future, callbacks in settled:
            _run_callbacks(future, callbacks)
        if wait and dispatcher is not None and dispatcher is not threading.current_thread():
            dispatcher.join()

    def _start_dispatcher(self) -> None:
        """Start the dispatcher thread and its wakeup pipe; the lock is held."""
        self._wake_reader, self._wake_writer = _CONTEXT.Pipe(duplex=False)
        self._dispatcher = threading.Thread(
            target=self._dispatch, name="forkjoin-process-dispatcher", daemon=True
        )
        self._dispatcher.start()
        with _registry_lock:
            _live_executors.add(self)

    def _wake(self) -> None:
        """Make the dispatcher look at the queue again; the lock is held."""
        # One message at most is ever in flight, so this write never blocks.
        if not self._wake_pending and self._wake_writer is not None:
            self._wake_pending = True
            self._wake_writer.send_bytes(b"")

    def _cancel(self, future: ProcessFuture) -> bool:
        with self._lock:
            if future._state >= _FINISHED:
                return future._state == _CANCELLED
            worker = future._worker
            if future._state == _PENDING:
                self._pending.remove(future)
            elif worker is not None:
                worker.stopping = True
                worker.future = None
                worker.process.kill()
            callbacks = future._settle(_CANCELLED)
        if worker is not None:
            # Return once the process is gone, so what the call held (files, locks,
            # memory) is released; the dispatcher reaps it and starts a replacement.
            _wait_all([worker.process.sentinel], _REAP_SECONDS)
        _run_callbacks(future, callbacks)
        return True

    def _dispatch(self) -> None:
        """The dispatcher thread: start workers, hand out calls, collect outcomes."""
        failure: BaseException | None = None
        try:
            while self._step():
                pass
        except BaseException as error:
            failure = error
            raise
        finally:
            self._stop_workers(failure)

    def _step(self) -> bool:
        """Start calls, wait for something to happen, and handle it; false when done."""
        with self._lock:
            idle = sum(w.future is None and not w.stopping for w in self._workers)
            live = sum(not w.stopping for w in self._workers)
            wanted = min(self.workers - live, len(self._pending) - idle)
        started = [self._start_worker() for _ in range(wanted)]
        sends: list[tuple[_Worker, bytes]] = []
        with self._lock:
            self._workers.extend(started)
            for worker in self._workers:
                if self._pending and worker.future is None and not worker.stopping:
                    future = worker.future = self._pending.popleft()
                    future._state, future._worker = _RUNNING, worker
                    assert future._payload is not None
                    sends.append((worker, future._payload))
                    future._payload = None
            if self._closed and not self._pending and all(w.future is None for w in self._workers):
                return False
            workers = list(self._workers)
        for worker, payload in sends:
            try:
                worker.connection.send_bytes(payload)
            except OSError:
                worker.stopping = True  # it died: its sentinel will say how
        watched: list[Connection | int] = [w.process.sentinel for w in workers]
        watched += [w.connection for w in workers if not w.stopping]
        assert self._wake_reader is not None
        watched.append(self._wake_reader)
        ready = set(multiprocessing.connection.wait(watched))
        if self._wake_reader in ready:
            with self._lock:
                self._wake_reader.recv_bytes()
                self._wake_pending = False
        for worker in workers:
            if worker.connection in ready and not worker.stopping:
                self._receive(worker)
            if worker.process.sentinel in ready:
                self._reap(worker)
        return True

    def _start_worker(self) -> _Worker:
        parent_end, child_end = _CONTEXT.Pipe(duplex=True)
        # Not a daemon: a daemonic process may not start processes, and a task may
        # use forkjoin (or multiprocessing) itself.
        name = f"forkjoin-worker-{next(self._names)}"
        process = _CONTEXT.Process(target=worker_main, args=(child_end, os.getpid()), name=name)
        process.start()
        child_end.close()  # so the parent sees EOF when the worker dies
        return _Worker(process, parent_end)

    def _receive(self, worker: _Worker) -> None:
        """Read a worker's outcome and settle its call, unless it was cancelled meanwhile."""
        try:
            data = worker.connection.recv_bytes()
        except (EOFError, OSError):
            worker.stopping = True  # it died: its sentinel will say how
            return
        # Only this thread assigns worker.future; cancel() may clear it meanwhile, hence
        # the check under the lock before settling.
        future = worker.future
        value, error = _unpickle_outcome(data, future.task if future else "?")
        with self._lock:
            if future is None or worker.future is not future:
                return
            worker.future = None
            callbacks = future._settle(_FINISHED, value, error)
        _run_callbacks(future, callbacks)

    def _reap(self, worker: _Worker) -> None:
        """Forget a worker that has exited; its running call, if any, crashed."""
        if not worker.stopping and worker.connection.poll():
            self._receive(worker)  # an outcome it sent just before it died
        worker.process.join()
        worker.connection.close()
        with self._lock:
            self._workers.remove(worker)
            future, worker.future = worker.future, None
            if future is None:
                return
            crash = WorkerCrashed(future.task, worker.process.exitcode)
            callbacks = future._settle(_FINISHED, error=crash)
        _run_callbacks(future, callbacks)

    def _stop_workers(self, failure: BaseException | None) -> None:
        """Close every pipe, let the workers exit, kill the slow ones; ends the dispatcher.

        Calls still open (only if the dispatcher itself failed) fail with RuntimeError.
        """
        with self._lock:
            self._closed = True
            workers, self._workers = self._workers, []
            orphans = list(self._pending) + [w.future for w in workers if w.future is not None]
            self._pending.clear()
            error = RuntimeError("the dispatcher of a ProcessExecutor failed")
            error.__cause__ = failure
            settled = [(future, future._settle(_FINISHED, error=error)) for future in orphans]
            readers = (self._wake_reader, self._wake_writer)
            self._wake_reader = self._wake_writer = None
        for worker in workers:
            worker.connection.close()  # an idle worker reads EOF and returns
        _wait_all([w.process.sentinel for w in workers], _EXIT_SECONDS)
        for worker in workers:
            if worker.process.exitcode is None:  # else its pid may already be another's
                worker.process.kill()
            worker.process.join()
        for end in readers:
            if end is not None:
                end.close()
        with _registry_lock:
            _live_executors.discard(self)
        for future, callbacks in settled:
            _run_callbacks(future, callbacks)

    def _kill_workers(self) -> None:
        """Cancel every call, killing the busy workers; the dispatcher then stops the rest."""
        self.shutdown(wait=False, cancel_pending=True)
        with self._lock:
            running = [w.future for w in self._workers if w.future is not None]
        for future in running:
            future.cancel()


def _run_callbacks(future: ProcessFuture, callbacks: list[_Callback]) -> None:
    for fn in callbacks:
        try:
            fn(future)
        except Exception:
            # A broken callback must not stop the dispatcher thread, which serves all calls.
            _log.exception("a done callback of task %s raised", future.task)


def _wait_all(sentinels: Iterable[int], seconds: float) -> None:
    """Wait until every process sentinel is ready, or `seconds` have passed."""
    remaining = set(sentinels)
    deadline = time.monotonic() + seconds
    while remaining and (left := deadline - time.monotonic()) > 0:
        remaining.difference_update(multiprocessing.connection.wait(list(remaining), left))


class _RemoteTraceback(Exception):
    """Set as the `__cause__` of an exception from a worker: its traceback over there."""

    def __str__(self) -> str:
        return f'\n"""\n{self.args[0]}"""'


def _unpickle_outcome(data: bytes, task: str) -> tuple[Any, BaseException | None]:
    """Turn a worker's message into (value, None) or (None, the call's exception)."""
    try:
        succeeded, value, remote_traceback = cloudpickle.loads(data)
    except Exception as error:
        failure = TypeError(f"the outcome of task {task} cannot be unpickled here: {error!r}")
        failure.__cause__ = error
        return None, failure
    if succeeded:
        return value, None
    value.__cause__ = _RemoteTraceback(remote_traceback)
    return None, value


# -- at exit ------------------------------------------------------------------------------

_registry_lock = threading.Lock()
_live_executors: set[ProcessExecutor] = set()


def kill_all_workers() -> None:
    """Kill the workers of every executor of this process that was not shut down."""
    with _registry_lock:
        executors = list(_live_executors)
    for executor in executors:
        executor._kill_workers()


# Registered after multiprocessing's own exit hook, so it runs before that hook joins
# the (non-daemon) workers, which would otherwise wait forever for their pipes to close.
atexit.register(kill_all_workers)
