"""Split items into k groups balanced by their expected durations: the public functions."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

from forkjoin.partition._partition import partition
from forkjoin.partition._unknown import MICROSECONDS, estimate_microseconds, known_microseconds

__all__ = ["Group", "balance", "split"]

Item = TypeVar("Item")
By = Literal["timings", "count"]


@dataclass(frozen=True, slots=True)
class Group:
    """One group of a split: its ids in sorted order and what it is expected to cost.

    `expected_seconds` sums the items' known durations and the estimates of the
    others; `estimated` counts the items that had no known duration.
    """

    ids: tuple[str, ...]
    expected_seconds: float
    estimated: int


def split(
    items: Iterable[Item],
    k: int,
    *,
    key: Callable[[Item], str] | None = None,
    durations: Mapping[str, float] | None = None,
) -> list[list[Item]]:
    """Cut `items` into `k` lists whose expected total seconds are as even as found.

    `key(item)` is the item's id (default: `str(item)`): durations are looked up by
    it and it breaks every tie. `durations` maps ids to known seconds; items without
    one are estimated from their family (see `estimate_unknown`). Without durations
    every item weighs the same and the lists differ in length by at most one.

    The same items in any order, with the same durations, give the same lists on
    every machine, so CI nodes can each compute their own share. Each list is sorted
    by id; items with equal ids keep their input order. There are always `k` lists,
    some empty when there are fewer items. Raises ValueError if `k` is less than 1
    or a duration is negative, NaN or not a number.
    """
    items = list(items)
    ids = list(map(key or str, items))
    members, _ = _assign(ids, k, durations or {}, "timings")
    return [[items[index] for index in group] for group in members]


def balance(
    ids: Sequence[str],
    k: int,
    *,
    durations: Mapping[str, float] | None = None,
    by: By = "timings",
) -> list[Group]:
    """`split` for ids, telling each group's expected seconds: what `forkjoin split` prints.

    `by="count"` ignores the durations for the split itself (the groups differ in
    length by at most one) and still uses them for `expected_seconds`. Raises
    ValueError as `split` does, and for an unknown `by`.
    """
    if by not in ("timings", "count"):
        raise ValueError(f"by must be 'timings' or 'count', not {by!r}")
    members, costs = _assign(ids, k, durations or {}, by)
    known = durations or {}
    return [
        Group(
            ids=tuple(ids[index] for index in group),
            expected_seconds=sum(costs[index] for index in group) / MICROSECONDS,
            estimated=sum(1 for index in group if ids[index] not in known),
        )
        for group in members
    ]


def _assign(
    ids: Sequence[str], k: int, durations: Mapping[str, float], by: By
) -> tuple[list[list[int]], list[int]]:
    """Each group's indices into `ids`, and every item's cost in microseconds."""
    if k < 1:
        raise ValueError(f"cannot split into {k} groups: it takes at least 1")
    costs = expected_microseconds(ids, durations)
    weights = [1] * len(ids) if by == "count" else costs
    return partition(weights, ids, k), costs


def expected_microseconds(ids: Sequence[str], durations: Mapping[str, float]) -> list[int]:
    """Each id's known or estimated duration in whole microseconds."""
    known = known_microseconds(durations)
    return list(map((known | estimate_microseconds(ids, known)).__getitem__, ids))
