"""Expected seconds per key, from the history: the scheduler's estimator."""

from __future__ import annotations

import bisect
import re
import statistics
from collections.abc import Iterator, Mapping, Sequence

from forkjoin.telemetry._protocol import HistoryStore

__all__ = ["DEFAULT_SECONDS", "HistoryEstimator", "families"]

# What every key weighs when the history knows nothing: the scheduler's priorities
# then fall back to the depth of the graph (DESIGN.md, "Scheduling policy").
DEFAULT_SECONDS = 1.0
# Where a key is cut to find its family: the last of these before the end.
_SEPARATORS = re.compile(r"::|[-/\[]")


class HistoryEstimator:
    """Expected seconds for a key: the median of its last successful runs.

    The median, not the mean, because one run slowed a hundredfold (a cold cache,
    a busy machine) must not make the scheduler think a step got slow: of the last
    10 runs, 4 may be outliers either way and the estimate stays put, while a real
    change shows once it holds for 6 runs. A key never seen takes its family's
    estimate (see `families`), else the median of every key's, else 1 second.

    All durations are read once, at construction; `estimate` is then a dict
    lookup (the scheduler asks for every node), and a family is worked out once
    per unseen key. `estimate` never raises. Satisfies the scheduler's Estimator
    protocol without importing it.
    """

    __slots__ = ("_estimates", "_keys", "_overall")

    def __init__(self, durations: Mapping[str, Sequence[float]]) -> None:
        """From successful durations per key, any order within a key."""
        self._estimates: dict[str, float] = {
            key: statistics.median(seconds) for key, seconds in durations.items() if seconds
        }
        self._keys = sorted(self._estimates)
        self._overall = (
            statistics.median(self._estimates.values()) if self._estimates else DEFAULT_SECONDS
        )

    @classmethod
    def from_store(cls, store: HistoryStore, *, last: int = 10) -> HistoryEstimator:
        """From the last `last` successful spans of every key in `store`, in one query."""
        return cls(store.durations(last=last))

    @property
    def known_keys(self) -> int:
        return len(self._keys)

    def known(self) -> dict[str, float]:
        """The estimate of every key with successful spans of its own."""
        return {key: self._estimates[key] for key in self._keys}

    def knows(self, key: str) -> bool:
        """True when `key` has successful spans of its own, not a family's estimate."""
        index = bisect.bisect_left(self._keys, key)
        return index < len(self._keys) and self._keys[index] == key

    def estimate(self, key: str) -> float:
        """Expected seconds for `key`."""
        try:
            return self._estimates[key]
        except KeyError:
            pass
        estimate = self._family_estimate(key)
        # Remembered, so the next node with this key is a lookup again; not
        # added to _keys, so it never counts as a sibling of anything.
        self._estimates[key] = estimate
        return estimate

    def _family_estimate(self, key: str) -> float:
        for family, is_prefix in families(key):
            if is_prefix:
                members = self._members(family)
                if members:
                    return statistics.median(members)
            elif family in self._estimates:
                return self._estimates[family]
        return self._overall

    def _members(self, prefix: str) -> list[float]:
        """The estimates of the known keys that start with `prefix`."""
        start = bisect.bisect_left(self._keys, prefix)
        members = []
        for known in self._keys[start:]:
            if not known.startswith(prefix):
                break
            members.append(self._estimates[known])
        return members


def families(key: str) -> Iterator[tuple[str, bool]]:
    """The families of `key`, closest first, each as (text, is_prefix).

    A prefix is what its siblings share and ends with its separator; otherwise the
    text is a key of its own. `f.py::C::t[x]` gives `f.py::C::t[` (the same test,
    other parameters), then `f.py::C::t` (the test unparametrized), `f.py::C::`,
    `f.py::`; `deploy[eu]` gives `deploy[`, then `deploy` (the step itself);
    `test-unit` gives `test-`;
    `build/linux/x86` gives `build/linux/`, `build/`.
    """
    rest = key
    if rest.endswith("]") and "[" in rest:
        # Parameters may hold any separator (`t[a-b/c]`): cut them off whole.
        opening = rest.index("[")
        yield rest[: opening + 1], True
        rest = rest[:opening]
        if rest:
            yield rest, False
    while True:
        cuts = [match for match in _SEPARATORS.finditer(rest) if match.start() > 0]
        if not cuts:
            return
        last = cuts[-1]
        yield rest[: last.end()], True
        rest = rest[: last.start()]
