"""`simulate`: the engine's ready queue played in virtual time, without threads."""

from __future__ import annotations

import random
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from forkjoin.scheduler import Node, Options, Pool, simulate


def node(name: str, *, rank: float = 1.0, priority: int = 0, pool: Pool | None = None) -> Node:
    return Node(lambda: None, options=Options(name=name, priority=priority), rank=rank, pool=pool)


def seconds(table: dict[str, float]):  # type: ignore[no-untyped-def]
    return lambda n: table[n.options.name]


def test_a_ready_queue_not_waves() -> None:
    """a(1.0) -> c(0.1) ; b(0.1) -> d(1.0)   2 slots: d starts at 0.1, all ends at 1.1"""
    a, b, c, d = (node(x) for x in "abcd")
    schedule = simulate(
        [(a, ()), (b, ()), (c, (a,)), (d, (b,))],
        seconds({"a": 1.0, "b": 0.1, "c": 0.1, "d": 1.0}),
        2,
    )
    by_name = {s.node.options.name: s for s in schedule}
    assert by_name["d"].start == 0.1
    assert max(s.end for s in schedule) == 1.1


def test_the_longest_remaining_path_starts_first() -> None:
    """six 0.2 s steps, then one 1.2 s step; 2 slots. By rank: 1.2 s; in order: 1.8 s."""
    durations = {**{f"s{i}": 0.2 for i in range(6)}, "long": 1.2}
    flat = [(node(name), ()) for name in durations]
    assert round(max(s.end for s in simulate(flat, seconds(durations), 2)), 6) == 1.8
    ranked = [(node(name, rank=durations[name]), ()) for name in durations]
    assert round(max(s.end for s in simulate(ranked, seconds(durations), 2)), 6) == 1.2


def test_priority_beats_rank_and_pools_bound_their_nodes() -> None:
    """db1 ; db2 ; x     pool db of depth 1, 3 slots: db2 waits for db1, x runs beside"""
    db = Pool("db", 1)
    db1, db2 = node("db1", pool=db), node("db2", pool=db)
    x = node("x", priority=5)
    schedule = simulate([(db1, ()), (db2, ()), (x, ())], lambda n: 1.0, 3)
    assert schedule[0].node is x  # the higher priority starts first
    by_name = {s.node.options.name: s for s in schedule}
    assert by_name["db2"].start == 1.0
    assert by_name["x"].start == 0.0


def test_slots_are_reused_and_never_overlap() -> None:
    nodes = [(node(f"n{i}"), ()) for i in range(10)]
    schedule = simulate(nodes, lambda n: 1.0, 3)
    for slot in range(3):
        spans = sorted((s.start, s.end) for s in schedule if s.slot == slot)
        assert all(end <= next_start for (_, end), (next_start, _) in pairwise(spans))
    assert {s.slot for s in schedule} == {0, 1, 2}
    assert max(s.end for s in schedule) == 4.0


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 40), st.integers(1, 5), st.randoms(use_true_random=False))
def test_random_graphs_respect_needs_and_the_bound(
    size: int, slots: int, chooser: random.Random
) -> None:
    """Each node starts after all it needs ended; never more than `slots` at once; the
    makespan is at least the critical path and at most the total work."""
    nodes = [node(f"n{i}", rank=chooser.random()) for i in range(size)]
    needs = {
        n: chooser.sample(nodes[:i], chooser.randint(0, min(i, 3))) for i, n in enumerate(nodes)
    }
    durations = {n: chooser.choice([0.0, 0.5, 1.0, 2.0]) for n in nodes}
    schedule = simulate([(n, needs[n]) for n in nodes], durations.__getitem__, slots)
    assert len(schedule) == size
    placed = {s.node: s for s in schedule}
    for n in nodes:
        assert all(placed[need].end <= placed[n].start for need in needs[n])
    moments = sorted({s.start for s in schedule})
    for moment in moments:
        assert sum(s.start <= moment < s.end for s in schedule) <= slots
    makespan = max(s.end for s in schedule)
    assert makespan <= sum(durations.values()) + 1e-9
    longest: dict[Node, float] = {}
    for n in nodes:
        longest[n] = durations[n] + max((longest[m] for m in needs[n]), default=0.0)
    assert makespan >= max(longest.values()) - 1e-9
