"""What `forkjoin run` reports of each step, in its lines and its summary, when
things go wrong: items a stop left unstarted, items that failed and went on,
timeouts, and a summary that cannot be written. Real shells."""

from __future__ import annotations

import subprocess
import sys

from test_run import COMMAND, nodes_of, run, write


def test_a_for_each_step_a_stop_left_unfinished_is_skipped_not_a_second_failure(
    tmp_path,
) -> None:
    """A fails at 0.2 s while B's first item runs and its others wait; C beside them.
    B is skipped because of A, and the run counts one failure."""
    write(
        tmp_path,
        """
        max_concurrency: 3
        steps:
          A: {run: "sleep 0.2; exit 1"}
          B: {for_each: [1, 2, 3, 4], parallelism: 2, run: "sleep 0.6"}
          C: {run: "sleep 1"}
        """,
    )
    result, summary = run(tmp_path)
    assert result.returncode == 1
    nodes = nodes_of(summary)
    assert nodes["A"]["status"] == "failed"
    assert nodes["B"]["status"] == "skipped"
    assert nodes["B"]["skipped_because"] == "A"
    assert nodes["B"]["error"] is None
    assert [item["status"] for item in nodes["B"]["items"]] == [
        "succeeded",
        "skipped",
        "skipped",
        "skipped",
    ]
    assert nodes["C"]["status"] == "succeeded"
    assert "1 succeeded, 1 failed, 1 skipped" in result.stderr
    assert "forkjoin: [2/3] B skipped in" in result.stderr
    assert "B/2 skipped: `A` failed" in result.stderr


def test_a_failed_item_that_goes_on_is_shown_failed_also_in_quiet_output(tmp_path) -> None:
    write(
        tmp_path,
        """
        steps:
          d: {for_each: [a, b], on_failure: continue, run: 'test ${{ item }} = a'}
        """,
    )
    for output in ("prefixed", "quiet"):
        result, summary = run(tmp_path, "--output", output)
        assert result.returncode == 1
        assert "d/b failed" in result.stderr, output
        assert "d/b succeeded" not in result.stderr
        assert [item["status"] for item in nodes_of(summary)["d"]["items"]] == [
            "succeeded",
            "failed",
        ]


def test_a_timeout_names_the_step_not_the_engine_node(tmp_path) -> None:
    write(tmp_path, "steps: {slow: {run: sleep 5, timeout: 0.3}}")
    result, summary = run(tmp_path)
    assert result.returncode == 1
    assert nodes_of(summary)["slow"]["error"] == "`slow` timed out after 0.3 s"
    assert "task " not in result.stderr


def test_a_summary_that_cannot_be_written_is_a_bad_flag_before_anything_runs(
    tmp_path,
) -> None:
    write(tmp_path, "steps: {a: {run: touch ran}}")
    result = subprocess.run(
        [*COMMAND, "--summary-json", "missing/summary.json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert "missing" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "ran").exists()


def test_a_plan_read_by_a_closed_pipe_ends_quietly(tmp_path) -> None:
    steps = "".join(f"  s{index}: {{run: 'true'}}\n" for index in range(2000))
    write(tmp_path, f"steps:\n{steps}")
    result = subprocess.run(
        f"{sys.executable} -m forkjoin.cli run --dry-run | head -1",
        shell=True,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.stdout.startswith("dry run: 2000 steps")
    assert result.stderr == ""


def test_a_missing_cwd_fails_its_step_with_a_plain_reason(tmp_path) -> None:
    """make (makes out/) -> inside (cwd: out) ; lost (cwd: nowhere)"""
    write(
        tmp_path,
        """
        failure_mode: keep_going
        steps:
          make: {run: mkdir out}
          inside: {needs: [make], cwd: out, run: pwd}
          lost: {cwd: nowhere, run: pwd}
        """,
    )
    result, summary = run(tmp_path)
    nodes = nodes_of(summary)
    assert nodes["inside"]["status"] == "succeeded"
    assert (
        nodes["lost"]["error"]
        == f"`lost` cannot start: its cwd {tmp_path / 'nowhere'} is not a folder"
    )
    assert "PosixPath" not in result.stderr
