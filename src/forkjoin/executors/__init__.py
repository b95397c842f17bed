"""Where a callable runs: inline, threads, processes, behind one small protocol.

Executors know nothing of the scheduler or the front ends. Heavy ones (processes,
and later Dask and Ray) are imported only when asked for by name.
"""

from __future__ import annotations

from typing import Any

from forkjoin.executors._inline import InlineExecutor
from forkjoin.executors._protocol import Executor, ExecutorFuture
from forkjoin.executors._threads import ThreadExecutor

__all__ = [
    "EXECUTOR_NAMES",
    "Executor",
    "ExecutorFuture",
    "InlineExecutor",
    "ThreadExecutor",
    "make_executor",
]

EXECUTOR_NAMES = ("inline", "threads", "processes")


def make_executor(spec: str | Any, workers: int | None = None) -> Any:
    """The executor named by `spec`, or `spec` itself if it is already an executor.

    Raises ValueError for an unknown name, and TypeError for an object that lacks
    `submit`, `workers` or `in_process`.
    """
    if not isinstance(spec, str):
        missing = [name for name in ("submit", "workers", "in_process") if not hasattr(spec, name)]
        if missing:
            raise TypeError(
                f"an executor needs {', '.join(missing)}; got {type(spec).__name__} "
                f"(pass one of {', '.join(map(repr, EXECUTOR_NAMES))} or an executor object)"
            )
        return spec
    if spec == "inline":
        if workers not in (None, 1):
            raise ValueError(f"the inline executor runs one call at a time, not {workers}")
        return InlineExecutor()
    if spec == "threads":
        return ThreadExecutor(workers)
    if spec == "processes":
        from forkjoin.executors._processes import ProcessExecutor

        return ProcessExecutor(workers)
    raise ValueError(
        f"unknown executor {spec!r}: use one of {', '.join(map(repr, EXECUTOR_NAMES))} "
        "or pass an executor object"
    )
