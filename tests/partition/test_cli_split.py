"""`forkjoin split`: each node prints its share; bad input is one line and exit 2.

Most run the command in-process with click's CliRunner; a few run it as a real
process, as a CI node would.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from forkjoin.cli import main

TESTS = [f"tests/test_{name}.py::test_{case}" for name in "abc" for case in range(4)]
DURATIONS = {item: float(index % 5) for index, item in enumerate(TESTS)}


def forkjoin(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, ["split", *args], input=stdin)


@pytest.fixture
def durations_file(tmp_path: Path) -> Path:
    path = tmp_path / ".test_durations"
    path.write_text(json.dumps(DURATIONS))
    return path


def test_the_groups_of_all_nodes_hold_every_item_once(durations_file: Path) -> None:
    shares = []
    for group in (1, 2, 3):
        result = forkjoin(
            "--groups", "3", "--group", str(group), "--durations", str(durations_file), *TESTS
        )
        assert result.exit_code == 0, result.output
        shares.append(result.stdout.splitlines())
    assert sorted(item for share in shares for item in share) == sorted(TESTS)
    assert all(share == sorted(share) and share for share in shares)


def test_items_come_from_stdin_when_none_are_given(durations_file: Path) -> None:
    """Blank lines and surrounding spaces are dropped; the order does not matter."""
    as_arguments = forkjoin(
        "--groups", "2", "--group", "2", "--durations", str(durations_file), *TESTS
    )
    piped = "\n\n".join(f"  {item}  " for item in reversed(TESTS)) + "\n\n"
    from_stdin = forkjoin(
        "--groups", "2", "--group", "2", "--durations", str(durations_file), stdin=piped
    )
    assert from_stdin.exit_code == 0, from_stdin.output
    assert from_stdin.stdout == as_arguments.stdout != ""


def test_by_timings_balances_seconds_and_by_count_balances_items(durations_file: Path) -> None:
    """9 | 1 1 1 1 1 1 1 1 1: by timings the slow test is alone; by count, 5 and 5."""
    durations_file.write_text(json.dumps({"slow": 9.0, **{f"fast{i}": 1.0 for i in range(9)}}))
    items = ["slow", *[f"fast{i}" for i in range(9)]]
    common = ("--groups", "2", "--durations", str(durations_file), *items)
    assert forkjoin("--group", "1", *common).stdout == "slow\n"
    by_count = [
        forkjoin("--by", "count", "--group", str(g), *common).stdout.split() for g in (1, 2)
    ]
    assert [len(share) for share in by_count] == [5, 5]


def test_explain_prints_every_group_to_stderr_and_marks_this_one(durations_file: Path) -> None:
    result = forkjoin(
        "--groups", "3", "--group", "2", "--durations", str(durations_file), "--explain", *TESTS
    )
    assert result.exit_code == 0
    lines = result.stderr.splitlines()
    assert lines[0] == "12 items, 12 with a known duration, in 3 groups by timings"
    assert [line[:9] for line in lines[1:]] == ["  group 1", "> group 2", "  group 3"]
    assert all(" s  " in line and " items (0 estimated)" in line for line in lines[1:])
    assert "group" not in result.stdout


def test_junit_durations_and_unknown_items(tmp_path: Path) -> None:
    report = tmp_path / "junit.xml"
    report.write_text(
        '<testsuite><testcase classname="t" name="slow" file="t.py" time="10"/>'
        '<testcase classname="t" name="quick" file="t.py" time="1"/></testsuite>'
    )
    items = ["t.py::slow", "t.py::quick", "t.py::new"]
    result = forkjoin(
        "--groups", "2", "--group", "1", "--durations", str(report), "--explain", *items
    )
    assert result.stdout == "t.py::slow\n"
    assert "3 items, 2 with a known duration" in result.stderr
    assert "(1 estimated)" in result.stderr


def test_a_group_with_nothing_in_it_prints_nothing() -> None:
    result = forkjoin("--groups", "3", "--group", "3", "a", "b")
    assert (result.exit_code, result.stdout) == (0, "")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--groups", "2", "--group", "3", "a"), "--group 3 is out of range"),
        (("--groups", "2", "--group", "0", "a"), "--group 0 is out of range"),
        (("--groups", "0", "--group", "1", "a"), "--groups is 0: it must be at least 1"),
        (("--groups", "2", "--group", "1"), "no items"),
        (
            ("--groups", "2", "--group", "1", "--durations", "absent.json", "a"),
            "absent.json: cannot read",
        ),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_exit_2(args: tuple[str, ...], message: str) -> None:
    result = forkjoin(*args, stdin="")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("forkjoin split: ")
    assert message in result.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"a": 1.0, "b": ', ".test_durations:1: is not valid JSON"),
        ('{"a": "slow"}', "the duration of 'a' is 'slow'"),
        ("<testsuite><testcase name='a' time='1'>", ".test_durations:1: is not well-formed XML"),
    ],
)
def test_a_malformed_durations_file_is_one_line_naming_it(
    durations_file: Path, content: str, message: str
) -> None:
    durations_file.write_text(content)
    result = forkjoin("--groups", "2", "--group", "1", "--durations", str(durations_file), "a")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert message in result.stderr
    assert str(durations_file) in result.stderr


def split_process(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "forkjoin.cli", "split", *args]
    return subprocess.run(command, input=stdin, capture_output=True, text=True)


def test_a_ci_node_runs_it_as_a_real_process(durations_file: Path) -> None:
    """Four nodes, each its own process, with the items in different orders."""
    shares = []
    for group in range(1, 5):
        order = TESTS if group % 2 else list(reversed(TESTS))
        run = split_process(
            "--groups", "4", "--group", str(group), "--durations", str(durations_file),
            stdin="\n".join(order) + "\n",
        )  # fmt: skip
        assert (run.returncode, run.stderr) == (0, "")
        shares.append(run.stdout.splitlines())
    assert sorted(item for share in shares for item in share) == sorted(TESTS)


def test_a_real_process_with_a_bad_file_prints_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "report.xml"
    bad.write_bytes(b"<testsuites><testcase time='1' name='a'></testsuites>")
    run = split_process("--groups", "2", "--group", "1", "--durations", str(bad), "a")
    assert run.returncode == 2
    assert run.stderr == f"forkjoin split: {bad}:1: is not well-formed XML: mismatched tag\n"


def test_the_cli_does_not_load_the_split_module_to_start() -> None:
    code = "import sys, forkjoin.cli; print('forkjoin.partition' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout == "False\n"


def test_without_durations_the_history_gives_them(tmp_path: Path) -> None:
    """slow took 9 s in the history, six others 1 s each: in 2 groups, slow is alone."""
    from forkjoin.telemetry import Span, open_history

    history = tmp_path / "history.db"
    seconds = {"t.py::slow": 9.0, **{f"t.py::quick{n}": 1.0 for n in range(6)}}
    with open_history(history) as store:
        job = store.start_job("tests", "pytest")
        store.record_spans(
            job,
            [
                Span(f"{job.uid}.{n}", key, "test", "succeeded", 100.0, 100.0 + took, "", None, {})
                for n, (key, took) in enumerate(seconds.items())
            ],
        )
        store.finish_job(job, "succeeded")
    shares = [
        forkjoin("--groups", "2", "--group", str(group), "--history", str(history), *seconds)
        for group in (1, 2)
    ]
    assert all(result.exit_code == 0 for result in shares), shares[0].output
    (with_slow,) = [r.stdout.split() for r in shares if "t.py::slow" in r.stdout.split()]
    assert len(with_slow) == 1  # 9 s alone, against six 1 s items


def test_a_junit_report_imported_knows_what_the_report_itself_knows(tmp_path: Path) -> None:
    """One report without `file` attributes (pytest's xunit2): `--durations` on it
    and the history made by importing it know the same three tests."""
    report = tmp_path / "junit.xml"
    report.write_text(
        "<testsuite>"
        '<testcase classname="tests.test_a.TestX" name="test_slow" time="10"/>'
        '<testcase classname="tests.test_a" name="test_quick" time="1"/>'
        '<testcase classname="com.example.CartTest" name="addsItem" time="2"/>'
        "</testsuite>"
    )
    history = tmp_path / "history.db"
    imported = CliRunner().invoke(
        main, ["history", "import", str(report), "--history", str(history)]
    )
    assert imported.exit_code == 0, imported.output
    items = [
        "tests/test_a.py::TestX::test_slow",
        "tests/test_a.py::test_quick",
        "com.example.CartTest::addsItem",
    ]
    common = ("--groups", "2", "--group", "1", "--explain", *items)
    from_report = forkjoin("--durations", str(report), *common)
    from_history = forkjoin("--history", str(history), *common)
    assert "3 items, 3 with a known duration" in from_report.stderr
    assert "3 items, 3 with a known duration" in from_history.stderr
    assert from_history.stdout == from_report.stdout == "tests/test_a.py::TestX::test_slow\n"


def test_explain_tells_that_file_items_were_weighed_by_their_tests(tmp_path: Path) -> None:
    """Per-test durations, file items: none known as such, both weighed by the sum
    of their tests (5 s and 1 s), not counted the same."""
    durations = tmp_path / "td.json"
    durations.write_text(
        json.dumps({"tests/test_a.py::t1": 3, "tests/test_a.py::t2": 2, "tests/test_b.py::t1": 1})
    )
    result = forkjoin(
        "--groups", "2", "--group", "1", "--durations", str(durations), "--explain",
        "tests/test_a.py", "tests/test_b.py",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert lines[0] == (
        "2 items, 0 with a known duration, 2 estimated from the 3 known (a file as the sum"
        " of its tests, else like items or the mean), in 2 groups by timings"
    )
    assert "counts the same" not in result.stderr
    assert lines[1:] == [
        "> group 1:      5.000 s  1 item (1 estimated)",
        "  group 2:      1.000 s  1 item (1 estimated)",
    ]
