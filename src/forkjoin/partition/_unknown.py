"""Estimate the seconds of items that have no recorded duration, from their families.

An item's families are the known items that share a part of its id, nearest first:

    numpy/core/tests/test_a.py::TestX::test_b[int8]     the item
    numpy/core/tests/test_a.py::TestX::test_b[...]      its parametrized siblings
    numpy/core/tests/test_a.py::TestX::...              its class
    numpy/core/tests/test_a.py::...                     its file
    everything known                                    the last resort

An unknown item is estimated at the mean of the known items of its nearest family
that has one, because the tests of one function, class or file tend to cost alike;
the mean rather than the median, because what a split balances is a sum.

The families stop at the item's file: other files of its directory tell little about
it. On numpy's suite, a new file estimated from its directory's mean was split worse
than with the plain mean of everything (benchmarks/bench_split.py, `new-files`). An
id without `::` (JUnit's `classname.name`, go's `TestA/sub`) has one family above
its parametrized siblings: its parent, up to its last `.` or `/`.

An item that is itself a family of known ids (a file when the durations are per test)
is estimated at the sum of its known members instead: splitting by file with
durations per test then works.

Everything is computed on whole microseconds, so the result is the same on every
machine and for any order of the inputs.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping
from itertools import accumulate

__all__ = [
    "MICROSECONDS",
    "estimate_microseconds",
    "estimate_unknown",
    "families",
    "known_microseconds",
    "to_microseconds",
]

MICROSECONDS = 1_000_000
# Closing characters of the prefix ranges that hold an id's members: the ids that
# continue it with a separator. All separators are ASCII, so `chr(ord + 1)` is safe.
_MEMBER_PREFIXES = ("::", "/", ".", "[")
# With no known duration at all every item weighs the same: one second.
_NOTHING_KNOWN = MICROSECONDS
_INFINITY = float("inf")


def to_microseconds(item: str, seconds: float) -> int:
    """`seconds` as whole microseconds; ValueError names `item` if it is not a duration."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise ValueError(f"the duration of {item!r} is {seconds!r}, not a number of seconds")
    if not 0 <= seconds < _INFINITY:  # also rejects NaN
        raise ValueError(f"the duration of {item!r} is {seconds!r}: it must be finite and >= 0")
    return int(seconds * MICROSECONDS + 0.5)


def families(item: str) -> Iterator[str]:
    """The prefixes naming `item`'s families, nearest first (see the module docstring).

    Each prefix ends with its separator, so it matches the family's members and
    nothing else: `tests/a.py::` is not a prefix of `tests/a.py_old::t`.
    """
    if item.endswith("]") and item.find("[") > 0:
        item = item[: item.index("[")]
        yield item + "["
    if "::" in item:
        while "::" in item:
            item = item[: item.rindex("::")]
            yield item + "::"
        return
    cut = max(item.rfind("."), item.rfind("/"))
    if cut > 0:
        yield item[: cut + 1]


class _Known:
    """Known durations sorted by id, with running sums: any family's sum in O(log n)."""

    __slots__ = ("ids", "sums")

    def __init__(self, known: Mapping[str, int]) -> None:
        self.ids = sorted(known)
        self.sums = [0, *accumulate(map(known.__getitem__, self.ids))]

    def family(self, prefix: str) -> tuple[int, int]:
        """The count and the total microseconds of the known ids starting with `prefix`."""
        low = bisect_left(self.ids, prefix)
        high = bisect_left(self.ids, prefix[:-1] + chr(ord(prefix[-1]) + 1), low)
        return high - low, self.sums[high] - self.sums[low]

    def has_prefix(self, prefix: str) -> bool:
        """Whether a known id starts with `prefix`, the id itself included."""
        low = bisect_left(self.ids, prefix)
        return low < len(self.ids) and self.ids[low].startswith(prefix)

    def mean(self) -> int:
        return _rounded_mean(self.sums[-1], len(self.ids)) if self.ids else _NOTHING_KNOWN


def _rounded_mean(total: int, count: int) -> int:
    return (2 * total + count) // (2 * count)  # round half up, in integers


def estimate_microseconds(items: Iterable[str], known: Mapping[str, int]) -> dict[str, int]:
    """`estimate_unknown` on whole microseconds: the core the public function wraps."""
    unknown = dict.fromkeys([item for item in items if item not in known])
    if not known:  # no family can help: every item weighs the same
        return dict.fromkeys(unknown, _NOTHING_KNOWN)
    table = _Known(known)
    by_family: dict[str, int] = {}
    return {item: _estimate(item, table, by_family) for item in unknown}


def _estimate(item: str, table: _Known, estimates: dict[str, int]) -> int:
    if table.has_prefix(item):  # cheap test first: most items have no members
        members, total = 0, 0
        for separator in _MEMBER_PREFIXES:
            count, units = table.family(item + separator)
            members += count
            total += units
        if members:
            return total
    # `estimates` maps a family prefix to its estimate, fallbacks included: that
    # depends on the prefix alone, so each is computed once however many items share it.
    walked = []
    estimate = None
    for prefix in families(item):
        if prefix in estimates:
            estimate = estimates[prefix]
            break
        walked.append(prefix)
        count, total = table.family(prefix)
        if count:
            estimate = _rounded_mean(total, count)
            break
    if estimate is None:
        estimate = table.mean()
    for prefix in walked:
        estimates[prefix] = estimate
    return estimate


def estimate_unknown(items: Iterable[str], known: Mapping[str, float]) -> dict[str, float]:
    """Expected seconds of each of `items` that `known` has no duration for.

    The estimate is the sum of the item's known members when it is a family itself
    (a file, with durations per test), else the mean of the nearest family with a
    known duration (parametrized siblings, then class, then file), else the mean
    of everything known, else 1 second when nothing is known. Items in `known` are
    left out of the result. The same inputs, in any order, give the same result on
    every machine. Raises ValueError if a known duration is negative, NaN or not a
    number.
    """
    estimates = estimate_microseconds(items, known_microseconds(known))
    return {item: units / MICROSECONDS for item, units in estimates.items()}


def known_microseconds(known: Mapping[str, float]) -> dict[str, int]:
    """Every known duration as whole microseconds; ValueError names the first bad one."""
    seconds = list(known.values())
    # One pass over all values, not 100,000 calls of to_microseconds (a third of a
    # big split's time). NaN and infinity make int() raise; anything wrong goes the
    # slow way, which names the first bad item.
    if set(map(type, seconds)) <= {float, int}:
        try:
            units = [int(value * MICROSECONDS + 0.5) for value in seconds]
        except (ValueError, OverflowError):
            pass
        else:
            if min(seconds, default=0) >= 0:
                return dict(zip(known, units, strict=True))
    return {item: to_microseconds(item, value) for item, value in known.items()}
