"""Regressions for bugs a review found, each once reproduced, then fixed."""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap
import threading
import time
import weakref
from collections.abc import Callable

import pytest

import forkjoin as fj
from forkjoin.errors import Cancelled


def run_in_thread(target: object, seconds: float) -> bool:
    """True if `target` returned within `seconds` (a hang leaves a daemon thread)."""
    thread = threading.Thread(target=target, daemon=True)  # type: ignore[arg-type]
    thread.start()
    thread.join(seconds)
    return not thread.is_alive()


def fails_once() -> Callable[[], str]:
    """A call that raises the first time and returns "ok" after."""
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("first")
        return "ok"

    return flaky


def test_a_timed_out_attempt_does_not_take_its_retrys_slot() -> None:
    """parent (timeout, retries 1): attempt 1 waits on gate1 and times out;
    attempt 2 waits on child(gate2); gate1 opens, then gate2    (expect child to run)"""
    gates = fj.Session("threads", workers=2)
    gate1, gate2 = threading.Event(), threading.Event()
    outside1, outside2 = gates.spawn(gate1.wait), gates.spawn(gate2.wait)
    attempts: list[int] = []

    def parent() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            fj.fetch(outside1)  # suspended, then timed out: a zombie attempt
            return "zombie"
        return fj.fetch(fj.spawn(lambda _: "child ran", outside2))  # type: ignore[no-any-return]

    with fj.Session("threads", workers=1, max_concurrency=1) as session:
        with fj.options(timeout=1.0, retries=1):
            task = fj.spawn(parent)
        time.sleep(1.3)  # attempt 2 is suspended in its fetch
        gate1.set()  # the zombie's fetch returns, and it resumes
        time.sleep(0.1)
        assert session.engine._plan.running == 0  # it took no slot
        gate2.set()
        assert task.result(timeout=5) == "child ran"
    gates.close()


def test_as_completed_on_an_inline_session_pulls_what_it_waits_for() -> None:
    def parent() -> list[int]:
        kids = [fj.spawn(int, i) for i in range(3)]
        return sorted(kid.result() for kid in fj.as_completed(kids))

    flaky = fails_once()

    def nested_and_after_a_backoff() -> None:
        with fj.Session("inline"):
            assert fj.fetch(fj.spawn(parent)) == [0, 1, 2]
            with fj.options(retries=1, backoff=0.1):
                retried = fj.spawn(flaky)
            assert [one.result() for one in fj.as_completed([retried])] == ["ok"]

    assert run_in_thread(nested_and_after_a_backoff, 10)


def test_an_inline_wait_on_a_backoff_sleeps_instead_of_spinning() -> None:
    flaky = fails_once()

    with fj.Session("inline"), fj.options(retries=1, backoff=0.5):
        began_cpu = time.process_time()
        assert fj.fetch(fj.spawn(flaky)) == "ok"
        assert time.process_time() - began_cpu < 0.25  # it waited 0.5 s, mostly asleep


def test_a_timeout_does_not_keep_a_finished_tasks_value_alive() -> None:
    class Big:
        pass

    with fj.Session("threads"), fj.options(timeout=3600):
        task = fj.spawn(Big)
        value = weakref.ref(fj.fetch(task))
        del task
    gc.collect()
    assert value() is None


def test_a_task_calling_sys_exit_fails_with_system_exit_in_the_group() -> None:
    with pytest.raises(BaseExceptionGroup) as caught, fj.Session("threads"):
        fj.spawn(sys.exit, 3)
    assert [type(error) for error in caught.value.exceptions] == [SystemExit]


def test_ctrl_c_inside_a_task_is_not_retried() -> None:
    runs: list[int] = []

    def interrupted() -> None:
        runs.append(1)
        raise KeyboardInterrupt

    with fj.Session("inline") as session, fj.options(retries=2):
        with pytest.raises(KeyboardInterrupt):
            fj.spawn(interrupted)
        session.engine.wait_all()
    assert runs == [1]


def test_cancel_all_reaches_a_task_that_waits_on_another_session() -> None:
    gate = threading.Event()
    with fj.Session("threads", workers=1) as other:
        outside = other.spawn(gate.wait, 10)
        with pytest.raises(KeyError), fj.Session("threads") as session:
            waiting = fj.spawn(int, outside)
            raise KeyError("the block failed")
        assert waiting.cancelled()
        assert session.engine.unfinished == 0
        gate.set()


def test_map_stop_reports_an_items_failed_input_as_the_lowest_failure() -> None:
    ran: list[int] = []

    def item(x: int) -> int:
        ran.append(x)
        if x >= 3:
            raise ValueError(f"item {x}")
        return x

    def broken() -> int:
        raise KeyError("input of item 0")

    with fj.Session("threads", workers=1), pytest.raises(KeyError, match="input of item 0"):
        fj.map(item, [fj.spawn(broken), 1, 2, 3, 4, 5, 6], parallelism=1)
    assert ran == []  # item 0 failed first, and every item after it was cancelled


def test_a_session_is_entered_once() -> None:
    session = fj.Session("inline")
    with session, pytest.raises(RuntimeError, match="entered already"), session:
        pass


def test_exception_of_a_cancelled_task_raises_like_concurrent_futures() -> None:
    gate = threading.Event()
    with fj.Session("threads", workers=1):
        fj.spawn(gate.wait, 10)
        pending = fj.spawn(int, 1)
        pending.cancel()
        with pytest.raises(Cancelled):
            pending.exception()
        gate.set()


def test_the_default_session_finishes_its_work_at_exit_and_reports_failures() -> None:
    program = textwrap.dedent(
        """
        import time
        import forkjoin as fj

        def work():
            time.sleep(0.3)
            print("work finished", flush=True)

        def boom():
            raise ValueError("never fetched")

        fj.spawn(work)
        fj.spawn(boom)
        print("script ends", flush=True)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=30
    )
    assert done.stdout.splitlines() == ["script ends", "work finished"]
    assert "task boom#2 failed, unfetched" in done.stderr
    assert "ValueError: never fetched" in done.stderr


def test_a_raising_callback_is_printed_by_pythons_own_hook_and_the_run_goes_on() -> None:
    program = textwrap.dedent(
        """
        import forkjoin as fj
        with fj.Session("inline"):
            fj.spawn(int, 1).add_done_callback(lambda task: 1 / 0)
            print("still running", fj.fetch(fj.spawn(int, 2)), flush=True)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0
    assert done.stdout.strip() == "still running 2"
    assert "Exception in a forkjoin done-callback" in done.stderr
    assert "ZeroDivisionError" in done.stderr
