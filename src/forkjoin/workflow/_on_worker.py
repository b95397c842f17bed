"""What runs on a cluster's worker for one step: its command, relayed to the run.

    code, outputs_text = run_step(command, cwd, env, mailbox)

The command runs as it would locally (`sh -c`, a session of its own, stdout and
stderr merged), in the worker's environment under the step's own variables. Every
tenth of a second its new lines go to the run through the mailbox, and the
signals the run sent (Ctrl-C, a timeout, a cancel) reach its process group.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Protocol

from forkjoin.workflow._shell import signal_group, start

__all__ = ["Mailbox", "run_step"]

_RELAY_SECONDS = 0.1
_CHUNK_BYTES = 1 << 20  # one message at most, however fast a command prints


class Mailbox(Protocol):
    """The two ways between a step's worker and its run; the worker's side."""

    def send_lines(self, chunk: bytes) -> None: ...

    def take_signals(self) -> list[int]: ...

    def close(self) -> None: ...


def run_step(command: str, cwd: str, env: dict[bytes, bytes], mailbox: Mailbox) -> tuple[int, str]:
    """Run `command` in `cwd`, relaying its lines and signals; its exit code and what it
    wrote to $FORKJOIN_OUTPUT. Raises OSError when it cannot start on this worker."""
    environment = {**os.environb, **env, b"FORKJOIN_PYTHON": os.fsencode(sys.executable)}
    try:
        with tempfile.TemporaryDirectory(prefix="forkjoin-step-") as folder:
            output_path = Path(folder) / "outputs"
            environment[b"FORKJOIN_OUTPUT"] = bytes(output_path)
            process = start(command, cwd=Path(cwd), env=environment)
            assert process.stdout is not None
            try:
                _relay(process.stdout, mailbox, lambda number: signal_group(process, number))
                code = process.wait()
            except BaseException:
                signal_group(process, signal.SIGKILL)  # nothing of it outlives the task
                raise
            try:
                text = output_path.read_text(encoding="utf-8", errors="replace")
            except FileNotFoundError:
                text = ""
    finally:
        mailbox.close()
    return code, text


def _relay(pipe: IO[bytes], mailbox: Mailbox, send_signal: Callable[[int], None]) -> None:
    """Read `pipe` on a thread of its own; every relay period, send what it read and
    deliver what signals came, until the pipe is closed by every holder."""
    pending: list[bytes] = []
    lock = threading.Lock()

    def read() -> None:
        for line in iter(pipe.readline, b""):
            with lock:
                pending.append(line)

    reader = threading.Thread(target=read, name="forkjoin-step-output", daemon=True)
    reader.start()
    while True:
        reader.join(_RELAY_SECONDS)
        with lock:
            lines, pending[:] = pending[:], []
        for chunk in _chunks(lines):
            mailbox.send_lines(chunk)
        for number in mailbox.take_signals():
            send_signal(number)
        if not reader.is_alive():
            return


def _chunks(lines: list[bytes]) -> list[bytes]:
    """`lines` joined into messages of about _CHUNK_BYTES, whole lines each."""
    chunks: list[bytes] = []
    current: list[bytes] = []
    size = 0
    for line in lines:
        current.append(line)
        size += len(line)
        if size >= _CHUNK_BYTES:
            chunks.append(b"".join(current))
            current, size = [], 0
    if current:
        chunks.append(b"".join(current))
    return chunks
