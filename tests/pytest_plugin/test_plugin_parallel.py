"""`--fj-workers N`: the same outcomes as a serial run, crashes contained, nothing orphaned.

Each run here is a real `python -m pytest` process that forks real workers.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from pathlib import Path

import pytest

from forkjoin.telemetry import Span, read_history

Run = Callable[..., pytest.RunResult]
# As conftest.QUIET, for the one run started by hand ("from conftest import" finds
# whichever conftest.py of the tests tree was imported last).
QUIET = ("-p", "no:hypothesispytest", "-p", "no:pytest_split", "-p", "no:xdist")

MIXED = """
    import warnings
    import pytest

    @pytest.fixture(scope="module")
    def shared():
        yield 1

    @pytest.fixture
    def breaks_on_teardown():
        yield
        raise RuntimeError("teardown breaks")

    @pytest.mark.parametrize("n", range(12))
    def test_passes(n, shared):
        pass

    def test_fails():
        assert 1 == 2

    def test_prints_then_fails():
        print("what it said")
        assert False

    @pytest.mark.skip(reason="not today")
    def test_skipped():
        pass

    @pytest.mark.xfail
    def test_xfails():
        assert False

    @pytest.mark.xfail
    def test_xpasses():
        pass

    def test_teardown_error(breaks_on_teardown):
        pass

    def test_warns():
        warnings.warn("mind the gap", UserWarning)

    class TestInClass:
        def test_one(self):
            pass

        def test_two(self):
            assert "a" == "b"
"""


def _cases(path: Path) -> set[tuple[str, str, str]]:
    """(classname, name, outcome) of each testcase of a JUnit XML report."""
    cases = set()
    for case in ElementTree.parse(path).getroot().iter("testcase"):
        outcomes = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        cases.add((case.get("classname", ""), case.get("name", ""), ",".join(sorted(outcomes))))
    return cases


def _history_spans(path: Path) -> list[Span]:
    store = read_history(path / ".forkjoin" / "history.db")
    try:
        job = store.recent_jobs(1)[0]
        return store.spans(job)
    finally:
        store.close()


def test_a_parallel_run_reports_what_a_serial_run_does(
    pytester: pytest.Pytester, forked: Run
) -> None:
    pytester.makepyfile(test_mixed=MIXED)
    serial = forked("-rA", "--junitxml=serial.xml")
    parallel = forked("-rA", "--junitxml=parallel.xml", "--fj-workers", "2")
    assert (
        parallel.parseoutcomes()
        == serial.parseoutcomes()
        == {
            "passed": 15,
            "failed": 3,
            "skipped": 1,
            "xfailed": 1,
            "xpassed": 1,
            "errors": 1,
            "warnings": 1,
        }
    )
    assert parallel.ret == serial.ret == pytest.ExitCode.TESTS_FAILED
    assert _cases(pytester.path / "parallel.xml") == _cases(pytester.path / "serial.xml")
    parallel.stdout.fnmatch_lines(
        [
            "*= FAILURES =*",
            "*what it said*",
            "*= warnings summary =*",
            "*UserWarning: mind the gap*",
            "*short test summary info*",
        ]
    )
    assert sorted(line for line in parallel.outlines if line.startswith(("PASSED", "FAILED"))) == (
        sorted(line for line in serial.outlines if line.startswith(("PASSED", "FAILED")))
    )


def test_a_test_in_a_worker_still_finds_the_terminal_reporter(
    pytester: pytest.Pytester, forked: Run
) -> None:
    # pytest 9.0 takes the reporter's writer to explain a failed `==`, and asserts
    # that the reporter is there: without it, `assert 1 == 2` lost its explanation.
    pytester.makepyfile(
        test_terminal="""
        def test_writer(pytestconfig):
            assert pytestconfig.get_terminal_writer() is not None

        def test_reporter_writes(pytestconfig):
            pytestconfig.pluginmanager.get_plugin("terminalreporter").write_line("to the log")

        def test_explained():
            assert [1, 2] == [1, 3]
        """
    )
    result = forked("--fj-workers", "2")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*At index 1 diff: 2 != 3*"])


def test_verbose_and_k_select_as_in_a_serial_run(pytester: pytest.Pytester, forked: Run) -> None:
    pytester.makepyfile(test_mixed=MIXED)
    result = forked("-v", "-k", "passes and 1", "--fj-workers", "2")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*deselected*"])
    assert sorted(line.split()[0] for line in result.outlines if " PASSED " in line) == [
        "test_mixed.py::test_passes[10]",
        "test_mixed.py::test_passes[11]",
        "test_mixed.py::test_passes[1]",
    ]


def test_x_stops_the_run_at_the_first_failure(pytester: pytest.Pytester, forked: Run) -> None:
    pytester.makepyfile(
        test_many="""
            import time
            import pytest

            @pytest.mark.parametrize("n", range(60))
            def test_n(n):
                time.sleep(0.02)
                assert n != 3
        """
    )
    result = forked("-x", "--fj-workers", "2")
    outcomes = result.parseoutcomes()
    assert outcomes["failed"] == 1
    assert outcomes.get("passed", 0) < 59
    result.stdout.fnmatch_lines(["*stopping after 1 failures*"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED


CRASHES = """
    import os
    import signal
    import sys

    def test_before():
        pass

    def test_killed():
        print("about to die")
        sys.stderr.write("a last word\\n")
        os.kill(os.getpid(), signal.SIGKILL)

    def test_between():
        pass

    def test_exits():
        os._exit(3)

    def test_after():
        pass
"""


def test_a_test_that_kills_its_worker_fails_and_the_rest_run(
    pytester: pytest.Pytester, forked: Run
) -> None:
    pytester.makepyfile(test_crash=CRASHES)
    result = forked("--fj-workers", "2")
    result.assert_outcomes(passed=3, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*worker w* died while running this test: killed by signal 9 (SIGKILL)*",
            "*Captured stdout call*",
            "about to die",
            "*Captured stderr call*",
            "a last word",
        ]
    )
    result.stdout.fnmatch_lines(["*died while running this test: exited with code 3*"])
    result.stdout.fnmatch_lines(
        [
            "FAILED test_crash.py::test_killed - worker w* died*",
            "FAILED test_crash.py::test_exits - worker w* died*",
        ],
        consecutive=False,
    )
    crashed = {span.key: span for span in _history_spans(pytester.path) if span.kind == "test"}
    assert crashed["test_crash.py::test_killed"].attributes["crash"] == (
        "killed by signal 9 (SIGKILL)"
    )


def test_a_suite_that_always_crashes_ends_with_a_clear_error(
    pytester: pytest.Pytester, forked: Run
) -> None:
    pytester.makepyfile(
        test_doomed="""
            import os
            import pytest

            @pytest.mark.parametrize("n", range(12))
            def test_crashes(n):
                os._exit(1)
        """
    )
    result = forked("--fj-workers", "2")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    outcomes = result.parseoutcomes()
    # 2 workers and the 4 restarts allowed for 2 workers: 6 tests crashed one each.
    assert outcomes["failed"] == 6
    result.stdout.fnmatch_lines(
        [
            "forkjoin: not run: test_doomed.py::test_crashes*",
            "*forkjoin: workers crashed 6 times, and were restarted the 4 times allowed;"
            " 6 tests not run*",
        ],
        consecutive=False,
    )


def test_a_worker_grown_past_the_memory_limit_is_replaced(
    pytester: pytest.Pytester, forked: Run
) -> None:
    pytester.makepyfile(
        test_memory="""
            import time
            import pytest
            kept = []

            @pytest.mark.parametrize("n", range(8))
            def test_grows(n):
                if n == 2:
                    kept.append(bytearray(200 * 1024 * 1024))
                time.sleep(0.1)
        """
    )
    result = forked("--fj-workers", "2", "--fj-max-worker-rss", "100M")
    result.assert_outcomes(passed=8)
    result.stdout.fnmatch_lines(["forkjoin: 1 worker replaced for memory (largest: * MiB)"])
    tests = [span for span in _history_spans(pytester.path) if span.kind == "test"]
    (grown,) = [span for span in tests if span.key.endswith("[2]")]
    # The worker that grew ran nothing more: what it held went to the others.
    assert not [span for span in tests if span.worker == grown.worker and span.start > grown.end]


def test_workers_are_recorded_and_fixtures_torn_down(
    pytester: pytest.Pytester, forked: Run
) -> None:
    """each worker sets the session fixture up and tears it down, however the tests fell"""
    pytester.makepyfile(
        test_fixtures="""
            import os
            import pytest

            @pytest.fixture(scope="session")
            def session_resource():
                with open("events.txt", "a") as events:
                    events.write(f"up {os.getpid()}\\n")
                yield
                with open("events.txt", "a") as events:
                    events.write(f"down {os.getpid()}\\n")

            @pytest.mark.parametrize("n", range(30))
            def test_uses(n, session_resource):
                pass
        """
    )
    result = forked("--fj-workers", "2")
    result.assert_outcomes(passed=30)
    events = (pytester.path / "events.txt").read_text().split("\n")
    ups = sorted(line.split()[1] for line in events if line.startswith("up"))
    downs = sorted(line.split()[1] for line in events if line.startswith("down"))
    assert ups == downs and ups
    spans = _history_spans(pytester.path)
    assert {span.worker for span in spans if span.kind == "test"} == {"w1", "w2"}
    assert sum(span.kind == "call" for span in spans) == 30


def test_the_tests_that_failed_last_time_run_first(pytester: pytest.Pytester, forked: Run) -> None:
    pytester.makepyfile(
        test_order="""
            import pytest

            @pytest.mark.parametrize("n", range(20))
            def test_n(n):
                with open("order.txt", "a") as order:
                    order.write(f"{n}\\n")
                assert n != 19
        """
    )
    forked("--fj-workers", "2")
    (pytester.path / "order.txt").unlink()
    forked("--fj-workers", "2", "-p", "no:cacheprovider")  # the history alone tells
    started = (pytester.path / "order.txt").read_text().split()
    assert "19" in started[:2]  # both workers start at once: one of the first two


def test_the_longest_test_starts_first_from_the_second_run(
    pytester: pytest.Pytester, forked: Run
) -> None:
    pytester.makepyfile(
        test_skewed="""
            import time
            import pytest

            @pytest.mark.parametrize("n", range(20))
            def test_short(n):
                with open("order.txt", "a") as order:
                    order.write(f"short{n}\\n")

            def test_long_defined_last():
                with open("order.txt", "a") as order:
                    order.write("long\\n")
                time.sleep(0.5)
        """
    )
    forked("--fj-workers", "2")
    (pytester.path / "order.txt").unlink()
    forked("--fj-workers", "2")
    assert "long" in (pytester.path / "order.txt").read_text().split()[:2]


def test_an_idle_worker_steals_from_a_busy_one(pytester: pytest.Pytester, forked: Run) -> None:
    """without history the first batch holds the 6 slow tests: the other worker takes some"""
    pytester.makepyfile(
        test_steal="""
            import time
            import pytest

            @pytest.mark.parametrize("n", range(6))
            def test_a_slow(n):
                time.sleep(0.3)

            @pytest.mark.parametrize("n", range(30))
            def test_b_fast(n):
                pass
        """
    )
    result = forked("--fj-workers", "2")
    result.assert_outcomes(passed=36)
    slow = [span for span in _history_spans(pytester.path) if "test_a_slow" in span.key]
    assert {span.worker for span in slow if span.kind == "test"} == {"w1", "w2"}


def test_uncaptured_output_goes_to_a_worker_log(pytester: pytest.Pytester, forked: Run) -> None:
    pytester.makepyfile(
        test_loud="""
            import os

            def test_loud():
                os.write(1, b"straight to fd 1\\n")
        """
    )
    result = forked("-s", "--fj-workers", "2")
    result.assert_outcomes(passed=1)
    assert "straight to fd 1" not in result.stdout.str()
    logs = list((pytester.path / ".forkjoin" / "logs" / "pytest").glob("*/w*.log"))
    assert [log.read_text() for log in logs] == ["straight to fd 1\n"]
    result.stdout.fnmatch_lines(["forkjoin: worker output in *.forkjoin/logs/pytest/j*"])


def test_ctrl_c_ends_the_run_and_every_process_it_started(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_slow="""
            import subprocess
            import time
            import pytest

            @pytest.mark.parametrize("n", range(4))
            def test_slow(n):
                child = subprocess.Popen(["sleep", "60"])
                with open(f"child-{n}.pid", "w") as pid:
                    pid.write(str(child.pid))
                time.sleep(60)
        """
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest", *QUIET, "--fj-workers", "2"],
        cwd=pytester.path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        # A job started in the background ignores SIGINT; the terminal's would not.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 30
    while len(list(pytester.path.glob("child-*.pid"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    children = [int(path.read_text()) for path in pytester.path.glob("child-*.pid")]
    assert len(children) == 2
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=30)
    assert process.returncode == pytest.ExitCode.INTERRUPTED
    assert b"KeyboardInterrupt" in output
    deadline = time.monotonic() + 5
    while any(map(_is_running, children)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(map(_is_running, children))


def _is_running(pid: int) -> bool:
    """Alive and not a zombie: a killed orphan waits for init to reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_pytest_xdist_runs_the_tests_where_fork_is_missing(
    pytester: pytest.Pytester,
) -> None:
    pytest.importorskip("xdist")
    pytester.makepyfile(test_mixed=MIXED)
    # xdist must load here: only hypothesis and pytest-split are left out.
    result = pytester.runpytest_subprocess(
        "-p",
        "no:hypothesispytest",
        "-p",
        "no:pytest_split",
        "--fj-workers",
        "2",
        "--fj-use-xdist",
        timeout=120,
    )
    result.assert_outcomes(passed=15, failed=3, skipped=1, xfailed=1, xpassed=1, errors=1)
    assert {span.worker for span in _history_spans(pytester.path) if span.kind == "test"} == {
        "gw0",
        "gw1",
    }


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("--pdb",), "*--pdb needs the test to run in this process*"),
        (("--fj-max-worker-rss", "lots"), "*--fj-max-worker-rss lots: give a size*"),
        (("--fj-group", "1"), "*--fj-splits N and --fj-group I go together*"),
    ],
)
def test_mistakes_are_one_line(
    pytester: pytest.Pytester, inprocess: Run, arguments: tuple[str, ...], message: str
) -> None:
    pytester.makepyfile(test_a="def test_a(): pass")
    result = inprocess("--fj-workers", "2", *arguments)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
