"""One shell command of a step: how it starts, its process group, its output lines.

A step's `${{ ... }}` references never reach the shell as code: the command arrives
here with each replaced by an expansion of `${FJ_REF_n}`, whose value travels in the
environment (`forkjoin.workflow._quoting`). The command runs as `sh -c` in a session
of its own, so a signal to its process group reaches its children and grandchildren
(`start`, `LocalProcess.signal`). Its stdout and stderr are read through one pipe,
line by line, into its log file and onto the terminal (`Terminal`), whole lines only.

A running command is a `StepProcess`: here a `LocalProcess`; on a cluster, the
stand-in of one running on a worker (`forkjoin.workflow._cluster`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, BinaryIO, Protocol

from forkjoin.workflow._status import Sink

__all__ = [
    "LocalProcess",
    "Started",
    "StepProcess",
    "Terminal",
    "kill_group_later",
    "parse_outputs",
    "read_lines",
    "signal_group",
    "start",
]


OUTPUT_MODES = ("passthrough", "prefixed", "grouped", "quiet")


class Terminal:
    """Where steps' lines meet: one lock, so lines of two steps never tear each other.

    `mode` is one of `OUTPUT_MODES`:
    - passthrough: lines as they come, unchanged (the output of concurrency 1);
    - prefixed: lines as they come, each `[step] line`;
    - grouped: a step's lines in one block, under `==> step <==`, when it ends;
    - quiet: only the blocks of steps that failed.
    """

    def __init__(self, stream: Sink, *, mode: str = "passthrough") -> None:
        if mode not in OUTPUT_MODES:
            raise ValueError(f"unknown output mode {mode!r}; choose one of {OUTPUT_MODES}")
        self.stream = stream
        self.mode = mode
        self._lock = threading.Lock()
        self._held: dict[str, list[bytes]] = {}  # grouped and quiet: lines of running steps

    def line(self, label: str, data: bytes) -> None:
        """Write one line of the step `label`, or hold it until the step ends.

        A last line without its newline gets one, unless passed through."""
        if self.mode != "passthrough" and not data.endswith(b"\n"):
            data += b"\n"
        if self.mode in ("grouped", "quiet"):
            with self._lock:
                self._held.setdefault(label, []).append(data)
            return
        if self.mode == "prefixed":
            data = b"[" + label.encode() + b"] " + data
        self._write(data)

    def ended(self, label: str, *, failed: bool) -> None:
        """The step `label` has ended: write its held block, if its mode shows it."""
        with self._lock:
            held = self._held.pop(label, [])
        if self.mode == "grouped" or (self.mode == "quiet" and failed):
            how = " (failed)" if failed else ""
            self._write(b"==> " + label.encode() + how.encode() + b" <==\n" + b"".join(held))

    def _write(self, data: bytes) -> None:
        with self._lock:
            try:
                self.stream.write(data)
                self.stream.flush()
            except (OSError, ValueError):
                pass  # the terminal went away (`| head`, a closed tty): the log still has it


def start(command: str, *, cwd: Path, env: Mapping[bytes, bytes]) -> Started:
    """Start `sh -c command` in its own session, its stderr merged into its stdout pipe.

    Raises OSError when it cannot start (a missing `cwd`, say).
    """
    # POSIX puts sh at /bin/sh; naming it spares a search of $PATH per command.
    arguments = ["/bin/sh", "-c", command]
    if os.fspath(cwd) == os.getcwd() and not _inheritable_descriptors():
        return _spawn(arguments, env)
    return subprocess.Popen(
        arguments,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


class Started(Protocol):
    """A started command: the part of `subprocess.Popen` a step uses."""

    @property
    def pid(self) -> int: ...

    @property
    def stdout(self) -> IO[bytes] | None: ...

    def wait(self) -> int: ...


class _Spawned:
    """A command started by `os.posix_spawn`, which is Popen's fork and exec at about
    half the parent's cost (glibc's vfork), but cannot change the working directory."""

    __slots__ = ("pid", "returncode", "stdout")

    def __init__(self, pid: int, stdout: BinaryIO) -> None:
        self.pid = pid
        self.stdout: IO[bytes] | None = stdout
        self.returncode: int | None = None

    def wait(self) -> int:
        if self.returncode is None:
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode


def _inheritable_descriptors() -> list[int]:
    """The descriptors above 2 that a spawned command would inherit: ones this process
    was started with, or made inheritable. Popen closes them (`close_fds`) and
    posix_spawn cannot, so any of them sends the command through Popen."""
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return [-1]  # no /proc: take Popen's way, which needs no list
    inheritable = []
    for name in names:
        descriptor = int(name)
        if descriptor > 2:
            with contextlib.suppress(OSError):  # the listing's own, closed by now
                if os.get_inheritable(descriptor):
                    inheritable.append(descriptor)
    return inheritable


def _spawn(arguments: list[str], env: Mapping[bytes, bytes]) -> _Spawned:
    """Start `arguments` in this working directory, as `start` does with Popen."""
    reader, writer = os.pipe()  # both close on exec; only the duplicates reach the child
    try:
        pid = os.posix_spawn(
            arguments[0],
            arguments,
            env,
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, writer, 1),
                (os.POSIX_SPAWN_DUP2, writer, 2),
            ],
            setsid=True,
            # What Popen restores: Python ignores SIGPIPE, and exec would keep that.
            setsigdef=(signal.SIGPIPE, signal.SIGXFSZ),
        )
    except BaseException:
        os.close(reader)
        raise
    finally:
        os.close(writer)
    return _Spawned(pid, open(reader, "rb"))


class StepProcess(Protocol):
    """A running command of a step, wherever it runs."""

    @property
    def pid(self) -> int | None:
        """The id of its process when it runs on this machine."""
        ...

    def lines(self) -> Iterator[bytes]:
        """Its output, stdout and stderr merged, line by line, until every holder of
        its pipe is gone."""
        ...

    def wait(self) -> int:
        """Its exit code once it has ended (negative: the signal that ended it)."""
        ...

    def signal(self, number: int) -> None:
        """Send signal `number` to its process group, if any of it is left."""
        ...

    def outputs(self) -> dict[str, str]:
        """What it wrote to $FORKJOIN_OUTPUT, once it has ended."""
        ...


class LocalProcess:
    """A command's process group on this machine, and the file of its outputs."""

    __slots__ = ("output_path", "popen")

    def __init__(self, popen: Started, output_path: Path) -> None:
        self.popen = popen
        self.output_path = output_path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def lines(self) -> Iterator[bytes]:
        assert self.popen.stdout is not None
        with self.popen.stdout as pipe:
            yield from iter(pipe.readline, b"")

    def wait(self) -> int:
        return self.popen.wait()

    def signal(self, number: int) -> None:
        signal_group(self.popen, number)

    def outputs(self) -> dict[str, str]:
        try:
            with open(self.output_path, encoding="utf-8", errors="replace") as file:
                return parse_outputs(file.read())
        except FileNotFoundError:
            return {}


def read_lines(process: StepProcess, log: BinaryIO, terminal: Terminal, label: str) -> int:
    """Copy the process's output, line by line, to `log` and `terminal` until every
    holder of the pipe is gone; then its exit code (negative: the signal that ended it)."""
    for data in process.lines():
        log.write(data)
        log.flush()
        terminal.line(label, data)
    return process.wait()


def signal_group(process: Started, number: int) -> None:
    """Send signal `number` to the process group the process leads, if any is left."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, number)


class _Alarm:
    """A signal to a process group after a delay; `fired` once it was sent."""

    def __init__(
        self,
        process: StepProcess,
        delay: float,
        number: int,
        then_kill_after: float | None,
    ) -> None:
        self.process = process
        self.number = number
        self.then_kill_after = then_kill_after
        self.fired = False
        self._timer = threading.Timer(delay, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        self.fired = True
        self.process.signal(self.number)
        if self.then_kill_after is not None:
            kill_group_later(self.process, self.then_kill_after)

    def cancel(self) -> None:
        self._timer.cancel()


def kill_group_later(
    process: StepProcess,
    delay: float,
    number: int = signal.SIGKILL,
    *,
    then_kill_after: float | None = None,
) -> _Alarm:
    """Send signal `number` (SIGKILL) to the process group after `delay` seconds, and
    SIGKILL `then_kill_after` seconds later if given; `cancel()` the alarm to spare it."""
    return _Alarm(process, delay, number, then_kill_after)


def parse_outputs(text: str) -> dict[str, str]:
    """The `key=value` lines a step wrote to $FORKJOIN_OUTPUT; later keys win, other
    lines are ignored."""
    outputs: dict[str, str] = {}
    for line in text.splitlines():
        key, equals, value = line.partition("=")
        key = key.strip()
        if equals and key:
            outputs[key] = value
    return outputs
