"""The eager task API: `spawn`, `fetch`, `wait`, `as_completed` and the `task` decorator."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Iterator
from queue import Empty, SimpleQueue
from typing import Any, Generic, ParamSpec, TypeVar

from forkjoin.scheduler import SUCCEEDED, Node, find_nodes, resolve
from forkjoin.tasks._session import ambient_options, current_session
from forkjoin.tasks._task import Task, error_of, giving_slot_back, wait_nodes

__all__ = ["TaskFunction", "as_completed", "fetch", "spawn", "task", "wait"]

P = ParamSpec("P")
R = TypeVar("R")


def spawn(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Task:
    """Start `fn(*args, **kwargs)` on the current session and return its `Task` at once.

    Tasks among the arguments, also inside lists, tuples and dicts, are waited
    for first and replaced by their values; if one fails, this task is skipped and
    raises that failure. Options come from the enclosing `options()` block.
    """
    return current_session()._submit(fn, args, kwargs, ambient_options())


def fetch(tasks: Any) -> Any:
    """The value of a task, or the values of the tasks in a list/tuple/dict, same shape.

    Waits for all of them first. Raises the error of the first task (in the
    collection's order) that did not succeed: a failed task's own error; the
    root's error for a task downstream of a failure; `Cancelled` for a cancelled
    one. Anything that is not a task is returned as it is.
    """
    if type(tasks) is Task:
        if tasks.state != SUCCEEDED:
            wait_nodes([tasks])
            if tasks.state != SUCCEEDED:
                raise error_of(tasks)
        return tasks.value
    found: dict[int, Node] = {}
    find_nodes(tasks, found)
    nodes = list(found.values())
    wait_nodes(nodes)
    for node in nodes:
        if node.state != SUCCEEDED:
            raise error_of(node)
    return resolve(tasks)


def wait(tasks: Any, timeout: float | None = None) -> bool:
    """Block until the task, or every task in a collection, is done.

    Never raises a task's error. Returns False if `timeout` seconds passed first.
    """
    found: dict[int, Node] = {}
    find_nodes(tasks, found)
    return wait_nodes(list(found.values()), timeout)


def as_completed(tasks: Iterable[Task], timeout: float | None = None) -> Iterator[Task]:
    """Yield the tasks as they finish, whatever their outcome.

    Raises TimeoutError if `timeout` seconds pass before all have finished.
    """
    tasks = list({id(task): task for task in tasks}.values())
    finished: SimpleQueue[Task] = SimpleQueue()
    for one in tasks:
        one.add_done_callback(finished.put)
    deadline = None if timeout is None else time.monotonic() + timeout
    for _ in tasks:
        while True:
            try:
                yield finished.get_nowait()
                break
            except Empty:
                pass
            left = None if deadline is None else max(deadline - time.monotonic(), 0)
            # On an inline session nothing finishes unless this thread runs it.
            pulled = next(
                (one for one in tasks if not one.done() and one.engine and one.engine.pulled),
                None,
            )
            if pulled is not None:
                wait_nodes([pulled], left)
                if left is not None and not pulled.done() and left <= 0:
                    raise TimeoutError(f"tasks still running after {timeout} s")
                continue
            try:
                with giving_slot_back(tasks):
                    one = finished.get(timeout=left)
            except Empty:
                raise TimeoutError(f"tasks still running after {timeout} s") from None
            yield one
            break


class TaskFunction(Generic[P, R]):
    """A function with task options: call it plainly, or `.spawn()` it as a task."""

    def __init__(self, fn: Callable[P, R], overrides: dict[str, Any]) -> None:
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.overrides = overrides
        ambient_options().merged(**overrides)  # validate now, not at the first spawn

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.fn(*args, **kwargs)

    def spawn(self, *args: Any, **kwargs: Any) -> Task:
        """Spawn the function with its options over the enclosing ones."""
        chosen = ambient_options().merged(**self.overrides)
        return current_session()._submit(self.fn, args, kwargs, chosen)

    def __repr__(self) -> str:
        return f"<task {self.fn!r} {self.overrides}>"


def task(
    fn: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    retries: int | None = None,
    timeout: float | None = None,
    priority: int | None = None,
    backoff: float | None = None,
) -> Any:
    """Decorate a function with task options: `@task(retries=2)` or plain `@task`.

    `f(...)` still calls it directly; `f.spawn(...)` spawns it with the options
    (see `options()` for what each means).
    """
    overrides = {
        key: value
        for key, value in dict(
            name=name, retries=retries, timeout=timeout, priority=priority, backoff=backoff
        ).items()
        if value is not None
    }

    def decorate(function: Callable[P, R]) -> TaskFunction[P, R]:
        return TaskFunction(function, overrides)

    return decorate if fn is None else decorate(fn)
