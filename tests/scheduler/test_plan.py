"""The ready queue alone: order, bounds and pools, with no engine and no threads."""

from __future__ import annotations

import pytest

from forkjoin.scheduler import READY, Node, Options, Plan, Pool


def node(sequence: int, *, priority: int = 0, rank: float = 1.0, pool: Pool | None = None) -> Node:
    made = Node(print, options=Options(priority=priority), rank=rank, pool=pool)
    made.sequence = sequence
    return made


def drain(plan: Plan) -> list[Node]:
    taken = []
    while (next_node := plan.next_startable()) is not None:
        next_node.state = 2  # running
        taken.append(next_node)
    return taken


def test_priority_then_critical_path_then_submission_order() -> None:
    """a(rank 1) b(rank 3) c(rank 3) d(priority 1, rank 1)   (expect d, b, c, a)"""
    plan = Plan(limit=10)
    a, b, c, d = node(1), node(2, rank=3), node(3, rank=3), node(4, priority=1)
    for each in (a, b, c, d):
        plan.push(each)
    assert drain(plan) == [d, b, c, a]


def test_the_bound_holds_until_a_slot_is_released() -> None:
    plan = Plan(limit=2)
    nodes = [node(i) for i in range(4)]
    for each in nodes:
        plan.push(each)
    assert drain(plan) == nodes[:2]
    plan.release(nodes[0])
    assert drain(plan) == [nodes[2]]


def test_a_full_pool_parks_its_nodes_without_blocking_others() -> None:
    """db1 db2 (pool db, depth 1) ; web    (expect db1, web; db2 after db1)"""
    db = Pool("db", 1)
    db1, db2, web = node(1, pool=db), node(2, pool=db), node(3)
    plan = Plan(limit=5)
    for each in (db1, db2, web):
        plan.push(each)
    assert drain(plan) == [db1, web]
    plan.release(db1)
    assert drain(plan) == [db2]


def test_nodes_that_stopped_being_ready_are_dropped() -> None:
    plan = Plan(limit=5)
    kept, dropped = node(1), node(2)
    plan.push(kept)
    plan.push(dropped)
    dropped.state = 6  # cancelled while queued
    assert drain(plan) == [kept]


def test_take_jumps_the_queue_within_the_bounds() -> None:
    plan = Plan(limit=1)
    first, wanted = node(1), node(2)
    plan.push(first)
    plan.push(wanted)
    assert plan.take(wanted)
    assert plan.next_startable() is None  # the one slot is taken
    plan.release(wanted)
    assert drain(plan) == [first]


def test_drain_empties_the_queue_and_the_pools_in_order() -> None:
    db = Pool("db", 1)
    plan = Plan(limit=5)
    running = node(1, pool=db)
    parked = node(2, pool=db)
    ready = node(3)
    for each in (running, parked, ready):
        plan.push(each)
    plan.next_startable()
    running.state = 2
    plan.next_startable()  # parks `parked`, then takes `ready`
    ready.state = 2
    late = node(4)
    plan.push(late)
    assert plan.drain() == [parked, late]
    assert all(each.state == READY for each in (parked, late))
    assert len(plan) == 0


def test_bounds_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_concurrency must be 1 or more"):
        Plan(limit=0)
    with pytest.raises(ValueError, match="pool 'db' needs a depth of 1 or more"):
        Pool("db", 0)
