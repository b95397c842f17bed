"""`run_step`, the part of a step that runs on a cluster's worker, run here with a
mailbox that keeps what it is sent: the relay is the same, only the wire is missing."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from forkjoin.workflow._cluster import _lines_of
from forkjoin.workflow._on_worker import _CHUNK_BYTES, _chunks, run_step


class KeptMailbox:
    """Keeps the lines sent; hands out `signals` at the first ask."""

    def __init__(self, signals: list[int] | None = None) -> None:
        self.chunks: list[bytes] = []
        self.signals = signals or []
        self.closed = False

    def send_lines(self, chunk: bytes) -> None:
        self.chunks.append(chunk)

    def take_signals(self) -> list[int]:
        signals, self.signals = self.signals, []
        return signals

    def close(self) -> None:
        self.closed = True


def test_lines_outputs_and_exit_code_come_back(tmp_path: Path) -> None:
    mailbox = KeptMailbox()
    command = 'echo one; echo "$GIVEN" >&2; echo "key=v" >> "$FORKJOIN_OUTPUT"; printf end; exit 3'
    code, outputs = run_step(command, str(tmp_path), {b"GIVEN": b"two"}, mailbox)
    assert (code, outputs) == (3, "key=v\n")
    assert [line for chunk in mailbox.chunks for line in _lines_of(chunk)] == [
        b"one\n",
        b"two\n",
        b"end",
    ]
    assert mailbox.closed


def test_a_signal_sent_reaches_the_process_group(tmp_path: Path) -> None:
    mailbox = KeptMailbox([signal.SIGTERM])
    code, _ = run_step("sleep 30 & wait", str(tmp_path), {}, mailbox)
    assert code == -signal.SIGTERM


def test_a_missing_folder_is_an_os_error_and_closes_the_mailbox(tmp_path: Path) -> None:
    mailbox = KeptMailbox()
    with pytest.raises(OSError):
        run_step("true", str(tmp_path / "gone"), {}, mailbox)
    assert mailbox.closed


def test_chunks_hold_whole_lines_and_split_what_is_large() -> None:
    line = b"x" * 1000 + b"\n"
    lines = [line] * (3 * _CHUNK_BYTES // len(line))
    chunks = _chunks(lines)
    assert len(chunks) == 3
    assert b"".join(chunks) == b"".join(lines)
    assert all(chunk.endswith(b"\n") for chunk in chunks)
    assert _chunks([]) == []


def test_a_carriage_return_stays_inside_its_line() -> None:
    assert list(_lines_of(b"a\n10%\r20%\nlast")) == [b"a\n", b"10%\r20%\n", b"last"]
