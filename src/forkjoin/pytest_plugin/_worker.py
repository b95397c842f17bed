"""The forked worker: runs the tests the main process sends, by pytest's own protocol.

A worker is forked after collection, so it has the collected session already
(copy-on-write); it never collects. It runs each test with
`pytest_runtest_protocol(item, nextitem)`, `nextitem` being the next test of its own
queue: fixtures shared with that test stay set up, as in a serial run. Before
starting the last test of its queue it knows whether more is coming (it asks with
`NEED` when an eighth of its last batch is left, so the answer is there in time);
when nothing more comes `nextitem` is None, and everything is torn down, session
fixtures included.

Its reporting plugins (terminal, junitxml, last-failed cache...) are unregistered:
the main process re-emits each report, and those plugins see them there. Its
stdout and stderr go to its own log file, never the terminal, and faulthandler
writes there too, so the main process can tell what a crash printed. A worker
always ends with os._exit: nothing inherited from the main process (atexit
handlers, the history's SQLite connection) runs twice.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import pickle
import select
import traceback
import warnings
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import pytest

from forkjoin.pytest_plugin import _protocol as protocol
from forkjoin.pytest_plugin._worker_process import (
    close_fd,
    die_with_main_process,
    redirect_output,
    resident_bytes,
    use_own_basetemp,
)

__all__ = ["WORKER_VARIABLE", "WorkerSetup", "run_worker"]

# What a worker sets to its name (w1, w2...), as pytest-xdist sets PYTEST_XDIST_WORKER.
WORKER_VARIABLE = "FORKJOIN_WORKER"

# A worker asks for more when its queue is down to an eighth of its last batch, and
# to 2 tests at least: the main process, which gathers frames for a few
# milliseconds between reads, then has the time of those tests to answer before
# the worker must know its last test's `nextitem`.
_LOW_WATER_SHARE = 8
_LOW_WATER = 2
# Plugins that report to the user: they see the re-emitted reports in the main
# process, and must not see them twice (or write files from here).
_REPORTERS = frozenset(
    {
        "TerminalReporter",
        "LogXML",
        "LFPlugin",
        "NFPlugin",
        "StepwisePlugin",
        "ReportLogPlugin",
        "TestRecording",
        "ParallelRunner",
    }
)


class WorkerSetup:
    """What a worker is told at its fork: who it is, its pipes and files, its limits."""

    __slots__ = (
        "capture_prefix",
        "foreign_fds",
        "log_path",
        "max_rss",
        "name",
        "request_fd",
        "response_fd",
    )

    def __init__(
        self,
        name: str,
        request_fd: int,
        response_fd: int,
        log_path: Path,
        capture_prefix: Path,
        foreign_fds: Sequence[int],
        max_rss: int | None,
    ) -> None:
        self.name = name
        self.request_fd = request_fd
        self.response_fd = response_fd
        self.log_path = log_path
        self.capture_prefix = capture_prefix
        self.foreign_fds = foreign_fds
        self.max_rss = max_rss


def run_worker(session: pytest.Session, setup: WorkerSetup) -> NoReturn:
    """The whole life of a forked worker; it ends the process."""
    code = 0
    log = None
    try:
        os.setpgid(0, 0)  # the terminal's Ctrl-C goes to the main process alone
        die_with_main_process()
        # Tells conftest files and plugins that they run in a worker, and which.
        os.environ[WORKER_VARIABLE] = setup.name
        for fd in setup.foreign_fds:
            close_fd(fd)
        log = open(setup.log_path, "ab", buffering=0)  # noqa: SIM115 (lives until _exit)
        redirect_output(session.config, log, setup.capture_prefix)
        use_own_basetemp(session.config, setup.name)
        faulthandler.enable(file=log, all_threads=True)
        worker = _Worker(session, setup)
        worker.log_fd = log.fileno()
        _prepare_plugins(session.config, worker)
        worker.loop()
    except BaseException:  # anything at all: say it in the log, then exit
        code = 70  # EX_SOFTWARE
        if log is not None:
            log.write(traceback.format_exc().encode("utf-8", "replace"))
    finally:
        os._exit(code)


class _Worker:
    """The loop of a worker, and the plugin that collects its reports."""

    def __init__(self, session: pytest.Session, setup: WorkerSetup) -> None:
        self.session = session
        self.config = session.config
        self.items = session.items
        self.setup = setup
        self.reader = protocol.FrameReader(setup.request_fd)
        self.queue: deque[int] = deque()
        self.asked = False  # a NEED is unanswered
        self.final = False  # NO_MORE came: the queue's last test has no nextitem
        self.stopping = False
        self.recycle_at: int | None = None  # the resident size that asks for recycling
        self.low_water = _LOW_WATER
        self.reports: list[pytest.TestReport] = []
        self.warnings: list[tuple[Any, ...]] = []
        self.running: int | None = None  # the index of the test running
        self.pid = os.getpid()
        self.log_fd = -1

    # -- the plugin side ----------------------------------------------------------------

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.reports.append(report)

    def pytest_warning_recorded(
        self,
        warning_message: warnings.WarningMessage,
        when: str,
        nodeid: str,
        location: tuple[str, int, str] | None,
    ) -> None:
        if when == "runtest":
            self.warnings.append((protocol.encode_warning(warning_message), nodeid, location))

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        # Checked before the teardown, so a worker that must go tears everything
        # down inside this test's teardown, where an error is reported as usual.
        limit = self.setup.max_rss
        if limit is not None and (rss := resident_bytes()) > limit:
            self.recycle_at = rss
            item.session._setupstate.teardown_exact(None)

    # -- the loop -------------------------------------------------------------------------

    def loop(self) -> None:
        """Run what comes until STOP, then tear down; a recycled worker has already."""
        try:
            if self._serve():
                return
        except (pytest.exit.Exception, KeyboardInterrupt) as ended:
            # The session ends, as in a serial run: the main process stops the rest.
            self._tell_ended(ended)
        self._tear_down()

    def _serve(self) -> bool:
        """The tests of each RUN, in order, until STOP; True when recycled."""
        response = self.setup.response_fd
        os.set_blocking(self.setup.request_fd, False)
        while True:
            self._handle(self.reader.read())
            if self.stopping:
                return False
            if not self.queue:
                # A NO_MORE answering an earlier NEED may come while the queue is
                # empty: then ask again, and the main process holds the answer
                # until there is work (stolen from another worker) or the run ends.
                self._ask()
                self._wait(lambda: bool(self.queue) or self.stopping or not self.asked)
                continue
            if len(self.queue) <= self.low_water and not self.final:
                self._ask()
            if len(self.queue) == 1 and self.asked:
                self._wait(lambda: not self.asked or self.stopping)
                if self.stopping:
                    return False
            index = self.queue.popleft()
            nextitem = self.items[self.queue[0]] if self.queue else None
            self._run(index, nextitem)
            if self.recycle_at is not None:
                protocol.send(response, (protocol.RECYCLE, self.recycle_at))
                return True

    def _end_if_forked(self) -> None:
        # A process the test forked, which returned from it instead of exiting: it
        # shares the worker's pipes, and must not take part in its conversation.
        if os.getpid() != self.pid:
            os._exit(0)

    def _tell_ended(self, ended: BaseException) -> None:
        self._end_if_forked()
        if isinstance(ended, pytest.exit.Exception):
            message = (protocol.EXIT, self.running, False, ended.msg, ended.returncode)
        else:
            message = (protocol.EXIT, self.running, True, str(ended), None)
        with contextlib.suppress(OSError):  # the main process may be gone
            protocol.send(self.setup.response_fd, message)

    def _ask(self) -> None:
        if not self.asked:
            protocol.send(self.setup.response_fd, (protocol.NEED,))
            self.asked = True

    def _wait(self, until: Callable[[], bool]) -> None:
        while not until():
            select.select([self.reader.fd], [], [])
            self._handle(self.reader.read())
            if self.reader.is_closed:  # the main process is gone
                raise SystemExit(1)

    def _handle(self, messages: list[protocol.Message]) -> None:
        for message in messages:
            kind = message[0]
            if kind == protocol.RUN:
                self.queue.extend(message[1])
                self.low_water = max(_LOW_WATER, len(message[1]) // _LOW_WATER_SHARE)
                self.asked = False
                self.final = False
            elif kind == protocol.NO_MORE:
                self.asked = False
                self.final = True
            elif kind == protocol.STEAL:
                self._give(message[1])
            elif kind == protocol.STOP:
                self.stopping = True
        if self.reader.is_closed:
            raise SystemExit(1)

    def _give(self, count: int) -> None:
        # The first test of the queue stays: the last test's teardown kept what it
        # shares with it set up.
        given: list[int] = []
        while len(self.queue) > 1 and len(given) < count:
            given.append(self.queue.pop())
        given.reverse()
        protocol.send(self.setup.response_fd, (protocol.GAVE, given))

    def _run(self, index: int, nextitem: pytest.Item | None) -> None:
        item = self.items[index]
        markers = len(item.own_markers)
        self.reports = []
        self.warnings = []
        self.running = index
        self.config.hook.pytest_runtest_protocol(item=item, nextitem=nextitem)
        self.running = None
        self._end_if_forked()
        # A failure here must not make the next test tear everything down: the
        # main process decides when the run stops (-x, --maxfail).
        self.session._shouldfail = False
        self.session._shouldstop = False
        plain = len(item.own_markers) == markers
        encoded = [protocol.encode_report(self.config, report, plain) for report in self.reports]
        log_size = os.fstat(self.log_fd).st_size
        # The location costs a stat and a path walk to work out: it travels, so the
        # main process does not work it out a second time.
        message = (protocol.DONE, index, encoded, self.warnings, log_size, item.location)
        try:
            protocol.send(self.setup.response_fd, message)
        except (pickle.PicklingError, TypeError, AttributeError):  # pickle's refusals
            encoded = protocol.picklable_reports(encoded)
            message = (protocol.DONE, index, encoded, self.warnings, log_size, item.location)
            protocol.send(self.setup.response_fd, message)

    def _tear_down(self) -> None:
        try:
            self.session._setupstate.teardown_exact(None)
        except BaseException:  # the run is over for this worker: the log tells
            traceback.print_exc()


class _SilentTerminal:
    """Stands in for the terminal reporter: its attributes, none of its hooks.

    Code that runs in tests still asks for "terminalreporter" (pytest 9.0's
    assertion comparison takes its writer, and asserts that it is there; plugins
    write lines through it), but its hooks must not report a second time.
    """

    def __init__(self, reporter: object) -> None:
        self._reporter = reporter

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reporter, name)


def _prepare_plugins(config: pytest.Config, worker: _Worker) -> None:
    manager = config.pluginmanager
    for plugin in list(manager.get_plugins()):
        if type(plugin).__name__ in _REPORTERS:
            name = manager.get_name(plugin)
            manager.unregister(plugin)
            if name == "terminalreporter":
                manager.register(_SilentTerminal(plugin), name)
    # The main process counts failures against --maxfail and -x, not each worker.
    config.option.maxfail = 0
    manager.register(worker, "forkjoin-worker")
