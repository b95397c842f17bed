"""The commands of a run that are running now, and the signals a stop sends them.

Each running command is registered under the node and attempt it runs for, so that a
cancel or a timeout stops exactly its own (SIGTERM, then SIGKILL after the grace), and
an interrupt reaches every one, also one that starts while the interrupt is sent.
"""

from __future__ import annotations

import signal
import threading
import time

from forkjoin.scheduler import RUNNING, Node
from forkjoin.workflow._orphans import end_adopted
from forkjoin.workflow._shell import StepProcess, kill_group_later

__all__ = ["Processes"]


class Processes:
    """The running commands of one run; `adopting` when the run adopts their orphans."""

    def __init__(self, grace: float, *, adopting: bool = False) -> None:
        self.grace = grace
        self.adopting = adopting
        self.interrupted = False
        self.interrupted_at = 0.0
        self._running: dict[StepProcess, tuple[Node, int]] = {}
        self._interrupted: list[StepProcess] = []  # signalled with SIGINT: killed at the end
        self._lock = threading.Lock()

    def add(self, process: StepProcess, node: Node, attempt: int) -> None:
        """A command started for `attempt` of `node`: signal it at once if the run was
        interrupted, or the node was cancelled or timed out while it started."""
        with self._lock:
            self._running[process] = (node, attempt)
            interrupted = self.interrupted
            if interrupted:
                self._interrupted.append(process)
        if interrupted:
            process.signal(signal.SIGINT)
        elif node.state != RUNNING or node.attempts != attempt:
            self.stop(process)

    def remove(self, process: StepProcess) -> None:
        """The command's output has ended: it is no longer running."""
        with self._lock:
            self._running.pop(process, None)

    def stop(self, process: StepProcess) -> None:
        """SIGTERM to the command's group, and SIGKILL after the grace."""
        process.signal(signal.SIGTERM)
        kill_group_later(process, self.grace)

    def stop_those_of(self, node: Node) -> None:
        """Stop the commands of `node` (cancelled, or timed out), unless interrupted."""
        with self._lock:
            if self.interrupted:
                return  # signalled with SIGINT already; `kill_all` ends what remains
            processes = [p for p, (owner, _) in self._running.items() if owner is node]
        for process in processes:
            self.stop(process)

    def interrupt(self) -> bool:
        """SIGINT to every running command's group; False if interrupted already."""
        with self._lock:
            if self.interrupted:
                return False
            self.interrupted = True
            self.interrupted_at = time.monotonic()
            running = list(self._running)
            self._interrupted.extend(running)
        for process in running:
            process.signal(signal.SIGINT)
        return True

    def wait(self, deadline: float, kill_requested: threading.Event | None = None) -> None:
        """Until none runs, `deadline` (monotonic) passes, or `kill_requested` is set."""
        while time.monotonic() < deadline:
            with self._lock:
                if not self._running:
                    return
            if kill_requested is not None and kill_requested.is_set():
                return
            time.sleep(0.02)

    def kill_all(self) -> None:
        """SIGKILL the groups of what still runs or was interrupted, grandchildren too;
        after an interrupt, also the adopted orphans that left their groups."""
        with self._lock:
            remaining = [*self._running, *self._interrupted]
        for process in remaining:
            process.signal(signal.SIGKILL)
        if self.interrupted and self.adopting:
            # Those that left their group may hold a step's pipe open; the steps' own
            # processes are reaped by their readers, so they are kept.
            end_adopted(keep={process.pid for process in remaining if process.pid is not None})
