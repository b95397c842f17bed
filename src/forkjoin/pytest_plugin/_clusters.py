"""Split tests into k groups; keep the users of a costly shared fixture together if it is free.

Two tests that use one module-scoped fixture set it up once when they run in one
group, and once each when a split parts them. So the cost of a group is the cost
of its tests plus one setup (and teardown) of every wide fixture its tests use.
`plan_split` weighs two splits by that measure and keeps the better:

    apart     every test on its own, as forkjoin.partition balances them
    together  the users of each costed fixture as one block, weighing the sum of
              its tests and its fixtures (a block heavier than a fair share, the
              total over k, is left in pieces: it could never balance)

`together` wins ties. Pure and deterministic: every cost is whole microseconds and
every tie falls to the ids, so each CI node computes the same groups on its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from forkjoin.partition import balance, estimate_unknown

__all__ = ["SplitPlan", "plan_split"]

_MICROSECONDS = 1_000_000


@dataclass(frozen=True, slots=True)
class SplitPlan:
    """The groups of a split (test ids, sorted) and what each is expected to cost.

    `expected_seconds` counts one setup of each costed fixture a group uses;
    `kept_together` tells whether fixture users were kept in blocks.
    """

    groups: tuple[tuple[str, ...], ...]
    expected_seconds: tuple[float, ...]
    kept_together: bool


def plan_split(
    ids: Sequence[str],
    k: int,
    *,
    durations: Mapping[str, float],
    shared: Mapping[str, Sequence[tuple[str, str]]] | None = None,
    fixture_seconds: Mapping[str, float] | None = None,
) -> SplitPlan:
    """Split `ids` into `k` groups by `durations` (the unknown estimated by their families).

    `shared[id]` lists the (scope node id, fixture key) pairs of the wide fixtures
    test `id` uses, and `fixture_seconds[key]` what one setup and teardown of such a
    fixture costs; fixtures without a cost are ignored. Raises ValueError as
    forkjoin.partition.balance does.
    """
    known = {test: durations[test] for test in ids if test in durations}
    costs = {test: _units(seconds) for test, seconds in known.items()}
    costs.update((test, _units(seconds)) for test, seconds in estimate_unknown(ids, known).items())
    fixture_costs = {
        key: _units(seconds) for key, seconds in (fixture_seconds or {}).items() if seconds > 0
    }
    uses: dict[str, list[tuple[str, str]]] = {}
    for test, fixtures in (shared or {}).items():
        costed = [(node, key) for node, key in fixtures if key in fixture_costs]
        if costed and test in costs:
            uses[test] = costed

    def loads(groups: Sequence[Sequence[str]]) -> list[int]:
        return [
            sum(costs[test] for test in group)
            + sum(fixture_costs[key] for key in {key for t in group for _, key in uses.get(t, ())})
            for group in groups
        ]

    apart = _balanced(list(ids), k, costs)
    best, best_loads, together = apart, loads(apart), False
    if uses:
        blocks = _blocks(ids, costs, uses, fixture_costs, k)
        if blocks:
            candidate = _balanced_blocks(ids, k, costs, blocks)
            candidate_loads = loads(candidate)
            if max(candidate_loads) <= max(best_loads):
                best, best_loads, together = candidate, candidate_loads, True
    return SplitPlan(
        groups=tuple(tuple(sorted(group)) for group in best),
        expected_seconds=tuple(load / _MICROSECONDS for load in best_loads),
        kept_together=together,
    )


def _units(seconds: float) -> int:
    return int(seconds * _MICROSECONDS + 0.5)


def _balanced(ids: list[str], k: int, costs: Mapping[str, int]) -> list[list[str]]:
    weights = {test: costs[test] / _MICROSECONDS for test in ids}
    return [list(group.ids) for group in balance(ids, k, durations=weights)]


def _blocks(
    ids: Sequence[str],
    costs: Mapping[str, int],
    uses: Mapping[str, list[tuple[str, str]]],
    fixture_costs: Mapping[str, int],
    k: int,
) -> dict[str, tuple[list[str], int]]:
    """The blocks worth keeping whole, with their weights: each test under its widest
    costed scope node.

    A module's node id is shorter than its classes', so a test that uses both a
    module- and a class-scoped fixture goes with the whole module.
    """
    members: dict[str, list[str]] = {}
    for test in ids:
        fixtures = uses.get(test)
        if fixtures:
            node = min(fixtures, key=lambda pair: (len(pair[0]), pair[0]))[0]
            members.setdefault(node, []).append(test)
    all_fixtures = {key for fixtures in uses.values() for _, key in fixtures}
    fair_share = (sum(costs.values()) + sum(fixture_costs[key] for key in all_fixtures)) / k
    blocks = {}
    for node, tests in members.items():
        keys = {key for test in tests for _, key in uses[test]}
        weight = sum(costs[test] for test in tests) + sum(fixture_costs[key] for key in keys)
        if len(tests) > 1 and weight <= fair_share:
            blocks[node] = (tests, weight)
    return blocks


def _balanced_blocks(
    ids: Sequence[str],
    k: int,
    costs: Mapping[str, int],
    blocks: Mapping[str, tuple[list[str], int]],
) -> list[list[str]]:
    """Balance blocks and the remaining tests as units, then open the blocks.

    A block weighs its tests and its fixtures once, as the groups' loads count them;
    its id is its scope node's, which no test id equals.
    """
    in_block = {test for tests, _ in blocks.values() for test in tests}
    free = [test for test in ids if test not in in_block]
    weights = {test: costs[test] for test in free}
    weights.update((node, weight) for node, (_, weight) in blocks.items())
    groups = _balanced(free + sorted(blocks), k, weights)
    return [
        [test for unit in group for test in (blocks[unit][0] if unit in blocks else (unit,))]
        for group in groups
    ]
