"""The lazy task API: `delayed` builds a graph, `compute` runs it on the current session."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Generic, ParamSpec, TypeVar

from forkjoin.graph import Graph
from forkjoin.scheduler import Node, find_nodes, resolve
from forkjoin.tasks._api import fetch
from forkjoin.tasks._session import ambient_options, current_session
from forkjoin.tasks._task import Task

__all__ = ["Lazy", "compute", "delayed"]

P = ParamSpec("P")
R = TypeVar("R")


class Lazy(Generic[R]):
    """A call not made yet: a node of a graph that `compute` runs.

    Pass it to other delayed calls (also inside lists, tuples and dicts) to build
    the graph; a Lazy used twice runs once.
    """

    __slots__ = ("args", "fn", "kwargs")

    def __init__(self, fn: Callable[..., R], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.fn = fn
        self.args = args
        self.kwargs = kwargs

    def compute(self) -> R:
        """Run the graph this Lazy ends and return its value (see `compute`)."""
        return compute(self)[0]  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return f"<Lazy {getattr(self.fn, '__name__', self.fn)!r}>"


def delayed(fn: Callable[P, R], /) -> Callable[P, Lazy[R]]:
    """Wrap `fn` so that calling it builds a `Lazy` node instead of running."""

    @functools.wraps(fn)
    def build(*args: P.args, **kwargs: P.kwargs) -> Lazy[R]:
        return Lazy(fn, args, kwargs)

    return build


def compute(*values: Any) -> tuple[Any, ...]:
    """Run the graphs behind `values` on the current session; their results, in order.

    Each Lazy (also inside lists, tuples and dicts) becomes its value; anything
    else is returned as it is. The ready queue starts the node with the longest
    chain of work after it first (by history, when the session has an estimator).
    Raises the first failure, as `fetch` does.
    """
    session = current_session()
    needs = _needs_of(values)
    if not needs:
        return values
    graph = Graph(needs)
    estimate = session.engine.estimate if session.engine.estimator is not None else None
    ranks = graph.remaining_weight(
        None if estimate is None else lambda lazy: estimate(_name(lazy.fn))
    )
    chosen = ambient_options()
    tasks: dict[int, Task] = {}
    additions: list[tuple[Task, list[Node]]] = []
    for lazy in graph.topological_order():
        own = needs[lazy]
        one = Task(
            lazy.fn,
            _as_tasks(lazy.args, tasks) if own else lazy.args,
            _as_tasks(lazy.kwargs, tasks) if own else lazy.kwargs,
            chosen,
            needs_resolving=bool(own),
            rank=ranks[lazy],
        )
        tasks[id(lazy)] = one
        additions.append((one, [tasks[id(need)] for need in own]))
    del graph, ranks, needs
    session.submit_all(additions)
    del additions
    return tuple(fetch(_as_tasks(values, tasks)))


def _needs_of(roots: tuple[Any, ...]) -> dict[Lazy[Any], list[Lazy[Any]]]:
    # Walks the graph behind the roots without recursion: a chain may be a million long.
    needs: dict[Lazy[Any], list[Lazy[Any]]] = {}
    found: dict[int, Lazy[Any]] = {}
    find_nodes(roots, found, Lazy)
    stack = list(found.values())
    while stack:
        lazy = stack.pop()
        if lazy in needs:
            continue
        found = {}
        find_nodes(lazy.args, found, Lazy)
        if lazy.kwargs:
            find_nodes(lazy.kwargs, found, Lazy)
        needs[lazy] = own = list(found.values())
        stack.extend(need for need in own if need not in needs)
    return needs


def _as_tasks(value: Any, tasks: dict[int, Task]) -> Any:
    return resolve(value, lambda lazy: tasks[id(lazy)], Lazy)


def _name(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__name__", None) or type(fn).__name__
