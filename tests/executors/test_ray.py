"""Sessions on Ray: a local Ray instance of 2 CPUs, started on 127.0.0.1 by these tests.

    client (this process: the engine, Ray's driver) --> raylet --> 2 Ray workers

The first test lets a session start and stop Ray itself; the others share one Ray
instance, which the module starts and stops.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

import cluster_calls  # noqa: E402
from cluster_calls import Big, square, total, unpickled_in, wait_for_pid, write_pid_then_sleep  # noqa: E402

import forkjoin as fj  # noqa: E402
from forkjoin.errors import Cancelled, TaskTimeout, WorkerCrashed  # noqa: E402
from forkjoin.executors._ray import _loopback_only  # noqa: E402

# Ray's workers cannot import these test modules; send their functions by value.
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
ray.cloudpickle.register_pickle_by_value(cluster_calls)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

CPUS = 2


def broken(x: int) -> int:
    raise ValueError(f"bad value {x}")


def test_a_session_without_an_address_starts_ray_and_stops_it() -> None:
    assert not ray.is_initialized()
    with fj.Session("ray", workers=CPUS) as session:
        assert ray.is_initialized()
        assert session.executor.workers == CPUS
        assert fj.fetch(fj.spawn(square, fj.spawn(square, 3))) == 81
    assert not ray.is_initialized()


@pytest.fixture(scope="module")
def running_ray() -> Iterator[None]:
    """One local Ray for the tests below; a session finds it and leaves it running."""
    with _loopback_only():
        ray.init(num_cpus=CPUS, include_dashboard=False, _node_ip_address="127.0.0.1")
    try:
        yield
    finally:
        ray.shutdown()


def test_fan_out_and_in_and_map(running_ray: None) -> None:
    """square x 8 -> total (a list and a dict of tasks) ; map"""
    with fj.Session("ray") as session:
        assert session.executor.workers == CPUS
        squares = [fj.spawn(square, i) for i in range(8)]
        summed = fj.spawn(total, squares, {"plus": fj.spawn(square, 10)})
        assert fj.fetch(summed) == 140 + 100
        assert fj.map(square, range(5)) == [0, 1, 4, 9, 16]
    assert ray.is_initialized()  # not the session's to stop


def test_errors_keep_their_type_text_and_notes(running_ray: None) -> None:
    """broken -> square"""
    with fj.Session("ray"):
        failed = fj.spawn(broken, 1)
        downstream = fj.spawn(square, failed)
        with pytest.raises(ValueError) as caught:
            fj.fetch(downstream)
        assert "did not run because task broken#1 failed" in caught.value.__notes__[-1]
        with pytest.raises(ValueError) as direct:
            fj.fetch(failed)
    assert type(direct.value) is ValueError
    assert str(direct.value) == "bad value 1"
    assert "forkjoin: task broken#1 failed" in direct.value.__notes__
    assert isinstance(direct.value.__cause__, ray.exceptions.RayTaskError)


def test_retries_and_a_killed_worker_fail_or_retry_only_that_task(
    running_ray: None, tmp_path: Path
) -> None:
    """victim (its worker killed, retried) ; doomed (killed, no retry) ; 6 x square"""
    retried_marker = tmp_path / "retried"
    failed_marker = tmp_path / "failed"
    with fj.Session("ray") as session:
        with fj.options(retries=1):
            victim = fj.spawn(write_pid_then_sleep, str(retried_marker), 120)
        os.kill(wait_for_pid(retried_marker), signal.SIGKILL)
        assert victim.result(timeout=120) == "second attempt"
        assert victim.attempts == 2
        assert fj.fetch([fj.spawn(square, i) for i in range(6)]) == [0, 1, 4, 9, 16, 25]

        doomed = fj.spawn(write_pid_then_sleep, str(failed_marker), 120)
        os.kill(wait_for_pid(failed_marker), signal.SIGKILL)
        with pytest.raises(WorkerCrashed, match="write_pid_then_sleep"):
            doomed.result(timeout=120)
        assert session.engine.failures == [doomed]


def test_cancel_and_timeout_stop_the_worker(running_ray: None, tmp_path: Path) -> None:
    marker = tmp_path / "running"
    with fj.Session("ray"):
        running = fj.spawn(write_pid_then_sleep, str(marker), 60)
        pid = wait_for_pid(marker)
        started = time.monotonic()
        assert running.cancel()
        with pytest.raises(Cancelled):
            running.result(timeout=30)
        with fj.options(timeout=1):
            slow = fj.spawn(time.sleep, 60)
        with pytest.raises(TaskTimeout):
            slow.result(timeout=30)
        assert time.monotonic() - started < 30  # neither waited out its sleep
        deadline = time.monotonic() + 30
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not Path(f"/proc/{pid}").exists()  # a forced cancel kills the worker


def test_values_stay_in_the_object_store_between_tasks(running_ray: None, tmp_path: Path) -> None:
    """big (50 MB) -> len   (the 50 MB never comes to the driver)"""
    probe = tmp_path / "unpickled"
    with fj.Session("ray"):
        big = fj.spawn(Big, str(probe), 50_000_000)
        length = fj.spawn(len, big)
        in_a_list = fj.spawn(lambda values: sum(map(len, values)), [big, big])
        assert fj.fetch(length) == 50_000_000
        assert fj.fetch(in_a_list) == 100_000_000
        assert os.getpid() not in unpickled_in(probe)
        assert unpickled_in(probe)  # the workers did unpickle it
        assert len(fj.fetch(big)) == 50_000_000
        assert os.getpid() in unpickled_in(probe)
