"""Tests of forkjoin.graph: the pure dependency graph.

Graphs are drawn the way `draw` reads them: `a -> b` means b needs a (a runs first),
chains are separated by `;`, and nodes are inserted in the order the drawing names them.
Properties are checked against brute force on small random graphs drawn by hypothesis.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from collections.abc import Mapping, Sequence
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import forkjoin.graph
from forkjoin.errors import CycleError
from forkjoin.graph import Graph

Needs = dict[int, list[int]]


def draw(picture: str) -> Graph[str]:
    """The graph of a drawing such as ``a -> b -> c ; d``; text in parentheses is ignored."""
    needs: dict[str, list[str]] = {}
    picture = picture.split("(")[0]
    for chain in picture.split(";"):
        names = [name.strip() for name in chain.split("->")]
        for name in names:
            needs.setdefault(name, [])
        for before, after in pairwise(names):
            needs[after].append(before)
    return Graph(needs)


# Brute force, straight from the mapping, for comparison with the graph's answers.


def all_nodes(needs: Mapping[int, Sequence[int]]) -> list[int]:
    nodes = list(needs)
    for named in needs.values():
        for node in named:
            if node not in nodes:
                nodes.append(node)
    return nodes


def edge_set(needs: Mapping[int, Sequence[int]]) -> set[tuple[int, int]]:
    return {(needed, node) for node, named in needs.items() for needed in named}


def reachable(needs: Mapping[int, Sequence[int]], start: int) -> set[int]:
    """Nodes reachable from `start` along one or more edges, needed -> dependent."""
    edges = edge_set(needs)
    seen: set[int] = set()
    frontier = [start]
    while frontier:
        node = frontier.pop()
        for needed, dependent in edges:
            if needed == node and dependent not in seen:
                seen.add(dependent)
                frontier.append(dependent)
    return seen


def chains_from(needs: Mapping[int, Sequence[int]], start: int) -> list[list[int]]:
    """Every maximal chain start -> ... -> a node nothing needs, in a DAG."""
    edges = edge_set(needs)
    done, stack = [], [[start]]
    while stack:
        path = stack.pop()
        after = [dependent for needed, dependent in edges if needed == path[-1]]
        if not after:
            done.append(path)
        stack.extend([*path, dependent] for dependent in after)
    return done


@st.composite
def dags(draw_: st.DrawFn, max_nodes: int = 10) -> Needs:
    """A DAG over ints, inserted in a random order; some sources appear only as needs."""
    n = draw_(st.integers(0, max_nodes))
    needs = {i: draw_(st.lists(st.integers(0, i - 1), max_size=4)) if i else [] for i in range(n)}
    order = draw_(st.permutations(range(n)))
    dropped = draw_(st.sets(st.sampled_from(range(n)))) if n else set()
    return {i: needs[i] for i in order if needs[i] or i not in dropped}


@st.composite
def graphs(draw_: st.DrawFn, max_nodes: int = 8) -> Needs:
    """Any graph over ints: cycles, self-loops and repeated needs included."""
    n = draw_(st.integers(1, max_nodes))
    return {i: draw_(st.lists(st.integers(0, n - 1), max_size=3)) for i in range(n)}


@st.composite
def planted(draw_: st.DrawFn) -> Needs:
    """A DAG with one cycle planted through some of its nodes."""
    needs = draw_(dags(max_nodes=9))
    nodes = all_nodes(needs) or [0]
    ring = draw_(st.lists(st.sampled_from(nodes), min_size=1, max_size=len(nodes), unique=True))
    for before, after in zip(ring, ring[1:] + ring[:1], strict=True):
        needs.setdefault(after, []).append(before)
    return needs


weights = st.dictionaries(st.integers(0, 9), st.integers(0, 5))


# Building and looking


def test_module_surface() -> None:
    assert forkjoin.graph.__all__ == ["Graph"]


def test_nodes_are_the_keys_in_order_then_nodes_only_named() -> None:
    graph = Graph({"b": ["x", "a"], "c": ["b", "a"]})
    assert graph.nodes == ["b", "c", "x", "a"]
    assert list(graph) == graph.nodes
    assert len(graph) == 4
    assert "x" in graph
    assert "z" not in graph
    assert graph.needs("x") == ()


def test_needs_keep_their_order_and_a_need_named_twice_is_one_edge() -> None:
    graph = Graph({"c": ["b", "a", "b"], "b": ("a", "a"), "a": iter([])})
    assert graph.needs("c") == ("b", "a")
    assert graph.needs("b") == ("a",)
    assert graph.edges() == [("b", "c"), ("a", "c"), ("a", "b")]


@given(dags())
def test_needs_and_edges_are_those_of_the_mapping(needs: Needs) -> None:
    graph = Graph(needs)
    assert graph.nodes == all_nodes(needs)
    assert all(graph.needs(node) == tuple(dict.fromkeys(named)) for node, named in needs.items())
    assert graph.edges() == [
        (needed, node) for node, named in needs.items() for needed in dict.fromkeys(named)
    ]
    for node in graph:
        assert graph.dependents(node) == tuple(
            other for other in graph if node in graph.needs(other)
        )


def test_dependents_come_in_insertion_order() -> None:
    """a -> c ; a -> b ; d -> b     (c was inserted before b)"""
    graph = Graph({"c": ["a"], "b": ["d", "a"]})
    assert graph.dependents("a") == ("c", "b")
    assert graph.dependents("d") == ("b",)
    assert graph.dependents("b") == ()


def test_the_graph_is_a_copy_of_the_mapping() -> None:
    needs = {"b": ["a"]}
    graph = Graph(needs)
    needs["b"].append("z")
    needs["c"] = ["b"]
    assert graph.nodes == ["b", "a"]
    assert graph.needs("b") == ("a",)
    assert graph.nodes is not graph.nodes


def test_an_unknown_node_is_a_key_error_naming_it() -> None:
    graph = draw("a -> b")
    for look in (graph.needs, graph.dependents):
        with pytest.raises(KeyError) as caught:
            look("nope")
        assert caught.value.args == ("nope",)


def test_a_string_for_a_needs_list_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="the needs of 'deploy' must be a collection"):
        Graph({"build": [], "deploy": "build"})


def test_nodes_may_be_any_hashable() -> None:
    graph = Graph({("job", 2): [("job", 1), 7], 7: [None]})
    assert graph.nodes == [("job", 2), 7, ("job", 1), None]
    assert graph.topological_order() == [("job", 1), None, 7, ("job", 2)]


def test_an_empty_graph() -> None:
    graph: Graph[str] = Graph({})
    assert (len(graph), graph.edges(), graph.topological_order()) == (0, [], [])
    assert (graph.find_cycle(), graph.remaining_weight(), graph.critical_path()) == (None, {}, [])
    assert repr(graph) == "<Graph of 0 nodes and 0 edges>"


# Order


def test_order_keeps_insertion_order_between_unrelated_nodes() -> None:
    """a -> b -> c ; d    (expect a before d, and the drawing's order exactly)"""
    assert draw("a -> b -> c ; d").topological_order() == ["a", "b", "c", "d"]


def test_order_puts_needs_first_and_otherwise_keeps_insertion_order() -> None:
    """b -> c ; a -> c ; d    inserted as c, d, b, a    (expect d, b, a, c)"""
    graph = Graph({"c": ["b", "a"], "d": [], "b": [], "a": []})
    assert graph.topological_order() == ["d", "b", "a", "c"]


def test_order_of_a_graph_listed_backwards() -> None:
    """a -> b -> c -> d    inserted as d, c, b, a"""
    graph = Graph({"d": ["c"], "c": ["b"], "b": ["a"]})
    assert graph.topological_order() == ["a", "b", "c", "d"]


@given(dags())
def test_order_respects_every_edge_and_places_every_node_once(needs: Needs) -> None:
    order = Graph(needs).topological_order()
    assert sorted(order) == sorted(all_nodes(needs))
    place = {node: i for i, node in enumerate(order)}
    assert all(place[needed] < place[node] for needed, node in edge_set(needs))


@given(dags())
def test_order_places_the_earliest_ready_node_each_time(needs: Needs) -> None:
    nodes = all_nodes(needs)
    placed: set[int] = set()
    for node in Graph(needs).topological_order():
        ready = [n for n in nodes if n not in placed and set(needs.get(n, [])) <= placed]
        assert node == ready[0]
        placed.add(node)


# Cycles


def test_a_cycle_error_reads_like_ninja_and_carries_the_path() -> None:
    """a -> b -> a"""
    graph = draw("a -> b -> a")
    with pytest.raises(CycleError) as caught:
        graph.topological_order()
    assert str(caught.value) == "dependency cycle: a -> b -> a"
    assert caught.value.path == ["a", "b", "a"]
    assert isinstance(caught.value, ValueError)
    assert graph.find_cycle() == ["a", "b", "a"]


def test_a_self_loop_is_a_cycle() -> None:
    """a -> a ; b"""
    with pytest.raises(CycleError, match=r"^dependency cycle: a -> a$"):
        draw("a -> a ; b").topological_order()


def test_a_cycle_path_follows_the_arrows() -> None:
    """a -> b -> c -> a    (b needs a, c needs b, a needs c)"""
    assert draw("a -> b -> c -> a").find_cycle() == ["a", "b", "c", "a"]


def test_the_cycle_reported_is_a_shortest_one_through_its_earliest_node() -> None:
    """x -> a -> b -> c -> d -> a ; c -> a ; d -> d    (x is on no cycle)"""
    graph = draw("x -> a -> b -> c -> d -> a ; c -> a ; d -> d")
    assert graph.find_cycle() == ["a", "b", "c", "a"]


def test_every_ordering_of_a_cyclic_graph_raises_the_same_cycle() -> None:
    """a -> b -> c -> b ; d"""
    graph = draw("a -> b -> c -> b ; d")
    for order in (graph.topological_order, graph.remaining_weight, graph.critical_path):
        with pytest.raises(CycleError, match=r"^dependency cycle: b -> c -> b$"):
            order()


@given(dags())
def test_a_dag_has_no_cycle(needs: Needs) -> None:
    assert Graph(needs).find_cycle() is None


@given(st.one_of(planted(), graphs()))
def test_the_cycle_found_is_a_real_shortest_cycle_through_the_earliest_node(needs: Needs) -> None:
    graph = Graph(needs)
    on_cycle = [node for node in graph.nodes if node in reachable(needs, node)]
    path = graph.find_cycle()
    if not on_cycle:
        assert path is None
        return
    assert path is not None
    assert path[0] == path[-1] == on_cycle[0]
    assert len(set(path[:-1])) == len(path) - 1
    assert all(pair in edge_set(needs) for pair in pairwise(path))
    # No shorter cycle through the same node: breadth-first distance back to it.
    distance, frontier = 0, {path[0]}
    while path[0] not in frontier or distance == 0:
        frontier = {after for before, after in edge_set(needs) if before in frontier}
        distance += 1
    assert len(path) - 1 == distance
    with pytest.raises(CycleError) as caught:
        graph.topological_order()
    assert caught.value.path == path


# Remaining weight and critical path


def test_remaining_weight_without_weights_is_the_depth_to_the_end() -> None:
    """a -> b -> c ; a -> d ; e"""
    graph = draw("a -> b -> c ; a -> d ; e")
    assert graph.remaining_weight() == {"a": 3, "b": 2, "c": 1, "d": 1, "e": 1}


def test_remaining_weight_follows_the_heaviest_chain() -> None:
    """a -> b -> d ; a -> c -> d    (c weighs 5, so a's remaining goes through c)"""
    graph = draw("a -> b -> d ; a -> c -> d")
    weight = {"a": 1.0, "b": 2.0, "c": 5.0, "d": 0.5}.__getitem__
    assert graph.remaining_weight(weight) == {"a": 6.5, "b": 2.5, "c": 5.5, "d": 0.5}
    assert graph.critical_path(weight) == ["a", "c", "d"]


@pytest.mark.parametrize("bad", [-1.0, math.nan])
def test_a_negative_or_nan_weight_is_a_value_error(bad: float) -> None:
    graph = draw("a -> b")
    with pytest.raises(ValueError, match="the weight of 'b' is"):
        graph.remaining_weight({"a": 1.0, "b": bad}.__getitem__)


@given(dags(max_nodes=8), weights)
def test_remaining_weight_is_the_heaviest_chain_by_brute_force(
    needs: Needs, weight: dict[int, int]
) -> None:
    def weigh(node: int) -> int:
        return weight.get(node, 1)

    remaining = Graph(needs).remaining_weight(weigh)
    assert list(remaining) == all_nodes(needs)
    for node, value in remaining.items():
        assert value == max(sum(map(weigh, chain)) for chain in chains_from(needs, node))


@given(dags(max_nodes=8), weights)
def test_critical_path_is_the_first_of_the_heaviest_start_to_end_chains(
    needs: Needs, weight: dict[int, int]
) -> None:
    def weigh(node: int) -> int:
        return weight.get(node, 1)

    graph = Graph(needs)
    path = graph.critical_path(weigh)
    if not needs:
        assert path == []
        return
    assert graph.needs(path[0]) == ()
    assert graph.dependents(path[-1]) == ()
    assert all(pair in edge_set(needs) for pair in pairwise(path))
    assert sum(map(weigh, path)) == max(graph.remaining_weight(weigh).values())
    # Of equally heavy chains, the earliest in insertion order, node by node.
    rank = {node: i for i, node in enumerate(graph.nodes)}
    heaviest = [
        chain
        for start in graph.nodes
        if not graph.needs(start)
        for chain in chains_from(needs, start)
        if sum(map(weigh, chain)) == sum(map(weigh, path))
    ]
    assert path == min(heaviest, key=lambda chain: [rank[node] for node in chain])


# Selection


def test_select_keeps_the_targets_and_all_they_need() -> None:
    """a -> b -> c ; d -> c ; e -> f"""
    graph = draw("a -> b -> c ; d -> c ; e -> f")
    chosen = graph.select(["c"])
    assert chosen.nodes == ["a", "b", "c", "d"]
    assert chosen.needs("c") == ("b", "d")
    assert graph.select(["b", "f", "b"]).nodes == ["a", "b", "e", "f"]
    assert graph.select([]).nodes == []


def test_select_of_an_unknown_target_is_a_key_error_naming_it() -> None:
    with pytest.raises(KeyError) as caught:
        draw("a -> b").select(["b", "deploy"])
    assert caught.value.args == ("deploy",)


@given(dags(), st.data())
def test_select_is_the_closure_over_needs(needs: Needs, data: st.DataObject) -> None:
    graph = Graph(needs)
    targets = data.draw(st.lists(st.sampled_from(graph.nodes))) if graph.nodes else []
    chosen = graph.select(targets)
    wanted = set(targets)
    for node in targets:
        wanted |= {other for other in graph.nodes if node in reachable(needs, other)}
    assert chosen.nodes == [node for node in graph.nodes if node in wanted]
    assert all(chosen.needs(node) == graph.needs(node) for node in chosen)


# Size and determinism


@pytest.mark.parametrize("backwards", [False, True])
def test_a_chain_200000_long_needs_no_recursion(backwards: bool) -> None:
    """n0 -> n1 -> ... -> n199999, inserted forwards or backwards"""
    n = 200_000
    keys = range(n - 1, -1, -1) if backwards else range(n)
    graph = Graph({f"n{i}": [f"n{i - 1}"] if i else [] for i in keys})
    expected = [f"n{i}" for i in range(n)]
    assert graph.topological_order() == expected
    assert graph.find_cycle() is None
    assert graph.remaining_weight()["n0"] == n
    assert graph.critical_path() == expected
    assert len(graph.select(["n199999"])) == n


def test_a_cycle_200000_long_needs_no_recursion() -> None:
    """n0 -> n1 -> ... -> n199999 -> n0"""
    n = 200_000
    graph = Graph({f"n{i}": [f"n{(i - 1) % n}"] for i in range(n)})
    path = graph.find_cycle()
    assert path == [f"n{i}" for i in range(n)] + ["n0"]


def test_a_cycle_behind_a_chain_200000_long_is_found() -> None:
    """c0 -> c1 -> c0 -> x0 -> x1 -> ... -> x199999, inserted from x199999 back to c1"""
    n = 200_000
    needs = {f"x{i}": [f"x{i - 1}" if i else "c0"] for i in reversed(range(n))}
    graph = Graph(needs | {"c0": ["c1"], "c1": ["c0"]})
    with pytest.raises(CycleError, match=r"^dependency cycle: c0 -> c1 -> c0$"):
        graph.topological_order()


def test_the_answers_do_not_depend_on_the_hash_seed() -> None:
    script = textwrap.dedent(
        """
        import random
        from forkjoin.graph import Graph
        rng = random.Random(7)
        needs = {f"t{i}": [f"t{rng.randrange(60)}" for _ in range(2)] for i in range(60)}
        needs = {key: [n for n in named if n > key] for key, named in needs.items()}
        graph = Graph(needs)
        print(graph.topological_order(), graph.critical_path(), graph.edges())
        needs["t5"].append("t0")
        needs["t0"] = ["t9", "t5"]
        print(Graph(needs).find_cycle())
        """
    )
    src = str(Path(forkjoin.graph.__file__).parents[1])
    outputs = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": src},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("0", "1", "12345")
    }
    assert len(outputs) == 1
    assert outputs.pop().splitlines()[-1].startswith("['t0', ")


@settings(max_examples=50)
@given(dags())
def test_same_input_same_answers(needs: Needs) -> None:
    first, second = Graph(needs), Graph(dict(needs))
    assert first.edges() == second.edges()
    assert first.topological_order() == second.topological_order()
    assert first.critical_path() == second.critical_path()
