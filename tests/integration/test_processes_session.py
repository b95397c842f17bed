"""Sessions on real worker processes: values, errors, crashes, cancels and timeouts."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import cloudpickle
import pytest

import forkjoin as fj
from forkjoin.errors import Cancelled, TaskTimeout, WorkerCrashed

# The workers cannot import this test module; send its functions by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.slow


def square(x: int) -> int:
    return x * x


def die(how: str) -> None:
    if how == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    os._exit(3)


def write_pid_then_sleep(path: str, seconds: float) -> None:
    Path(path).write_text(str(os.getpid()))
    time.sleep(seconds)


def is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers signal 0; it has ended all the same.
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" not in status.read_text()


def wait_for_file(path: Path, seconds: float = 20) -> int:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and path.read_text():
            return int(path.read_text())
        time.sleep(0.02)
    raise AssertionError(f"{path} was never written")


def test_values_lambdas_and_dependencies_cross_processes() -> None:
    with fj.Session("processes", workers=2):
        squares = [fj.spawn(square, i) for i in range(6)]
        total = fj.spawn(lambda values: sum(values), squares)
        assert fj.fetch(total) == 55
        assert fj.map(square, range(4)) == [0, 1, 4, 9]


def test_an_error_keeps_its_type_and_the_chain_note() -> None:
    def broken(x: int) -> int:
        raise KeyError(f"missing {x}")

    with fj.Session("processes", workers=2):
        downstream = fj.spawn(square, fj.spawn(broken, 1))
        with pytest.raises(KeyError, match="missing 1") as caught:
            fj.fetch(downstream)
    assert "did not run because task broken#1 failed" in caught.value.__notes__[-1]


def test_a_crashed_worker_fails_only_its_task() -> None:
    with fj.Session("processes", workers=2):
        crashed = fj.spawn(die, "kill")
        others = [fj.spawn(square, i) for i in range(10)]
        assert fj.fetch(others) == [i * i for i in range(10)]
        with pytest.raises(WorkerCrashed, match="signal 9") as caught:
            fj.fetch(crashed)
        assert caught.value.exitcode == -signal.SIGKILL


def test_cancel_stops_the_running_process(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    with fj.Session("processes", workers=1):
        task = fj.spawn(write_pid_then_sleep, str(pid_file), 60)
        pid = wait_for_file(pid_file)
        began = time.monotonic()
        assert task.cancel()
        with pytest.raises(Cancelled):
            fj.fetch(task)
        deadline = time.monotonic() + 5
        while is_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not is_alive(pid)
        assert time.monotonic() - began < 5
        assert fj.fetch(fj.spawn(square, 3)) == 9  # a fresh worker took its place


def test_a_timeout_stops_the_process_and_raises(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    with fj.Session("processes", workers=1):
        with fj.options(timeout=1.0):
            task = fj.spawn(write_pid_then_sleep, str(pid_file), 60)
        with pytest.raises(TaskTimeout):
            fj.fetch(task)
        pid = wait_for_file(pid_file)
        deadline = time.monotonic() + 5
        while is_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not is_alive(pid)


def test_processes_run_in_parallel() -> None:
    """4 x 0.5 s with 2 workers in < 1.8 s (serial would take 2 s plus start-up)."""
    with fj.Session("processes", workers=2):
        fj.fetch(fj.spawn(square, 0))  # start the workers first
        began = time.monotonic()
        fj.fetch([fj.spawn(time.sleep, 0.5) for _ in range(4)])
        assert time.monotonic() - began < 1.8
