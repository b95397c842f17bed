"""How a step's command starts: `posix_spawn` in our own working directory, Popen
elsewhere, and either way the same process for the step."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from forkjoin.workflow._shell import _inheritable_descriptors, _Spawned, start

_SIGPIPE_BIT = 1 << (signal.SIGPIPE - 1)


@pytest.fixture(params=["here", "elsewhere"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    """The working directory of the command: ours (spawned) or another (Popen)."""
    here, other = tmp_path / "here", tmp_path / "other"
    here.mkdir()
    other.mkdir()
    before = os.getcwd()
    os.chdir(here)
    # What this test process inherited from whoever started it would send every
    # command through Popen: held back while the test runs.
    inherited = _inheritable_descriptors()
    for descriptor in inherited:
        os.set_inheritable(descriptor, False)
    try:
        yield here if request.param == "here" else other
    finally:
        os.chdir(before)
        for descriptor in inherited:
            os.set_inheritable(descriptor, True)


def run(command: str, cwd: Path) -> tuple[bytes, int, bool]:
    env = {b"PATH": os.environb[b"PATH"], b"GREETING": b"hello"}
    process = start(command, cwd=cwd, env=env)
    assert process.stdout is not None
    with process.stdout as pipe:
        output = pipe.read()
    return output, process.wait(), isinstance(process, _Spawned)


def test_only_a_command_in_our_own_directory_is_spawned(where: Path) -> None:
    _, _, spawned = run("true", where)
    assert spawned == (where == Path.cwd())


def test_the_command_runs_where_it_was_asked_with_its_environment_alone(where: Path) -> None:
    output, code, _ = run('pwd; echo "$GREETING"; echo "${HOME-unset}"', where)
    assert output.decode().splitlines() == [str(where), "hello", "unset"]
    assert code == 0


def test_stderr_joins_stdout_and_the_exit_code_comes_back(where: Path) -> None:
    output, code, _ = run("echo out; echo err >&2; exit 3", where)
    assert output == b"out\nerr\n"
    assert code == 3


def test_a_signal_that_ended_it_is_a_negative_code(where: Path) -> None:
    _, code, _ = run("kill -TERM $$", where)
    assert code == -signal.SIGTERM


def test_it_leads_a_session_of_its_own_with_no_stdin(where: Path) -> None:
    output, _, _ = run("ps -o sid= -o pgid= -p $$; echo pid $$; read line || echo no-stdin", where)
    ids, pid, stdin = output.decode().splitlines()
    assert ids.split() == [pid.split()[1]] * 2  # session and group led by the shell
    assert stdin == "no-stdin"


def test_sigpipe_is_not_ignored_as_it_is_in_python(where: Path) -> None:
    output, _, _ = run("grep SigIgn /proc/$$/status", where)
    ignored = int(output.split()[1], 16)
    assert not ignored & _SIGPIPE_BIT
    assert signal.getsignal(signal.SIGPIPE) == signal.SIG_IGN  # what it would inherit


def test_a_missing_shell_directory_is_an_oserror(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        start("true", cwd=tmp_path / "missing", env={})


def test_a_descriptor_we_inherited_never_reaches_the_command(where: Path) -> None:
    """As Popen's close_fds: a descriptor left open to forkjoin (by its caller, here
    made inheritable on purpose) is not the command's, wherever it runs."""
    reader, writer = os.pipe()
    os.set_inheritable(writer, True)
    try:
        output, _, spawned = run(f"ls /proc/$$/fd; test -e /proc/$$/fd/{writer}", where)
    finally:
        os.close(reader)
        os.close(writer)
    assert not spawned  # such a descriptor sends it through Popen
    assert output.split() == [b"0", b"1", b"2"]
