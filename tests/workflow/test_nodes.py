"""The labels of a step's items: one printable line each, and no two alike."""

from __future__ import annotations

from forkjoin.workflow._nodes import item_labels
from forkjoin.workflow._spec import Step


def test_an_item_or_a_combination_is_named_after_its_values() -> None:
    step = Step(id="d", run="x", for_each=["eu", 3, True])
    assert item_labels(step, ["eu", 3, True]) == ["d/eu", "d/3", "d/true"]
    assert item_labels(step, [{"os": "linux", "py": "3.11"}]) == ["d/os=linux,py=3.11"]


def test_a_repeated_item_gets_a_number_no_other_item_has() -> None:
    step = Step(id="d", run="x")
    assert item_labels(step, ["a", "a", "a#2", "a", "b"]) == [
        "d/a",
        "d/a#3",
        "d/a#2",
        "d/a#4",
        "d/b",
    ]


def test_a_label_is_one_printable_line() -> None:
    step = Step(id="d", run="x")
    labels = item_labels(step, ["x\ny", "tab\there", "\x1b[31mred", "x\ny", "\u2028"])
    assert labels == ["d/x\\ny", "d/tab\\there", "d/\\x1b[31mred", "d/x\\ny#2", "d/\\u2028"]
    assert all(label.isprintable() for label in labels)


def test_many_repeats_stay_quick_and_distinct() -> None:
    labels = item_labels(Step(id="d", run="x"), ["same"] * 20_000)
    assert len(set(labels)) == 20_000
    assert labels[-1] == "d/same#20000"
