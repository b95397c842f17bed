"""Partition weighted items into k groups so that the heaviest group is as light as found.

Three passes, deterministic and on whole numbers, so every machine computes the same
groups:

1. **LPT** (longest processing time first): items from the heaviest down, each into
   the group that is lightest so far; ties go to the item's name, then to the lower
   group number. It is within 4/3 - 1/(3k) of the optimum, and on many small items
   within one small item of the lower bound.
2. **Refinement**: while the heaviest group can give an item to, or swap one with,
   a lighter group so that both end lighter than it was, do the best such move.
   It pays on few, coarse items (packages of a monorepo), where LPT leaves gaps.
   Every move makes the sorted loads strictly smaller, so it ends; it is skipped
   when LPT is within 0.1% of the lower bound, as it always is on many small items.
3. **Weightless items** (a recorded 0.0) are dealt to the groups with the fewest
   items.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Sequence
from heapq import heapify, heapreplace

__all__ = ["lower_bound", "partition"]

# A bound on refinement moves, so the time stays small on any input; LPT's result
# is already good, and the first moves are the ones that gain most.
_MOST_MOVES = 2_000
# Refinement stops (or never starts) within 1/1000 of the lower bound, compared in
# integers to stay exact: a rerun's durations vary far more than that, so a closer
# split gains nothing real, and on many small items, where LPT always ends this
# close, the search would only cost time.
_CLOSE_ENOUGH = 1000


def partition(
    weights: Sequence[int], names: Sequence[str], groups: int, *, refine: bool = True
) -> list[list[int]]:
    """The indices of `weights` in `groups` lists, each sorted by name, then by index.

    `names[i]` names item i: it breaks ties, so the result does not depend on the
    order of the items, except among items that have the same name and weight. Raises
    ValueError if `groups` is less than 1.
    """
    if groups < 1:
        raise ValueError(f"cannot split into {groups} groups: it takes at least 1")
    by_name = sorted(range(len(names)), key=names.__getitem__)
    # A stable sort on the weights alone keeps the name order among equal weights,
    # and is faster than one sort on (weight, name) tuples.
    order = sorted(by_name, key=weights.__getitem__, reverse=True)
    weighing = len(order) - weights.count(0)  # the weightless come last
    members, loads = _longest_first(weights, order[:weighing], groups)
    if refine and weighing > groups:
        _refine(members, loads, weights, names)
    _deal(order[weighing:], members, loads)
    rank = [0] * len(names)
    for position, index in enumerate(by_name):
        rank[index] = position
    for group in members:
        group.sort(key=rank.__getitem__)
    return members


def lower_bound(weights: Sequence[int], groups: int) -> int:
    """No split of `weights` into `groups` has a lighter heaviest group than this."""
    return max(-(-sum(weights) // groups), max(weights, default=0))


def _longest_first(
    weights: Sequence[int], order: list[int], groups: int
) -> tuple[list[list[int]], list[int]]:
    """Each of `order` into the group lightest so far: the groups, and their loads."""
    lightest = [(0, group) for group in range(groups)]
    heapify(lightest)
    members: list[list[int]] = [[] for _ in range(groups)]
    # The hot loop of a big split: bound methods and zip save a third of its time.
    appenders = [group.append for group in members]
    for index, weight in zip(order, map(weights.__getitem__, order), strict=True):
        load, group = lightest[0]
        appenders[group](index)
        heapreplace(lightest, (load + weight, group))
    loads = [0] * groups
    for load, group in lightest:
        loads[group] = load
    return members, loads


def _deal(weightless: list[int], members: list[list[int]], loads: list[int]) -> None:
    """Each item that weighs nothing to the group with the fewest items, then the lightest.

    A recorded 0 means "under the timer's resolution", not free: by weight alone
    they would all go to the one group that is lightest at the end.
    """
    fewest = [
        (len(group), load, number)
        for number, (group, load) in enumerate(zip(members, loads, strict=True))
    ]
    heapify(fewest)
    for index in weightless:
        count, load, number = fewest[0]
        members[number].append(index)
        heapreplace(fewest, (count + 1, load, number))


def _refine(
    members: list[list[int]], loads: list[int], weights: Sequence[int], names: Sequence[str]
) -> None:
    """Move or swap items out of the heaviest group while that makes it lighter."""
    close_enough = lower_bound(weights, len(members)) * (_CLOSE_ENOUGH + 1)
    if max(loads) * _CLOSE_ENOUGH <= close_enough:
        return  # optimal, or so close that a rerun's own noise is far larger
    # Each group's (weight, name, index), sorted, for the searches below.
    sorted_members = [sorted((weights[i], names[i], i) for i in group) for group in members]
    for _ in range(_MOST_MOVES):
        heaviest = max(range(len(loads)), key=lambda group: (loads[group], -group))
        if loads[heaviest] * _CLOSE_ENOUGH <= close_enough:
            break
        move = _best_move(heaviest, loads, sorted_members)
        if move is None:
            break
        other, give, take = move
        for group, leaving, arriving in ((heaviest, give, take), (other, take, give)):
            if leaving is not None:
                sorted_members[group].remove(leaving)
                loads[group] -= leaving[0]
            if arriving is not None:
                insort(sorted_members[group], arriving)
                loads[group] += arriving[0]
    for group, entries in enumerate(sorted_members):
        members[group][:] = [index for _, _, index in entries]


_Entry = tuple[int, str, int]
_Move = tuple[int, _Entry, _Entry | None]


def _best_move(heaviest: int, loads: list[int], sorted_members: list[list[_Entry]]) -> _Move | None:
    """The move from `heaviest` to the lightest group that can take one, or None.

    A move gives an item (and maybe takes a smaller one back) so that the pair's
    heavier side ends lighter than `heaviest` was; the best one is the one whose
    weight difference is nearest half the pair's gap.
    """
    top = loads[heaviest]
    by_load = sorted(range(len(loads)), key=lambda group: (loads[group], group))
    for other in by_load:
        gap = top - loads[other]
        if other == heaviest or gap < 2:
            continue
        best: _Move | None = None
        best_peak = top
        others = sorted_members[other]
        other_weights = [entry[0] for entry in others]
        for give in sorted_members[heaviest]:
            # Giving alone: the pair's peak is the larger of the two new loads.
            peak = max(top - give[0], loads[other] + give[0])
            if peak < best_peak:
                best, best_peak = (other, give, None), peak
            # Swapping for `take`: the difference is best near half the gap.
            position = bisect_left(other_weights, give[0] - gap // 2)
            for near in (position - 1, position):
                if 0 <= near < len(others):
                    take = others[near]
                    difference = give[0] - take[0]
                    peak = max(top - difference, loads[other] + difference)
                    if difference > 0 and peak < best_peak:
                        best, best_peak = (other, give, take), peak
        if best is not None:
            return best
    return None
