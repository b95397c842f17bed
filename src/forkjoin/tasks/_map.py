"""`map`: the ordered, bounded for-each, and the `Outcome` of each item."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar, overload

from forkjoin.scheduler import SUCCEEDED, CancelAfterFailure, Node, Pool, find_nodes, resolve
from forkjoin.tasks._session import ambient_options, current_session
from forkjoin.tasks._task import Task, error_of, wait_nodes

__all__ = ["Outcome", "map"]

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Outcome(Generic[T, R]):
    """How one item of `map(..., on_failure="continue")` ended."""

    item: T
    ok: bool
    value: R | None
    error: BaseException | None


@overload
def map(
    fn: Callable[[T], R],
    items: Iterable[T],
    *,
    parallelism: int | None = ...,
    on_failure: Literal["stop"] = ...,
) -> list[R]: ...


@overload
def map(
    fn: Callable[[T], R],
    items: Iterable[T],
    *,
    parallelism: int | None = ...,
    on_failure: Literal["continue"],
) -> list[Outcome[T, R]]: ...


def map(
    fn: Callable[[T], R],
    items: Iterable[T],
    *,
    parallelism: int | None = None,
    on_failure: Literal["stop", "continue"] = "stop",
) -> list[R] | list[Outcome[T, R]]:
    """Call `fn` on every item, in parallel, and return the results in item order.

    At most `parallelism` items run at once (and never more than the session
    allows). Items start in order. With `on_failure="stop"` a failure cancels the
    items after it, pending or running, and lets the ones before it (all started
    already) finish: so the error raised is always the lowest-indexed failure, and
    a rerun reports the same item. With "continue" every item runs, and the result
    is one `Outcome` per item.
    """
    if on_failure not in ("stop", "continue"):
        raise ValueError(f"on_failure must be 'stop' or 'continue', not {on_failure!r}")
    if parallelism is not None and parallelism < 1:
        raise ValueError(f"parallelism must be 1 or more, not {parallelism}")
    items = list(items)
    session = current_session()
    chosen = ambient_options()
    name = chosen.name or getattr(fn, "__name__", "map")
    pool = Pool(f"map:{name}", parallelism) if parallelism else None
    tasks: list[Task] = []
    additions: list[tuple[Task, tuple[Node, ...]]] = []
    for item in items:
        found: dict[int, Node] = {}
        find_nodes(item, found)
        one = Task(fn, (item,), None, chosen, needs_resolving=bool(found), pool=pool)
        tasks.append(one)
        additions.append((one, tuple(found.values())))
    if on_failure == "stop":
        stopper = CancelAfterFailure(tasks)  # type: ignore[arg-type]
        for one in tasks:
            one.callbacks = [stopper]  # before they are added, so none is missed
    session._submit_all(additions)
    try:
        wait_nodes(tasks)  # type: ignore[arg-type]
    except BaseException:
        session.engine.cancel(tasks)  # Ctrl-C: a map leaves nothing running behind it
        raise
    if on_failure == "continue":
        return [
            Outcome(item, True, one.value, None)
            if one.state == SUCCEEDED
            else Outcome(item, False, None, error_of(one))
            for item, one in zip(items, tasks, strict=True)
        ]
    # A failure cancels only the items after it, so the first item that did not
    # succeed is the lowest-indexed failure.
    failed = next((one for one in tasks if one.state != SUCCEEDED), None)
    if failed is not None:
        for one in tasks:
            one.reported = True  # the map's error reports all of its items
        raise error_of(failed)
    if getattr(session.executor, "keeps_results", False):
        # Values kept on a cluster come back in one batch, not one trip each.
        return resolve(tasks)  # type: ignore[no-any-return]
    return [one.value for one in tasks]
