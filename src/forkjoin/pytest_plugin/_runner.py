"""`--fj-workers N`: the plugin that runs the collected session on forked workers.

It orders the tests from the history, freezes the collected session for the forks,
hands both to a `Run` (see _loop.py: the loop, and why only this process reports),
and adds the run's notes to the summary.
"""

from __future__ import annotations

import gc
import os
from pathlib import Path

import pytest

from forkjoin.pytest_plugin._history import HistoryHandle, cached_last_failed, read_knowledge
from forkjoin.pytest_plugin._loop import Run
from forkjoin.pytest_plugin._order import WorkQueue, dispatch_order
from forkjoin.pytest_plugin._pool import Pool
from forkjoin.pytest_plugin._record import TestRecording

__all__ = ["ParallelRunner"]


class ParallelRunner:
    """The plugin that runs the session's tests on forked workers."""

    def __init__(
        self,
        config: pytest.Config,
        workers: int,
        *,
        max_worker_rss: int | None,
        history: HistoryHandle,
        recording: TestRecording,
    ) -> None:
        self._config = config
        self._workers = workers
        self._max_worker_rss = max_worker_rss
        self._history = history
        self._recording = recording
        self._notes: list[str] = []
        self._frozen = False
        # Registered now, in pytest_configure (tryfirst), so that it runs after the
        # cleanups pytest registers later (they run last in, first out): the
        # unraisable-exception plugin's runs five full collections at the end, and
        # with the collected session frozen they skip it, objects that are no
        # garbage before the session ends (0.5 s of CPU for 20,000 tests, on the
        # run's tail, where the workers are done).
        config.add_cleanup(self._unfreeze)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool | None:
        option = session.config.option
        if (session.testsfailed and not option.continue_on_collection_errors) or (
            option.collectonly or not session.items
        ):
            return None  # pytest's own loop says "errors during collection", or lists
        ids = [item.nodeid for item in session.items]
        knowledge = read_knowledge(
            self._history.store, ids, failures=True, last_failed=cached_last_failed(self._config)
        )
        workers = min(self._workers, len(ids))
        run = Run(
            session,
            WorkQueue(dispatch_order(ids, knowledge), workers),
            Pool(session, self._log_directory(), self._max_worker_rss),
            workers,
        )
        # Objects made so far are never collected, so a worker's collector does not
        # touch (and copy) the pages of the session it inherited.
        gc.freeze()
        self._frozen = True
        try:
            run.run()
        finally:
            self._notes = run.notes()
        if session.shouldfail:
            raise session.Failed(session.shouldfail)
        if session.shouldstop:
            raise session.Interrupted(session.shouldstop)
        return True

    def _unfreeze(self) -> None:
        if self._frozen:
            self._frozen = False
            gc.unfreeze()

    def _log_directory(self) -> Path:
        job = self._recording.job
        label = job.qualified_id if job is not None and job.is_recorded else f"run-{os.getpid()}"
        directory = self._config.rootpath / ".forkjoin" / "logs" / "pytest" / label
        directory.mkdir(parents=True, exist_ok=True)
        return directory

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        for note in self._notes:
            terminalreporter.write_line(note)
