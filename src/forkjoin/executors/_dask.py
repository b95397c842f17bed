"""Run calls on a Dask distributed cluster: a running scheduler, or a LocalCluster of our own.

`distributed` is imported only when a `DaskExecutor` is made. forkjoin keeps its
own ready queue, priorities, retries and timeouts; Dask only places each submitted
call on a worker. Results stay on the workers (`keeps_results`): a call that needs
another's value gets its Dask future, and the value reaches this process only when
someone reads it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from typing import Any

from forkjoin.errors import Cancelled, WorkerCrashed

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


class DaskFuture:
    """A Dask future seen through the executor protocol.

    `result()` gathers the value to this process; `handle` is the Dask future
    itself, which a later `submit` to the same executor passes on so the value
    moves between workers only. Completion callbacks run on Dask's callback
    thread, never on its event loop.
    """

    __slots__ = ("handle", "task")

    def __init__(self, handle: Any, task: str) -> None:
        self.handle = handle
        self.task = task

    def add_done_callback(self, fn: Callable[[Any], object], /) -> None:
        self.handle.add_done_callback(lambda _handle: fn(self))

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

    def _count_threads(self) -> int:
        threads = self._threads()
        if threads == 0:
            self.client.wait_for_workers(1, timeout=_FIRST_WORKER_SECONDS)
            threads = self._threads()
        return max(threads, 1)

    def _threads(self) -> int:
        workers = self.client.scheduler_info()["workers"].values()
        return sum(int(worker["nthreads"]) for worker in workers)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> DaskFuture:
        """Send `fn(*args, **kwargs)` to the cluster; Dask futures among the arguments
        (also inside lists, tuples and dicts) arrive as their values."""
        name = str(getattr(fn, "__name__", None) or type(fn).__name__)
        key = f"{name}-{uuid.uuid4().hex}"
        if kwargs:
            handle = self.client.submit(_call_with_keywords, fn, kwargs, *args, key=key, pure=False)
        else:
            handle = self.client.submit(fn, *args, key=key, pure=False)
        return DaskFuture(handle, name)

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
            if self._cluster is not None:
                self._cluster.close()
                self._cluster = None

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()
