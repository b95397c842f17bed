"""What a run shows of its progress: plain lines, or a live display in a terminal.

A status is told of each step and item as it starts and ends, and of the run's end;
it knows nothing of scheduling (Ninja's `Status`). `choose_status` picks the live
display (rich) for a terminal, plain lines on stderr otherwise or when `CI` is set,
as CI logs keep every line and redraw none.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Mapping
from typing import IO, TYPE_CHECKING, Any, BinaryIO, Protocol

from forkjoin.workflow._summary import Record, error_text, status_of

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

__all__ = ["LiveStatus", "PlainStatus", "Sink", "Status", "choose_status"]


class Status(Protocol):
    """Told of a run's progress; calls come one at a time (the engine's observer)."""

    def output_stream(self, stdout: IO[str]) -> Sink:
        """Where the steps' output lines go, given the run's standard output."""
        ...

    def started(self, record: Record) -> None: ...

    def finished(self, record: Record) -> None: ...

    def closed(self, outcome: str, seconds: float, log_directory: str) -> None: ...


class Sink(Protocol):
    """Where bytes of output go: a binary stream, or the live display."""

    def write(self, data: bytes, /) -> object: ...

    def flush(self) -> None: ...


class PlainStatus:
    """A line on `stream` per step or item that ends (`only_failures`: per one that did
    not succeed), and one for the run."""

    def __init__(
        self, total_steps: int, stream: IO[str] | None = None, *, only_failures: bool = False
    ) -> None:
        self.total_steps = total_steps
        self.stream = stream if stream is not None else sys.stderr
        self.only_failures = only_failures
        self.counts = {"succeeded": 0, "failed": 0, "skipped": 0, "cancelled": 0}

    def output_stream(self, stdout: IO[str]) -> Sink:
        stream: BinaryIO = stdout.buffer  # type: ignore[attr-defined]
        return stream

    def __enter__(self) -> PlainStatus:
        return self

    def __exit__(self, *exception: object) -> None:
        pass

    def started(self, record: Record) -> None:
        pass

    def finished(self, record: Record) -> None:
        line = self.line_of(record)
        assert record.node is not None
        if not (self.only_failures and status_of(record) == "succeeded"):
            self._print(line)

    def closed(self, outcome: str, seconds: float, log_directory: str) -> None:
        """`forkjoin: failed: 6 succeeded, 1 failed, 1 skipped in 2.10 s; logs in ...`"""
        counted = ", ".join(f"{n} {status}" for status, n in self.counts.items() if n)
        how = "" if outcome == "succeeded" else f"{outcome}: "
        self._print(
            f"forkjoin: {how}{counted or 'no steps'} in {seconds:.2f} s; logs in {log_directory}"
        )

    def line_of(self, record: Record) -> str:
        """`forkjoin: [3/12] lint succeeded in 1.20 s`, with the reason of a failure."""
        assert record.node is not None
        status = status_of(record)
        position = ""
        if record.index is None:
            self.counts[status] += 1
            position = f"[{sum(self.counts.values())}/{self.total_steps}] "
        line = f"forkjoin: {position}{record.label} {status}"
        if record.started_at is not None and record.finished_at is not None:
            line += f" in {record.finished_at - record.started_at:.2f} s"
        if status == "skipped":
            if record.skipped_because is not None:
                line += f": `{record.skipped_because}` failed"
        elif status != "succeeded":
            error = error_text(record)
            if error:
                line += f": {error}"
        return line

    def _print(self, line: str) -> None:
        with _terminal_gone():
            print(line, file=self.stream, flush=True)


class LiveStatus(PlainStatus):
    """A live display on a terminal: counts, and each running step with its elapsed time.

    Each step's end stays as a line above the display, so the scrollback tells the
    whole story once the display is gone. Use as a context manager around the run.
    """

    def __init__(
        self, total_steps: int, stream: IO[str] | None = None, *, only_failures: bool = False
    ) -> None:
        from rich.console import Console
        from rich.live import Live

        super().__init__(total_steps, stream, only_failures=only_failures)
        self.console: Console = Console(file=self.stream, highlight=False)
        self._running: dict[str, float] = {}  # label -> when it started (monotonic)
        self._running_steps: set[str] = set()  # the counts are of steps, items aside
        self._lock = threading.Lock()  # the display reads _running from its own thread
        self._live = Live(
            get_renderable=self._render,
            console=self.console,
            refresh_per_second=8,
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
        )

    def __enter__(self) -> LiveStatus:
        self._live.start()
        return self

    def __exit__(self, *exception: object) -> None:
        with _terminal_gone():
            self._live.stop()

    def output_stream(self, stdout: IO[str]) -> Sink:
        """This display when standard output shares its terminal, else stdout."""
        return self if _isatty(stdout) else super().output_stream(stdout)

    def write(self, data: bytes) -> None:
        """Write a step's output above the display, which would tear it otherwise."""
        with _terminal_gone():
            self.console.out(data.decode(errors="replace"), end="", highlight=False)

    def flush(self) -> None:
        pass

    def started(self, record: Record) -> None:
        with self._lock:
            if record.index is None:
                self._running_steps.add(record.id)
            if not _has_items(record):  # a step with items shows its items instead
                self._running[record.label] = time.monotonic()

    def finished(self, record: Record) -> None:
        with self._lock:
            self._running.pop(record.label, None)
            self._running_steps.discard(record.id)
        super().finished(record)

    def _print(self, line: str) -> None:
        with _terminal_gone():
            self.console.print(line, markup=False)  # above the display

    def closed(self, outcome: str, seconds: float, log_directory: str) -> None:
        with _terminal_gone():
            self._live.stop()
        super().closed(outcome, seconds, log_directory)

    def _render(self) -> RenderableType:
        from rich.console import Group
        from rich.text import Text

        now = time.monotonic()
        with self._lock:
            running = sorted(self._running.items(), key=lambda pair: pair[1])
            running_steps = len(self._running_steps)
        done = sum(self.counts.values())
        pending = max(self.total_steps - done - running_steps, 0)
        failed = self.counts["failed"]
        header = Text(f"done {done}/{self.total_steps}  running {running_steps}  pending {pending}")
        if failed:
            header.append(f"  failed {failed}", style="bold red")
        lines: list[Any] = [header]
        lines += [Text(f"  {label}  {now - began:.1f} s", style="dim") for label, began in running]
        return Group(*lines)


def _terminal_gone() -> contextlib.AbstractContextManager[None]:
    """Ignore a write to a terminal that went away (`| head`, a closed window: EPIPE,
    EIO): the run goes on to stop its steps, and the logs and summary keep it all."""
    return contextlib.suppress(OSError, ValueError)


def _has_items(record: Record) -> bool:
    step = record.step
    return record.index is None and (step.for_each is not None or step.matrix is not None)


def choose_status(
    total_steps: int,
    *,
    stream: IO[str] | None = None,
    environ: Mapping[str, str] | None = None,
    only_failures: bool = False,
) -> PlainStatus:
    """The live display when `stream` (stderr) is a terminal and this is not CI, with
    TERM not `dumb`; plain lines otherwise."""
    stream = stream if stream is not None else sys.stderr
    environ = environ if environ is not None else os.environ
    in_ci = environ.get("CI", "").lower() in ("true", "1", "yes")
    live = _isatty(stream) and not in_ci and environ.get("TERM") != "dumb"
    kind = LiveStatus if live else PlainStatus
    return kind(total_steps, stream, only_failures=only_failures)


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
