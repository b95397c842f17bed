"""Steps on a Dask or Ray cluster: each command runs on a worker, its stand-in here.

The run keeps a thread per running step, as it does locally; that thread submits
`run_step` to the cluster and reads the step's lines as they come, so the log file,
the live display and the outputs stay where the run is. Lines and signals travel
through a mailbox per step: on Dask two queues named after it (`DaskMailbox`), on
Ray an actor of the run's (`RayMailbox`). Either keeps a worker's messages in order,
and acknowledges each before the worker's task goes on, so the lines are all there
when the task's end is known.

Steps on a cluster assume what Dask assumes: the workflow's folder, its scripts
and forkjoin are at the same paths on the workers (a shared or identical file
system). If forkjoin itself is killed (SIGKILL), steps already on a worker run to
their end.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from forkjoin.errors import StepFailed, WorkerCrashed
from forkjoin.workflow._on_worker import run_step
from forkjoin.workflow._shell import StepProcess, parse_outputs

__all__ = ["DaskLauncher", "DaskMailbox", "RayLauncher", "RayMailbox", "RemoteProcess"]

_POLL_SECONDS = 0.05


class DaskMailbox:
    """A step's two Dask queues: its lines to the run, signals to its worker.

    Pickled, it is its name alone: on the worker the queues open through the
    worker's own client, here through the launcher's.
    """

    def __init__(self, name: str, client: Any = None) -> None:
        self.name = name
        self._client = client
        self._lines: Any = None
        self._signals: Any = None

    def __reduce__(self) -> tuple[type[DaskMailbox], tuple[str]]:
        return DaskMailbox, (self.name,)

    def open(self) -> None:
        self._queues()

    def _queues(self) -> tuple[Any, Any]:
        if self._lines is None:
            from distributed import Queue

            queue: Any = Queue  # untyped
            self._lines = queue(f"{self.name}-lines", client=self._client)
            self._signals = queue(f"{self.name}-signals", client=self._client)
        return self._lines, self._signals

    # The worker's side.
    def send_lines(self, chunk: bytes) -> None:
        self._queues()[0].put(chunk)

    def take_signals(self) -> list[int]:
        return list(self._queues()[1].get(batch=True))

    # The run's side.
    def take_lines(self) -> list[bytes]:
        return list(self._queues()[0].get(batch=True))

    def send_signal(self, number: int) -> None:
        self._queues()[1].put(int(number))

    def close(self) -> None:
        """Release this side's hold on both queues; the scheduler drops each once
        both sides have."""
        if self._lines is not None:
            for queue in (self._lines, self._signals):
                with contextlib.suppress(Exception):  # the client is already gone
                    queue.close()
            self._lines = self._signals = None


class _RunSide(Protocol):
    """The run's side of a step's mailbox."""

    def take_lines(self) -> list[bytes]: ...

    def send_signal(self, number: int) -> None: ...

    def close(self) -> None: ...


class RemoteProcess:
    """The stand-in, here, of a step's command running on a worker of `cluster`."""

    pid = None  # no process of this machine

    def __init__(self, future: Any, mailbox: _RunSide, output_path: Path, cluster: str) -> None:
        self.cluster = cluster
        self.future = future
        self.mailbox = mailbox
        self.output_path = output_path
        self._ended = threading.Event()
        self._outputs: dict[str, str] = {}
        future.add_done_callback(lambda _future: self._ended.set())

    def lines(self) -> Iterator[bytes]:
        while True:
            ended = self._ended.wait(_POLL_SECONDS)
            for chunk in self.mailbox.take_lines():
                yield from _lines_of(chunk)
            if ended:  # its last lines were queued before its end was known
                return

    def wait(self) -> int:
        """Its exit code; raises StepFailed when it could not start on its worker, or
        its worker died under it."""
        self._ended.wait()
        self.mailbox.close()
        try:
            code, text = self.future.result()
        except OSError as error:
            raise StepFailed(f"cannot start on its {self.cluster} worker: {error}") from error
        except WorkerCrashed as error:
            raise StepFailed(f"its {self.cluster} worker died under it ({error})") from error
        # Beside its log, as a local step's: the outputs outlive the run.
        self.output_path.write_text(text, encoding="utf-8")
        self._outputs = parse_outputs(text)
        return int(code)

    def signal(self, number: int) -> None:
        if not self._ended.is_set():
            with contextlib.suppress(Exception):  # the client is closing: nothing to reach
                self.mailbox.send_signal(number)

    def outputs(self) -> dict[str, str]:
        return self._outputs


def _lines_of(chunk: bytes) -> Iterator[bytes]:
    """The lines of `chunk`, split at newlines only, as a local step's are (a `\\r`
    of a progress bar stays inside its line)."""
    start = 0
    while start < len(chunk):
        end = chunk.find(b"\n", start) + 1 or len(chunk)
        yield chunk[start:end]
        start = end


class DaskLauncher:
    """Commands on the workers of a Dask cluster: the one at `address`, or a
    LocalCluster of `workers` processes on 127.0.0.1, closed with the launcher."""

    inherits_environment = False

    def __init__(self, address: str | None, workers: int) -> None:
        from forkjoin.executors import make_executor

        with _children_ignore_ctrl_c(address is None):
            self.executor = make_executor("dask", workers, address)

    def start(
        self, command: str, *, cwd: Path, env: dict[bytes, bytes], output_path: Path
    ) -> StepProcess:
        mailbox = DaskMailbox(f"forkjoin-step-{uuid.uuid4().hex}", self.executor.client)
        # Open before the worker can: a queue goes with its contents when its last
        # holder lets go, and a quick step's worker lets go at once.
        mailbox.open()
        future = self.executor.submit(run_step, command, str(cwd), env, mailbox)
        return RemoteProcess(future, mailbox, output_path, "Dask")

    def close(self) -> None:
        self.executor.shutdown()


class RayMailbox:
    """A step's key at the run's relay actor: its lines to the run, signals to it.

    Calls from one caller to an actor run in the order they were made; each is
    waited for, so a line sent is a line the run can take.
    """

    def __init__(self, relay: Any, key: str) -> None:
        self.relay = relay
        self.key = key

    def _call(self, method: str, *args: Any) -> Any:
        import ray

        return ray.get(getattr(self.relay, method).remote(self.key, *args))

    def send_lines(self, chunk: bytes) -> None:
        self._call("put_lines", chunk)

    def take_signals(self) -> list[int]:
        return list(self._call("take_signals"))

    def take_lines(self) -> list[bytes]:
        return list(self._call("take_lines"))

    def send_signal(self, number: int) -> None:
        self._call("put_signal", int(number))

    def close(self) -> None:
        pass  # the actor holds nothing of a step once both sides took what was sent


class _Relay:
    """The run's actor on Ray: each step's lines and signals, by step key."""

    def __init__(self) -> None:
        self.lines: dict[str, list[bytes]] = {}
        self.signals: dict[str, list[int]] = {}

    def put_lines(self, key: str, chunk: bytes) -> None:
        self.lines.setdefault(key, []).append(chunk)

    def take_lines(self, key: str) -> list[bytes]:
        return self.lines.pop(key, [])

    def put_signal(self, key: str, number: int) -> None:
        self.signals.setdefault(key, []).append(number)

    def take_signals(self, key: str) -> list[int]:
        return self.signals.pop(key, [])


class RayLauncher:
    """Commands as Ray tasks: on the cluster at `address`, or on a local Ray of
    `workers` CPUs on 127.0.0.1, shut down with the launcher."""

    inherits_environment = False

    def __init__(self, address: str | None, workers: int) -> None:
        from forkjoin.executors import make_executor

        with _children_ignore_ctrl_c(address is None):
            self.executor = make_executor("ray", workers, address)
        import ray

        self.relay: Any = ray.remote(num_cpus=0)(_Relay).remote()

    def start(
        self, command: str, *, cwd: Path, env: dict[bytes, bytes], output_path: Path
    ) -> StepProcess:
        mailbox = RayMailbox(self.relay, uuid.uuid4().hex)
        future = self.executor.submit(run_step, command, str(cwd), env, mailbox)
        return RemoteProcess(future, mailbox, output_path, "Ray")

    def close(self) -> None:
        import ray

        with contextlib.suppress(Exception):  # Ray is already down
            ray.kill(self.relay)
        self.executor.shutdown()


@contextlib.contextmanager
def _children_ignore_ctrl_c(starting_processes: bool) -> Iterator[None]:
    """Start the local cluster's processes with SIGINT ignored (exec keeps that).

    Ctrl-C in a terminal reaches every process of its group: the cluster's workers
    would die under the steps they run, before forkjoin could stop those steps in
    order. The run forwards Ctrl-C to each step itself.
    """
    if not starting_processes or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
