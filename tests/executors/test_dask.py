"""Sessions on a real Dask cluster: a scheduler and two workers, as processes (conftest.py).

    client (this process: the engine) --tcp--> dask scheduler --> dask worker (nanny) x 2

The scheduler runs with `allowed-failures: 0`, so a worker lost mid-task fails that
task at once and forkjoin's own retries decide what happens next.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")

from cluster_calls import Big, square, total, unpickled_in, wait_for_pid, write_pid_then_sleep  # noqa: E402

import forkjoin as fj  # noqa: E402
from forkjoin.errors import Cancelled, TaskTimeout, WorkerCrashed  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

WORKERS = 2


@pytest.fixture(scope="module")
def address(dask_address_of_module: str) -> str:
    """A scheduler on 127.0.0.1 with two single-threaded workers (tests/conftest.py),
    this module's own: its last test leaves both workers sleeping."""
    return dask_address_of_module


def _wait_for_workers(address: str) -> None:
    # After a worker was killed its nanny starts another; the next test wants both.
    with distributed.Client(address, set_as_default=False) as client:
        client.wait_for_workers(WORKERS, timeout=90)


def broken(x: int) -> int:
    raise KeyError(f"missing {x}")


def is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" not in status.read_text()


def test_fan_out_and_in_on_a_running_cluster(address: str) -> None:
    """square x 8 -> total (a list and a dict of tasks) ; map"""
    with fj.Session("dask", address=address) as session:
        assert session.executor.workers == WORKERS
        squares = [fj.spawn(square, i) for i in range(8)]
        summed = fj.spawn(total, squares, {"plus": fj.spawn(square, 10)})
        assert fj.fetch(summed) == 140 + 100
        assert fj.fetch(squares) == [i * i for i in range(8)]
        assert fj.map(square, range(5)) == [0, 1, 4, 9, 16]
        lazy = fj.delayed(total)([fj.delayed(square)(3)], {"plus": 1})
        assert fj.compute(lazy) == (10,)


def test_errors_keep_their_type_and_the_notes_that_name_the_task(address: str) -> None:
    """broken -> square"""
    with fj.Session("dask", address=address):
        failed = fj.spawn(broken, 1)
        downstream = fj.spawn(square, failed)
        with pytest.raises(KeyError, match="missing 1") as caught:
            fj.fetch(downstream)
        assert "did not run because task broken#1 failed" in caught.value.__notes__[-1]
        with pytest.raises(KeyError) as direct:
            fj.fetch(failed)
        assert "forkjoin: task broken#1 failed" in direct.value.__notes__
        assert direct.value.__traceback__ is not None  # the worker's, from Dask


def test_a_failed_attempt_is_retried_by_forkjoin(address: str, tmp_path: Path) -> None:
    marker = tmp_path / "attempted"

    def fails_once() -> str:
        if not marker.exists():
            marker.write_text("1")
            raise ConnectionError("first attempt")
        return "retried"

    with fj.Session("dask", address=address), fj.options(retries=1):
        assert fj.fetch(fj.spawn(fails_once)) == "retried"


def test_a_worker_killed_mid_task_fails_or_retries_only_that_task(
    address: str, tmp_path: Path
) -> None:
    """victim (its worker killed) ; bystander (sleeps on the other worker) ; 6 x square"""
    _wait_for_workers(address)
    retried_marker = tmp_path / "retried"
    failed_marker = tmp_path / "failed"
    with fj.Session("dask", address=address, max_concurrency=WORKERS) as session:
        with fj.options(retries=1):
            victim = fj.spawn(write_pid_then_sleep, str(retried_marker), 120)
        victim_pid = wait_for_pid(retried_marker)
        bystander = fj.spawn(lambda: time.sleep(2) or os.getpid())
        time.sleep(0.5)  # the bystander is running on the other worker
        os.kill(victim_pid, signal.SIGKILL)
        assert victim.result(timeout=120) == "second attempt"
        assert victim.attempts == 2
        assert bystander.result(timeout=120) != victim_pid
        assert fj.fetch([fj.spawn(square, i) for i in range(6)]) == [0, 1, 4, 9, 16, 25]

        _wait_for_workers(address)
        doomed = fj.spawn(write_pid_then_sleep, str(failed_marker), 120)
        os.kill(wait_for_pid(failed_marker), signal.SIGKILL)
        with pytest.raises(WorkerCrashed, match="write_pid_then_sleep") as caught:
            doomed.result(timeout=120)
        assert type(caught.value.__cause__).__name__ == "KilledWorker"
        assert session.engine.failures == [doomed]


def test_values_stay_on_the_cluster_between_its_tasks(address: str, tmp_path: Path) -> None:
    """big (50 MB) -> len   (the 50 MB never comes to the client)"""
    probe = tmp_path / "unpickled"
    with fj.Session("dask", address=address):
        big = fj.spawn(Big, str(probe), 50_000_000)
        length = fj.spawn(len, big)
        assert fj.fetch(length) == 50_000_000
        assert os.getpid() not in unpickled_in(probe)
        # The probe works: reading the value itself brings it here, once.
        assert len(fj.fetch(big)) == 50_000_000
        assert fj.fetch(big) is fj.fetch(big)
        assert os.getpid() in unpickled_in(probe)


def test_a_task_on_the_cluster_spawns_into_a_session_of_its_own_worker(address: str) -> None:
    """outer (on a worker) -> square x 3 (on that worker's threads, not the client's engine)"""

    def outer() -> tuple[int, list[int]]:
        children = [fj.spawn(square, i) for i in range(3)]
        return os.getpid(), fj.fetch(children)

    with fj.Session("dask", address=address):
        pid, values = fj.fetch(fj.spawn(outer))
    assert values == [0, 1, 4]
    assert pid != os.getpid()


def test_cancel_and_timeout_end_the_task_at_once(address: str, tmp_path: Path) -> None:
    # Last of the tests on `address`: Dask cannot stop a running thread, so both
    # workers sleep on after this test, until the module's cluster is stopped.
    _wait_for_workers(address)
    marker = tmp_path / "running"
    with fj.Session("dask", address=address):
        running = fj.spawn(write_pid_then_sleep, str(marker), 60)
        wait_for_pid(marker)
        started = time.monotonic()
        assert running.cancel()
        with pytest.raises(Cancelled):
            running.result(timeout=30)
        with fj.options(timeout=1):
            slow = fj.spawn(time.sleep, 60)
        with pytest.raises(TaskTimeout):
            slow.result(timeout=30)
        assert time.monotonic() - started < 30  # neither waited out its sleep


def test_completions_reach_forkjoins_thread_whether_awaited_or_not() -> None:
    """square ; square (awaited through Dask first) ; broken ; sleep (cancelled)

    Each call's end reaches its callback once, on the executor's own thread, never
    on Dask's event loop: through the event that forkjoin puts in the Dask future's
    state, or at once for a future that Dask saw end already.
    """
    import threading

    from forkjoin.executors._dask import DaskExecutor

    # A cluster of its own: the shared one's workers may still sleep out the calls
    # that earlier tests cancelled.
    with DaskExecutor(workers=1) as executor:
        ended: dict[str, list[str]] = {}
        every_end = threading.Semaphore(0)

        def record(name: str) -> object:
            def callback(future: object) -> None:
                ended.setdefault(name, []).append(threading.current_thread().name)
                every_end.release()

            return callback

        plain = executor.submit(square, 3)
        plain.add_done_callback(record("plain"))
        awaited = executor.submit(square, 4)
        assert awaited.handle.result(timeout=30) == 16  # Dask made the event: the fallback
        awaited.add_done_callback(record("awaited"))
        failed = executor.submit(broken, 1)
        failed.add_done_callback(record("failed"))
        slow = executor.submit(time.sleep, 5)
        slow.add_done_callback(record("cancelled"))
        assert slow.cancel()
        for _ in range(4):
            assert every_end.acquire(timeout=30)
        assert ended == {
            name: ["forkjoin-dask-callbacks"]
            for name in ("plain", "awaited", "failed", "cancelled")
        }
        assert executor._events_replaceable  # this Dask keeps the fast path
        assert plain.result(timeout=30) == 9
        assert isinstance(failed.exception(timeout=30), KeyError)
        assert executor.client.scheduler_comm.interval == pytest.approx(0.002)


def test_without_an_address_a_local_cluster_lives_as_long_as_the_session() -> None:
    with fj.Session("dask", workers=1) as session:
        cluster = session.executor._cluster
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        pid = fj.fetch(fj.spawn(os.getpid))
        assert pid != os.getpid() and is_alive(pid)
    assert cluster.status.name == "closed"
    deadline = time.monotonic() + 30
    while is_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not is_alive(pid)


def test_an_address_is_refused_by_an_executor_of_this_machine() -> None:
    with pytest.raises(ValueError, match="an address is for the dask and ray executors"):
        fj.Session("threads", address="tcp://127.0.0.1:8786")
