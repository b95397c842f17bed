"""`Task`: the future `spawn` returns, and the error a failed or skipped task raises."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from forkjoin.errors import Cancelled
from forkjoin.scheduler import CANCELLED, FAILED, SUCCEEDED, Node, current_node

__all__ = ["Task", "error_of", "giving_slot_back", "wait_nodes"]


class Task(Node):
    """A unit of work started by `spawn`; future-like, in the manner of concurrent.futures.

    Pass it to other spawns as an argument (also inside lists, tuples and dicts):
    they start when it has succeeded, with its value in its place.
    """

    __slots__ = ()

    def done(self) -> bool:
        """True once the task succeeded, failed, was skipped or cancelled."""
        return self.state >= SUCCEEDED

    def cancelled(self) -> bool:
        return self.state == CANCELLED

    def result(self, timeout: float | None = None) -> Any:
        """The task's value; raises its error, or TimeoutError if not done in time."""
        if self.state != SUCCEEDED:
            if not wait_nodes([self], timeout):
                raise TimeoutError(f"task {self.label} did not finish within {timeout} s")
            if self.state != SUCCEEDED:
                raise error_of(self)
        return self.value

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """The error `result()` would raise, or None if the task succeeded.

        Raises `Cancelled` for a cancelled task, as concurrent.futures does.
        """
        if not wait_nodes([self], timeout):
            raise TimeoutError(f"task {self.label} did not finish within {timeout} s")
        if self.state == CANCELLED:
            raise error_of(self)
        return None if self.state == SUCCEEDED else error_of(self)

    def cancel(self) -> bool:
        """Cancel the task and everything downstream; False if it was already done.

        A pending task never starts. A running one is stopped on the processes
        executor; on threads it runs on, but its result is thrown away. Either way
        `fetch` raises `Cancelled` at once.
        """
        engine = self.engine
        return engine is not None and engine.cancel([self]) == 1

    def add_done_callback(self, fn: Callable[[Task], object]) -> None:
        """Call `fn(task)` once the task is done (at once if it is), from any thread."""
        assert self.engine is not None
        self.engine.add_done_callback(self, fn)  # type: ignore[arg-type]


def wait_nodes(nodes: list[Node], timeout: float | None = None) -> bool:
    """Wait until every node is done; True unless `timeout` seconds passed first.

    A task that waits gives its slot back meanwhile (see `giving_slot_back`).
    """
    pending = [node for node in nodes if node.state < SUCCEEDED]
    if not pending:
        return True
    with giving_slot_back(pending):
        if timeout is None:
            for node in pending:
                node.engine.wait(node)  # type: ignore[union-attr]
            return True
        deadline = time.monotonic() + timeout
        return all(
            node.engine.wait(node, deadline - time.monotonic())  # type: ignore[union-attr]
            for node in pending
        )


@contextmanager
def giving_slot_back(wanted: Sequence[Node]) -> Iterator[None]:
    """Around a wait inside a task: free its slot, so the tasks it waits on can run.

    This is why nesting never deadlocks, even on a session with one worker; the
    slot is taken back when the wait ends. Outside a task it does nothing.
    """
    me = current_node()
    engine = me.engine if me is not None else None
    if me is None or engine is None or not engine.suspend(me, wanted):
        yield
        return
    try:
        yield
    finally:
        engine.resume(me)


def error_of(node: Node) -> BaseException:
    """The error to raise for a node that did not succeed.

    A failed node raises its own error. A node downstream of a failure raises a
    copy of the root's error, so `except ValueError` works however far the failure
    travelled, with a note that names the root and the chain. A cancelled node, or
    one downstream of a cancellation, raises `Cancelled`. The root failure counts
    as reported: its session will not raise it again on exit.
    """
    if node.state == FAILED:
        assert node.error is not None
        node.reported = True
        return node.error
    chain = [node]
    while chain[-1].cause is not None and chain[-1].state != FAILED:
        chain.append(chain[-1].cause)
    root = chain[-1]
    path = " -> ".join(link.label for link in reversed(chain))
    if node.state == CANCELLED or root.state == CANCELLED:
        if root is node:
            return Cancelled(f"task {node.label} was cancelled", task=node.label)
        return Cancelled(
            f"task {node.label} was cancelled because task {root.label} was ({path})",
            task=node.label,
        )
    if root.state == FAILED:
        reason = f"task {root.label} failed ({path})"
    else:  # skipped without a cause: the run stopped, fail_fast, after another failure
        first = root.engine.first_failure if root.engine is not None else None
        if first is None or first.error is None:
            return Cancelled(f"task {node.label} did not run: its run was stopped", task=node.label)
        reason = f"the run stopped after task {first.label} failed"
        if root is not node:
            reason += f" (it stopped {path})"
        root = first
    assert root.error is not None
    root.reported = True
    error = _copy_error(root.error)
    error.add_note(f"forkjoin: task {node.label} did not run because {reason}")
    return error


def _copy_error(error: BaseException) -> BaseException:
    # A copy, so each downstream task's note stays its own; the root's error is its
    # cause, so its traceback is printed too. An error that cannot be copied is
    # raised itself.
    try:
        duplicate = copy.copy(error)
    except Exception:
        return error
    if type(duplicate) is not type(error):
        return error
    duplicate.__notes__ = list(getattr(error, "__notes__", ()))
    duplicate.__cause__ = error
    duplicate.__traceback__ = None
    return duplicate
