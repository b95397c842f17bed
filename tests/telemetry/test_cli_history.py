"""`forkjoin history`: list, show, export, import, on a real history in a temporary folder."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from forkjoin.cli import main
from forkjoin.telemetry import Recorder, open_history

# An earlier day than today, at noon: its job is named with its date.
EARLIER = date.today() - timedelta(days=2)
NOV_24 = datetime.combine(EARLIER, time(12, 0)).timestamp()
OLD_ID = f"j{EARLIER:%m%d}.1"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with no history yet, and no $FORKJOIN_HISTORY."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FORKJOIN_HISTORY", raising=False)
    return tmp_path


def forkjoin(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, ["history", *args], env=env)


def record_runs(path: Path) -> None:
    """2 days ago: j1 (tests) ; today: j1 (workflow: build, deploy -> deploy[eu], deploy[us])"""
    store = open_history(path, warn=pytest.fail)
    old = Recorder(store, store.start_job("tests", "pytest -x", started_at=NOV_24))
    old.record("t.py::test_a", kind="test", status="succeeded", start=NOV_24, end=NOV_24 + 0.5)
    old.finish("succeeded", NOV_24 + 75)
    recorder = Recorder(store, store.start_job("workflow", "forkjoin.yaml"))
    start = recorder.job.started_at
    recorder.record(
        "build", kind="step", status="succeeded", start=start, end=start + 2, worker="t1"
    )
    deploy = recorder.start_span("deploy", kind="step", start=start + 2, worker="t1")
    for offset, region in enumerate(("eu", "us")):
        recorder.record(
            f"deploy[{region}]",
            kind="item",
            status="failed" if region == "us" else "succeeded",
            start=start + 2,
            end=start + 3 + offset,
            parent=deploy,
            worker=f"t{offset + 2}",
        )
    recorder.end_span(deploy, "failed", end=start + 4)
    recorder.finish("failed", start + 4.25)
    store.close()


def test_with_no_history_yet_the_list_is_empty_and_nothing_is_created(project: Path) -> None:
    result = forkjoin()
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr == f"no jobs in {project / '.forkjoin' / 'history.db'} yet\n"
    assert json.loads(forkjoin("--json").stdout) == []
    assert not (project / ".forkjoin").exists()


def test_the_list_is_a_plain_table_of_the_latest_jobs(project: Path) -> None:
    record_runs(project / ".forkjoin" / "history.db")
    result = forkjoin()
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["job", "when", "kind", "what", "status", "took"]
    assert lines[1].split()[0] == "j1"
    assert lines[1].split()[2:] == ["workflow", "forkjoin.yaml", "failed", "4.25s"]
    old = lines[2].split()
    assert (old[0], old[-5:]) == (OLD_ID, ["tests", "pytest", "-x", "succeeded", "1m15s"])
    assert "12:00" in old
    assert [line.split()[0] for line in forkjoin("--limit", "1").stdout.splitlines()] == [
        "job",
        "j1",
    ]


def test_the_list_as_json(project: Path) -> None:
    record_runs(project / ".forkjoin" / "history.db")
    jobs = json.loads(forkjoin("--json").stdout)
    assert [(job["id"], job["qualified_id"], job["status"]) for job in jobs][1] == (
        OLD_ID,
        OLD_ID,
        "succeeded",
    )
    assert jobs[0]["duration"] == 4.25


def test_show_nests_spans_under_their_parents(project: Path) -> None:
    record_runs(project / ".forkjoin" / "history.db")
    result = forkjoin("show", "j1")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("j1  workflow  forkjoin.yaml  failed  4.25s  (started ")
    assert lines[1:] == [
        "span          kind  status      took  worker",
        "build         step  succeeded  2.00s  t1",
        "deploy        step  failed     2.00s  t1",
        "  deploy[eu]  item  succeeded  1.00s  t2",
        "  deploy[us]  item  failed     2.00s  t3",
    ]


def test_show_takes_a_date_qualified_id_and_prints_json(project: Path) -> None:
    record_runs(project / ".forkjoin" / "history.db")
    shown = json.loads(forkjoin("show", OLD_ID, "--json").stdout)
    assert shown["job"]["what"] == "pytest -x"
    assert [span["key"] for span in shown["spans"]] == ["t.py::test_a"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("show", "j9"), "no job j9 today"),
        (("show", "deploy"), "'deploy' is not a job id"),
    ],
)
def test_an_unknown_job_is_one_line_and_exit_2(
    project: Path, args: tuple[str, ...], message: str
) -> None:
    record_runs(project / ".forkjoin" / "history.db")
    result = forkjoin(*args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert message in result.stderr and len(result.stderr.splitlines()) == 1


def test_show_with_no_history_says_so(project: Path) -> None:
    result = forkjoin("show", "j1")
    assert result.exit_code == 2
    assert result.stderr.startswith("no job j1: no history at ")


def test_export_then_import_elsewhere_then_again(project: Path) -> None:
    record_runs(project / ".forkjoin" / "history.db")
    exported = forkjoin("export", "-o", "runs.jsonl")
    assert exported.exit_code == 0, exported.output
    assert exported.stderr == "exported 2 jobs, 5 spans\n"
    first = forkjoin("import", "runs.jsonl", "--history", "ci.db")
    assert first.exit_code == 0, first.output
    assert first.stdout == "runs.jsonl: 2 new jobs, 5 new spans (jsonl)\n"
    second = forkjoin("--history", "ci.db", "import", "runs.jsonl")
    assert second.stdout == "runs.jsonl: 0 new jobs, 0 new spans (jsonl)\n"
    listed = forkjoin("--history", "ci.db")
    assert [line.split()[0] for line in listed.stdout.splitlines()] == ["job", "j1", OLD_ID]


def test_export_to_stdout_is_json_lines(project: Path) -> None:
    record_runs(project / ".forkjoin" / "history.db")
    lines = forkjoin("export").stdout.splitlines()
    assert [json.loads(line)["type"] for line in lines][:2] == ["forkjoin-history", "job"]
    assert len(lines) == 1 + 2 + 5


def test_forkjoin_history_variable_chooses_the_history(project: Path) -> None:
    record_runs(project / "elsewhere.db")
    assert forkjoin().stderr.startswith("no jobs in")
    result = forkjoin(env={"FORKJOIN_HISTORY": "elsewhere.db"})
    assert "forkjoin.yaml" in result.stdout


def test_import_of_a_bad_file_is_one_line_and_exit_2(project: Path) -> None:
    Path("junit.xml").write_text("<testsuites><testcase>")
    result = forkjoin("import", "junit.xml")
    assert result.exit_code == 2
    assert result.stderr == "junit.xml: line 1, column 23: not well-formed XML\n"


def test_import_of_pytest_split_durations(project: Path) -> None:
    Path(".test_durations").write_text(json.dumps({"t.py::a": 1.0, "t.py::b": 2.0}))
    result = forkjoin("import", ".test_durations")
    assert result.stdout == ".test_durations: 1 new job, 2 new spans (pytest-split)\n"


def test_the_command_runs_as_a_real_process(project: Path) -> None:
    record_runs(project / ".forkjoin" / "history.db")
    shown = subprocess.run(
        [sys.executable, "-m", "forkjoin.cli", "history", "show", "j1"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    assert "  deploy[us]  item  failed" in shown.stdout


def test_the_cli_starts_without_sqlite_or_the_history() -> None:
    code = (
        "import sys, forkjoin.cli; "
        "print(sorted(m for m in ('sqlite3', 'forkjoin.telemetry', 'json') if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == "[]"


def test_a_history_of_a_newer_forkjoin_is_one_line_and_exit_2(project: Path) -> None:
    """Not "running without history", then "no jobs yet": there is one, not ours."""
    import sqlite3

    path = project / "newer.db"
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA user_version = 99")
        connection.execute("CREATE TABLE jobs (id INTEGER)")
    connection.close()
    result = forkjoin("--history", str(path))
    assert result.exit_code == 2
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"forkjoin: history at {path} has schema version 99, newer than")
    assert line.endswith("; nothing to read")
