"""Cut a list into k groups balanced by expected durations, the same on every machine.

    from forkjoin.partition import read_durations, split

    mine = split(tests, 4, durations=read_durations(".test_durations"))[node - 1]

This layer is pure: it knows items, costs and groups, and imports nothing of forkjoin
but its errors (`fj.split` adds the history on top, in the tasks layer). `split` cuts
any items, `balance` cuts ids and tells each group's expected seconds,
`estimate_unknown` guesses what has no recorded duration, and `read_durations` reads
pytest-split's `.test_durations` or a JUnit XML report (`junit_test_id` names its
cases, for the history's import too). docs/split.md tells the
algorithm and its benchmark.
"""

from __future__ import annotations

from forkjoin.partition._durations import junit_test_id, read_durations
from forkjoin.partition._split import Group, balance, split
from forkjoin.partition._unknown import estimate_unknown

__all__ = ["Group", "balance", "estimate_unknown", "junit_test_id", "read_durations", "split"]
