"""Ctrl-C, for real: SIGINT to a program blocked on forkjoin leaves nothing running."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

PROGRAM = textwrap.dedent(
    """
    import os, sys, time
    import forkjoin as fj

    def work(path):
        with open(path, "a") as pids:
            pids.write(f"{os.getpid()}\\n")
        time.sleep(60)

    if __name__ == "__main__":
        executor, pid_file = sys.argv[1], sys.argv[2]
        try:
            with fj.Session(executor, workers=2):
                tasks = [fj.spawn(work, pid_file) for _ in range(4)]
                print("started", flush=True)
                fj.fetch(tasks)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            sys.exit(130)
    """
)


def alive(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    try:
        return "State:\tZ" not in status.read_text()
    except FileNotFoundError:
        return False


def run_and_interrupt(tmp_path: Path, executor: str) -> tuple[subprocess.Popen[str], list[int]]:
    script = tmp_path / "program.py"
    script.write_text(PROGRAM)
    pid_file = tmp_path / "pids"
    pid_file.touch()
    program = subprocess.Popen(
        [sys.executable, str(script), executor, str(pid_file)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert program.stdout is not None
    assert program.stdout.readline().strip() == "started"
    deadline = time.monotonic() + 30
    while len(pid_file.read_text().split()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    pids = [int(line) for line in pid_file.read_text().split()]
    assert len(pids) == 2, "two tasks should be running"
    program.send_signal(signal.SIGINT)
    return program, pids


def test_ctrl_c_on_processes_stops_every_worker(tmp_path: Path) -> None:
    program, worker_pids = run_and_interrupt(tmp_path, "processes")
    out, _ = program.communicate(timeout=30)
    assert "interrupted" in out
    assert program.returncode == 130
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in worker_pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in worker_pids if alive(pid)], "a worker outlived Ctrl-C"


def test_ctrl_c_on_threads_returns_promptly(tmp_path: Path) -> None:
    program, task_pids = run_and_interrupt(tmp_path, "threads")
    began = time.monotonic()
    out, _ = program.communicate(timeout=30)
    assert "interrupted" in out
    assert program.returncode == 130
    # The sleeping threads are daemons: the process does not wait out their 60 s.
    assert time.monotonic() - began < 20
    assert task_pids == [program.pid, program.pid]  # they ran on its threads
