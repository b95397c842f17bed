"""The partition: every item once, k groups, deterministic, and close to the optimum.

Weights are whole numbers here, as the partition sees them (microseconds).
"""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forkjoin.partition._partition import lower_bound, partition

weights_and_groups = st.tuples(
    st.lists(st.integers(min_value=0, max_value=10**7), max_size=60),
    st.integers(min_value=1, max_value=12),
)


def loads(weights: list[int], groups: list[list[int]]) -> list[int]:
    return [sum(weights[index] for index in group) for group in groups]


def optimum(weights: list[int], group_count: int) -> int:
    """The best makespan, by trying every assignment (small inputs only)."""
    best = sum(weights)
    for assignment in itertools.product(range(group_count), repeat=len(weights)):
        totals = [0] * group_count
        for index, group in enumerate(assignment):
            totals[group] += weights[index]
        best = min(best, max(totals))
    return best


@given(weights_and_groups)
def test_every_item_lands_in_exactly_one_of_k_groups(case: tuple[list[int], int]) -> None:
    weights, group_count = case
    groups = partition(weights, [f"t{index}" for index in range(len(weights))], group_count)
    assert len(groups) == group_count
    assert sorted(index for group in groups for index in group) == list(range(len(weights)))


@given(weights_and_groups, st.randoms(use_true_random=False))
def test_the_groups_do_not_depend_on_the_input_order(
    case: tuple[list[int], int], shuffler: random.Random
) -> None:
    weights, group_count = case
    names = [f"t{index:03}" for index in range(len(weights))]
    order = list(range(len(weights)))
    shuffler.shuffle(order)
    shuffled = partition([weights[i] for i in order], [names[i] for i in order], group_count)
    straight = partition(weights, names, group_count)
    assert [[names[order[i]] for i in group] for group in shuffled] == [
        [names[i] for i in group] for group in straight
    ]


@given(weights_and_groups)
def test_each_group_is_sorted_by_name(case: tuple[list[int], int]) -> None:
    weights, group_count = case
    names = [f"t{(7 * index) % 61:02}" for index in range(len(weights))]
    for group in partition(weights, names, group_count):
        assert [names[i] for i in group] == sorted(names[i] for i in group)


@given(weights_and_groups)
def test_the_makespan_keeps_graham_s_bound(case: tuple[list[int], int]) -> None:
    """Greedy into the lightest group ends under total/k + (1 - 1/k) * the longest item."""
    weights, group_count = case
    groups = partition(weights, [str(index) for index in range(len(weights))], group_count)
    longest = max(weights, default=0)
    assert max(loads(weights, groups)) * group_count <= sum(weights) + (group_count - 1) * longest
    assert max(loads(weights, groups)) >= lower_bound(weights, group_count)


@settings(max_examples=150)
@given(
    st.lists(st.integers(min_value=1, max_value=30), min_size=1, max_size=7),
    st.integers(min_value=2, max_value=3),
)
def test_the_makespan_is_within_lpt_s_bound_of_the_optimum(
    weights: list[int], group_count: int
) -> None:
    """LPT is within 4/3 - 1/(3k) of the optimum; refinement only lowers it."""
    groups = partition(weights, [str(index) for index in range(len(weights))], group_count)
    best = optimum(weights, group_count)
    assert 3 * group_count * max(loads(weights, groups)) <= (4 * group_count - 1) * best


def test_refinement_closes_the_gap_lpt_leaves() -> None:
    """3 3 2 2 2 into 2: LPT gives 3+2+2 | 3+2 = 7; a swap makes 3+3 | 2+2+2 = 6."""
    weights = [3, 3, 2, 2, 2]
    names = ["a", "b", "c", "d", "e"]
    assert max(loads(weights, partition(weights, names, 2, refine=False))) == 7
    assert max(loads(weights, partition(weights, names, 2))) == 6


def test_refinement_finds_the_optimum_more_often_than_lpt() -> None:
    rng = random.Random(7)
    found = {False: 0, True: 0}
    for _ in range(200):
        group_count = rng.choice((2, 3))
        weights = [rng.randint(1, 20) for _ in range(rng.randint(group_count + 1, 7))]
        names = [str(index) for index in range(len(weights))]
        best = optimum(weights, group_count)
        for refine in (False, True):
            groups = partition(weights, names, group_count, refine=refine)
            found[refine] += max(loads(weights, groups)) == best
    assert found[True] > found[False]


def test_more_groups_than_items_leaves_some_empty() -> None:
    assert partition([5, 1], ["a", "b"], 4) == [[0], [1], [], []]


def test_ties_in_weight_go_by_name_then_by_group_number() -> None:
    """Equal weights: sorted names dealt round robin, as one would by hand."""
    names = ["e", "c", "a", "d", "b"]
    groups = partition([1] * 5, names, 2)
    assert [[names[i] for i in group] for group in groups] == [["a", "c", "e"], ["b", "d"]]


def test_no_items_gives_k_empty_groups() -> None:
    assert partition([], [], 3) == [[], [], []]


@pytest.mark.parametrize("group_count", [0, -1])
def test_fewer_than_one_group_is_refused(group_count: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        partition([1], ["a"], group_count)


def test_lower_bound_is_the_larger_of_the_mean_and_the_longest() -> None:
    assert lower_bound([4, 4, 4], 2) == 6
    assert lower_bound([9, 1, 1], 2) == 9
    assert lower_bound([1, 1, 1], 2) == 2  # rounded up: no group holds half an item
    assert lower_bound([], 3) == 0
