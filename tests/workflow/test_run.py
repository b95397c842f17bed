"""Tests of `forkjoin run`: real workflow files, real `sh`, real processes and signals.

Each test writes a forkjoin.yaml in a temporary directory and runs the installed
command as a process, then reads its exit code, its output, its log files and its
JSON summary. Graphs in docstrings read `a -> b` for "b needs a".
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pty
import signal
import subprocess
import sys
import termios
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

COMMAND = [sys.executable, "-m", "forkjoin.cli", "run"]


def write(directory: Path, text: str, name: str = "forkjoin.yaml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def run(
    directory: Path, *arguments: str, env: dict[str, str] | None = None, timeout: float = 30
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any] | None]:
    """`forkjoin run` in `directory`; its result, and its summary if it wrote one."""
    summary = directory / "summary.json"
    summary.unlink(missing_ok=True)
    environ = {k: v for k, v in os.environ.items() if k != "FORKJOIN_MAX_CONCURRENCY"}
    result = subprocess.run(
        [*COMMAND, "--summary-json", str(summary), *arguments],
        cwd=directory,
        capture_output=True,
        text=True,
        env={**environ, **(env or {})},
        timeout=timeout,
    )
    return result, json.loads(summary.read_text()) if summary.exists() else None


def nodes_of(summary: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    assert summary is not None
    return {node["id"]: node for node in summary["nodes"]}


def statuses(summary: dict[str, Any] | None) -> dict[str, str]:
    return {name: node["status"] for name, node in nodes_of(summary).items()}


def test_ready_queue_beats_level_waves(tmp_path: Path) -> None:
    """a(1.0) -> c(0.1) ; b(0.1) -> d(1.0)   with 2 slots: about 1.1 s, not 2.1 s"""
    write(
        tmp_path,
        """
        steps:
          a: {run: sleep 1.0}
          b: {run: sleep 0.1}
          c: {needs: [a], run: sleep 0.1}
          d: {needs: [b], run: sleep 1.0}
        """,
    )
    result, summary = run(tmp_path, "-j", "2")
    assert result.returncode == 0, result.stderr
    assert summary is not None
    assert set(statuses(summary).values()) == {"succeeded"}
    assert 1000 <= summary["duration_ms"] < 1600


def test_diamond_runs_each_step_once_after_its_needs(tmp_path: Path) -> None:
    """a -> b, a -> c, b -> d, c -> d"""
    write(
        tmp_path,
        """
        max_concurrency: 2
        steps:
          a: {run: echo a >> order}
          b: {needs: [a], run: sleep 0.2; echo b >> order}
          c: {needs: [a], run: echo c >> order}
          d: {needs: [b, c], run: echo d >> order}
        """,
    )
    result, summary = run(tmp_path)
    assert result.returncode == 0, result.stderr
    order = (tmp_path / "order").read_text().split()
    assert order[0] == "a" and order[-1] == "d" and sorted(order) == ["a", "b", "c", "d"]
    assert all(node["attempts"] == 1 for node in nodes_of(summary).values())


FAILING = """
max_concurrency: 2
steps:
  bad: {run: exit 3}
  slow: {run: sleep 0.5; echo slow >> done}
  after_bad: {needs: [bad], run: echo after_bad >> done}
  after_slow: {needs: [slow], run: echo after_slow >> done}
  after_after: {needs: [after_bad], run: echo after_after >> done}
"""


def test_fail_fast_lets_running_steps_finish_and_skips_the_rest(tmp_path: Path) -> None:
    """bad -> after_bad -> after_after ; slow -> after_slow    (bad fails at once)"""
    write(tmp_path, FAILING)
    result, summary = run(tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert statuses(summary) == {
        "bad": "failed",
        "slow": "succeeded",
        "after_bad": "skipped",
        "after_slow": "skipped",
        "after_after": "skipped",
    }
    nodes = nodes_of(summary)
    assert nodes["bad"]["exit_code"] == 3
    assert nodes["bad"]["error"] == "`bad` failed: exit code 3"
    assert {nodes[n]["skipped_because"] for n in ("after_bad", "after_slow", "after_after")} == {
        "bad"
    }
    assert (tmp_path / "done").read_text().split() == ["slow"]
    assert summary is not None and summary["status"] == "failed"


def test_keep_going_skips_only_what_depends_on_a_failure(tmp_path: Path) -> None:
    """bad -> after_bad -> after_after ; slow -> after_slow"""
    write(tmp_path, FAILING)
    result, summary = run(tmp_path, "--keep-going")
    assert result.returncode == 1
    assert statuses(summary) == {
        "bad": "failed",
        "slow": "succeeded",
        "after_bad": "skipped",
        "after_slow": "succeeded",
        "after_after": "skipped",
    }
    nodes = nodes_of(summary)
    assert nodes["after_after"]["skipped_because"] == "bad"  # the failed ancestor, not its child
    assert sorted((tmp_path / "done").read_text().split()) == ["after_slow", "slow"]


def test_for_each_keeps_item_order_whatever_the_completion_order(tmp_path: Path) -> None:
    write(
        tmp_path,
        """
        max_concurrency: 4
        steps:
          each:
            for_each: [3, 2, 1, 0]
            parallelism: 4
            run: |
              sleep 0.${{ item }}
              echo "n=${{ item }}" >> "$FORKJOIN_OUTPUT"
              echo ${{ item }} >> finished
        """,
    )
    result, summary = run(tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "finished").read_text().split() == ["0", "1", "2", "3"]
    items = nodes_of(summary)["each"]["items"]
    assert [item["index"] for item in items] == [0, 1, 2, 3]
    assert [item["item"] for item in items] == [3, 2, 1, 0]
    assert [item["outputs"] for item in items] == [{"n": "3"}, {"n": "2"}, {"n": "1"}, {"n": "0"}]
    assert all(Path(item["log_file"]).read_text() == "" for item in items)
    assert "[each/3] " not in result.stdout  # nothing printed: nothing prefixed


def test_for_each_stop_cancels_the_items_after_a_failure(tmp_path: Path) -> None:
    """Item 1 fails; item 2, in flight, is cancelled and its process killed; 3 never starts."""
    write(
        tmp_path,
        """
        max_concurrency: 3
        failure_mode: keep_going
        steps:
          each:
            for_each: [ok, bad, slow, later]
            parallelism: 3
            on_failure: stop
            run: |
              case ${{ item }} in
                bad) sleep 0.5; exit 5 ;;
                slow) echo $$ > slow.pid; sleep 30 ;;
                ok) sleep 0.8 ;;
              esac
          after: {needs: [each], run: "true"}
        """,
    )
    started = time.monotonic()
    result, summary = run(tmp_path)
    assert time.monotonic() - started < 10
    assert result.returncode == 1
    node = nodes_of(summary)["each"]
    assert node["status"] == "failed"
    assert "`each/1`" in node["error"]
    assert [item["status"] for item in node["items"]] == [
        "succeeded",
        "failed",
        "cancelled",
        "cancelled",
    ]
    assert node["items"][1]["exit_code"] == 5
    assert nodes_of(summary)["after"]["skipped_because"] == "each"
    assert node["items"][3]["log_file"] is None
    assert _all_gone([int((tmp_path / "slow.pid").read_text())])


def test_for_each_continue_runs_every_item_and_fails_the_step(tmp_path: Path) -> None:
    write(
        tmp_path,
        """
        steps:
          each:
            for_each: [a, b, c]
            on_failure: continue
            run: test ${{ item }} != b
          after: {needs: [each], run: "true"}
        """,
    )
    result, summary = run(tmp_path)
    assert result.returncode == 1
    node = nodes_of(summary)["each"]
    assert [item["status"] for item in node["items"]] == ["succeeded", "failed", "succeeded"]
    assert node["status"] == "failed"
    assert nodes_of(summary)["after"]["status"] == "skipped"


def test_continue_items_time_out_one_by_one_in_a_fail_fast_run(tmp_path: Path) -> None:
    write(
        tmp_path,
        """
        steps:
          each:
            for_each: [30, 0]
            on_failure: continue
            timeout: 300ms
            run: sleep ${{ item }}
        """,
    )
    started = time.monotonic()
    result, summary = run(tmp_path)
    assert time.monotonic() - started < 10
    assert result.returncode == 1
    items = nodes_of(summary)["each"]["items"]
    assert [item["status"] for item in items] == ["failed", "succeeded"]
    assert items[0]["error"] == "`each/0` timed out after 0.3 s"


def test_matrix_runs_every_combination_with_its_prefix(tmp_path: Path) -> None:
    write(
        tmp_path,
        """
        max_concurrency: 2
        steps:
          build:
            matrix: {os: [linux, darwin], py: ["3.11", "3.12"]}
            run: echo ${{ matrix.os }} ${{ matrix.py }}
        """,
    )
    result, summary = run(tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(result.stdout.splitlines()) == sorted(
        f"[build/os={os_},py={py}] {os_} {py}"
        for os_ in ("linux", "darwin")
        for py in ("3.11", "3.12")
    )
    items = nodes_of(summary)["build"]["items"]
    assert [item["item"] for item in items] == [
        {"os": "linux", "py": "3.11"},
        {"os": "linux", "py": "3.12"},
        {"os": "darwin", "py": "3.11"},
        {"os": "darwin", "py": "3.12"},
    ]


def test_outputs_flow_to_dependents_and_feed_a_for_each(tmp_path: Path) -> None:
    """version -> package ; regions -> deploy"""
    write(
        tmp_path,
        """
        steps:
          version:
            run: echo "value=1.2.3" >> "$FORKJOIN_OUTPUT"
          package:
            needs: [version]
            run: echo "built ${{ steps.version.outputs.value }}"
          regions:
            run: echo 'list=["eu", "us"]' >> "$FORKJOIN_OUTPUT"
          deploy:
            needs: [regions]
            for_each: ${{ steps.regions.outputs.list }}
            run: echo "to ${{ item }}"
        """,
    )
    result, summary = run(tmp_path)
    assert result.returncode == 0, result.stderr
    # Concurrency 1: lines pass through unchanged, steps in order.
    assert result.stdout.splitlines() == ["built 1.2.3", "to eu", "to us"]
    assert nodes_of(summary)["version"]["outputs"] == {"value": "1.2.3"}
    assert [item["item"] for item in nodes_of(summary)["deploy"]["items"]] == ["eu", "us"]


def test_an_interpolated_value_stays_data(tmp_path: Path) -> None:
    """The value reaches the shell unquoted, in double quotes and in single quotes."""
    write(
        tmp_path,
        """
        steps:
          evil:
            run: |
              echo 'value=; touch pwned1 $(touch pwned2) `touch pwned3` "'"'"' x' \\
                >> "$FORKJOIN_OUTPUT"
          victim:
            needs: [evil]
            run: |
              printf '%s\\n' ${{ steps.evil.outputs.value }}
              echo "in double: ${{ steps.evil.outputs.value }}"
              echo 'in single: ${{ steps.evil.outputs.value }}'
        """,
    )
    result, _ = run(tmp_path)
    assert result.returncode == 0, result.stderr
    assert not list(tmp_path.glob("pwned*"))
    value = "; touch pwned1 $(touch pwned2) `touch pwned3` \"' x"
    assert result.stdout.splitlines() == [value, f"in double: {value}", f"in single: {value}"]


def test_a_value_comes_out_whole_after_a_comment_in_a_here_document_and_in_arithmetic(
    tmp_path: Path,
) -> None:
    """An apostrophe in a comment opens no quote; a here-document's body and `$(( ))`
    get the value bare; a value that is not a number never reaches `$(( ))`."""
    write(
        tmp_path,
        """
        env: {V: "it's  *"}
        steps:
          values:
            for_each: [7, "7; touch PWNED"]
            on_failure: continue
            run: |
              # don't stop here
              echo "v=[${{ env.V }}]" '[${{ item }}]'
              cat <<EOF
              body: ${{ env.V }}
              EOF
              echo "sum: $(( ${{ item }} + 1 ))"
        """,
    )
    result, summary = run(tmp_path)
    assert result.returncode == 1
    assert result.stdout.splitlines() == ["v=[it's  *] [7]", "body: it's  *", "sum: 8"]
    items = nodes_of(summary)["values"]["items"]
    assert [item["status"] for item in items] == ["succeeded", "failed"]
    assert items[1]["error"] == (
        "`values/1` uses ${{ item }} inside $(( )), where only a whole number may go, "
        "and its value is '7; touch PWNED'"
    )
    assert not (tmp_path / "PWNED").exists()


def test_a_timeout_of_centuries_leaves_the_others_timing_out(tmp_path: Path) -> None:
    """a (timeout 285 years) ; b (timeout 0.5 s, sleeps 3 s)    (expect b timed out)"""
    write(
        tmp_path,
        """
        steps:
          a: {run: echo hi, timeout: 9000000000}
          b: {run: sleep 3, timeout: 0.5}
        """,
    )
    result, summary = run(tmp_path, "-j", "2")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert statuses(summary) == {"a": "succeeded", "b": "failed"}
    assert nodes_of(summary)["b"]["error"].endswith("timed out after 0.5 s")
    assert summary is not None and summary["duration_ms"] < 2500  # not the 3 s of sleep


def test_a_timeout_beyond_any_wait_is_one_line_and_runs_nothing(tmp_path: Path) -> None:
    write(tmp_path, "steps:\n  a: {run: touch ran, timeout: 99999999999999999999999}\n")
    result, summary = run(tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        "forkjoin.yaml:2:32: `99999999999999999999999` is longer than any wait can be "
        "(at most 9223372036 seconds, some 292 years; leave it out for no limit)\n"
    )
    assert summary is None
    assert not (tmp_path / "ran").exists()


def test_prefixed_lines_of_two_steps_never_tear(tmp_path: Path) -> None:
    write(
        tmp_path,
        """
        max_concurrency: 2
        steps:
          one: {run: "for i in 1 2 3 4; do printf aaa; sleep 0.05; printf 'bbb\\n'; done"}
          two:
            run: "for i in 1 2 3 4; do printf xxx; sleep 0.07; printf 'yyy\\n'; done; printf end"
        """,
    )
    result, summary = run(tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert sorted(lines) == sorted(["[one] aaabbb"] * 4 + ["[two] xxxyyy"] * 4 + ["[two] end"])
    log = Path(nodes_of(summary)["two"]["log_file"]).read_text()
    assert log == "xxxyyy\n" * 4 + "end"  # the log file holds the step's bytes unprefixed


def test_summary_has_the_shape_the_issue_gives(tmp_path: Path) -> None:
    write(
        tmp_path,
        """
        steps:
          a: {run: "true"}
          b: {for_each: [x], run: "echo ${{ item }}"}
        """,
    )
    result, summary = run(tmp_path)
    assert result.returncode == 0, result.stderr
    assert summary is not None
    assert set(summary) == {"job", "status", "started_at", "finished_at", "duration_ms", "nodes"}
    assert summary["status"] == "succeeded"
    node_keys = {
        "id", "status", "exit_code", "started_at", "finished_at", "duration_ms",
        "attempts", "log_file", "error", "skipped_because", "outputs",
    }  # fmt: skip
    nodes = nodes_of(summary)
    assert set(nodes["a"]) == node_keys
    assert set(nodes["b"]) == node_keys | {"items"}
    assert set(nodes["b"]["items"][0]) == {
        "index", "item", "status", "exit_code", "outputs", "error", "log_file",
    }  # fmt: skip
    log = Path(nodes["a"]["log_file"])
    assert log.parent == tmp_path / ".forkjoin" / "logs" / summary["job"]


def test_a_timeout_kills_the_step_and_fails_it(tmp_path: Path) -> None:
    write(
        tmp_path,
        """
        steps:
          slow: {run: echo $$ > pid; sleep 30, timeout: 300ms}
        """,
    )
    started = time.monotonic()
    result, summary = run(tmp_path)
    assert time.monotonic() - started < 10
    assert result.returncode == 1
    node = nodes_of(summary)["slow"]
    assert node["status"] == "failed"
    assert "timeout" in node["error"] or "timed out" in node["error"]
    assert not _alive_in_group(int((tmp_path / "pid").read_text()))


def test_retries_pools_cwd_and_env_reach_the_steps(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    write(
        tmp_path,
        """
        max_concurrency: 2
        env: {GREETING: hello}
        pools: {db: 1}
        steps:
          flaky: {run: "[ -e tried ] || { touch tried; exit 1; }", retries: 1}
          p1: {pool: db, run: "echo start >> pool; sleep 0.2; echo end >> pool"}
          p2: {pool: db, run: "echo start >> pool; sleep 0.2; echo end >> pool"}
          where:
            cwd: sub
            env: {OWN: mine}
            run: echo "$PWD ${{ env.GREETING }} $OWN $GREETING" > ../where
        """,
    )
    result, summary = run(tmp_path)
    assert result.returncode == 0, result.stderr
    assert nodes_of(summary)["flaky"]["attempts"] == 2
    assert (tmp_path / "pool").read_text().split() == ["start", "end", "start", "end"]
    assert (tmp_path / "where").read_text() == f"{tmp_path / 'sub'} hello mine hello\n"


def test_concurrency_flag_beats_the_environment_which_beats_the_file(tmp_path: Path) -> None:
    write(tmp_path, "max_concurrency: 1\nsteps:\n  a: {run: echo hi}\n")
    result, _ = run(tmp_path, env={"FORKJOIN_MAX_CONCURRENCY": "2"})
    assert result.stdout == "[a] hi\n"  # above 1: prefixed
    result, _ = run(tmp_path, "-j", "1", env={"FORKJOIN_MAX_CONCURRENCY": "2"})
    assert result.stdout == "hi\n"
    result, _ = run(tmp_path, env={"FORKJOIN_MAX_CONCURRENCY": "many"})
    assert result.returncode == 2
    assert "FORKJOIN_MAX_CONCURRENCY" in result.stderr and "Traceback" not in result.stderr


def test_selected_steps_run_with_what_they_need_only(tmp_path: Path) -> None:
    write(
        tmp_path,
        """
        steps:
          a: {run: echo a}
          test-x: {needs: [a], run: echo x}
          test-y: {run: echo y}
          other: {run: echo other}
        """,
    )
    result, summary = run(tmp_path, "test-*")
    assert result.returncode == 0, result.stderr
    assert set(statuses(summary)) == {"a", "test-x", "test-y"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("steps:\n  a: {run: echo, neds: [b]}\n", "did you mean `needs`?"),
        ("steps:\n  a: {run: x, needs: [b]}\n  b: {run: y, needs: [a]}\n", "dependency cycle"),
    ],
)
def test_a_bad_file_exits_2_with_one_line(tmp_path: Path, text: str, message: str) -> None:
    write(tmp_path, text)
    result, summary = run(tmp_path)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert summary is None


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_stops_the_run_and_leaves_no_process(tmp_path: Path, number: int) -> None:
    """a, b sleep with grandchildren (which ignore SIGINT); a -> c never starts."""
    write(
        tmp_path,
        """
        max_concurrency: 2
        steps:
          a: {run: "echo $$ > a.pid; sh -c 'sleep 30 & wait'"}
          b: {run: "echo $$ > b.pid; sleep 30 & wait"}
          c: {needs: [a], run: echo never}
        """,
    )
    summary_path = tmp_path / "summary.json"
    process, groups = _start_until_written(
        tmp_path,
        ["--grace", "0.5", "--summary-json", str(summary_path)],
        "a.pid",
        "b.pid",
        what="the steps never started",
    )
    time.sleep(0.2)  # let the grandchildren start
    assert all(_alive_in_group(group) for group in groups)
    process.send_signal(number)
    _, stderr = process.communicate(timeout=15)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert _all_gone(groups)
    summary = json.loads(summary_path.read_text())
    assert summary["status"] == "interrupted"
    assert statuses(summary) == {"a": "cancelled", "b": "cancelled", "c": "cancelled"}


def test_a_closed_terminal_stops_the_run_and_leaves_no_process(tmp_path: Path) -> None:
    """The run's terminal (its live display) goes away: SIGHUP, then EIO on every write.
    a and b sleep with grandchildren; nothing of them outlives the run."""
    write(
        tmp_path,
        """
        max_concurrency: 2
        steps:
          a: {run: "echo $$ > a.pid; sleep 30 & wait"}
          b: {run: "echo $$ > b.pid; while true; do echo tick; sleep 0.05; done"}
        """,
    )
    summary_path = tmp_path / "summary.json"
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [*COMMAND, "--grace", "0.5", "--summary-json", str(summary_path)],
        cwd=tmp_path,
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env={**os.environ, "CI": "", "TERM": "xterm"},
        start_new_session=True,
        # As a terminal's shell: the session leader, with the pty as its terminal.
        preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
    )
    os.close(terminal)
    deadline = time.monotonic() + 10
    while not ((tmp_path / "a.pid").exists() and (tmp_path / "b.pid").exists()):
        assert time.monotonic() < deadline, "the steps never started"
        with contextlib.suppress(OSError):
            os.read(controller, 65536)  # as a terminal reads what is shown
        time.sleep(0.05)
    groups = [int((tmp_path / name).read_text()) for name in ("a.pid", "b.pid")]
    time.sleep(0.3)
    os.close(controller)
    assert process.wait(timeout=15) == 130
    assert _all_gone(groups)
    assert json.loads(summary_path.read_text())["status"] == "interrupted"


def test_a_process_that_left_its_group_is_ended_on_ctrl_c_too(tmp_path: Path) -> None:
    """a starts a sleeper in a session of its own (out of reach of its group's signal),
    then waits; after Ctrl-C neither is left."""
    write(
        tmp_path,
        """
        steps:
          a: {run: "setsid sh -c 'echo $$ > escaped.pid; exec sleep 30' & sleep 30"}
        """,
    )
    process, pids = _start_until_written(
        tmp_path, ["--grace", "0.5"], "escaped.pid", what="the step never started"
    )
    (escaped,) = pids
    assert _alive_in_group(escaped)  # it leads a group of its own
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=15)
    assert process.returncode == 130, stderr
    assert _all_gone([escaped])


def test_sigint_stops_the_items_of_a_step(tmp_path: Path) -> None:
    write(
        tmp_path,
        """
        max_concurrency: 2
        steps:
          each: {for_each: [1, 2, 3], run: "echo $$ > ${{ item }}.pid; sleep 30 & wait"}
        """,
    )
    summary_path = tmp_path / "summary.json"
    process, pids = _start_until_written(
        tmp_path,
        ["--grace", "0.5", "--summary-json", str(summary_path)],
        "1.pid",
        "2.pid",
        what="the items never started",
    )
    time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=15)
    assert process.returncode == 130, stderr
    assert _all_gone(pids)
    assert not (tmp_path / "3.pid").exists()
    node = nodes_of(json.loads(summary_path.read_text()))["each"]
    assert node["status"] == "cancelled"
    assert [item["status"] for item in node["items"]] == ["cancelled"] * 3


def test_a_second_sigint_kills_a_step_that_ignores_the_first(tmp_path: Path) -> None:
    """stubborn traps SIGINT and keeps sleeping; the grace is 60 s, so only the second
    Ctrl-C can end the run in time."""
    write(
        tmp_path,
        """
        steps:
          stubborn: {run: "trap '' INT; echo $$ > s.pid; sleep 30 & wait; sleep 30"}
        """,
    )
    process, pids = _start_until_written(
        tmp_path, ["--grace", "60"], "s.pid", what="the step never started"
    )
    (group,) = pids
    time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    time.sleep(0.5)
    assert process.poll() is None  # waiting out the grace for the stubborn step
    assert _alive_in_group(group)
    began = time.monotonic()
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=15)
    assert process.returncode == 130, stderr
    assert time.monotonic() - began < 5
    assert _all_gone([group])


def _start_until_written(
    directory: Path, arguments: list[str], *names: str, what: str
) -> tuple[subprocess.Popen[str], list[int]]:
    """`forkjoin run ARGUMENTS` in `directory`, started; once its steps have written
    the pid files `names`, it and those pids. Its stderr is piped, its stdout dropped."""
    process = subprocess.Popen(
        [*COMMAND, *arguments],
        cwd=directory,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for_files(directory, *names, what=what)
    return process, [int((directory / name).read_text()) for name in names]


def _wait_for_files(directory: Path, *names: str, what: str) -> None:
    """Until every file `names` exists in `directory` (the steps wrote their pids)."""
    deadline = time.monotonic() + 10
    while not all((directory / name).exists() for name in names):
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def _all_gone(groups: list[int], seconds: float = 3) -> bool:
    """True once no live process is left in any of `groups`, within `seconds`."""
    deadline = time.monotonic() + seconds
    while any(_alive_in_group(group) for group in groups):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _alive_in_group(group: int) -> bool:
    """True while a live process (not a zombie) is in process group `group`."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == group and fields[0] != "Z":
            return True
    return False
