"""Run calls as Ray tasks: on a running Ray cluster, or on a local Ray instance of our own.

`ray` is imported only when a `RayExecutor` is made. Each call becomes a task with
two returns: a small status that tells this process the call has ended (and how),
and the value, which stays in Ray's object store (`keeps_results`) until someone
reads it. Ray's own retries are off: forkjoin's retries, timeouts and
cancellation decide.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any

from forkjoin.errors import Cancelled, WorkerCrashed
from forkjoin.executors._callbacks import CallbackThread

__all__ = ["RayExecutor", "RayFuture"]

# As for Dask: calls kept in flight per CPU, so no CPU idles while a finished
# call's news comes back (see executors/_dask.py).
CALLS_PER_CPU = 10_000
_REMOTE_CACHE_SIZE = 1024  # remote wrappers kept, one per function


class RayFuture:
    """A Ray task seen through the executor protocol.

    `handle` is the ObjectRef of the value, which later calls on the same
    executor receive in its place; `result()` brings the value here. Callbacks
    run on the executor's callback thread, never on Ray's own threads.
    """

    __slots__ = ("_executor", "_status", "handle", "task")

    def __init__(self, executor: RayExecutor, status: Any, handle: Any, task: str) -> None:
        self._executor = executor
        self._status = status.future()  # a concurrent.futures.Future of the small status
        self.handle = handle
        self.task = task

    def add_done_callback(self, fn: Callable[[Any], object], /) -> None:
        callbacks = self._executor._callbacks
        self._status.add_done_callback(lambda _status: callbacks.put((fn, self)))

    def done(self) -> bool:
        return bool(self._status.done())

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """The call's own error, `WorkerCrashed` if its worker died, or None.

        Raises `Cancelled` if the call was cancelled, TimeoutError if it has not
        ended within `timeout`.
        """
        import concurrent.futures

        try:
            error = self._status.exception(timeout)
        except concurrent.futures.TimeoutError:
            raise TimeoutError(f"task {self.task} did not finish within {timeout} s") from None
        except concurrent.futures.CancelledError as cancelled:
            raise Cancelled(f"task {self.task} was cancelled", task=self.task) from cancelled
        return None if error is None else _translate(error, self.task)

    def result(self, timeout: float | None = None) -> Any:
        """Bring the call's value here, or raise its error (see `exception`)."""
        import ray

        error = self.exception(timeout)
        if error is not None:
            raise error
        return ray.get(self.handle, timeout=timeout)

    def cancel(self) -> bool:
        """Stop the call: a queued one never starts, a running one's worker is killed."""
        import ray

        if self._status.done():
            return False
        with contextlib.suppress(Exception):  # it ended meanwhile
            ray.cancel(self.handle, force=True)
        return True


def _translate(error: BaseException, task: str) -> BaseException:
    """The task's own error, its Ray traceback as `__cause__`; a lost worker as
    `WorkerCrashed`, a cancelled task as `Cancelled`."""
    import ray.exceptions

    if isinstance(error, ray.exceptions.RayTaskError):
        cause = error.cause
        if isinstance(cause, BaseException):
            # Ray's error subclasses the original type, but its text is Ray's whole
            # traceback; the user's own exception reads as they raised it.
            cause.__cause__ = error
            return cause
        return error
    if isinstance(error, ray.exceptions.TaskCancelledError):
        return Cancelled(f"task {task} was cancelled", task=task)
    lost = (
        ray.exceptions.WorkerCrashedError,
        ray.exceptions.NodeDiedError,
        ray.exceptions.RayActorError,
        ray.exceptions.LocalRayletDiedError,
    )
    if isinstance(error, lost):
        crash = WorkerCrashed(task, None)
        crash.args = (f"the Ray worker running task {task} died ({type(error).__name__})",)
        crash.__cause__ = error
        return crash
    return error


def _resolve_nested(value: Any) -> Any:
    """A copy of `value` with ObjectRefs inside lists, tuples and dicts fetched here,
    on the worker: Ray resolves only the refs passed as arguments themselves."""
    import ray

    if isinstance(value, ray.ObjectRef):
        return ray.get(value)
    if type(value) in (list, tuple):
        return type(value)(_resolve_nested(item) for item in value)
    if type(value) is dict:
        return {key: _resolve_nested(item) for key, item in value.items()}
    return value


def _has_nested_ref(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    import ray

    def inside(value: Any) -> bool:
        if type(value) in (list, tuple):
            return any(isinstance(item, ray.ObjectRef) or inside(item) for item in value)
        if type(value) is dict:
            return any(isinstance(item, ray.ObjectRef) or inside(item) for item in value.values())
        return False

    return any(inside(value) for value in (*args, *kwargs.values()))


def _wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` as the body of a two-return Ray task: (None, value)."""

    def run(nested: bool, *args: Any, **kwargs: Any) -> tuple[None, Any]:
        if nested:
            args, kwargs = _resolve_nested(args), _resolve_nested(kwargs)
        return None, fn(*args, **kwargs)

    name = getattr(fn, "__name__", None) or type(fn).__name__
    run.__name__ = run.__qualname__ = str(name)
    return run


@contextlib.contextmanager
def _loopback_only() -> Iterator[None]:
    """While a local Ray starts: keep 127.0.0.1 as its address, so that its servers
    listen on the loopback only. Ray otherwise swaps it for the machine's reachable
    address, on purpose, for clusters that span machines."""
    from ray._private import services

    original = services.resolve_ip_for_localhost, services.get_node_ip_address
    services.resolve_ip_for_localhost = lambda host: host
    services.get_node_ip_address = lambda address=None: "127.0.0.1"
    try:
        yield
    finally:
        services.resolve_ip_for_localhost, services.get_node_ip_address = original


class RayExecutor:
    """Runs calls as Ray tasks.

    With `address` ("ray://host:10001", "host:6379" or "auto") it joins a running
    cluster, and `workers` defaults to the CPUs the cluster has. Without, it starts
    a local Ray instance of `workers` CPUs on 127.0.0.1 (default: the CPU count),
    which `shutdown` stops. If Ray is already initialized in this process, that
    instance is used and left running. Raises ImportError, with the install
    command, when Ray is missing.
    """

    in_process = False
    keeps_results = True

    def __init__(self, address: str | None = None, workers: int | None = None) -> None:
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be 1 or more, not {workers}")
        try:
            import ray
        except ImportError as error:
            raise ImportError('the ray executor needs Ray: pip install "forkjoin[ray]"') from error
        self.address = address
        self._started = False
        if not ray.is_initialized():
            options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": True}
            if address is None:
                with _loopback_only():
                    ray.init(
                        num_cpus=workers or os.cpu_count() or 1,
                        _node_ip_address="127.0.0.1",
                        **options,
                    )
            else:
                ray.init(address=address, **options)
            self._started = True
        resources: Any = ray.cluster_resources
        self.workers = workers or max(int(resources().get("CPU", 1)), 1)
        self._remotes: dict[Any, Any] = {}
        self._callback_thread = CallbackThread("forkjoin-ray-callbacks")
        self._callbacks = self._callback_thread.queue
        self._closed = False

    @property
    def default_concurrency(self) -> int:
        return self.workers * CALLS_PER_CPU

    def _remote_for(self, fn: Callable[..., Any]) -> Any:
        import ray

        # Two returns, the status and the value; no retries of Ray's own.
        as_task: Any = ray.remote(num_returns=2, max_retries=0)
        try:
            remote = self._remotes.get(fn)
        except TypeError:  # an unhashable callable: wrap it each time
            return as_task(_wrap(fn))
        if remote is None:
            if len(self._remotes) >= _REMOTE_CACHE_SIZE:
                self._remotes.clear()
            remote = self._remotes[fn] = as_task(_wrap(fn))
        return remote

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> RayFuture:
        """Start `fn(*args, **kwargs)` as a Ray task; ObjectRefs among the arguments
        (also inside lists, tuples and dicts) arrive as their values."""
        if self._closed:
            raise RuntimeError("cannot submit to a RayExecutor that was shut down")
        nested = _has_nested_ref(args, kwargs)
        status, handle = self._remote_for(fn).remote(nested, *args, **kwargs)
        name = getattr(fn, "__name__", None) or type(fn).__name__
        return RayFuture(self, status, handle, str(name))

    def gather(self, futures: list[RayFuture]) -> list[Any]:
        """The values of many finished calls, brought here in one batch."""
        import ray

        return list(ray.get([future.handle for future in futures]))

    def shutdown(self, *, wait: bool = True, cancel_pending: bool = False) -> None:
        """Stop the callback thread, and Ray itself if this executor started it."""
        if self._closed:
            return
        self._closed = True
        self._callback_thread.stop(wait=wait)
        self._remotes.clear()
        if self._started:
            import ray

            ray.shutdown()

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()
