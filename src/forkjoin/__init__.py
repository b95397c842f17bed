"""forkjoin: run work as a graph, in parallel, and get faster with every run.

    import forkjoin as fj

    p = fj.spawn(add1, 4)
    q = fj.spawn(add2, p)          # waits for p, gets its value
    fj.fetch(q)

The public names load on first use (PEP 562), so `import forkjoin` and the
`forkjoin` command start fast; after the first use they are plain attributes.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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
    "item_span",
    "map",
    "options",
    "parallel",
    "spawn",
    "split",
    "task",
    "wait",
]

_HOME = {
    "Cancelled": "forkjoin.errors",
    "CycleError": "forkjoin.errors",
    "ForkjoinError": "forkjoin.errors",
    "TaskTimeout": "forkjoin.errors",
}

if TYPE_CHECKING:
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
        item_span,
        map,
        options,
        parallel,
        spawn,
        split,
        task,
        wait,
    )


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'forkjoin' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME.get(name, "forkjoin.tasks")), name)
    globals()[name] = value  # from now on a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
