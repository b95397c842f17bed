"""Record a pytest session as one job of kind `tests`: a span per test, with its phases.

Each test is a span keyed by its node id, whose status is the test's outcome and
whose children are its `setup`, `call` and `teardown` spans (keyed `setup:<node
id>`... so that they never count as the test, nor as its siblings, in an estimate).
The setup and teardown of wider fixtures are spans of their own under the test
that paid for them (`_fixtures.py`), and the test's span leaves them out: its
duration is then the test's own, whatever order the suite ran in.

The spans are built from the reports pytest logs, wherever the test ran: in this
process, on a forked worker (the runner re-emits its reports here), or on an xdist
worker. A test's span is written when pytest logs its end (`logfinish`), so a test
whose worker crashed, which has a single report, is recorded too. Recording in the
main process keeps every finished test's spans when a worker dies; having the
workers write their own spans was tried, and was no faster (SQLite takes one
writer at a time) while a crash lost the spans of its worker.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest

from forkjoin.pytest_plugin._fixtures import REPORT_ATTRIBUTE, teardown_key
from forkjoin.pytest_plugin._history import HistoryHandle
from forkjoin.telemetry import Job, Recorder

__all__ = ["CRASH_ATTRIBUTE", "WORKER_ATTRIBUTE", "TestRecording", "record_test"]

# Report attributes the runner sets: which worker ran the test, and how it died.
WORKER_ATTRIBUTE = "forkjoin_worker"
CRASH_ATTRIBUTE = "forkjoin_crash"
_STATUS = {"passed": "succeeded", "failed": "failed", "skipped": "skipped"}
_WHAT_LENGTH = 200
# Spans are written in batches of this many while the run goes on: with workers the
# writing overlaps their tests, where all of it at the end would hold up the summary.
_FLUSH_EVERY = 4000


class TestRecording:
    """The plugin that records the session; one per pytest session, in the main process."""

    __test__ = False  # pytest would collect a class named Test... found in a test module

    def __init__(
        self,
        config: pytest.Config,
        history: HistoryHandle,
        attributes: Mapping[str, object],
        warn: Callable[[str], None],
    ) -> None:
        self._config = config
        self._history = history
        self._attributes = dict(attributes)
        self._warn = warn
        self._recorder: Recorder | None = None
        self._job: Job | None = None
        self._reports: dict[str, list[pytest.TestReport]] = {}
        self._tests = 0

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if self._config.option.collectonly:
            return  # nothing runs, nothing to record
        store = self._history.store
        what = shlex.join(["pytest", *self._config.invocation_params.args])
        if len(what) > _WHAT_LENGTH:
            what = what[: _WHAT_LENGTH - 1] + "…"
        job = store.start_job("tests", what, self._attributes)
        self._recorder = Recorder(store, job, warn=self._warn, flush_every=_FLUSH_EVERY)

    @property
    def job(self) -> Job | None:
        """The job being recorded, once the session has started."""
        return self._recorder.job if self._recorder is not None else None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        reports = self._reports.get(report.nodeid)
        if reports is None:
            self._reports[report.nodeid] = [report]
        else:
            reports.append(report)

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        reports = self._reports.pop(nodeid, None)
        if reports and self._recorder is not None:
            record_test(self._recorder, nodeid, reports)
            self._tests += 1

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self._recorder is None:
            self._history.close()
            return
        for nodeid, reports in self._reports.items():  # tests cut short by an interruption
            record_test(self._recorder, nodeid, reports)
            self._tests += 1
        self._reports.clear()
        status = {0: "succeeded", 5: "succeeded", 2: "interrupted"}.get(int(exitstatus), "failed")
        self._job = self._recorder.finish(status)
        self._history.close()

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self._job is None or not self._job.is_recorded:
            return
        terminalreporter.write_line(
            f"forkjoin: recorded {self._tests} tests as job {self._job.short_id}"
            f" in {_shown(self._history.path, self._config.invocation_params.dir)}"
        )


def record_test(recorder: Recorder, nodeid: str, reports: Sequence[pytest.TestReport]) -> None:
    """The spans of one test: its own, its phases', its wide fixtures'."""
    first = reports[0]
    worker = str(getattr(first, WORKER_ATTRIBUTE, None) or getattr(first, "worker_id", "main"))
    test_span = recorder.new_span_id()
    # The wide fixtures set up before the test's own setup, and torn down after its
    # own teardown, are cut from either end of the test's span.
    lead = trail = 0.0
    after_fixtures = 0.0  # the end of the last wide fixture set up in the test's setup
    for report in reports:
        timings = getattr(report, REPORT_ATTRIBUTE, None)
        if not timings:
            continue
        for key, part, start, end, failed in timings:
            recorder.record(
                key if part == "setup" else teardown_key(key),
                kind="fixture",
                status="failed" if failed else "succeeded",
                start=start,
                end=end,
                worker=worker,
                parent=test_span,
            )
            if report.when == "setup" and part == "setup":
                lead += end - start
                after_fixtures = max(after_fixtures, end)
            elif report.when == "teardown" and part == "teardown":
                trail += end - start
    for report in reports:
        wasxfail = hasattr(report, "wasxfail")
        recorder.record(
            f"{report.when}:{nodeid}",
            kind=report.when,
            status=_STATUS[report.outcome],
            start=report.start,
            end=report.stop,
            worker=worker,
            attributes={"xfail": True} if wasxfail else None,
            parent=test_span,
        )
    status, outcome = _outcome(reports)
    start = max(reports[0].start + lead, after_fixtures)
    end = max(start, reports[-1].stop - trail)
    attributes: dict[str, object] | None = None
    if outcome != "passed":
        attributes = {"outcome": outcome}
    crash = getattr(first, CRASH_ATTRIBUTE, None)
    if crash:
        attributes = {**(attributes or {}), "crash": crash}
    recorder.record(
        nodeid,
        kind="test",
        status=status,
        start=start,
        end=end,
        worker=worker,
        attributes=attributes,
        span_id=test_span,
    )


def _outcome(reports: Sequence[pytest.TestReport]) -> tuple[str, str]:
    """The test's span status and its outcome as pytest's summary names it."""
    for report in reports:
        if report.failed:
            return "failed", "failed" if report.when == "call" else "error"
    for report in reports:
        if report.skipped:
            return "skipped", "xfailed" if hasattr(report, "wasxfail") else "skipped"
    for report in reports:
        if report.when == "call" and hasattr(report, "wasxfail"):
            return "succeeded", "xpassed"
    return "succeeded", "passed"


def _shown(path: Path, directory: Path) -> str:
    try:
        return str(path.relative_to(directory))
    except ValueError:
        return str(path)
