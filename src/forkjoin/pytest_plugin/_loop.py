"""The main process's loop of a parallel run: feeding forked workers, re-emitting their reports.

    collect once ── fork N workers (they inherit the collected session) ──┐
        ┌────────────────────────────────────────────────────────────────┘
        └─ loop: select on the workers' pipes
              NEED     → a batch from the queue (history order), or NO_MORE and
                         a STEAL from the busiest worker, or wait till there is one
              DONE     → re-emit its reports through pytest's hooks, here
              GAVE     → stolen tests back to the front of the queue
              RECYCLE  → its unrun tests back; a fresh worker when it has gone
              EXIT     → a test called pytest.exit or raised KeyboardInterrupt:
                         raised here, so pytest ends the session as a serial run
              end of file without STOP or RECYCLE → a crash: the running test
                         fails with the signal and its output, a fresh worker
        until every test is done, or -x / --maxfail / Ctrl-C / EXIT / too many crashes

The main process runs no test and starts no thread (forking is only safe so). It
is the only one that reports, so the terminal, -x, --maxfail, --junitxml and the
summary see each test's reports just as a serial run logs them, in the order the
tests end.
"""

from __future__ import annotations

import selectors
import signal
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from forkjoin.pytest_plugin import _protocol as protocol
from forkjoin.pytest_plugin._crash import crash_report, describe_exit, read_tail
from forkjoin.pytest_plugin._order import WorkQueue
from forkjoin.pytest_plugin._pool import Pool, WorkerProcess
from forkjoin.pytest_plugin._record import WORKER_ATTRIBUTE

__all__ = ["Run"]

# How often the loop looks for workers that exited without closing their pipe
# (a process their test started holds it open).
_POLL_SECONDS = 1.0
# After reading, the loop sleeps this long before looking again, so that the frames
# of many tests pile up for one read. Woken for every frame, the main process costs
# each worker a wake-up per test, which on a 2-CPU virtual machine took longer than
# running a trivial test (0.3 ms of the worker's CPU per write, against 0.5 ms for
# the whole test). Workers ask for more before they run out (see _worker.py), so
# this delay is hidden from them.
_GATHER_SECONDS = 0.005
_NOT_RUN_SHOWN = 10
_TERMINATING = (signal.SIGTERM, signal.SIGHUP)


def _interrupt_on_termination() -> dict[int, Any]:
    """Make SIGTERM and SIGHUP raise KeyboardInterrupt; the handlers they had, by number.

    Workers have process groups of their own, so a signal that killed the main process
    outright would leave them running: raised instead, it ends the run as Ctrl-C does.
    """
    previous: dict[int, Any] = {}
    try:
        for number in _TERMINATING:
            previous[number] = signal.signal(number, _raise_interrupt)
    except ValueError:  # not the main thread: signals stay as they were
        pass
    return previous


def _raise_interrupt(number: int, frame: object) -> None:
    for other in _TERMINATING:  # once: a second signal must not cut the clean-up short
        signal.signal(other, signal.SIG_IGN)
    raise KeyboardInterrupt(signal.Signals(number).name)


def _restore_handlers(previous: dict[int, Any]) -> None:
    for number, handler in previous.items():
        signal.signal(number, handler)


class Run:
    """One parallel run: the queue, the workers, and the loop between them."""

    def __init__(self, session: pytest.Session, queue: WorkQueue, pool: Pool, workers: int) -> None:
        self.session = session
        self.config = session.config
        self.items: Sequence[pytest.Item] = session.items
        self.queue = queue
        self.pool = pool
        self.workers = workers
        self.selector = selectors.DefaultSelector()
        self.completed = 0
        self.ending = False
        self.crashes = 0
        self.most_crashes = max(4, 2 * workers)
        self.recycled: list[tuple[str, int]] = []
        self.not_run: list[int] = []
        self.kept_logs: list[Path] = []
        self.hooks: dict[Path, Any] = {}
        self.terminal: Any = self.config.pluginmanager.get_plugin("terminalreporter")

    def run(self) -> None:
        previous_handlers = _interrupt_on_termination()
        try:
            for _ in range(self.workers):
                self._spawn()
            while self.pool.live:
                events = self.selector.select(timeout=_POLL_SECONDS)
                for key, _ in events:
                    self._read(key.data)
                if not events:
                    self._look_for_silent_exits()
                self._check_end()
                if events and not self.ending:
                    time.sleep(_GATHER_SECONDS)
        except BaseException:
            self.pool.interrupt_all()
            raise
        finally:
            _restore_handlers(previous_handlers)
            self.selector.close()
            self.kept_logs = self.pool.tidy()

    # -- workers coming and going -------------------------------------------------------

    def _spawn(self) -> None:
        worker = self.pool.spawn()
        self.selector.register(worker.reader.fd, selectors.EVENT_READ, worker)

    def _read(self, worker: WorkerProcess) -> None:
        for message in worker.reader.read():
            kind = message[0]
            if kind == protocol.DONE:
                self._done(worker, *message[1:])
            elif kind == protocol.NEED:
                self._need(worker)
            elif kind == protocol.GAVE:
                self._gave(worker, message[1])
            elif kind == protocol.RECYCLE:
                self._recycle(worker, message[1])
            elif kind == protocol.EXIT:
                self._end_session(worker, *message[1:])
        if worker.reader.is_closed:
            self._exited(worker)

    def _look_for_silent_exits(self) -> None:
        for worker in list(self.pool.live.values()):
            if self.pool.reap(worker, wait=False):
                self._read(worker)
                if worker.reader.fd in self.pool.live:
                    self._exited(worker)

    def _exited(self, worker: WorkerProcess) -> None:
        self.selector.unregister(worker.reader.fd)
        self.pool.reap(worker)
        self.pool.forget(worker)
        unrun = list(worker.assigned)
        worker.assigned.clear()
        if self.ending:
            return
        if not worker.is_retiring:
            self.crashes += 1
            status = worker.exit_status or 0
            culprit = unrun.pop(0) if unrun else None
            running = ""
            if culprit is not None:
                self._report_crash(worker, culprit, status)
                running = f" running {self.items[culprit].nodeid}"
            self._say(f"forkjoin: worker {worker.name} {describe_exit(status)}{running}")
            if self.crashes == self.most_crashes + 1:
                self._say(f"forkjoin: {self.most_crashes} workers restarted already: no new worker")
        self.queue.put_back(unrun)
        # Past the limit no worker replaces it: an idle one must take what it held.
        self._serve_parked()
        if self.crashes > self.most_crashes:
            if not self.pool.live:
                self._give_up()
            return
        if self.completed < len(self.items):
            self._spawn()

    def _report_crash(self, worker: WorkerProcess, index: int, status: int) -> None:
        item = self.items[index]
        report = crash_report(
            item,
            worker=worker.name,
            status=status,
            log_tail=read_tail(worker.log_path, worker.log_offset),
            captured=worker.captured(),
            started=worker.test_started,
        )
        self.completed += 1
        self._emit(item, [report], [])

    def _give_up(self) -> None:
        self.not_run = self.queue.take_all()
        self.session.shouldfail = (
            f"forkjoin: workers crashed {self.crashes} times, and were restarted the"
            f" {self.most_crashes} times allowed; {len(self.not_run)} tests not run"
        )

    # -- messages -------------------------------------------------------------------------

    def _done(
        self,
        worker: WorkerProcess,
        index: int,
        reports: list[protocol.Encoded],
        warnings: list[tuple[Any, ...]],
        log_size: int,
        location: tuple[str, int | None, str],
    ) -> None:
        if worker.assigned and worker.assigned[0] == index:
            worker.assigned.popleft()
        elif index in worker.assigned:
            worker.assigned.remove(index)
        else:
            return  # not a test it holds: the worker's code ran in a fork of a test
        worker.log_offset = log_size
        worker.test_started = time.time()
        if self.ending:
            return  # -x or --maxfail stopped the run: a serial run would not have run it
        self.completed += 1
        item = self.items[index]
        # `Item.location` is a cached property: the worker's answer fills the cache.
        item.__dict__.setdefault("location", location)
        decoded = protocol.decode_reports(self.config, item, reports)
        for report in decoded:
            setattr(report, WORKER_ATTRIBUTE, worker.name)
        self._emit(item, decoded, warnings)

    def _need(self, worker: WorkerProcess) -> None:
        if self.ending or worker.is_retiring:
            return
        if len(self.queue):
            self._hand_out(worker)
        elif worker.assigned:
            self.pool.send(worker, (protocol.NO_MORE,))
        else:
            worker.is_parked = True
        if not len(self.queue):
            self._steal(worker)

    def _hand_out(self, worker: WorkerProcess) -> None:
        batch = self.queue.take()
        worker.assigned.extend(batch)
        worker.is_parked = False
        self.pool.send(worker, (protocol.RUN, batch))

    def _steal(self, thief: WorkerProcess) -> None:
        """Ask the busiest other worker for half the tests it has not started.

        Its first test is running and its second must stay (see _worker.py), so only
        what comes after can go, and only when that is more than `thief` holds.
        """
        live = [w for w in self.pool.live.values() if not w.is_retiring and not w.is_stopped]
        if any(w.steal_pending for w in live):
            return
        others = [w for w in live if w is not thief]
        victim = max(others, key=lambda w: len(w.assigned), default=None)
        if victim is None or len(victim.assigned) - 2 <= len(thief.assigned):
            return
        victim.steal_pending = True
        self.pool.send(victim, (protocol.STEAL, (len(victim.assigned) - 1) // 2))

    def _gave(self, worker: WorkerProcess, indices: list[int]) -> None:
        worker.steal_pending = False
        given = set(indices)
        worker.assigned = deque(index for index in worker.assigned if index not in given)
        self.queue.put_back(indices)
        self._serve_parked()

    def _recycle(self, worker: WorkerProcess, rss: int) -> None:
        worker.is_retiring = True
        self.recycled.append((worker.name, rss))
        self.queue.put_back(list(worker.assigned))
        worker.assigned.clear()
        self._serve_parked()

    def _end_session(
        self,
        worker: WorkerProcess,
        index: int | None,
        is_interrupt: bool,
        reason: str,
        returncode: int | None,
    ) -> None:
        """Raise here what the test raised, for pytest's main to end the session with.

        The other workers are interrupted on the way out (see `run`); `worker` tears
        down by itself.
        """
        worker.is_retiring = True
        if self.ending:
            return  # -x or --maxfail came first: a serial run would not have run it
        where = self.items[index].nodeid if index is not None else "between tests"
        cause = "KeyboardInterrupt" if is_interrupt else "pytest.exit"
        self._say(f"forkjoin: {cause} in {where} on worker {worker.name}")
        if is_interrupt:
            raise KeyboardInterrupt(reason) if reason else KeyboardInterrupt
        raise pytest.exit.Exception(reason, returncode)

    def _serve_parked(self) -> None:
        for worker in self.pool.live.values():
            if worker.is_parked and len(self.queue) and not self.ending:
                self._hand_out(worker)
        parked = [w for w in self.pool.live.values() if w.is_parked]
        if parked and not len(self.queue):
            self._steal(parked[0])

    # -- the end ----------------------------------------------------------------------------

    def _check_end(self) -> None:
        if self.ending:
            return
        if self.session.shouldfail or self.session.shouldstop or self.completed == len(self.items):
            self.ending = True
            for worker in self.pool.live.values():
                worker.is_stopped = True
                self.pool.send(worker, (protocol.STOP,))

    # -- reporting -------------------------------------------------------------------------

    def _emit(
        self,
        item: pytest.Item,
        reports: Sequence[pytest.TestReport],
        warnings: Sequence[tuple[Any, ...]],
    ) -> None:
        """Log a test's reports here as pytest's runner logs them: start, reports, finish."""
        hook = self.hooks.get(item.path)
        if hook is None:
            hook = self.hooks[item.path] = item.ihook
        nodeid, location = item.nodeid, item.location
        hook.pytest_runtest_logstart(nodeid=nodeid, location=location)
        for report in reports:
            hook.pytest_runtest_logreport(report=report)
        hook.pytest_runtest_logfinish(nodeid=nodeid, location=location)
        for warning, warning_nodeid, warning_location in warnings:
            self.config.hook.pytest_warning_recorded.call_historic(
                kwargs={
                    "warning_message": protocol.decode_warning(warning),
                    "when": "runtest",
                    "nodeid": warning_nodeid,
                    "location": warning_location,
                }
            )

    def _say(self, line: str) -> None:
        """A line of its own on the terminal, even after a row of dots."""
        if self.terminal is None:
            return
        writer = getattr(self.terminal, "_tw", None)
        if getattr(writer, "width_of_current_line", 0):
            self.terminal.write("\n")
        self.terminal.write_line(line)

    def notes(self) -> list[str]:
        """What the summary should add: recycled workers, tests not run, kept logs."""
        notes = []
        if self.recycled:
            largest = max(rss for _, rss in self.recycled) / (1 << 20)
            count = len(self.recycled)
            notes.append(
                f"forkjoin: {count} worker{'s' if count > 1 else ''} replaced for memory"
                f" (largest: {largest:.0f} MiB)"
            )
        if self.not_run:
            shown = ", ".join(self.items[index].nodeid for index in self.not_run[:_NOT_RUN_SHOWN])
            more = len(self.not_run) - _NOT_RUN_SHOWN
            notes.append(f"forkjoin: not run: {shown}" + (f" and {more} more" if more > 0 else ""))
        if self.kept_logs:
            notes.append(f"forkjoin: worker output in {self.kept_logs[0].parent}")
        return notes
