"""The small protocol every executor fits: submit a callable, get a future back.

It is the subset of `concurrent.futures` that Dask's futures and Ray's
`ObjectRef.future()` already speak, so a cluster executor is an adapter, not a rewrite.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

__all__ = ["Executor", "ExecutorFuture"]


@runtime_checkable
class ExecutorFuture(Protocol):
    """The handle `Executor.submit` returns.

    `add_done_callback(fn)` calls `fn(future)` exactly once when the call has ended
    (at once if it already has), from any thread. `cancel()` stops the call if it can:
    a queued call never starts, a running one is stopped where the executor is able
    to (the processes executor kills the worker); it returns whether it succeeded.
    A cancelled future's `result()` raises `forkjoin.errors.Cancelled`.
    """

    def add_done_callback(self, fn: Callable[[Any], object], /) -> None: ...

    def result(self, timeout: float | None = None) -> Any: ...

    def exception(self, timeout: float | None = None) -> BaseException | None: ...

    def cancel(self) -> bool: ...


@runtime_checkable
class Executor(Protocol):
    """Where a callable runs.

    `workers` is how many calls it runs at once, and the default concurrency of a
    session on it. `in_process` is true when calls run in this very process (inline,
    threads): then a running task may spawn and fetch other tasks of its session.
    `shutdown()` releases threads and processes; with `cancel_pending`, calls that
    have not started never will. An executor may also set `runs_in_caller = True`
    when `submit` runs the call before returning (inline): the engine then pulls
    work onto the waiting thread rather than pushing it.

    A cluster executor (Dask, Ray) may also set:

    - `default_concurrency`: how many calls a session keeps submitted when not
      told (more than `workers`, so the cluster's queue never runs dry while a
      finished call's news travels back);
    - `keeps_results = True`: values stay on the cluster. The engine then never
      calls `result()` unless someone reads the value; a later `submit` gets the
      future's `handle` in place of the value (also inside lists, tuples and
      dicts) and the cluster resolves it there. It may offer `gather(futures)`,
      the values of many finished futures in one batch, which `fetch` of a
      collection uses.
    """

    workers: int
    in_process: bool

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> ExecutorFuture: ...

    def shutdown(self, *, wait: bool = True, cancel_pending: bool = False) -> None: ...
