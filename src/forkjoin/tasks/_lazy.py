"""The lazy task API: `delayed` builds a graph, `compute` runs it on the current session."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Generic, ParamSpec, TypeVar

from forkjoin.graph import Graph
from forkjoin.scheduler import find_nodes, resolve
from forkjoin.tasks._api import fetch
from forkjoin.tasks._session import Session, ambient_options, current_session
from forkjoin.tasks._task import Task

__all__ = ["Delayed", "Lazy", "compute", "delayed"]

_CONTAINERS = (list, tuple, dict)

P = ParamSpec("P")
R = TypeVar("R")


class Lazy(Generic[R]):
    """A call not made yet: a node of a graph that `compute` runs.

    Pass it to other delayed calls (also inside lists, tuples and dicts) to build
    the graph; a Lazy used twice runs once.
    """

    __slots__ = ("args", "fn", "kwargs")

    def __init__(
        self, fn: Callable[..., R], args: tuple[Any, ...], kwargs: dict[str, Any] | None
    ) -> None:
        self.fn = fn
        self.args = args
        self.kwargs = kwargs  # None rather than {}: a million empty dicts add up

    def compute(self) -> R:
        """Run the graph this Lazy ends and return its value (see `compute`)."""
        return compute(self)[0]  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return f"<Lazy {_name(self.fn)}>"


class Delayed(Generic[P, R]):
    """`fn`, wrapped: calling it builds a `Lazy` instead of running.

    A slotted object rather than `functools.wraps`: `delayed(f)(x)` is written once
    per node, and copying a function's metadata each time would cost more than
    running the node.
    """

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[P, R]) -> None:
        self.fn = fn

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Lazy[R]:
        return Lazy(self.fn, args, kwargs or None)

    @property
    def __wrapped__(self) -> Callable[P, R]:
        return self.fn

    @property
    def __name__(self) -> str:
        return _name(self.fn)

    def __repr__(self) -> str:
        return f"<delayed {_name(self.fn)}>"


def delayed(fn: Callable[P, R], /) -> Delayed[P, R]:
    """Wrap `fn` so that calling it builds a `Lazy` node instead of running."""
    return Delayed(fn)


def compute(*values: Any) -> tuple[Any, ...]:
    """Run the graphs behind `values` on the current session; their results, in order.

    Each Lazy (also inside lists, tuples and dicts) becomes its value; anything
    else is returned as it is. The ready queue starts the node with the longest
    chain of work after it first (by history, when the session has an estimator).
    Raises the first failure, as `fetch` does.
    """
    session = current_session()
    with _collector_paused():
        needs = _needs_of(values)
        if not needs:
            return values
        additions, tasks = _tasks_for(needs, session)
    with _collector_skipping_what_exists(len(additions)):
        session._submit_all(additions)
        del additions
        return tuple(fetch(_as_tasks(values, tasks)))


def _tasks_for(
    needs: dict[Lazy[Any], tuple[Lazy[Any], ...]], session: Session
) -> tuple[list[tuple[Task, tuple[Task, ...]]], dict[int, Task]]:
    """A task per Lazy, needs first, ranked by the work after it; not added yet."""
    graph = Graph(needs)
    estimate = session.engine.estimate if session.engine.estimator is not None else None
    ranks = graph.remaining_weight(
        None if estimate is None else lambda lazy: estimate(_name(lazy.fn))
    )
    order = graph.topological_order()
    del graph  # what is left is big enough, for a million nodes
    chosen = ambient_options()
    tasks: dict[int, Task] = {}
    additions: list[tuple[Task, tuple[Task, ...]]] = []
    for lazy in order:
        own = needs[lazy]
        if own:
            one = Task(
                lazy.fn,
                _as_tasks(lazy.args, tasks),
                _as_tasks(lazy.kwargs, tasks) if lazy.kwargs else None,
                chosen,
                needs_resolving=True,
                rank=ranks[lazy],
            )
            additions.append((one, tuple([tasks[id(need)] for need in own])))
        else:
            one = Task(lazy.fn, lazy.args, lazy.kwargs, chosen, rank=ranks[lazy])
            additions.append((one, ()))
        tasks[id(lazy)] = one
    return additions, tasks


# Below this many nodes the collector costs nothing worth managing.
_LARGE_GRAPH = 10_000


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No garbage collection while the graph is built: it only allocates, and each
    collection would walk every node built so far (a third of the time, at 1M)."""
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


@contextmanager
def _collector_skipping_what_exists(nodes: int) -> Iterator[None]:
    """While a large graph runs, collections skip the objects that existed before it.

    `gc.freeze` moves them out of the collector's sight until `gc.unfreeze`; they
    are collected as usual afterwards. Left alone when someone else froze first,
    so their freeze is not undone here.
    """
    freeze = nodes >= _LARGE_GRAPH and gc.get_freeze_count() == 0
    if freeze:
        gc.freeze()
    try:
        yield
    finally:
        if freeze:
            gc.unfreeze()


def _needs_of(roots: tuple[Any, ...]) -> dict[Lazy[Any], tuple[Lazy[Any], ...]]:
    """What each Lazy behind the roots needs, needs first (a post-order walk).

    Iterative, since a chain may be a million long; needs-first, so the graph
    finds its order already given and checks it in one pass.
    """
    needs: dict[Lazy[Any], tuple[Lazy[Any], ...]] = {}
    found: dict[int, Lazy[Any]] = {}
    find_nodes(roots, found, Lazy)
    stack: list[tuple[Lazy[Any], tuple[Lazy[Any], ...] | None]] = [
        (root, None) for root in reversed(found.values())
    ]
    while stack:
        lazy, own = stack.pop()
        if lazy in needs:
            continue
        if own is not None:  # its needs are in: now it may follow them
            needs[lazy] = own
            continue
        found = {}
        find_nodes(lazy.args, found, Lazy)
        if lazy.kwargs:
            find_nodes(lazy.kwargs, found, Lazy)
        own = tuple(found.values())
        stack.append((lazy, own))
        stack.extend((need, None) for need in reversed(own) if need not in needs)
    return needs


def _as_tasks(value: Any, tasks: dict[int, Task]) -> Any:
    """`value` with each Lazy replaced by its task; a flat tuple in one loop.

    `resolve` alone would do, but costs a call per argument: measured 4-12% slower
    on the million-node graph, whose 20 s budget has 10% to spare.
    """

    def task_of(lazy: Lazy[Any]) -> Task:
        return tasks[id(lazy)]

    if type(value) is tuple:
        return tuple(
            [
                task_of(item)
                if type(item) is Lazy
                else (resolve(item, task_of, Lazy) if type(item) in _CONTAINERS else item)
                for item in value
            ]
        )
    return resolve(value, task_of, Lazy)


def _name(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__name__", None) or type(fn).__name__
