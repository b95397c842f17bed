"""The worker processes as the main process sees them: forked, told, reaped, killed.

Each worker has a pipe for requests and one for responses, and its own process
group, so that the terminal's Ctrl-C reaches the main process alone, which then
interrupts each worker's whole group (the worker and any process its test started)
and kills what is left after a grace period: no orphans. A worker is forked with
nothing of the other workers open: a descriptor inherited by a sibling would hide
the end of file that tells the main process its worker died.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import sys
import time
from collections import deque
from pathlib import Path

import pytest

from forkjoin.pytest_plugin import _protocol as protocol
from forkjoin.pytest_plugin._worker import WorkerSetup, run_worker

__all__ = ["Pool", "WorkerProcess"]

# How long interrupted workers get to end their test before they are killed.
_GRACE_SECONDS = 2.0
# A response pipe holds this much (Linux's default is 64 KiB): some 5,000 reports of
# passing tests, so a worker never waits while the main process writes the history.
_PIPE_BYTES = 1 << 20


class WorkerProcess:
    """One forked worker: its pipes, the tests it holds, and what it has said."""

    __slots__ = (
        "assigned",
        "capture_prefix",
        "exit_status",
        "is_parked",
        "is_retiring",
        "is_stopped",
        "log_offset",
        "log_path",
        "name",
        "pid",
        "reader",
        "request_fd",
        "steal_pending",
        "test_started",
    )

    def __init__(
        self, name: str, pid: int, request_fd: int, response_fd: int, log_path: Path
    ) -> None:
        self.name = name
        self.pid = pid
        self.request_fd = request_fd
        self.reader = protocol.FrameReader(response_fd)
        self.log_path = log_path
        self.capture_prefix = log_path.with_suffix(".capture")
        # The tests handed to it and not done, in the order it runs them: the first
        # is the one running (or about to).
        self.assigned: deque[int] = deque()
        self.log_offset = 0
        self.test_started = time.time()
        self.is_parked = False  # idle, its NEED unanswered until there is work
        self.is_retiring = False  # said RECYCLE or EXIT: tears down and exits by itself
        self.is_stopped = False  # was sent STOP
        self.steal_pending = False
        self.exit_status: int | None = None

    def captured(self) -> list[tuple[str, str]]:
        """What pytest was capturing of the running test's stdout and stderr."""
        captured = []
        for stream, number in (("stdout", 1), ("stderr", 2)):
            path = Path(f"{self.capture_prefix}-{number}")
            with contextlib.suppress(OSError):
                captured.append((stream, path.read_bytes().decode("utf-8", "replace")))
        return captured


class Pool:
    """Forks workers of one collected session, and ends them."""

    def __init__(
        self,
        session: pytest.Session,
        log_directory: Path,
        max_rss: int | None,
    ) -> None:
        self._session = session
        _make_basetemp(session.config)
        self.log_directory = log_directory
        self._max_rss = max_rss
        self._count = 0
        self.live: dict[int, WorkerProcess] = {}  # by the fd of its responses
        self.ended: list[WorkerProcess] = []

    def spawn(self) -> WorkerProcess:
        """Fork a new worker, named w1, w2... in order of birth."""
        self._count += 1
        name = f"w{self._count}"
        log_path = self.log_directory / f"{name}.log"
        request_read, request_write = os.pipe()
        response_read, response_write = os.pipe()
        _widen(response_read)
        foreign = [fd for other in self.live.values() for fd in (other.request_fd, other.reader.fd)]
        sys.stdout.flush()  # or the child would write the parent's buffered text again
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            os.close(request_write)
            os.close(response_read)
            setup = WorkerSetup(
                name,
                request_read,
                response_write,
                log_path,
                log_path.with_suffix(".capture"),
                foreign,
                self._max_rss,
            )
            run_worker(self._session, setup)
        os.close(request_read)
        os.close(response_write)
        with contextlib.suppress(OSError):  # the child may have done it, or died already
            os.setpgid(pid, pid)
        os.set_blocking(response_read, False)
        worker = WorkerProcess(name, pid, request_write, response_read, log_path)
        self.live[response_read] = worker
        return worker

    def send(self, worker: WorkerProcess, message: protocol.Message) -> None:
        """Tell `worker`; a worker that has gone is noticed by its end of file instead."""
        with contextlib.suppress(BrokenPipeError):
            protocol.send(worker.request_fd, message)

    def reap(self, worker: WorkerProcess, *, wait: bool = True) -> bool:
        """Collect `worker`'s exit status; False if it is still running and not `wait`."""
        if worker.exit_status is None:
            try:
                pid, status = os.waitpid(worker.pid, 0 if wait else os.WNOHANG)
            except ChildProcessError:
                pid, status = worker.pid, 0
            if pid == 0:
                return False
            worker.exit_status = status
        return True

    def forget(self, worker: WorkerProcess) -> None:
        """Close what the main process holds of an exited worker."""
        self.live.pop(worker.reader.fd, None)
        for fd in (worker.request_fd, worker.reader.fd):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.ended.append(worker)

    def interrupt_all(self) -> None:
        """Ctrl-C: SIGINT to every worker's group, SIGKILL after the grace, reap them all.

        A retiring worker is not interrupted: it is tearing down on its own.
        """
        workers = list(self.live.values())
        for worker in workers:
            if not worker.is_retiring:
                _signal_group(worker, signal.SIGINT)
        deadline = time.monotonic() + _GRACE_SECONDS
        waiting = [worker for worker in workers if not self.reap(worker, wait=False)]
        while waiting and time.monotonic() < deadline:
            time.sleep(0.02)
            waiting = [worker for worker in waiting if not self.reap(worker, wait=False)]
        for worker in waiting:
            _signal_group(worker, signal.SIGKILL)
        for worker in workers:
            _signal_group(worker, signal.SIGKILL)  # what its tests started, too
            self.reap(worker)
            self.forget(worker)

    def tidy(self) -> list[Path]:
        """Remove capture files and empty logs (and folders left empty); the logs left."""
        kept = []
        for worker in self.ended + list(self.live.values()):
            for number in (1, 2):
                with contextlib.suppress(OSError):
                    os.unlink(f"{worker.capture_prefix}-{number}")
            try:
                if worker.log_path.stat().st_size == 0:
                    worker.log_path.unlink()
                else:
                    kept.append(worker.log_path)
            except OSError:
                pass
        directory = self.log_directory
        for _ in range(3):  # <job>/, pytest/, logs/
            try:
                directory.rmdir()
            except OSError:
                break
            directory = directory.parent
        return kept


def _make_basetemp(config: pytest.Config) -> None:
    """Make pytest's base temporary folder here, once, before any fork.

    Each worker makes its own inside it (see `_worker.py`), so the main process alone
    empties a given --basetemp, holds the lock of a numbered one, and cleans up.
    """
    factory = getattr(config, "_tmp_path_factory", None)  # None with -p no:tmpdir
    if factory is not None:
        factory.getbasetemp()


def _signal_group(worker: WorkerProcess, number: signal.Signals) -> None:
    """Signal the worker's process group; the worker alone if it has none.

    A group id is never reused while the group has members, so signalling the group
    of a worker already reaped reaches only what its tests left behind; its pid
    alone, once reaped, could be anyone's, and is left alone.
    """
    try:
        os.killpg(worker.pid, number)
    except OSError:
        if worker.exit_status is None:
            with contextlib.suppress(OSError):
                os.kill(worker.pid, number)


def _widen(fd: int) -> None:
    """Give a pipe a larger buffer where the system allows it (Linux); else leave it."""
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None)
    if set_size is not None:
        with contextlib.suppress(OSError):
            fcntl.fcntl(fd, set_size, _PIPE_BYTES)
