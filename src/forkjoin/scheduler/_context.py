"""Per thread: which node (and which attempt of it) runs here, and whether it launches.

The engine sets it as it runs a node on an in-process executor; front ends read it
so that a task's spawns go to its session and its waits give its slot back.
"""

from __future__ import annotations

import threading

from forkjoin.scheduler._node import Node

__all__ = ["THREAD", "current_attempt", "current_node"]


class _ThreadState(threading.local):
    # Class attributes are each thread's defaults. `attempt` is the number of the
    # attempt of `node` that this thread runs: a timed-out attempt may still be
    # running here while a retry of the same node runs elsewhere.
    node: Node | None = None
    attempt = 0
    launching = False  # see Core._launch

    def __init__(self) -> None:
        self.backlog: list[Node] = []


THREAD = _ThreadState()


def current_node() -> Node | None:
    """The node running on this thread, if an in-process executor runs one here."""
    return THREAD.node


def current_attempt() -> int:
    """Which attempt of `current_node()` this thread runs."""
    return THREAD.attempt
