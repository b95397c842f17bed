"""The Python task front end: spawn/fetch, delayed/compute, map, parallel, sessions
and options."""

from forkjoin.tasks._api import TaskFunction, as_completed, fetch, spawn, task, wait
from forkjoin.tasks._lazy import Delayed, Lazy, compute, delayed
from forkjoin.tasks._map import Outcome, map
from forkjoin.tasks._parallel import item_span, parallel, split
from forkjoin.tasks._session import Session, current_session, options
from forkjoin.tasks._task import Task

__all__ = [
    "Delayed",
    "Lazy",
    "Outcome",
    "Session",
    "Task",
    "TaskFunction",
    "as_completed",
    "compute",
    "current_session",
    "delayed",
    "fetch",
    "item_span",
    "map",
    "options",
    "parallel",
    "spawn",
    "split",
    "task",
    "wait",
]
