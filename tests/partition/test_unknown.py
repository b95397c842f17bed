"""Estimates of items with no recorded duration, from their nearest known family."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from forkjoin.partition import estimate_unknown
from forkjoin.partition._unknown import families

KNOWN = {
    "tests/a.py::TestX::test_b[1]": 2.0,
    "tests/a.py::TestX::test_b[2]": 4.0,
    "tests/a.py::TestX::test_c": 6.0,
    "tests/a.py::test_d": 20.0,
    "tests/unit/b.py::test_e": 1.0,
    "other/c.py::test_f": 0.5,
}


def test_the_families_of_a_pytest_id_stop_at_its_file() -> None:
    assert list(families("numpy/core/tests/test_a.py::TestX::test_b[int8-1.5]")) == [
        "numpy/core/tests/test_a.py::TestX::test_b[",
        "numpy/core/tests/test_a.py::TestX::",
        "numpy/core/tests/test_a.py::",
    ]
    assert list(families("tests/a.py::test_c")) == ["tests/a.py::"]


def test_an_id_without_double_colons_has_its_parent_for_family() -> None:
    assert list(families("pkg.module.TestCase.test_x[1]")) == [
        "pkg.module.TestCase.test_x[",
        "pkg.module.TestCase.",
    ]
    assert list(families("TestParse/empty_input")) == ["TestParse/"]
    assert list(families("plain")) == []
    assert list(families("[odd]")) == []


def test_a_parametrized_test_is_estimated_from_its_siblings() -> None:
    assert estimate_unknown(["tests/a.py::TestX::test_b[3]"], KNOWN) == {
        "tests/a.py::TestX::test_b[3]": 3.0
    }


def test_then_from_its_class_then_its_file_then_from_everything() -> None:
    everything = (2 + 4 + 6 + 20 + 1 + 0.5) / 6
    estimates = estimate_unknown(
        ["tests/a.py::TestX::test_new", "tests/a.py::test_new", "tests/unit/z.py::test_g"],
        KNOWN,
    )
    assert estimates == {
        "tests/a.py::TestX::test_new": 4.0,  # (2 + 4 + 6) / 3
        "tests/a.py::test_new": 8.0,  # (2 + 4 + 6 + 20) / 4
        # Not from tests/unit/b.py: another file of the directory tells little.
        "tests/unit/z.py::test_g": pytest.approx(everything, abs=1e-6),
    }


def test_an_item_of_no_known_family_gets_the_mean_of_everything_known() -> None:
    mean = math.fsum(KNOWN.values()) / len(KNOWN)
    assert estimate_unknown(["elsewhere/d.py::test_h"], KNOWN) == {
        "elsewhere/d.py::test_h": pytest.approx(mean, abs=1e-6)
    }


def test_a_file_is_estimated_as_the_sum_of_its_known_tests() -> None:
    """Splitting files with durations per test: the file costs what its tests do."""
    assert estimate_unknown(["tests/a.py", "tests/unit"], KNOWN) == {
        "tests/a.py": 32.0,
        "tests/unit": 1.0,
    }


def test_a_family_prefix_is_not_matched_inside_a_longer_name() -> None:
    """test_x_slow[1] is no member of test_x: test_x gets its file's mean, not 100."""
    known = {"tests/a.py::test_x_slow[1]": 100.0, "tests/a.py::test_y": 10.0}
    assert estimate_unknown(["tests/a.py::test_x"], known) == {"tests/a.py::test_x": 55.0}


def test_known_items_are_left_out_and_nothing_known_weighs_one_second() -> None:
    assert estimate_unknown(["tests/a.py::test_d"], KNOWN) == {}
    assert estimate_unknown(["x", "y"], {}) == {"x": 1.0, "y": 1.0}


@given(
    st.dictionaries(
        st.from_regex(r"[ab]/[cd]\.py::T[ef]::t[gh](\[[12]\])?", fullmatch=True),
        st.floats(min_value=0, max_value=1e4),
        min_size=1,
    ),
    st.lists(st.from_regex(r"[ab]/[cd]\.py::T[ef]::t[ghi](\[[123]\])?", fullmatch=True)),
    st.randoms(use_true_random=False),
)
def test_the_estimates_do_not_depend_on_any_order(
    known: dict[str, float], items: list[str], shuffler: random.Random
) -> None:
    known_items = list(known.items())
    shuffler.shuffle(known_items)
    reordered = items[:]
    shuffler.shuffle(reordered)
    first = estimate_unknown(items, known)
    second = estimate_unknown(reordered, dict(known_items))
    assert first == second
    assert set(first) == set(items) - set(known)
    assert all(value >= 0 for value in first.values())


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (-1.0, "finite and >= 0"),
        (-1e-9, "finite and >= 0"),  # rounds to 0 microseconds, and is still refused
        (math.nan, "finite and >= 0"),
        (math.inf, "finite and >= 0"),
        ("3", "not a number"),
        (True, "not a number"),
    ],
)
def test_a_bad_known_duration_is_a_value_error_naming_the_item(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        estimate_unknown(["new"], {"old": 1.0, "bad::one": value})  # type: ignore[dict-item]
    assert "bad::one" in str(caught.value)
