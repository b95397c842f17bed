"""The order tests are handed to workers in, from the history, and the size of each batch.

    1. the tests that failed last time           (a failure shows first, -x stops soonest)
    2. the tests with no history, or unsteady    (any may be long: start them early)
    3. the rest, longest first                   (the short ones fill the gaps at the end)

Within a tier, longer first, then collection order. A worker pulls a batch when its
own queue runs low; a batch holds about a third of a fair share of what is left
(guided self-scheduling): large at the start, when messages are what costs, and a
single test at the end, when an idle worker is. Within its tier a batch runs in
collection order, so that the tests of a module stay next to each other and its
fixtures are set up once per batch rather than once per test.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from forkjoin.pytest_plugin._history import Knowledge
from forkjoin.telemetry import HistoryEstimator

__all__ = ["Order", "WorkQueue", "dispatch_order"]

# A batch is worth 1/_SHARES of each worker's fair share of what is left.
_SHARES = 3
_MOST_PER_BATCH = 500


@dataclass(frozen=True, slots=True)
class Order:
    """The indices of a suite's tests in the order to hand out, with each test's tier
    (0, 1 or 2, as above) and expected seconds, by index."""

    indices: list[int]
    tiers: list[int]
    seconds: list[float]


def dispatch_order(ids: Sequence[str], knowledge: Knowledge) -> Order:
    """The order to hand out `ids` in, from what `knowledge` holds.

    A test without history is estimated from its family (same parameters, class,
    file), else from every test's median, else 1 second.
    """
    estimator = HistoryEstimator({key: [seconds] for key, seconds in knowledge.seconds.items()})
    seconds = [estimator.estimate(test) for test in ids]

    tiers = [
        0
        if test in knowledge.failed
        else 1
        if test not in knowledge.seconds or knowledge.is_unsteady(test)
        else 2
        for test in ids
    ]
    indices = sorted(range(len(ids)), key=lambda index: (tiers[index], -seconds[index], index))
    return Order(indices, tiers, seconds)


class WorkQueue:
    """The tests not handed out yet, front first."""

    __slots__ = ("_queue", "_remaining", "_seconds", "_tiers", "_workers")

    def __init__(self, order: Order, workers: int) -> None:
        self._queue = deque(order.indices)
        self._seconds = order.seconds
        self._tiers = order.tiers
        self._workers = workers
        self._remaining = sum(order.seconds)

    def __len__(self) -> int:
        return len(self._queue)

    def take(self) -> list[int]:
        """The next batch, by tier then collection order; at least one test unless empty."""
        budget = self._remaining / (_SHARES * self._workers)
        batch: list[int] = []
        total = 0.0
        queue = self._queue
        while queue and len(batch) < _MOST_PER_BATCH:
            cost = self._seconds[queue[0]]
            if batch and total + cost > budget:
                break
            batch.append(queue.popleft())
            total += cost
        self._remaining = max(0.0, self._remaining - total)
        tiers = self._tiers
        batch.sort(key=lambda index: (tiers[index], index))
        return batch

    def put_back(self, indices: Sequence[int]) -> None:
        """Tests taken but not run (stolen, or from a worker that left): first out next."""
        self._queue.extendleft(reversed(indices))
        self._remaining += sum(self._seconds[index] for index in indices)

    def take_all(self) -> list[int]:
        """Everything left, emptying the queue."""
        rest = list(self._queue)
        self._queue.clear()
        self._remaining = 0.0
        return rest
