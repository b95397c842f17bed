"""Where a callable runs: inline, threads, processes, Dask, Ray, behind one small protocol.

Executors know nothing of the scheduler or the front ends. Heavy ones (processes,
Dask and Ray) are imported only when asked for by name.
"""

from __future__ import annotations

from typing import Any

from forkjoin.executors._inline import InlineExecutor
from forkjoin.executors._protocol import Executor, ExecutorFuture
from forkjoin.executors._threads import ThreadExecutor

__all__ = [
    "CLUSTER_EXECUTORS",
    "EXECUTOR_NAMES",
    "Executor",
    "ExecutorFuture",
    "InlineExecutor",
    "ThreadExecutor",
    "make_executor",
]

EXECUTOR_NAMES = ("inline", "threads", "processes", "dask", "ray")
# The executors that run on a cluster, and so may be given its address.
CLUSTER_EXECUTORS = ("dask", "ray")


def make_executor(spec: str | Any, workers: int | None = None, address: str | None = None) -> Any:
    """The executor named by `spec`, or `spec` itself if it is already an executor.

    `address` is the cluster to connect to, for "dask" and "ray" only; without one
    they start a local cluster of `workers`. Raises ValueError for an unknown name
    or an address given to a local executor, TypeError for an object that lacks
    `submit`, `workers` or `in_process`, and ImportError, naming the extra to
    install, when Dask or Ray is missing.
    """
    if address is not None and spec not in CLUSTER_EXECUTORS:
        shown = spec if isinstance(spec, str) else type(spec).__name__
        raise ValueError(
            f"an address is for the {' and '.join(CLUSTER_EXECUTORS)} executors, not {shown!r}"
        )
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
    if spec == "dask":
        from forkjoin.executors._dask import DaskExecutor

        return DaskExecutor(address, workers)
    if spec == "ray":
        from forkjoin.executors._ray import RayExecutor

        return RayExecutor(address, workers)
    raise ValueError(
        f"unknown executor {spec!r}: use one of {', '.join(map(repr, EXECUTOR_NAMES))} "
        "or pass an executor object"
    )
