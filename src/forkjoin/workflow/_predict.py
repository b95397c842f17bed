"""Predicting a run from history: the workflow played through the real ready queue.

Each step becomes the node a run would add (the same options, pool and rank), each
item of a for_each or matrix step a node in the step's pool, and the scheduler's
`simulate` plays them with the estimator's durations. A step whose items come from
another step's output is played as one node of the step's whole estimate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from forkjoin.scheduler import Estimator, Node, Options, Pool, simulate
from forkjoin.workflow._nodes import item_labels, item_pool, step_options
from forkjoin.workflow._spec import Workflow

__all__ = ["Placed", "Prediction", "predict"]


@dataclass(frozen=True, slots=True)
class Placed:
    """A step or item in the predicted timeline: its slot (1-based), start and end."""

    id: str
    slot: int
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class Prediction:
    """A predicted run: its wall seconds, critical path and each slot's timeline."""

    seconds: float
    workers: int
    critical_path: tuple[str, ...]
    critical_path_seconds: float
    estimates: dict[str, float]  # per step
    known: frozenset[str]  # the steps the history has seen
    timeline: tuple[Placed, ...]  # by start
    new_items: tuple[str, ...] = ()  # the for_each items the history has not seen

    def as_json(self) -> dict[str, object]:
        return {
            "predicted_seconds": round(self.seconds, 3),
            "workers": self.workers,
            "critical_path": list(self.critical_path),
            "critical_path_seconds": round(self.critical_path_seconds, 3),
            "steps": [
                {"id": step, "estimate_seconds": round(seconds, 3), "known": step in self.known}
                for step, seconds in self.estimates.items()
            ],
            "slots": [
                {
                    "slot": slot,
                    "runs": [
                        {"id": p.id, "start": round(p.start, 3), "end": round(p.end, 3)}
                        for p in self.timeline
                        if p.slot == slot
                    ],
                }
                for slot in range(1, self.workers + 1)
            ],
        }


def predict(workflow: Workflow, estimator: Estimator, workers: int) -> Prediction:
    """The run `forkjoin run -j workers` would make, by the estimator's durations."""
    graph = workflow.graph()
    ranks = graph.remaining_weight(estimator.estimate)
    pools = {name: Pool(name, depth) for name, depth in workflow.pools.items()}
    additions: list[tuple[Node, Sequence[Node]]] = []
    seconds: dict[Node, float] = {}
    ids: dict[Node, str] = {}
    ends: dict[str, list[Node]] = {}  # what a step's dependents wait for
    adders: set[Node] = set()  # steps that only add their items: not in the timeline
    labels: list[str] = []  # every item's
    for step_id in graph.topological_order():
        step = workflow.steps[step_id]
        options, has_items = step_options(step)
        items = step.items() if has_items and step.for_each_reference() is None else []
        pool = None if has_items or step.pool is None else pools[step.pool]
        node = Node(_nothing, options=options, pool=pool, rank=ranks[step_id])
        additions.append((node, [end for need in step.needs for end in ends[need]]))
        ids[node] = step_id
        # A step with items holds its slot only to add them.
        seconds[node] = 0.0 if items else estimator.estimate(step_id)
        ends[step_id] = [node]
        if items:
            adders.add(node)
            shared = item_pool(step, pools)
            ends[step_id] = []
            for label in item_labels(step, items):
                labels.append(label)
                child = Node(
                    _nothing, options=Options(name=label, priority=step.priority), pool=shared
                )
                child.rank = estimator.estimate(label)
                additions.append((child, [node]))
                ids[child] = label
                seconds[child] = child.rank
                ends[step_id].append(child)
    schedule = simulate(additions, seconds.__getitem__, workers)
    # A step's time as played: for a step with items, from its first item's start to
    # its last one's end, so that the path's seconds agree with the timeline's.
    where = {placed.node: placed for placed in schedule}
    played: dict[str, float] = {}
    for step_id, last in ends.items():
        placed = [where[node] for node in last]
        played[step_id] = max(p.end for p in placed) - min(p.start for p in placed)
    path = graph.critical_path(played.__getitem__)
    knows = getattr(estimator, "knows", None)
    return Prediction(
        seconds=max((placed.end for placed in schedule), default=0.0),
        workers=workers,
        critical_path=tuple(path),
        critical_path_seconds=sum(played[step] for step in path),
        estimates={step: estimator.estimate(step) for step in workflow.steps},
        known=frozenset(step for step in workflow.steps if knows is not None and knows(step)),
        timeline=tuple(
            Placed(ids[placed.node], placed.slot + 1, placed.start, placed.end)
            for placed in schedule
            if placed.node not in adders
        ),
        new_items=tuple(label for label in labels if knows is None or not knows(label)),
    )


def _nothing() -> None:
    """The callable of a node that is only played, never run."""
