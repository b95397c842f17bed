"""Run calls on a Dask distributed cluster: a running scheduler, or a LocalCluster of our own.

`distributed` is imported only when a `DaskExecutor` is made. forkjoin keeps its
own ready queue, priorities, retries and timeouts; Dask only places each submitted
call on a worker. Results stay on the workers (`keeps_results`): a call that needs
another's value gets its Dask future, and the value reaches this process only when
someone reads it.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import deque
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any

from forkjoin.errors import Cancelled, WorkerCrashed
from forkjoin.executors._callbacks import CallbackThread, Completion

__all__ = ["DaskExecutor", "DaskFuture"]

# Calls a session keeps on the cluster per worker thread, unless told otherwise. A
# finished call's news takes milliseconds to come back, and a worker must not idle
# meanwhile; and Dask handles a steady trickle of single submissions worse than a
# burst. So the bound is loose: ready tasks go to the cluster, which queues them.
# Measured in benchmarks/bench_cluster.py (docs/executors.md).
CALLS_PER_THREAD = 10_000
# How long to wait for the first worker of a cluster we connect to, when `workers`
# is not given and must be counted.
_FIRST_WORKER_SECONDS = 60.0
# How often our client may send a batch to the scheduler; Dask's own is 10 ms. Down
# a chain, each link's submission waits for the next batch (the last one left
# less than 10 ms before), so a link cost 10 ms where Dask alone, which chains
# on the scheduler, takes 5-6. The scheduler streams to clients every 2 ms; at
# that, a burst of 2,000 submissions is no slower (benchmarks/bench_cluster.py).
_SEND_INTERVAL_SECONDS = 0.002


class DaskFuture:
    """A Dask future seen through the executor protocol.

    `result()` gathers the value to this process; `handle` is the Dask future
    itself, which a later `submit` to the same executor passes on so the value
    moves between workers only. Completion callbacks run on the executor's
    callback thread, never on Dask's event loop.
    """

    __slots__ = ("_executor", "handle", "task")

    def __init__(self, executor: DaskExecutor, handle: Any, task: str) -> None:
        self._executor = executor
        self.handle = handle
        self.task = task

    def add_done_callback(self, fn: Callable[[Any], object], /) -> None:
        self._executor._watch((fn, self))

    def done(self) -> bool:
        return bool(self.handle.done())

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """The call's error, or None if it succeeded.

        A worker lost under the call is `WorkerCrashed`; raises `Cancelled` if
        the call was cancelled, TimeoutError if it has not ended in `timeout`.
        """
        handle = self.handle
        if handle.status == "pending":
            wait: Any = _distributed().wait
            wait([handle], timeout=timeout)
            if handle.status == "pending":
                raise TimeoutError(f"task {self.task} did not finish within {timeout} s")
        status = handle.status
        if status == "finished":
            return None
        if status == "cancelled":
            raise Cancelled(f"task {self.task} was cancelled", task=self.task)
        if status != "error":  # "lost": its result's worker left, Dask recomputes it
            return None
        return _translate(handle.exception(), handle, self.task)

    def result(self, timeout: float | None = None) -> Any:
        """Gather the call's value here, or raise its error (see `exception`)."""
        error = self.exception(timeout)
        if error is not None:
            raise error
        return self.handle.result(timeout)

    def cancel(self) -> bool:
        """Tell Dask to forget the call: a queued one never starts, a running one's
        result is dropped (Dask cannot stop a running thread)."""
        if self.handle.done():
            return bool(self.handle.status == "cancelled")
        self.handle.cancel()
        return True


def _translate(error: BaseException, handle: Any, task: str) -> BaseException:
    """A task's own error as it is, with its worker's traceback; a lost worker as
    `WorkerCrashed`."""
    from distributed.scheduler import KilledWorker

    if isinstance(error, KilledWorker):
        crash = WorkerCrashed(task, None)
        crash.args = (f"the Dask worker running task {task} died ({error.last_worker})",)
        crash.__cause__ = error
        return crash
    traceback = handle.traceback()
    if traceback is not None and error.__traceback__ is None:
        error.__traceback__ = traceback
    return error


class _DoneEvent(asyncio.Event):
    """The event of a Dask future's state that also hands its completion over.

    Dask's own `add_done_callback` costs, per future, a coroutine and a task on
    the client's event loop (which, with a LocalCluster, also runs the
    scheduler) and a hop through a thread pool: it was most of what forkjoin
    added to Dask's cost per task. Dask sets this event, on its loop, when the
    future finishes, errs or is cancelled; setting it only puts the completion
    on the executor's queue. Measured in benchmarks/bench_cluster.py.
    """

    def __init__(self, completions: SimpleQueue[Completion | None], item: Completion) -> None:
        super().__init__()
        self._completions = completions
        self._item: Completion | None = item

    def set(self) -> None:
        super().set()
        item, self._item = self._item, None  # once; and no cycle kept through the future
        if item is not None:
            self._completions.put(item)


def _distributed() -> Any:
    """The `distributed` module (untyped, hence Any); ImportError naming the extra."""
    try:
        import distributed
    except ImportError as error:
        raise ImportError(
            'the dask executor needs dask\'s distributed scheduler: pip install "forkjoin[dask]"'
        ) from error
    return distributed


def _call_with_keywords(fn: Callable[..., Any], keywords: dict[str, Any], *args: Any) -> Any:
    # Keywords travel as one dict, so a task's `key=` or `workers=` cannot collide
    # with `Client.submit`'s own; Dask still finds the futures inside it.
    return fn(*args, **keywords)


class DaskExecutor:
    """Runs calls on a Dask cluster, through a `distributed.Client` of its own.

    With `address` ("tcp://host:8786") it connects to a running scheduler; `workers`
    then defaults to the threads the cluster has when it connects. Without, it
    starts a `LocalCluster` of `workers` single-threaded processes on 127.0.0.1
    (default: the CPU count), where a worker lost mid-task fails that task at once
    rather than after Dask's own retries, and `shutdown` closes it.
    Raises ImportError, with the install command, when `distributed` is missing.
    """

    in_process = False
    keeps_results = True

    @property
    def default_concurrency(self) -> int:
        return self.workers * CALLS_PER_THREAD

    def __init__(self, address: str | None = None, workers: int | None = None) -> None:
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be 1 or more, not {workers}")
        distributed = _distributed()
        import dask

        self.address = address
        self._cluster: Any = None
        if address is None:
            count = workers or os.cpu_count() or 1
            # A lost worker is forkjoin's to retry, task by task, under its own policy.
            with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
                self._cluster = distributed.LocalCluster(
                    n_workers=count,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=None,
                    # No dashboard; its health and metrics server on a free port
                    # of 127.0.0.1, not on 8787, which another cluster may hold.
                    scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
                )
            try:
                self.client: Any = distributed.Client(self._cluster, set_as_default=False)
            except BaseException:
                self._cluster.close()
                raise
            self.workers = count
        else:
            self.client = distributed.Client(address, set_as_default=False)
            self.workers = workers or self._count_threads()
        stream = getattr(self.client, "scheduler_comm", None)
        if stream is not None and hasattr(stream, "interval"):
            stream.interval = _SEND_INTERVAL_SECONDS
        # Finished calls' callbacks run there, one at a time, off Dask's event loop.
        self._callback_thread = CallbackThread("forkjoin-dask-callbacks")
        self._completions = self._callback_thread.queue
        # Futures whose completion is still to be watched, handed to the loop in
        # batches: a burst of submissions costs one wake-up of the loop, not one each.
        self._unwatched: deque[Completion] = deque()
        self._watching_scheduled = False
        # False once a future's state lacks the event `_DoneEvent` replaces (a Dask
        # that changed it): completions then go through Dask's add_done_callback.
        self._events_replaceable = True

    def _count_threads(self) -> int:
        threads = self._threads()
        if threads == 0:
            self.client.wait_for_workers(1, timeout=_FIRST_WORKER_SECONDS)
            threads = self._threads()
        return max(threads, 1)

    def _threads(self) -> int:
        workers = self.client.scheduler_info()["workers"].values()
        return sum(int(worker["nthreads"]) for worker in workers)

    def _watch(self, item: Completion) -> None:
        """Have `item`'s callback called, on the callback thread, once its future ends."""
        if not self._events_replaceable:
            fn, future = item
            completions = self._completions
            future.handle.add_done_callback(lambda _handle: completions.put((fn, future)))
            return
        self._unwatched.append(item)
        # The loop clears the flag before it drains, so an item appended meanwhile
        # is drained now or by the callback scheduled here.
        if not self._watching_scheduled:
            self._watching_scheduled = True
            self.client.loop.add_callback(self._watch_on_loop)

    def _watch_on_loop(self) -> None:
        # On Dask's event loop, the only thread that touches a future's state: so
        # the event is replaced before anything can set it, never after.
        self._watching_scheduled = False
        unwatched = self._unwatched
        completions = self._completions
        while unwatched:
            item = unwatched.popleft()
            handle = item[1].handle
            state = getattr(handle, "_state", None)
            event: Any = getattr(state, "_event", False)
            if event is None:
                state._event = _DoneEvent(completions, item)  # type: ignore[union-attr]
            elif event is not False and event.is_set():
                completions.put(item)
            else:  # awaited already (an event of Dask's own), or a Dask unlike this one
                if event is False:
                    self._events_replaceable = False
                handle.add_done_callback(lambda _handle, item=item: completions.put(item))

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> DaskFuture:
        """Send `fn(*args, **kwargs)` to the cluster; Dask futures among the arguments
        (also inside lists, tuples and dicts) arrive as their values."""
        name = str(getattr(fn, "__name__", None) or type(fn).__name__)
        key = f"{name}-{uuid.uuid4().hex}"
        if kwargs:
            handle = self.client.submit(_call_with_keywords, fn, kwargs, *args, key=key, pure=False)
        else:
            handle = self.client.submit(fn, *args, key=key, pure=False)
        return DaskFuture(self, handle, name)

    def gather(self, futures: list[DaskFuture]) -> list[Any]:
        """The values of many finished calls, brought here in one batch."""
        return list(self.client.gather([future.handle for future in futures]))

    def shutdown(self, *, wait: bool = True, cancel_pending: bool = False) -> None:
        """Close the client, and the LocalCluster if this executor started it.

        Calls still on the cluster are forgotten by it when the client leaves.
        """
        client, self.client = self.client, None
        if client is None:
            return
        try:
            client.close()
        finally:
            # After the client: closing it cancels what is left, whose callbacks
            # must still run.
            self._callback_thread.stop(wait=wait)
            if self._cluster is not None:
                self._cluster.close()
                self._cluster = None

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()
