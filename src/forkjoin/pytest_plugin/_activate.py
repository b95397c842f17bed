"""Wire the plugin's parts into a pytest run that asked for one of them.

    every active run     FixtureTimer + TestRecording (one job of kind tests)
    --fj-splits N        + SplitSelection
    --fj-workers N       + ParallelRunner, or pytest-xdist where fork is missing

Imported only when an `--fj-*` option is given: this is where SQLite and the
rest come in.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

import pytest

from forkjoin.errors import DurationsError
from forkjoin.partition import read_durations
from forkjoin.pytest_plugin._fixtures import FixtureTimer
from forkjoin.pytest_plugin._history import HistoryHandle, history_location
from forkjoin.pytest_plugin._record import TestRecording
from forkjoin.pytest_plugin._settings import read_options
from forkjoin.pytest_plugin._split import SPLIT_SET_ATTRIBUTE, SplitSelection, split_set_id

__all__ = ["activate"]


def activate(config: pytest.Config) -> None:
    """Register the plugins the options ask for; raises pytest.UsageError for a bad mix."""
    options = read_options(config)
    manager = config.pluginmanager
    warn = _warner(config)
    history = HistoryHandle(history_location(config, options.history), warn)
    manager.register(FixtureTimer(), "forkjoin-fixtures")
    split_set = split_set_id() if options.splits is not None else None
    if options.splits is not None and options.group is not None:
        durations = None
        if options.durations is not None:
            durations = _durations(options.durations)
        manager.register(
            SplitSelection(
                options.splits,
                options.group,
                durations=durations,
                history=history,
                split_set=split_set,
            ),
            "forkjoin-split",
        )
    if hasattr(config, "workerinput"):
        return  # a pytest-xdist worker: its controller records and reports
    attributes: dict[str, object] = {}
    if options.splits is not None:
        attributes.update(splits=options.splits, group=options.group)
        if split_set is not None:
            attributes[SPLIT_SET_ATTRIBUTE] = split_set
    if options.workers is not None:
        attributes["workers"] = options.workers
    recording = TestRecording(config, history, attributes, warn)
    manager.register(recording, "forkjoin-recording")
    if options.workers is None:
        return
    if options.use_xdist or not hasattr(os, "fork"):
        from forkjoin.pytest_plugin._xdist import use_xdist

        use_xdist(config, options.workers, history)
        return
    _refuse_mixes(config)
    from forkjoin.pytest_plugin._runner import ParallelRunner

    manager.register(
        ParallelRunner(
            config,
            options.workers,
            max_worker_rss=options.max_worker_rss,
            history=history,
            recording=recording,
        ),
        "forkjoin-runner",
    )


def _durations(path: os.PathLike[str]) -> dict[str, float]:
    try:
        return read_durations(path)
    except DurationsError as error:
        raise pytest.UsageError(f"--fj-durations: {error}") from error
    except OSError as error:
        raise pytest.UsageError(
            f"--fj-durations {os.fspath(path)}: cannot read it ({error.strerror})"
        ) from error


def _refuse_mixes(config: pytest.Config) -> None:
    if config.getoption("numprocesses", None):
        raise pytest.UsageError(
            "--fj-workers and pytest-xdist's -n both run tests in parallel: give one of them"
        )
    for option, flag in (("usepdb", "--pdb"), ("trace", "--trace")):
        if config.getoption(option, False):
            raise pytest.UsageError(
                f"{flag} needs the test to run in this process: drop --fj-workers to debug"
            )


def _warner(config: pytest.Config) -> Callable[[str], None]:
    """One-line warnings on pytest's terminal, or stderr before it has one."""

    def warn(message: str) -> None:
        terminal = config.pluginmanager.get_plugin("terminalreporter")
        if terminal is not None:
            terminal.write_line(message, yellow=True)
        else:
            print(message, file=sys.stderr)

    return warn
