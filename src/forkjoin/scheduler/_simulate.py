"""A run played in virtual time: what the real ready queue would do with known durations.

`simulate` drives the engine's own `Plan` (priorities, critical-path ranks, the bound
and the pools) with a clock that jumps from one end to the next, so a prediction
follows the same policy as a run. It runs nothing and needs no threads: a graph of
10,000 nodes plays in well under a second.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from heapq import heapify, heappop, heappush

from forkjoin.scheduler._node import PENDING, RUNNING, SUCCEEDED, Node
from forkjoin.scheduler._plan import Plan

__all__ = ["Scheduled", "simulate"]


@dataclass(frozen=True, slots=True)
class Scheduled:
    """When a node would run, and on which slot (0-based)."""

    node: Node
    slot: int
    start: float
    end: float


def simulate(
    additions: Sequence[tuple[Node, Sequence[Node]]],
    duration: Callable[[Node], float],
    max_concurrency: int,
) -> list[Scheduled]:
    """Play the graph: each node with its needs, added in this order, as `Engine.add_all`
    takes them; `duration(node)` in seconds. Returns every node's place, by start.

    Every node is taken to succeed. The nodes' states and sequences are set as the
    engine would set them, so nodes built for a simulation are spent by it.
    Raises ValueError for a need that was not added before the node needing it.
    """
    plan = Plan(max_concurrency)
    dependents: dict[Node, list[Node]] = {}
    for sequence, (node, needs) in enumerate(additions, start=1):
        node.sequence = sequence
        node.state = PENDING
        node.waiting = len(needs)
        dependents[node] = []
        for need in needs:
            if need not in dependents:
                raise ValueError(f"{node!r} needs {need!r}, which was not added before it")
            dependents[need].append(node)
        if not needs:
            plan.push(node)
    free_slots = list(range(max_concurrency))
    heapify(free_slots)
    # (end, sequence, slot, node): the running nodes, the first to end on top.
    running: list[tuple[float, int, int, Node]] = []
    schedule: list[Scheduled] = []
    now = 0.0
    while True:
        while (starting := plan.next_startable()) is not None:
            starting.state = RUNNING
            slot = heappop(free_slots)
            end = now + max(duration(starting), 0.0)
            heappush(running, (end, starting.sequence, slot, starting))
            schedule.append(Scheduled(starting, slot, now, end))
        if not running:
            return schedule
        now, _, slot, ending = heappop(running)
        ending.state = SUCCEEDED
        plan.release(ending)
        heappush(free_slots, slot)
        for dependent in dependents[ending]:
            dependent.waiting -= 1
            if dependent.waiting == 0:
                plan.push(dependent)
