"""`CancelAfterFailure`: the stop rule of an ordered for-each, shared by map and for_each."""

from __future__ import annotations

import threading

from forkjoin.scheduler._node import FAILED, SKIPPED, SUCCEEDED, Node

__all__ = ["CancelAfterFailure"]


class CancelAfterFailure:
    """A done-callback for the nodes of one for-each: a failure cancels the nodes after it.

    The nodes before it (all started already, since items start in order) run on, so
    the lowest-indexed failure is always the one to report, whatever the timing. A
    node skipped because its input failed counts as a failure too.
    """

    __slots__ = ("index", "lock", "lowest_failure", "nodes")

    def __init__(self, nodes: list[Node]) -> None:
        self.nodes = nodes
        self.index = {id(node): index for index, node in enumerate(nodes)}
        self.lowest_failure = len(nodes)
        self.lock = threading.Lock()  # failures are told from many worker threads

    def __call__(self, node: Node) -> None:
        if node.state not in (FAILED, SKIPPED):
            return
        index = self.index[id(node)]
        with self.lock:
            if index >= self.lowest_failure:
                return
            self.lowest_failure = index
        if node.engine is not None:
            later = [each for each in self.nodes[index + 1 :] if each.state < SUCCEEDED]
            node.engine.cancel(later)
