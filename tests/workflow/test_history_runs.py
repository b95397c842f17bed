"""`forkjoin run` and the history: every run is a job of spans, and the next run is
ordered by what the last ones took. Real shells, real SQLite files."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from test_run import COMMAND, nodes_of, run, write

from forkjoin.telemetry import HistoryEstimator, open_history

HISTORY = [sys.executable, "-m", "forkjoin.cli", "history"]


def history(directory: Path, *arguments: str) -> object:
    result = subprocess.run(
        [*HISTORY, *arguments, "--json"], cwd=directory, capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout)


def test_the_second_run_starts_the_longest_step_first(tmp_path: Path) -> None:
    """s0..s5 (0.2 s each), then long (1.2 s), none needing another; 2 slots.

    First run, no history: in file order, 3 rounds of 0.2 s, then 1.2 s: about 1.8 s.
    Second run: long first, the six beside it: about 1.2 s."""
    steps = "".join(f"  s{index}: {{run: sleep 0.2}}\n" for index in range(6))
    write(tmp_path, f"max_concurrency: 2\nsteps:\n{steps}  long: {{run: sleep 1.2}}\n")
    first, first_summary = run(tmp_path)
    second, second_summary = run(tmp_path)
    assert first.returncode == 0 and second.returncode == 0, second.stderr
    assert first_summary is not None and second_summary is not None
    assert first_summary["duration_ms"] > 1650
    assert second_summary["duration_ms"] < 1550
    started = {
        name: datetime.fromisoformat(node["started_at"])
        for name, node in nodes_of(second_summary).items()
    }
    assert (started["long"] - min(started.values())).total_seconds() < 0.1


def test_a_run_is_a_job_of_spans_for_its_steps_and_items(tmp_path: Path) -> None:
    """a -> each(x, y)"""
    write(
        tmp_path,
        """
        steps:
          a: {run: 'true'}
          each: {needs: [a], for_each: [x, y], run: 'true'}
        """,
    )
    result, summary = run(tmp_path)
    assert result.returncode == 0, result.stderr
    assert summary is not None
    jobs = history(tmp_path)
    assert isinstance(jobs, list) and len(jobs) == 1
    job = jobs[0]
    assert job["kind"] == "workflow" and job["status"] == "succeeded"
    assert summary["job"] == job["qualified_id"]
    assert f".forkjoin/logs/{summary['job']}/" in nodes_of(summary)["a"]["log_file"]
    spans = history(tmp_path, "show", job["short_id"])
    assert isinstance(spans, dict)
    by_key = {span["key"]: span for span in spans["spans"]}
    assert set(by_key) == {"a", "each", "each/x", "each/y"}
    assert by_key["each/x"]["parent"] == by_key["each"]["uid"]
    assert by_key["a"]["kind"] == "step" and by_key["each/y"]["kind"] == "item"
    assert all(span["status"] == "succeeded" for span in by_key.values())


def test_a_failed_run_records_what_failed_and_what_was_skipped(tmp_path: Path) -> None:
    write(tmp_path, "steps:\n  a: {run: 'exit 4'}\n  b: {needs: [a], run: 'true'}\n")
    result, _ = run(tmp_path)
    assert result.returncode == 1
    (job,) = history(tmp_path)  # type: ignore[misc]
    assert job["status"] == "failed"
    spans = history(tmp_path, "show", job["short_id"])
    by_key = {span["key"]: span for span in spans["spans"]}  # type: ignore[index]
    assert by_key["a"]["status"] == "failed"
    assert by_key["a"]["attributes"]["exit_code"] == 4
    assert by_key["b"]["status"] == "skipped"


def test_a_corrupt_history_costs_one_line_and_the_run_goes_on(tmp_path: Path) -> None:
    write(tmp_path, "steps:\n  a: {run: echo fine}\n")
    database = tmp_path / ".forkjoin" / "history.db"
    database.parent.mkdir()
    database.write_bytes(b"SQLite format 3\x00" + b"\xde\xad" * 300)
    result, summary = run(tmp_path, env={"CI": "true"})
    assert result.returncode == 0, result.stderr
    assert summary is not None and summary["status"] == "succeeded"
    warnings = [line for line in result.stderr.splitlines() if "history" in line]
    assert len(warnings) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert len(history(tmp_path)) == 1  # type: ignore[arg-type]  # a new history, this run in it
    assert list(database.parent.glob("history.db.corrupt-*"))


def test_eight_runs_at_once_share_one_history(tmp_path: Path) -> None:
    write(tmp_path, "steps:\n  a: {run: 'true'}\n  b: {run: 'true', needs: [a]}\n")
    processes = [
        subprocess.Popen(
            [*COMMAND, "--output", "quiet"],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    errors = [process.communicate(timeout=60)[1] for process in processes]
    assert [process.returncode for process in processes] == [0] * 8, errors
    assert not any("locked" in error for error in errors), errors
    jobs = history(tmp_path, "--limit", "20")
    assert isinstance(jobs, list)
    assert sorted(job["short_id"] for job in jobs) == sorted(f"j{n}" for n in range(1, 9))


def test_a_history_started_anew_never_mixes_logs_with_the_last(tmp_path: Path) -> None:
    """Each history numbers its jobs from 1 each day, so after the history is deleted
    the next run is j1 again: its logs go to a folder of their own."""
    write(tmp_path, "steps: {a: {run: echo $$}}")
    first, first_summary = run(tmp_path)
    (tmp_path / ".forkjoin" / "history.db").unlink()
    second, second_summary = run(tmp_path)
    assert first.returncode == 0 and second.returncode == 0, second.stderr
    assert first_summary is not None and second_summary is not None
    assert first_summary["job"] == second_summary["job"]
    logs = [tmp_path / nodes_of(s)["a"]["log_file"] for s in (first_summary, second_summary)]
    assert logs[0].parent != logs[1].parent
    assert logs[1].parent.name == f"{second_summary['job']}-2"
    first_pid, second_pid = (log.read_text().split() for log in logs)
    assert len(first_pid) == len(second_pid) == 1 and first_pid != second_pid


def test_a_retried_step_is_its_last_attempt_with_the_failed_ones_under_it(
    tmp_path: Path,
) -> None:
    """flaky (retries: 1): a failed 0.5 s try, then a 0.05 s success. The step's span
    takes the success's time, which the estimator learns; the try is a failed
    `attempt` span under it."""
    write(
        tmp_path,
        """
        steps:
          flaky:
            retries: 1
            run: 'if [ -f ok ]; then sleep 0.05; else touch ok; sleep 0.5; exit 3; fi'
        """,
    )
    result, _ = run(tmp_path)
    assert result.returncode == 0, result.stderr
    shown = history(tmp_path, "show", "1")
    assert isinstance(shown, dict)
    spans = shown["spans"]
    (step,) = [span for span in spans if span["kind"] == "step"]
    (attempt,) = [span for span in spans if span["kind"] == "attempt"]
    assert step["status"] == "succeeded" and step["attributes"]["attempts"] == 2
    assert step["end"] - step["start"] < 0.45
    assert attempt["status"] == "failed" and attempt["parent"] == step["uid"]
    assert attempt["key"] == "flaky" and attempt["attributes"] == {"attempt": 1, "exit_code": 3}
    assert attempt["end"] - attempt["start"] >= 0.5
    assert attempt["end"] <= step["start"]
    with open_history(tmp_path / ".forkjoin" / "history.db") as store:
        assert HistoryEstimator.from_store(store).estimate("flaky") < 0.45
