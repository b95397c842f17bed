"""The dependency graph: what each node needs, an order to run it in, and its critical path.

A graph is given by what each node needs, as a mapping; nodes are any hashables.
Arrows run from the node needed to the node that needs it, which is how `Graph.edges`
lists them and how a `CycleError.path` reads:

    Graph({"b": ["a"], "c": ["a", "b"]})        a -> b -> c ; a -> c

A graph is a value: it never changes once built. Inside, a node is its insertion index
and the edges are flat index arrays (the edges of node i are flat[start[i]:start[i + 1]]),
so a node costs about a dict slot and an edge one machine word, and every walk is a loop:
a chain a million long needs no recursion. Ties are broken by insertion order, never by
iterating over a set, so the same input gives the same output under any hash seed.

This module imports nothing of forkjoin but `forkjoin.errors`.
"""

from __future__ import annotations

import heapq
from array import array
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from itertools import accumulate, chain, compress, filterfalse, pairwise, repeat
from operator import eq, lt, ne, sub
from typing import Generic, TypeVar, cast

from forkjoin.errors import CycleError

__all__ = ["Graph"]

K = TypeVar("K", bound=Hashable)


class Graph(Generic[K]):
    """A dependency graph over hashable nodes, built from what each node needs.

    `Graph(needs)` copies `needs`: its keys are nodes in their order, and a node only
    named in a needs list is a node too, placed after every key and needing nothing.
    A need named twice is one edge. Give needs as sequences: a set's order depends on
    the hash seed. Building raises TypeError when a needs list is a str or bytes (a
    missing pair of brackets) or holds an unhashable node. A cycle is no error here:
    `find_cycle` reports it, and every ordering raises it as a `CycleError`.
    """

    __slots__ = ("_index", "_need_flat", "_need_start", "_nodes", "_order", "_reverse")

    def __init__(self, needs: Mapping[K, Iterable[K]]) -> None:
        # Every pass runs in C (map, chain, accumulate): a Python loop per node would
        # cost more than everything else in building a million-node graph.
        nodes: list[K] = list(needs)
        keys = len(nodes)
        index: dict[K, int] = dict(zip(nodes, range(keys), strict=True))
        given = cast("list[Sequence[K]]", list(needs.values()))
        if not set(map(type, given)) <= {list, tuple}:
            for node, named in zip(nodes, given, strict=True):
                if isinstance(named, str | bytes):
                    raise TypeError(f"the needs of {node!r} must be a collection, not {named!r}")
            given = [named if isinstance(named, list | tuple) else list(named) for named in given]
        lengths = list(map(len, given))
        flat = array("q", map(index.get, chain.from_iterable(given), repeat(-1)))
        if -1 in flat:  # nodes only named as needs take the next indices, first named first
            for name in filterfalse(index.__contains__, chain.from_iterable(given)):
                index[name] = len(nodes)
                nodes.append(name)
            flat = array("q", map(index.__getitem__, chain.from_iterable(given)))
        start = array("q", accumulate(lengths, initial=0))
        distinct = list(map(len, map(set, map(flat.__getitem__, map(slice, start, start[1:])))))
        if distinct != lengths:  # a node names a need twice: keep its first place only
            kept, done = array("q"), 0
            for i in compress(range(keys), map(ne, distinct, lengths)):
                kept.extend(flat[done : start[i]])
                kept.extend(dict.fromkeys(flat[start[i] : start[i + 1]]))
                done = start[i + 1]
            kept.extend(flat[done:])
            flat, start = kept, array("q", accumulate(distinct, initial=0))
        start.extend(repeat(len(flat), len(nodes) - keys))
        self._nodes = nodes
        self._index = index
        self._need_start = start
        self._need_flat = flat
        self._reverse: tuple[array[int], array[int]] | None = None  # dependents, when asked
        self._order: array[int] | None = None

    @property
    def nodes(self) -> list[K]:
        """Every node in insertion order, keys first, then nodes only named; a fresh list."""
        return list(self._nodes)

    def needs(self, node: K) -> tuple[K, ...]:
        """What `node` needs, in the order given; raises KeyError for an unknown node."""
        return self._names(self._need_start, self._need_flat, self._index[node])

    def dependents(self, node: K) -> tuple[K, ...]:
        """The nodes that need `node`, in insertion order; raises KeyError for an unknown node.

        The reverse edges are built once, when first needed, and kept.
        """
        start, flat = self._dependents()
        return self._names(start, flat, self._index[node])

    def edges(self) -> list[tuple[K, K]]:
        """Every edge as a `(needed, dependent)` pair, ordered by dependent, then by need."""
        nodes, start, flat = self._nodes, self._need_start, self._need_flat
        return [
            (nodes[j], nodes[i]) for i in range(len(nodes)) for j in flat[start[i] : start[i + 1]]
        ]

    def find_cycle(self) -> list[K] | None:
        """A cycle as a path with its first node repeated at the end, or None if there is none.

        Each node of the path is needed by the next: `[a, b, a]` means that b needs a
        and a needs b. Of all cycles it reports a shortest one through the earliest
        node, in insertion order, that lies on any cycle, starting at that node.
        """
        order = self._kahn()
        return None if len(order) == len(self._nodes) else self._cycle(order)

    def topological_order(self) -> list[K]:
        """Every node once, each after all it needs; raises CycleError if no order exists.

        Of all such orders it is the one that keeps insertion order wherever the needs
        allow: at each step the earliest inserted node whose needs are all placed comes
        next, so a graph already listed in order comes back unchanged. The error
        carries the cycle that `find_cycle` reports.
        """
        nodes = self._nodes
        return [nodes[i] for i in self._checked_order()]

    def remaining_weight(self, weight: Callable[[K], float] | None = None) -> dict[K, float]:
        """For each node, its weight plus that of the heaviest chain of dependents after it.

        This is the scheduler's critical-path priority: however many slots there are,
        at least this much work lies between the node's start and the end of the graph.
        Without `weight` every node weighs 1, and the value is the number of nodes on
        the longest chain from the node to the end.
        Raises CycleError for a cyclic graph, ValueError for a negative or NaN weight.
        """
        return dict(zip(self._nodes, self._remaining(weight), strict=True))

    def critical_path(self, weight: Callable[[K], float] | None = None) -> list[K]:
        """The heaviest chain from a node needing nothing to a node nothing needs, in order.

        Its weight is the largest `remaining_weight`. Of equally heavy chains, the one
        whose nodes come earliest in insertion order, step by step, wins. An empty graph
        has an empty path. Raises as `remaining_weight` does.
        """
        remaining = self._remaining(weight)
        if not remaining:
            return []
        remaining_of = remaining.__getitem__
        need_start = self._need_start
        dep_start, dep_flat = self._dependents()
        # With weights >= 0 a node needing nothing is as heavy as any node after it, so
        # the heaviest chain may start at one. max() keeps the first of equals.
        node = max(
            compress(range(len(remaining)), map(eq, need_start, need_start[1:])), key=remaining_of
        )
        path = [node]
        while dep_start[node] < dep_start[node + 1]:
            node = max(dep_flat[dep_start[node] : dep_start[node + 1]], key=remaining_of)
            path.append(node)
        return [self._nodes[i] for i in path]

    def select(self, targets: Iterable[K]) -> Graph[K]:
        """The subgraph of `targets` and all they need, transitively, in insertion order.

        Raises KeyError naming the first target that is not a node.
        """
        start, flat, nodes = self._need_start, self._need_flat, self._nodes
        chosen = bytearray(len(nodes))
        stack = [self._index[target] for target in targets]
        found: list[int] = []
        while stack:
            i = stack.pop()
            if not chosen[i]:
                chosen[i] = 1
                found.append(i)
                stack.extend(flat[start[i] : start[i + 1]])
        found.sort()
        return Graph({nodes[i]: self._names(start, flat, i) for i in found})

    def __len__(self) -> int:
        return len(self._nodes)

    def __contains__(self, node: object) -> bool:
        return node in self._index

    def __iter__(self) -> Iterator[K]:
        return iter(self._nodes)

    def __repr__(self) -> str:
        return f"<Graph of {len(self._nodes)} nodes and {len(self._need_flat)} edges>"

    def _names(self, start: array[int], flat: array[int], i: int) -> tuple[K, ...]:
        nodes = self._nodes
        return tuple([nodes[j] for j in flat[start[i] : start[i + 1]]])

    def _dependents(self) -> tuple[array[int], array[int]]:
        """The reverse edges, by counting sort, so each node's dependents are in order."""
        if self._reverse is None:
            need_start, need_flat = self._need_start, self._need_flat
            counts = [0] * (len(self._nodes) + 1)
            for j in need_flat:
                counts[j + 1] += 1
            start = array("q", accumulate(counts))
            free = start.tolist()
            flat = array("q", bytes(8 * len(need_flat)))
            for i, (begin, end) in enumerate(pairwise(need_start)):
                for j in need_flat[begin:end]:
                    flat[free[j]] = i
                    free[j] += 1
            self._reverse = start, flat
        return self._reverse

    def _kahn(self) -> array[int]:
        """Kahn's algorithm placing the earliest ready node each time; partial on a cycle.

        A cursor sweeps the nodes in insertion order and places each one it finds
        ready; only a node that becomes ready behind the cursor waits in a heap. A graph
        listed in order, the common case, is recognised in one pass without either.
        """
        if self._order is not None:
            return self._order
        start, flat, n = self._need_start, self._need_flat, len(self._nodes)
        waiting = list(map(sub, start[1:], start))
        if all(map(lt, flat, chain.from_iterable(map(repeat, range(n), waiting)))):
            # Every need comes before its dependent, so insertion order is the answer.
            self._order = array("q", range(n))
            return self._order
        dep_start, dep_flat = self._dependents()
        behind: list[int] = []
        order = array("q")
        place, pop, push = order.append, heapq.heappop, heapq.heappush
        cursor = 0
        while True:
            if behind:
                i = pop(behind)  # behind the cursor, so earlier than any node ahead
            else:
                while cursor < n and waiting[cursor]:
                    cursor += 1
                if cursor == n:
                    break
                i = cursor
                cursor += 1
            place(i)
            for j in dep_flat[dep_start[i] : dep_start[i + 1]]:
                waiting[j] -= 1
                if not waiting[j] and j < cursor:
                    push(behind, j)
        if len(order) == n:
            self._order = order
        return order

    def _checked_order(self) -> array[int]:
        order = self._kahn()
        if len(order) < len(self._nodes):
            raise CycleError(self._cycle(order))
        return order

    def _cycle(self, placed: array[int]) -> list[K]:
        """The cycle `find_cycle` reports, given the partial order Kahn's algorithm left.

        Only the nodes it could not place may lie on a cycle. Tarjan's algorithm, as a
        loop, finds which do; a breadth-first search from the earliest of them finds a
        shortest way back to it.
        """
        n, start, flat = len(self._nodes), self._need_start, self._need_flat
        # component[v] is the root of v's component once v is finished, -1 before; a
        # placed node counts as finished, alone. So a node is on Tarjan's stack while
        # it has a rank but no component.
        rank, low, component = [-1] * n, [0] * n, [-1] * n
        for i in placed:
            rank[i] = component[i] = i
        stack: list[int] = []
        counter = 0
        first = n  # the earliest node on a cycle so far
        for root in range(n):
            if rank[root] >= 0:
                continue
            calls: list[int] = []
            cursors: list[int] = []
            entering = root
            while entering >= 0 or calls:
                if entering >= 0:
                    rank[entering] = low[entering] = counter
                    counter += 1
                    stack.append(entering)
                    calls.append(entering)
                    cursors.append(start[entering])
                    entering = -1
                v, c = calls[-1], cursors[-1]
                if c < start[v + 1]:  # follow v's next need
                    cursors[-1] = c + 1
                    w = flat[c]
                    if rank[w] < 0:
                        entering = w
                    elif component[w] < 0 and rank[w] < low[v]:
                        low[v] = rank[w]
                    continue
                calls.pop()  # v is finished
                cursors.pop()
                if calls and low[v] < low[calls[-1]]:
                    low[calls[-1]] = low[v]
                if low[v] == rank[v]:  # v roots a strongly connected component
                    members = [stack.pop()]
                    while members[-1] != v:
                        members.append(stack.pop())
                    for w in members:
                        component[w] = v
                    if len(members) > 1 or v in flat[start[v] : start[v + 1]]:
                        first = min(first, min(members))
        parent = {first: first}
        queue = [first]
        for v in queue:  # the loop goes on over what is appended to the queue
            for w in flat[start[v] : start[v + 1]]:
                if w == first:
                    path = [first]
                    while v != first:
                        path.append(v)
                        v = parent[v]
                    path.append(first)
                    return [self._nodes[i] for i in path]
                if component[w] == component[first] and w not in parent:
                    parent[w] = v
                    queue.append(w)
        raise AssertionError("Kahn's algorithm left nodes unplaced, yet no cycle was found")

    def _remaining(self, weight: Callable[[K], float] | None) -> list[float]:
        order = self._checked_order()
        nodes = self._nodes
        weights: list[float] = [1] * len(nodes) if weight is None else list(map(weight, nodes))
        if weight is not None:
            for node, value in zip(nodes, weights, strict=True):
                if not value >= 0:
                    raise ValueError(f"the weight of {node!r} is {value!r}; weights must be >= 0")
        start, flat = self._need_start, self._need_flat
        # In reverse order each node comes after all its dependents, which have lifted
        # its total to the heaviest of theirs; it adds its own weight, then lifts its needs.
        total: list[float] = [0] * len(nodes)
        for i in reversed(order):
            mine = total[i] = total[i] + weights[i]
            for j in flat[start[i] : start[i + 1]]:
                if mine > total[j]:
                    total[j] = mine
        return total
