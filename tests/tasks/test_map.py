"""map: item order, the parallelism bound, stop and continue on failure."""

from __future__ import annotations

import random
import threading
import time

import pytest

import forkjoin as fj


def jittery_square(x: int) -> int:
    time.sleep(random.uniform(0, 0.01))
    return x * x


def test_results_are_in_item_order_whatever_the_completion_order() -> None:
    with fj.Session("threads", workers=4):
        assert fj.map(jittery_square, range(40)) == [x * x for x in range(40)]


def test_an_empty_map_is_an_empty_list() -> None:
    assert fj.map(jittery_square, []) == []


def test_parallelism_bounds_the_items_running_at_once() -> None:
    lock = threading.Lock()
    running = [0, 0]  # now, most

    def tracked(x: int) -> int:
        with lock:
            running[0] += 1
            running[1] = max(running[1], running[0])
        time.sleep(0.02)
        with lock:
            running[0] -= 1
        return x

    with fj.Session("threads", workers=8):
        assert fj.map(tracked, range(20), parallelism=3) == list(range(20))
    assert running[1] == 3


def test_stop_raises_the_lowest_indexed_failure_and_starts_nothing_after() -> None:
    started: list[int] = []

    def fails_on_odd_from_3(x: int) -> int:
        started.append(x)
        if x >= 3 and x % 2:
            raise ValueError(f"item {x}")
        return x

    with fj.Session("threads", workers=4), pytest.raises(ValueError, match="item 3"):
        fj.map(fails_on_odd_from_3, range(50), parallelism=1)
    assert started == [0, 1, 2, 3]


def test_stop_reports_the_lowest_index_even_when_a_later_item_fails_first() -> None:
    def slow_failure_first(x: int) -> int:
        time.sleep(0.2 if x == 0 else 0.0)
        raise ValueError(f"item {x}")

    with fj.Session("threads", workers=2), pytest.raises(ValueError, match="item 0"):
        fj.map(slow_failure_first, range(2))


def test_stop_cancels_the_items_in_flight_after_the_failure() -> None:
    release = threading.Event()

    def item(x: int) -> int:
        if x == 0:
            time.sleep(0.05)
            raise ValueError("zero")
        release.wait(5)
        return x

    with fj.Session("threads", workers=3):
        began = time.monotonic()
        with pytest.raises(ValueError, match="zero"):
            fj.map(item, [0, 1, 2])
        assert time.monotonic() - began < 2
        release.set()


def test_continue_runs_every_item_and_returns_outcomes() -> None:
    def odd_fails(x: int) -> int:
        if x % 2:
            raise ValueError(f"odd {x}")
        return x * 10

    with fj.Session("threads", workers=2):
        outcomes = fj.map(odd_fails, range(5), on_failure="continue")
    assert [(o.item, o.ok, o.value) for o in outcomes] == [
        (0, True, 0),
        (1, False, None),
        (2, True, 20),
        (3, False, None),
        (4, True, 40),
    ]
    assert [str(o.error) for o in outcomes if not o.ok] == ["odd 1", "odd 3"]


def test_map_over_tasks_waits_for_their_values() -> None:
    with fj.Session("threads"):
        tasks = [fj.spawn(int, text) for text in ("1", "2", "3")]
        assert fj.map(jittery_square, tasks) == [1, 4, 9]


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="on_failure must be"):
        fj.map(jittery_square, [1], on_failure="ignore")  # type: ignore[call-overload]
    with pytest.raises(ValueError, match="parallelism must be 1 or more"):
        fj.map(jittery_square, [1], parallelism=0)
