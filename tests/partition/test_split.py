"""`fj.split` and `balance`: the same groups for the same items in any order, on any node."""

from __future__ import annotations

import importlib
import random
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import forkjoin as fj
from forkjoin.partition import Group, balance, estimate_unknown

# Ids as pytest names them, with a few families; a duration of None means unknown.
test_ids = st.from_regex(r"t/[ab]\.py::(T[cd]::)?t[efg](\[[0-3]\])?", fullmatch=True)
suites = st.dictionaries(test_ids, st.none() | st.floats(min_value=0, max_value=100), max_size=40)


def known(suite: dict[str, float | None]) -> dict[str, float]:
    return {item: seconds for item, seconds in suite.items() if seconds is not None}


@given(suites, st.integers(min_value=1, max_value=9), st.randoms(use_true_random=False))
def test_the_same_items_in_any_order_give_the_same_groups(
    suite: dict[str, float | None], k: int, shuffler: random.Random
) -> None:
    items = list(suite)
    durations = list(known(suite).items())
    shuffler.shuffle(items)
    shuffler.shuffle(durations)
    assert fj.split(items, k, durations=dict(durations)) == fj.split(
        sorted(suite), k, durations=known(suite)
    )


@given(suites, st.integers(min_value=1, max_value=9))
def test_every_item_once_in_k_sorted_groups(suite: dict[str, float | None], k: int) -> None:
    groups = fj.split(list(suite), k, durations=known(suite))
    assert len(groups) == k
    assert sorted(item for group in groups for item in group) == sorted(suite)
    assert all(group == sorted(group) for group in groups)


@given(suites, st.integers(min_value=1, max_value=9))
def test_balance_tells_what_split_does(suite: dict[str, float | None], k: int) -> None:
    groups = balance(list(suite), k, durations=known(suite))
    assert [list(group.ids) for group in groups] == fj.split(list(suite), k, durations=known(suite))
    assert sum(group.estimated for group in groups) == sum(v is None for v in suite.values())
    estimates = estimate_unknown(list(suite), known(suite))
    for group in groups:
        expected = sum(known(suite).get(item, estimates.get(item, 0.0)) for item in group.ids)
        assert group.expected_seconds == pytest.approx(expected, abs=1e-6 * (len(group.ids) + 1))


def test_the_longest_items_are_spread_over_the_groups() -> None:
    """a=9 ; b=5 c=4 ; d=3 e=3 f=3    (k=3: 9 | 5+4 | 3+3+3)"""
    durations = {"a": 9, "b": 5, "c": 4, "d": 3, "e": 3, "f": 3}
    assert fj.split("fedcba", 3, durations=durations) == [["a"], ["b", "c"], ["d", "e", "f"]]


def test_unknown_items_weigh_what_their_siblings_do() -> None:
    """Three fast known tests, and two unknown siblings of a slow one: those go apart."""
    durations = {"t.py::slow[1]": 10.0, "t.py::fast1": 1.0, "t.py::fast2": 1.0, "t.py::fast3": 1.0}
    items = ["t.py::slow[2]", "t.py::slow[3]", "t.py::fast1", "t.py::fast2", "t.py::fast3"]
    groups = balance(items, 2, durations=durations)
    assert [group.ids[-1] for group in groups] == ["t.py::slow[2]", "t.py::slow[3]"]
    assert [group.expected_seconds for group in groups] == [12.0, 11.0]


def test_without_durations_the_groups_differ_in_length_by_at_most_one() -> None:
    groups = fj.split([f"t{index:02}" for index in range(23)], 5)
    assert [len(group) for group in groups] == [5, 5, 5, 4, 4]
    assert groups[0] == ["t00", "t05", "t10", "t15", "t20"]


def test_zero_durations_are_dealt_to_the_groups_with_fewest_items() -> None:
    """a=5 b=3 c=2 ; z0..z5 = 0    (a | b c ; z0 evens the counts, then they alternate)

    A recorded 0 is under the timer's resolution, not free: by weight alone every
    zero would go to the group that is lightest at the end.
    """
    durations = {"a": 5.0, "b": 3.0, "c": 2.0, **{f"z{index}": 0.0 for index in range(6)}}
    groups = fj.split(durations, 2, durations=durations)
    assert groups == [["a", "z0", "z1", "z3", "z5"], ["b", "c", "z2", "z4"]]


def test_by_count_ignores_the_durations_but_still_tells_the_expected_seconds() -> None:
    durations = {"a": 10.0, "b": 1.0, "c": 1.0, "d": 1.0}
    groups = balance("abcd", 2, durations=durations, by="count")
    assert groups == [
        Group(ids=("a", "c"), expected_seconds=11.0, estimated=0),
        Group(ids=("b", "d"), expected_seconds=2.0, estimated=0),
    ]


@dataclass(frozen=True)
class Case:
    path: str
    weight: float


def test_any_items_split_by_their_key() -> None:
    cases = [Case("z", 1.0), Case("y", 5.0), Case("x", 4.0)]
    groups = fj.split(
        cases, 2, key=lambda case: case.path, durations={"y": 5.0, "x": 4.0, "z": 1.0}
    )
    assert groups == [[Case("y", 5.0)], [Case("x", 4.0), Case("z", 1.0)]]


def test_more_groups_than_items_gives_empty_groups() -> None:
    assert fj.split(["a"], 3) == [["a"], [], []]
    assert fj.split([], 2) == [[], []]


@pytest.mark.parametrize("k", [0, -2])
def test_fewer_than_one_group_is_a_value_error(k: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        fj.split(["a"], k)


def test_a_bad_duration_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="'a'"):
        fj.split(["a"], 1, durations={"a": -1.0})
    with pytest.raises(ValueError, match="by must be"):
        balance(["a"], 1, by="time")  # type: ignore[arg-type]


def test_fj_split_reads_the_durations_the_history_recorded(tmp_path: Path) -> None:
    """slow took 9 s, six others 1 s: by history, slow is alone in one of 2 groups."""
    from forkjoin.telemetry import Span, open_history

    path = tmp_path / "history.db"
    seconds = {"slow": 9.0, **{f"quick{n}": 1.0 for n in range(6)}}
    with open_history(path) as store:
        job = store.start_job("tests", "pytest")
        spans = [
            Span(f"{job.uid}.{n}", key, "test", "succeeded", 0.0, took, "", None, {})
            for n, (key, took) in enumerate(seconds.items())
        ]
        store.record_spans(job, spans)
        store.finish_job(job, "succeeded")
    by_history = fj.split(list(seconds), 2, history=path)
    assert ["slow"] in by_history
    blind = fj.split(list(seconds), 2)
    assert ["slow"] not in blind
    assert fj.split(list(seconds), 2, history=path, durations={"slow": 1.0}) == blind


def test_the_package_declares_what_exists_and_imports_nothing_heavy() -> None:
    package = importlib.import_module("forkjoin.partition")
    for name in package.__all__:
        assert hasattr(package, name)
    code = (
        "import sys, forkjoin.partition; print(sorted(m for m in sys.modules if 'forkjoin' in m))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert eval(run.stdout) == [
        "forkjoin",
        "forkjoin.errors",
        "forkjoin.partition",
        "forkjoin.partition._durations",
        "forkjoin.partition._partition",
        "forkjoin.partition._split",
        "forkjoin.partition._unknown",
    ]
