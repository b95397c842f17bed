"""The progress of `forkjoin run`: plain lines off a terminal or in CI, a live
display on a real terminal (a pseudo-terminal here)."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time
from pathlib import Path

from test_run import COMMAND, run, write

from forkjoin.workflow import LiveStatus, PlainStatus, choose_status


def test_plain_lines_count_steps_and_say_why_one_failed(tmp_path: Path) -> None:
    """a ; b(fails) -> c"""
    write(
        tmp_path,
        """
        failure_mode: keep_going
        steps:
          a: {run: 'true'}
          b: {run: 'exit 3'}
          c: {run: 'true', needs: [b]}
        """,
    )
    result, _ = run(tmp_path, env={"CI": "true"})
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert any(line.startswith("forkjoin: [") and " a succeeded in " in line for line in lines)
    assert any(" b failed in " in line and "exit code 3" in line for line in lines), lines
    assert any(" c skipped" in line for line in lines), lines
    assert lines[-1].startswith("forkjoin: failed: 1 succeeded, 1 failed, 1 skipped in ")
    assert "logs in .forkjoin/logs/" in lines[-1]
    positions = [line.split("]")[0] for line in lines if line.startswith("forkjoin: [")]
    assert sorted(positions) == ["forkjoin: [1/3", "forkjoin: [2/3", "forkjoin: [3/3"]


def test_items_get_a_line_each_without_a_position(tmp_path: Path) -> None:
    write(tmp_path, "steps:\n  d: {for_each: [x, y], run: 'true'}\n")
    result, _ = run(tmp_path, env={"CI": "true"})
    assert result.returncode == 0, result.stderr
    assert "forkjoin: d/x succeeded" in result.stderr
    assert "forkjoin: d/y succeeded" in result.stderr
    assert "forkjoin: [1/1] d succeeded" in result.stderr


class _Terminal:
    """A stream that says it is a terminal, as stderr in one would."""

    def isatty(self) -> bool:
        return True

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


def test_the_live_display_only_on_a_terminal_outside_ci() -> None:
    terminal = _Terminal()
    assert type(choose_status(1, stream=terminal, environ={})) is LiveStatus  # type: ignore[arg-type]
    assert type(choose_status(1, stream=terminal, environ={"CI": "true"})) is PlainStatus  # type: ignore[arg-type]
    assert type(choose_status(1, stream=terminal, environ={"TERM": "dumb"})) is PlainStatus  # type: ignore[arg-type]


def _read_terminal(descriptor: int, process: subprocess.Popen[bytes], timeout: float) -> bytes:
    """Everything written to the terminal until the process ends."""
    seen = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([descriptor], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(descriptor, 65536)
            except OSError:  # the other end closed
                break
            if not chunk:
                break
            seen += chunk
        elif process.poll() is not None:
            break
    return seen


def _run_on_a_terminal(directory: Path) -> str:
    """What `forkjoin run` in `directory` shows on a pseudo-terminal, CI unset; it must
    succeed."""
    parent, child = pty.openpty()
    environ = {k: v for k, v in os.environ.items() if k not in ("CI", "FORKJOIN_MAX_CONCURRENCY")}
    environ.update(TERM="xterm-256color", COLUMNS="100")
    process = subprocess.Popen(
        COMMAND, cwd=directory, stdin=subprocess.DEVNULL, stdout=child, stderr=child, env=environ
    )
    os.close(child)
    try:
        seen = _read_terminal(parent, process, timeout=30).decode(errors="replace")
        assert process.wait(timeout=30) == 0, seen
    finally:
        os.close(parent)
    return seen


def test_a_real_terminal_shows_running_steps_with_their_time(tmp_path: Path) -> None:
    """slow(1.2 s) ; quick    at -j2, on a pseudo-terminal, CI unset"""
    write(
        tmp_path,
        """
        max_concurrency: 2
        steps:
          slow: {run: 'sleep 1.2; echo slow done'}
          quick: {run: 'echo quick done'}
        """,
    )
    seen = _run_on_a_terminal(tmp_path)
    assert "running 1" in seen, seen  # the display, while slow runs alone
    assert "slow  " in seen and " s" in seen  # its elapsed time
    assert "[quick] quick done" in seen and "[slow] slow done" in seen
    assert "forkjoin: 2 succeeded in " in seen


def test_the_live_counts_are_of_steps_while_items_are_listed(tmp_path: Path) -> None:
    """each(4 items, 2 at once, 0.8 s) -> after    at -j4: while the items run, one step
    runs and one waits; the running items are each listed."""
    write(
        tmp_path,
        """
        max_concurrency: 4
        steps:
          each: {for_each: [a, b, c, d], parallelism: 2, run: 'sleep 0.8'}
          after: {needs: [each], run: 'true'}
        """,
    )
    seen = _run_on_a_terminal(tmp_path)
    assert "done 0/2  running 1  pending 1" in seen, seen
    assert "each/a  " in seen and "each/b  " in seen
    assert "running 2" not in seen and "running 3" not in seen


def test_quiet_output_shows_only_what_did_not_succeed(tmp_path: Path) -> None:
    """a ; b(fails)"""
    write(tmp_path, "failure_mode: keep_going\nsteps:\n  a: {run: 'true'}\n  b: {run: 'exit 1'}\n")
    result, _ = run(tmp_path, "--output", "quiet", env={"CI": "true"})
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert not any(" a succeeded" in line for line in lines), lines
    assert any(" b failed" in line for line in lines), lines
    assert lines[-1].startswith("forkjoin: failed: 1 succeeded, 1 failed in ")
