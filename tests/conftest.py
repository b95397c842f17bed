"""Fixtures more than one test folder needs: a real Dask cluster of separate processes.

    this process --tcp--> `dask scheduler` --> `dask worker` (a nanny and its worker) x 2

All on 127.0.0.1, started once per session when a test asks for `dask_address`,
and stopped, process group by process group, when the session ends.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

DASK_WORKERS = 2


def _start(arguments: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("wb") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "dask", *arguments],
            stdout=output,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its own group: stopping it stops the nanny's child too
        )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(15)


@pytest.fixture(scope="session")
def dask_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The address of a scheduler on 127.0.0.1 with two single-threaded workers.

    The scheduler runs with `allowed-failures: 0`, so a worker lost mid-task fails
    that task at once, and forkjoin's own retries decide what happens next.
    """
    yield from _dask_cluster(tmp_path_factory)


@pytest.fixture(scope="module")
def dask_address_of_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """As `dask_address`, a cluster of the module's own: for tests that leave its
    workers busy (Dask cannot stop a running thread)."""
    yield from _dask_cluster(tmp_path_factory)


def _dask_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    distributed = pytest.importorskip("distributed")
    folder = tmp_path_factory.mktemp("dask")
    # Dask pickles a module's functions by reference, as a cluster shares the code:
    # so its processes import the executor tests' modules as pytest does.
    path = os.pathsep.join([str(Path(__file__).parent / "executors"), *sys.path])
    env = {
        **os.environ,
        "PYTHONPATH": path,
        "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0",
    }
    scheduler_file = folder / "scheduler.json"
    started = [
        _start(
            [
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--dashboard-address",  # its health server, on a free port
                "127.0.0.1:0",
                "--scheduler-file",
                str(scheduler_file),
            ],
            folder / "scheduler.log",
            env,
        )
    ]
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() or not scheduler_file.read_text():
            assert started[0].poll() is None, (folder / "scheduler.log").read_text()
            assert time.monotonic() < deadline, "the scheduler never wrote its address"
            time.sleep(0.1)
        time.sleep(0.2)  # the file is written in one go, but let it land
        scheduler_address = json.loads(scheduler_file.read_text())["address"]
        for number in range(DASK_WORKERS):
            started.append(
                _start(
                    [
                        "worker",
                        scheduler_address,
                        "--nthreads",
                        "1",
                        "--host",
                        "127.0.0.1",
                        "--no-dashboard",
                        "--name",
                        f"worker-{number}",
                    ],
                    folder / f"worker-{number}.log",
                    env,
                )
            )
        with distributed.Client(scheduler_address, set_as_default=False) as client:
            client.wait_for_workers(DASK_WORKERS, timeout=90)
        yield scheduler_address
    finally:
        for process in reversed(started):
            _stop(process)
