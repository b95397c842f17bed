"""`@parallel` and `item_span`: a list cut into buckets balanced by history, run on the
session, merged back in item order, each item timed into the history."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

import forkjoin as fj
from forkjoin.telemetry import open_history

SLEEPS = {"a": 0.3, "b": 0.05, "c": 0.05, "d": 0.05, "e": 0.05, "f": 0.05, "g": 0.05}
calls: list[list[str]] = []
lock = threading.Lock()


@fj.parallel(over="files")
def check(files: list[str], suffix: str = "!") -> list[str]:
    with lock:
        calls.append(list(files))
    results = []
    for file in files:
        with fj.item_span(file):
            time.sleep(SLEEPS.get(file, 0.01))
            results.append(file + suffix)
    return results


def test_results_come_back_in_item_order_whatever_the_buckets() -> None:
    calls.clear()
    files = ["g", "c", "a", "f", "b"]
    with fj.Session(workers=2):
        assert check(files, suffix="?") == ["g?", "c?", "a?", "f?", "b?"]
    assert len(calls) == 2  # one bucket per slot
    assert sorted(file for bucket in calls for file in bucket) == sorted(files)


def test_the_history_balances_the_next_split(tmp_path: Path) -> None:
    """a takes 0.3 s, six others 0.05 s; 2 buckets. Blind: counts split 4/3, a with
    three others. With history: a alone, or nearly."""
    path = tmp_path / "history.db"
    files = list(SLEEPS)
    calls.clear()
    with fj.Session(workers=2, history=path):
        check(files)
    with open_history(path) as store:
        keys = {span.key for job in store.recent_jobs() for span in store.spans(job)}
    assert {f"{check.__qualname__}[{file}]" for file in files} <= keys
    calls.clear()
    with fj.Session(workers=2, history=path):
        check(files)
    (with_a,) = [bucket for bucket in calls if "a" in bucket]
    assert len(with_a) <= 2  # the 0.3 s item is not batched with 0.15 s more


def test_failures_are_raised_together() -> None:
    @fj.parallel(over="numbers", buckets=3)
    def invert(numbers: list[int]) -> list[float]:
        return [1 / number for number in numbers]

    with fj.Session(workers=3), pytest.raises(ExceptionGroup) as raised:
        invert([0, 1, 2, 0, 4, 5])
    assert all(isinstance(error, ZeroDivisionError) for error in raised.value.exceptions)


def test_merge_and_several_over_arguments_make_a_product() -> None:
    @fj.parallel(
        over=("os", "python"), merge=lambda results: sorted(x for result in results for x in result)
    )
    def build(os: list[str], python: list[str]) -> list[str]:
        return [f"{o}-{p}" for o, p in zip(os, python, strict=True)]

    with fj.Session(workers=2):
        assert build(["linux", "mac"], ["3.11", "3.12"]) == [
            "linux-3.11",
            "linux-3.12",
            "mac-3.11",
            "mac-3.12",
        ]


def test_a_bucket_that_is_not_one_result_per_item_asks_for_merge() -> None:
    @fj.parallel(over="xs")
    def total(xs: list[int]) -> int:
        return sum(xs)

    with fj.Session(workers=2), pytest.raises(TypeError, match="pass merge="):
        total([1, 2, 3])


def test_an_unknown_over_argument_is_an_error_at_decoration() -> None:
    with pytest.raises(TypeError, match="has no argument nope"):

        @fj.parallel(over="nope")
        def f(xs: list[int]) -> None: ...


@fj.parallel(over="files", buckets=1)
def check_failing(files: list[str]) -> list[str]:
    results = []
    for file in files:
        with fj.item_span(file):
            time.sleep(0.01)
            if file == "boom":
                raise ValueError(f"cannot check {file}")
            results.append(file)
    return results


@pytest.mark.parametrize("executor", ["threads", "processes"])
def test_a_failed_bucket_keeps_its_item_spans_and_the_failing_one(
    tmp_path: Path, executor: str
) -> None:
    """[a, boom, c, d] in one bucket fails at boom: a succeeded, boom failed, c and d
    never ran; the item spans hang from the bucket's task span."""
    path = tmp_path / "history.db"
    with (
        fj.Session(executor, workers=2, history=path),
        pytest.raises(ExceptionGroup) as raised,
    ):
        check_failing(["a", "boom", "c", "d"])
    (error,) = raised.value.exceptions
    assert isinstance(error, ValueError) and not hasattr(error, "_forkjoin_item_timings")
    with open_history(path) as store:
        (job,) = store.recent_jobs()
        spans = store.spans(job)
    prefix = check_failing.__qualname__
    items = {span.key: span for span in spans if span.kind == "item"}
    assert items[f"{prefix}[boom]"].status == "failed"
    assert items[f"{prefix}[a]"].status == "succeeded"
    assert set(items) == {f"{prefix}[a]", f"{prefix}[boom]"}
    (bucket,) = [span for span in spans if span.kind == "task"]
    assert bucket.status == "failed"
    assert {span.parent for span in items.values()} == {bucket.uid}
