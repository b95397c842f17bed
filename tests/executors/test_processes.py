"""The processes executor, with real worker processes, real signals and real files."""

from __future__ import annotations

import ctypes
import faulthandler
import logging
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError
from pathlib import Path
from typing import Any

import cloudpickle
import pytest

import forkjoin.errors
from forkjoin.errors import Cancelled, WorkerCrashed
from forkjoin.executors._processes import ProcessExecutor, ProcessFuture
from forkjoin.executors._protocol import Executor, ExecutorFuture

# The tasks below run in worker processes. Sending them by value means the workers
# never import this test module, nor need to find it on their sys.path.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

DISPATCHER = "forkjoin-process-dispatcher"


# -- tasks, run in the workers -------------------------------------------------------------


def add(a: int, b: int = 0) -> int:
    return a + b


def nap_then_square(i: int) -> int:
    time.sleep(0.05)
    return i * i


def nap_then_pid(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def report_pid_then_sleep(path: str, seconds: float) -> int:
    Path(path + ".tmp").write_text(str(os.getpid()))
    os.replace(path + ".tmp", path)  # whole, so a reader never sees it empty
    time.sleep(seconds)
    return os.getpid()


def touch(path: str) -> None:
    Path(path).touch()


def fail(message: str) -> None:
    raise ValueError(message)


def die_by_sigkill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def die_by_exit() -> None:
    os._exit(3)


def die_by_segfault() -> None:
    ctypes.string_at(0)


class TwoArgumentError(Exception):
    """Pickles (its args are one string), but cannot be rebuilt from its args."""

    def __init__(self, first: str, second: str) -> None:
        super().__init__(f"{first} and {second}")


def raise_two_argument_error() -> None:
    raise TwoArgumentError("this", "that")


def raise_holding_a_lock() -> None:
    raise ValueError(threading.Lock())


def nested_double(n: int) -> tuple[int, int]:
    """Uses forkjoin from inside a worker: a pool of its own, one level down."""
    from forkjoin.executors._processes import ProcessExecutor

    with ProcessExecutor(1) as inner:
        return inner.submit(lambda: n * 2).result(timeout=20), inner.submit(os.getppid).result()


# -- helpers, in this process ---------------------------------------------------------------


def is_alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie (its /proc entry says so)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_until(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def read_pid(path: Path) -> int:
    assert wait_until(path.exists), f"no pid in {path}"
    return int(path.read_text())


@pytest.fixture
def executor() -> Iterator[ProcessExecutor]:
    pool = ProcessExecutor(2)
    yield pool
    pool.shutdown(cancel_pending=True)


# -- round trips ----------------------------------------------------------------------------


def test_it_fits_the_executor_protocol(executor: ProcessExecutor) -> None:
    future = executor.submit(add, 1, 2)
    assert isinstance(executor, Executor)
    assert isinstance(future, ExecutorFuture)
    assert (executor.workers, executor.in_process) == (2, False)
    assert ProcessExecutor().workers == os.cpu_count()
    with pytest.raises(ValueError, match="at least 1 worker"):
        ProcessExecutor(0)


def test_results_and_keyword_arguments_round_trip(executor: ProcessExecutor) -> None:
    assert executor.submit(add, 2, b=40).result(timeout=20) == 42
    assert executor.submit(dict, a=[1, 2], b={"c": None}).result(timeout=20) == {
        "a": [1, 2],
        "b": {"c": None},
    }
    futures = [executor.submit(nap_then_square, i) for i in range(8)]
    assert [future.result(timeout=20) for future in futures] == [i * i for i in range(8)]


def test_lambdas_and_closures_run(executor: ProcessExecutor) -> None:
    offset = 100

    def shifted(x: int) -> int:
        return x + offset

    assert executor.submit(lambda x: x * 3, 5).result(timeout=20) == 15
    assert executor.submit(shifted, 1).result(timeout=20) == 101


def test_an_exception_keeps_its_type_message_and_remote_traceback(
    executor: ProcessExecutor,
) -> None:
    future = executor.submit(fail, "boom")
    with pytest.raises(ValueError, match=r"^boom$") as raised:
        future.result(timeout=20)
    assert isinstance(future.exception(), ValueError)
    remote = str(raised.value.__cause__)
    assert "Traceback (most recent call last)" in remote
    assert "in fail" in remote
    assert "ValueError: boom" in remote


# -- crashes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("task", "exitcode"),
    [(die_by_sigkill, -signal.SIGKILL), (die_by_exit, 3), (die_by_segfault, -signal.SIGSEGV)],
)
def test_a_crash_fails_only_its_own_call(
    executor: ProcessExecutor, task: Callable[[], None], exitcode: int
) -> None:
    """2 workers: 5 naps, the crash, 5 naps, all queued at once (expect 10 squares, 1 crash)"""
    before = [executor.submit(nap_then_square, i) for i in range(5)]
    crashed = executor.submit(task)
    after = [executor.submit(nap_then_square, i) for i in range(5, 10)]

    error = crashed.exception(timeout=20)
    assert isinstance(error, WorkerCrashed)
    assert (error.task, error.exitcode) == (task.__qualname__, exitcode)
    with pytest.raises(WorkerCrashed):
        crashed.result()
    assert [future.result(timeout=20) for future in before + after] == [i * i for i in range(10)]
    # A replacement worker runs alongside the survivor: two naps at once, two pids.
    pairs = [executor.submit(nap_then_pid, 0.3) for _ in range(2)]
    assert len({future.result(timeout=20) for future in pairs}) == 2


# -- cancellation ---------------------------------------------------------------------------


def test_cancel_a_queued_call(tmp_path: Path) -> None:
    """1 worker: nap -> queued touch    (cancel the touch: it never runs)"""
    marker = tmp_path / "ran"
    with ProcessExecutor(1) as pool:
        running = pool.submit(nap_then_pid, 0.3)
        queued = pool.submit(touch, str(marker))
        seen: list[ProcessFuture] = []
        queued.add_done_callback(seen.append)

        assert queued.cancel() is True
        assert queued.done() and queued.cancelled()
        assert seen == [queued]
        with pytest.raises(Cancelled) as raised:
            queued.result(timeout=1)
        assert isinstance(raised.value, CancelledError)
        assert raised.value.task == "touch"
        assert isinstance(running.result(timeout=20), int)
    assert not marker.exists()
    assert seen == [queued]


def test_cancel_a_running_call_kills_its_worker(executor: ProcessExecutor, tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    future = executor.submit(report_pid_then_sleep, str(pid_file), 30)
    pid = read_pid(pid_file)
    seen: list[tuple[ProcessFuture, str]] = []
    future.add_done_callback(lambda f: seen.append((f, threading.current_thread().name)))

    started = time.monotonic()
    assert future.cancel() is True
    assert time.monotonic() - started < 5
    assert not is_alive(pid)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert seen == [(future, threading.current_thread().name)]
    with pytest.raises(Cancelled):
        future.result(timeout=1)
    with pytest.raises(Cancelled):
        future.exception(timeout=1)
    assert future.cancel() is True  # still cancelled
    # Later work gets a fresh worker.
    assert executor.submit(add, 2, 3).result(timeout=20) == 5
    assert executor.submit(os.getpid).result(timeout=20) != pid


def test_cancel_a_finished_call_returns_false(executor: ProcessExecutor) -> None:
    future = executor.submit(add, 1)
    assert future.result(timeout=20) == 1
    assert future.cancel() is False
    assert not future.cancelled()
    assert future.result() == 1


def test_result_times_out_with_the_builtin_timeout_error(executor: ProcessExecutor) -> None:
    future = executor.submit(nap_then_pid, 5)
    with pytest.raises(TimeoutError) as raised:
        future.result(timeout=0.05)
    assert not isinstance(raised.value, forkjoin.errors.ForkjoinError)
    assert not future.done()
    assert future.cancel() is True


# -- callbacks ------------------------------------------------------------------------------


def test_done_callbacks_run_once_later_or_at_once(executor: ProcessExecutor) -> None:
    future = executor.submit(nap_then_pid, 0.2)
    seen: list[tuple[str, str, ProcessFuture]] = []

    def record(label: str) -> Callable[[ProcessFuture], None]:
        return lambda f: seen.append((label, threading.current_thread().name, f))

    future.add_done_callback(record("later"))
    future.result(timeout=20)
    assert wait_until(lambda: len(seen) == 1)
    assert seen == [("later", DISPATCHER, future)]

    future.add_done_callback(record("at once"))
    assert seen[1:] == [("at once", threading.current_thread().name, future)]
    time.sleep(0.1)
    assert len(seen) == 2


def test_a_raising_callback_does_not_stop_the_dispatcher(
    executor: ProcessExecutor, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(future: Any) -> None:
        raise RuntimeError("callback exploded")

    with caplog.at_level(logging.ERROR):
        future = executor.submit(nap_then_pid, 0.2)
        future.add_done_callback(explode)
        future.result(timeout=20)
        assert wait_until(lambda: "done callback" in caplog.text)
        assert executor.submit(add, 4, 5).result(timeout=20) == 9
        executor.submit(add, 1).result(timeout=20)
        executor.submit(add, 1).add_done_callback(explode)  # done or not, it must not raise
    assert "callback exploded" in caplog.text


# -- pickling failures ----------------------------------------------------------------------


def test_an_unpicklable_result_fails_with_its_type_named(executor: ProcessExecutor) -> None:
    future = executor.submit(threading.Lock)
    with pytest.raises(TypeError, match=r"task allocate_lock returned a _thread.lock, which can"):
        future.result(timeout=20)
    assert executor.submit(add, 1, 1).result(timeout=20) == 2


def test_an_unpicklable_exception_fails_with_its_type_named(executor: ProcessExecutor) -> None:
    with pytest.raises(TypeError, match=r"raised .*TwoArgumentError: this and that, which cannot"):
        executor.submit(raise_two_argument_error).result(timeout=20)
    with pytest.raises(TypeError, match=r"raised ValueError: .*lock.*, which cannot be pickled"):
        executor.submit(raise_holding_a_lock).result(timeout=20)


def test_an_unpicklable_argument_fails_the_future_at_once(executor: ProcessExecutor) -> None:
    future = executor.submit(add, threading.Lock())
    assert future.done()
    with pytest.raises(TypeError, match="the call of task add cannot be pickled"):
        future.result()


# -- the worker processes -------------------------------------------------------------------


def test_workers_ignore_sigint_and_enable_faulthandler(
    executor: ProcessExecutor, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    future = executor.submit(report_pid_then_sleep, str(pid_file), 0.5)
    pid = read_pid(pid_file)
    os.kill(pid, signal.SIGINT)
    assert future.result(timeout=20) == pid
    assert executor.submit(faulthandler.is_enabled).result(timeout=20) is True


def test_a_task_may_use_forkjoin_itself(executor: ProcessExecutor) -> None:
    future = executor.submit(nested_double, 21)
    value, inner_parent = future.result(timeout=30)
    assert value == 42
    assert inner_parent != os.getpid()


# -- shutdown -------------------------------------------------------------------------------


def test_shutdown_leaves_no_process_and_no_thread() -> None:
    pool = ProcessExecutor(2)
    pids = {f.result(timeout=20) for f in [pool.submit(nap_then_pid, 0.3) for _ in range(2)]}
    assert len(pids) == 2
    assert all(is_alive(pid) for pid in pids)

    pool.shutdown()
    assert [p for p in multiprocessing.active_children() if p.name.startswith("forkjoin")] == []
    assert not any(Path(f"/proc/{pid}").exists() for pid in pids)
    assert DISPATCHER not in {thread.name for thread in threading.enumerate()}
    pool.shutdown()  # a second time does nothing
    with pytest.raises(RuntimeError, match="shut down"):
        pool.submit(add, 1)


def test_shutdown_cancels_pending_calls_and_waits_for_running_ones(tmp_path: Path) -> None:
    """1 worker: nap -> touch a, touch b, touch c    (shutdown: the nap ends, no touch starts)"""
    pool = ProcessExecutor(1)
    running = pool.submit(report_pid_then_sleep, str(tmp_path / "pid"), 0.3)
    read_pid(tmp_path / "pid")
    queued = [pool.submit(touch, str(tmp_path / name)) for name in "abc"]
    seen: list[ProcessFuture] = []
    for future in queued:
        future.add_done_callback(seen.append)

    pool.shutdown(cancel_pending=True)
    assert isinstance(running.result(timeout=0), int)
    assert all(future.cancelled() for future in queued)
    assert seen == queued
    assert sorted(path.name for path in tmp_path.iterdir()) == ["pid"]


def test_shutdown_without_waiting_still_runs_what_was_queued() -> None:
    pool = ProcessExecutor(1)
    futures = [pool.submit(add, i, 1) for i in range(3)]
    pool.shutdown(wait=False)
    assert [future.result(timeout=20) for future in futures] == [1, 2, 3]
    assert wait_until(lambda: DISPATCHER not in {t.name for t in threading.enumerate()})


PARENT_SCRIPT = """
import os, signal, sys, time
from pathlib import Path
from forkjoin.executors._processes import ProcessExecutor

def report_pid_then_sleep(path):
    Path(path + ".tmp").write_text(str(os.getpid()))
    os.replace(path + ".tmp", path)
    time.sleep(30)

if __name__ == "__main__":
    pool = ProcessExecutor(1)
    pool.submit(report_pid_then_sleep, sys.argv[1])
    while not Path(sys.argv[1]).exists():
        time.sleep(0.01)
    if sys.argv[2] == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    # Otherwise fall off the end without shutdown(): the exit hook must kill the worker.
"""


@pytest.mark.parametrize("ending", ["exit", "sigkill"])
def test_a_parent_that_ends_leaves_no_worker(tmp_path: Path, ending: str) -> None:
    script = tmp_path / "parent.py"
    script.write_text(textwrap.dedent(PARENT_SCRIPT))
    pid_file = tmp_path / "pid"
    source_root = Path(forkjoin.errors.__file__).parents[1]
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(source_root), *sys.path])}
    started = time.monotonic()
    parent = subprocess.run(
        [sys.executable, str(script), str(pid_file), ending],
        env=environment,
        timeout=20,
        capture_output=True,
        text=True,
        check=False,
    )
    assert time.monotonic() - started < 10, "the parent waited for its running call"
    assert parent.returncode == (-signal.SIGKILL if ending == "sigkill" else 0), parent.stderr
    pid = read_pid(pid_file)
    assert wait_until(lambda: not is_alive(pid), seconds=5), f"worker {pid} outlived its parent"
