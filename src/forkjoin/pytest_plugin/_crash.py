"""The report of a test that killed its worker: how the worker died, and what it printed."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from forkjoin.pytest_plugin._record import CRASH_ATTRIBUTE, WORKER_ATTRIBUTE

__all__ = ["crash_report", "describe_exit", "read_tail"]

# How much of a log or a capture file a crash report quotes, from its end.
_TAIL_BYTES = 32 * 1024


def describe_exit(status: int) -> str:
    """`killed by signal 9 (SIGKILL)` or `exited with code 3`, from a waitpid status."""
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            return f"killed by signal {number}"
        return f"killed by signal {number} ({name})"
    if os.WIFEXITED(status):
        return f"exited with code {os.WEXITSTATUS(status)}"
    return f"ended with status {status}"


def read_tail(path: Path, offset: int = 0) -> str:
    """The text of `path` from `offset`, at most its last 32 KiB; empty if unreadable."""
    try:
        with open(path, "rb") as file:
            size = os.fstat(file.fileno()).st_size
            start = max(offset, size - _TAIL_BYTES)
            file.seek(start)
            data = file.read()
    except OSError:
        return ""
    text = data.decode("utf-8", "replace")
    return text if start == offset else "[…]" + text


def crash_report(
    item: pytest.Item,
    *,
    worker: str,
    status: int,
    log_tail: str,
    captured: Sequence[tuple[str, str]],
    started: float,
) -> pytest.TestReport:
    """A failed `call` report for `item`, whose worker died with `status` running it.

    The text names the worker and how it died, then what its log had from the
    test's start (faulthandler's traceback of a segfault lands there); `captured`
    holds what pytest had captured of the test's stdout and stderr, as sections.
    """
    how = describe_exit(status)
    text = f"worker {worker} died while running this test: {how}"
    if log_tail.strip():
        text += f"\n\n--- the worker's output (log) ---\n{log_tail.rstrip()}"
    stopped = time.time()
    report = pytest.TestReport(
        item.nodeid,
        item.location,
        dict.fromkeys(item.keywords, 1),
        "failed",
        text,
        "call",
        [(f"Captured {stream} call", content) for stream, content in captured if content],
        stopped - started,
        started,
        stopped,
    )
    setattr(report, WORKER_ATTRIBUTE, worker)
    setattr(report, CRASH_ATTRIBUTE, how)
    return report
