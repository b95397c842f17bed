"""forkjoin: run work as a graph, in parallel, and get faster with every run.

import forkjoin as fj

p = fj.spawn(add1, 4)
q = fj.spawn(add2, p)          # waits for p, gets its value
fj.fetch(q)
"""

from forkjoin.errors import Cancelled, CycleError, ForkjoinError, TaskTimeout
from forkjoin.tasks import (
    Lazy,
    Outcome,
    Session,
    Task,
    as_completed,
    compute,
    delayed,
    fetch,
    map,
    options,
    spawn,
    task,
    wait,
)

__version__ = "0.1.0"

__all__ = [
    "Cancelled",
    "CycleError",
    "ForkjoinError",
    "Lazy",
    "Outcome",
    "Session",
    "Task",
    "TaskTimeout",
    "as_completed",
    "compute",
    "delayed",
    "fetch",
    "map",
    "options",
    "spawn",
    "task",
    "wait",
]
