"""The one exception tree of forkjoin; every error carries its data.

    Exception
    └── ForkjoinError ............ anything forkjoin itself raises
        ├── Cancelled ............ also concurrent.futures.CancelledError
        ├── TaskTimeout .......... also TimeoutError
        ├── CycleError ........... also ValueError; .path holds the cycle
        ├── WorkflowError ........ also ValueError; a forkjoin.yaml mistake, with file:line
        ├── DurationsError ....... also ValueError; a durations file that cannot be read as one
        ├── HistoryError ......... also ValueError; a bad import file or an unknown job
        ├── ExportFailed ......... also ConnectionError; no OTLP collector took the spans
        ├── StepFailed ........... also RuntimeError; a workflow step's command failed
        └── WorkerCrashed ........ also RuntimeError; a worker process died mid-task

A task's own error is never wrapped: `fetch` raises it with its type intact, and
forkjoin adds `__notes__` that name the task and the chain the failure travelled.
This module imports nothing of forkjoin, so every layer may import it.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import CancelledError as _FuturesCancelledError

__all__ = [
    "Cancelled",
    "CycleError",
    "DurationsError",
    "ExportFailed",
    "ForkjoinError",
    "HistoryError",
    "StepFailed",
    "TaskTimeout",
    "WorkerCrashed",
    "WorkflowError",
]


class ForkjoinError(Exception):
    """Base of every error forkjoin raises itself.

    Catch it to handle any forkjoin failure; a task's own errors keep their types and
    are not subclasses of this.
    """


class Cancelled(ForkjoinError, _FuturesCancelledError):
    """Raised by `fetch` of a task that was cancelled, or downstream of one.

    A task is cancelled by `Task.cancel()`, by `map(..., on_failure="stop")` after
    another item failed, or when its session is torn down by an exception. Nothing to
    fix: the work was not wanted any more. `task` names the cancelled task.
    """

    def __init__(self, message: str, *, task: str = "") -> None:
        super().__init__(message)
        self.task = task


class TaskTimeout(ForkjoinError, TimeoutError):
    """Raised by `fetch` of a task that ran longer than its `timeout` on every attempt.

    Raise the timeout with `options(timeout=...)`, or make the task faster. On the
    processes executor the worker running it was stopped; on threads the thread runs
    on but its result is thrown away.
    """

    def __init__(self, task: str, seconds: float) -> None:
        super().__init__(f"task {task} timed out after {seconds:g} s")
        self.task = task
        self.seconds = seconds


class CycleError(ForkjoinError, ValueError):
    """Raised when a graph's dependencies form a cycle; nothing of the graph has run.

    `path` lists the nodes around the cycle with the first repeated at the end, as
    the message reads: ``dependency cycle: a -> b -> a``. Break one of its edges.
    """

    def __init__(self, path: Sequence[object]) -> None:
        self.path = list(path)
        super().__init__("dependency cycle: " + " -> ".join(str(node) for node in self.path))


class WorkflowError(ForkjoinError, ValueError):
    """Raised when a workflow file cannot be run as written; nothing has run.

    The message reads `file:line:column: what is wrong` and, when forkjoin can
    guess, a hint such as "did you mean `needs`?". `line` and `column` are
    1-based, or None when the mistake has no place in the file. The CLI prints
    the message alone and exits 2. Fix the file where it says.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str,
        line: int | None = None,
        column: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.path = path
        self.line = line
        self.column = column
        self.hint = hint
        self.reason = message
        where = (
            path if line is None else f"{path}:{line}" + ("" if column is None else f":{column}")
        )
        super().__init__(f"{where}: {message}" + (f" ({hint})" if hint else ""))


class StepFailed(ForkjoinError, RuntimeError):
    """A workflow step whose command failed (`exit_code`), or one of whose items did.

    Raised inside a run; the summary reports its message as the step's error and
    `forkjoin run` exits 1. Read the step's log file for what went wrong.
    """

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class WorkerCrashed(ForkjoinError, RuntimeError):
    """Raised by `fetch` of a task whose worker process died while running it.

    The process was killed by a signal or exited (a segfault, `os._exit`, the OOM
    killer). Only this task fails; forkjoin starts a fresh worker for the others.
    `exitcode` is the process's exit code, negative for a signal as in `subprocess`.
    """

    def __init__(self, task: str, exitcode: int | None) -> None:
        how = (
            f"signal {-exitcode}"
            if exitcode is not None and exitcode < 0
            else f"exit code {exitcode}"
        )
        super().__init__(f"the worker process running task {task} died ({how})")
        self.task = task
        self.exitcode = exitcode


class HistoryError(ForkjoinError, ValueError):
    """Raised by `forkjoin.telemetry` when asked for what the history cannot give.

    An import file that is neither JSON lines from `forkjoin history export`, nor
    pytest-split's `.test_durations`, nor JUnit XML; or one of those, malformed; or a
    job id that names no job. `path` is the file (or the history) concerned, and
    `reason` what is wrong with it. The CLI prints the message alone and exits 2. Fix
    the file, or ask `forkjoin history` for the jobs there are. Recording never raises
    it: a history that cannot be written costs one warning line, and the run goes on.
    """

    def __init__(self, reason: str, *, path: str = "") -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}" if path else reason)


class ExportFailed(ForkjoinError, ConnectionError):
    """Raised by `forkjoin.telemetry.export_spans_to_otel` when the OTLP collector at
    `endpoint` did not take the spans in time (down, unreachable, or refusing them).

    The run's recorder turns it into one warning line; the run's result and its
    history are not touched. Start the collector, fix OTEL_EXPORTER_OTLP_ENDPOINT, or
    unset it; OTEL_EXPORTER_OTLP_TIMEOUT sets how long to try (forkjoin's default: 2 s).
    """

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        super().__init__(f"the collector at {endpoint} did not take them")


class DurationsError(ForkjoinError, ValueError):
    """Raised when a durations file (pytest-split JSON, JUnit XML) is malformed.

    Raised by `forkjoin.partition.read_durations` and so by `forkjoin split --durations`,
    which prints the message alone and exits 2. The message reads `file:line: what
    is wrong`; `line` is 1-based, or None when the mistake has no one place. Fix or
    regenerate the file (`pytest --store-durations`, `--junitxml`), or leave it out:
    items without a duration are estimated.
    """

    def __init__(self, path: str, reason: str, *, line: int | None = None) -> None:
        self.path = path
        self.reason = reason
        self.line = line
        super().__init__(f"{path}{'' if line is None else f':{line}'}: {reason}")
