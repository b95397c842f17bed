"""The real clock: one timer thread fires every alarm when due, whatever else is set."""

from __future__ import annotations

import threading

import pytest

from forkjoin.scheduler import MonotonicClock


@pytest.mark.parametrize("far", [1e23, 10**400, float("inf")], ids=["float", "int", "inf"])
def test_an_alarm_beyond_any_wait_leaves_the_timer_thread_serving_the_others(
    far: float,
) -> None:
    clock = MonotonicClock()
    never = threading.Event()
    clock.call_later(far, never.set)  # first, so the thread waits on it alone
    soon = threading.Event()
    clock.call_later(0.05, soon.set)
    assert soon.wait(5)
    assert not never.is_set()
    later = threading.Event()
    clock.call_later(0.05, later.set)  # the thread still lives after the far wait
    assert later.wait(5)


def test_alarms_fire_in_the_order_they_are_due_and_a_cancelled_one_never() -> None:
    clock = MonotonicClock()
    fired: list[str] = []
    done = threading.Event()
    clock.call_later(0.15, lambda: (fired.append("last"), done.set()))
    clock.call_later(0.05, lambda: fired.append("first"))
    clock.call_later(0.1, lambda: fired.append("cancelled")).cancel()
    assert done.wait(5)
    assert fired == ["first", "last"]
