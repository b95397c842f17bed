"""The ready queue: which ready node may start next, within the concurrency bounds.

Like Ninja's `Plan`, it knows nothing of running things: the engine pushes nodes
that became ready, asks `next_startable()` while it may start more, and calls
`release()` when a node gives its slot back. Not thread-safe: the engine holds its
lock around every call.
"""

from __future__ import annotations

from heapq import heappop, heappush

from forkjoin.scheduler._node import READY, Node

__all__ = ["Plan", "Pool"]

# A heap entry: (-priority, -rank, sequence, node). The sequence is unique, so two
# entries never compare their nodes.
_Entry = tuple[int, float, int, Node]


class Pool:
    """A named group of nodes with its own concurrency bound (`pool: db` at depth 1).

    A ready node whose pool is full waits in the pool, not in the main queue, so it
    never blocks ready nodes of other pools.
    """

    __slots__ = ("depth", "name", "parked", "running")

    def __init__(self, name: str, depth: int) -> None:
        if depth < 1:
            raise ValueError(f"pool {name!r} needs a depth of 1 or more, not {depth}")
        self.name = name
        self.depth = depth
        self.running = 0
        self.parked: list[_Entry] = []

    def __repr__(self) -> str:
        return f"<Pool {self.name} {self.running}/{self.depth}>"


class Plan:
    """Ready nodes ordered by priority, then critical path, then submission order."""

    __slots__ = ("_heap", "_parking", "limit", "running")

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"max_concurrency must be 1 or more, not {limit}")
        self.limit = limit
        self.running = 0
        self._heap: list[_Entry] = []
        # Pools that have parked a node at some point, so `drain` can reach them.
        self._parking: dict[int, Pool] = {}

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, node: Node) -> None:
        """Queue a node whose needs have all succeeded."""
        node.state = READY
        heappush(self._heap, (-node.options.priority, -node.rank, node.sequence, node))

    def next_startable(self) -> Node | None:
        """Take the best ready node that may start now and count its slot, or None.

        Nodes that stopped being ready while queued (cancelled, skipped) are dropped
        here rather than searched for when they change: removal stays O(log n).
        """
        heap = self._heap
        while heap and self.running < self.limit:
            entry = heappop(heap)
            node = entry[3]
            if node.state != READY:
                continue
            pool = node.pool
            if pool is not None:
                if pool.running >= pool.depth:
                    heappush(pool.parked, entry)
                    self._parking[id(pool)] = pool
                    continue
                pool.running += 1
            self.running += 1
            return node
        return None

    def take(self, node: Node) -> bool:
        """Count a slot for this ready node ahead of its turn, if the bounds allow.

        Its heap entry stays behind and is dropped when popped, as it is no longer
        ready then.
        """
        if node.state != READY or self.running >= self.limit:
            return False
        pool = node.pool
        if pool is not None:
            if pool.running >= pool.depth:
                return False
            pool.running += 1
        self.running += 1
        return True

    def release(self, node: Node) -> None:
        """Give back the slot a running node held (it finished, or waits on others)."""
        self.running -= 1
        pool = node.pool
        if pool is not None:
            pool.running -= 1
            parked = pool.parked
            while parked:
                entry = heappop(parked)
                if entry[3].state == READY:
                    heappush(self._heap, entry)
                    break

    def reacquire(self, node: Node) -> None:
        """Take a slot back for a node that resumes after waiting, even over the bound.

        A resumed task must go on at once (it may hold locks or be half way through
        its work); the bound is honoured again by starting nothing new until the
        count falls below it.
        """
        self.running += 1
        if node.pool is not None:
            node.pool.running += 1

    def drain(self) -> list[Node]:
        """Empty the queue and every pool; returns the nodes that were ready."""
        entries: list[_Entry] = self._heap
        self._heap = []
        for pool in self._parking.values():
            entries.extend(pool.parked)
            pool.parked = []
        self._parking.clear()
        entries.sort()
        return [entry[3] for entry in entries if entry[3].state == READY]
