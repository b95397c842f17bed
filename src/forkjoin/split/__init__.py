"""Cut a list into k groups balanced by expected durations, the same on every machine.

    import forkjoin as fj

    mine = fj.split(tests, 4, durations=read_durations(".test_durations"))[node - 1]

This layer is pure: it knows items, costs and groups, and imports nothing of
forkjoin but its errors. `split` cuts any items, `balance` cuts ids and tells each
group's expected seconds, `estimate_unknown` guesses what has no recorded duration
(a history-based estimator may reuse it), and `read_durations` reads pytest-split's
`.test_durations` or a JUnit XML report. docs/split.md tells the algorithm and its
benchmark.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from forkjoin.split._durations import read_durations
from forkjoin.split._split import Group, balance, split
from forkjoin.split._unknown import estimate_unknown

__all__ = ["Group", "balance", "estimate_unknown", "read_durations", "split"]


class _CallableModule(types.ModuleType):
    """This package, callable as `split` itself.

    `fj.split` is the function, loaded lazily by `forkjoin/__init__.py`; but importing
    the package `forkjoin.split` first makes Python set the attribute `forkjoin.split`
    to the package, so `fj.split(...)` would then call a module. Making the package
    callable keeps `fj.split(...)` working in either order.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return split(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
