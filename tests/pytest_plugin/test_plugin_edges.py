"""`--fj-workers N` at its edges: the crash limit, pytest.exit, tmp_path, signals, forks.

Each run here is a real `python -m pytest` process that forks real workers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

Run = Callable[..., pytest.RunResult]
# As conftest.QUIET, for the runs started by hand.
QUIET = ("-p", "no:hypothesispytest", "-p", "no:pytest_split", "-p", "no:xdist")


def test_an_idle_worker_runs_what_a_crash_past_the_limit_left(
    pytester: pytest.Pytester, forked: Run
) -> None:
    """c0 c1 c2 c3 (crash at once) ; slow (crashes late, holding passes) ; p0..p19

    The fifth crash is past the 4 restarts allowed for 2 workers; the other worker
    is idle by then, and must be handed the tests the crashed one held.
    """
    pytester.makepyfile(
        test_limit="""
            import os
            import time
            import pytest

            @pytest.mark.parametrize("n", range(4))
            def test_crashes(n):
                os._exit(1)

            def test_crashes_late():
                time.sleep(1.5)
                os._exit(1)

            @pytest.mark.parametrize("n", range(20))
            def test_passes(n):
                pass
        """
    )
    result = forked("--fj-workers", "2", timeout=30)
    result.assert_outcomes(passed=20, failed=5)
    result.stdout.fnmatch_lines(["*4 workers restarted already: no new worker*"])


ENDS_THE_SESSION = """
    import time
    import pytest

    @pytest.fixture(scope="session")
    def resource():
        yield
        open("torn-down-{}".format(time.monotonic_ns()), "w").close()

    def test_ends(resource):
        time.sleep(0.3)  # the other worker is in its long test by now
        {ending}

    @pytest.mark.parametrize("n", range(3))
    def test_long(n, resource):
        time.sleep(30)
"""


def test_pytest_exit_in_a_test_ends_the_session_with_its_code(
    pytester: pytest.Pytester, forked: Run
) -> None:
    pytester.makepyfile(test_exit=ENDS_THE_SESSION.replace("{ending}", 'pytest.exit("bye", 3)'))
    result = forked("--fj-workers", "2", timeout=25)  # the long tests are interrupted
    assert result.ret == 3
    result.stdout.fnmatch_lines(
        [
            "forkjoin: pytest.exit in test_exit.py::test_ends on worker w*",
            "*! _pytest.outcomes.Exit: bye !*",
        ]
    )
    result.stdout.no_fnmatch_line("*died*")
    # The session fixture was torn down by the worker that ran test_ends, at least.
    assert list(pytester.path.glob("torn-down-*"))


def test_a_keyboard_interrupt_in_a_test_ends_the_session_as_interrupted(
    pytester: pytest.Pytester, forked: Run
) -> None:
    pytester.makepyfile(test_kbi=ENDS_THE_SESSION.replace("{ending}", "raise KeyboardInterrupt"))
    result = forked("--fj-workers", "2", timeout=25)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        [
            "forkjoin: KeyboardInterrupt in test_kbi.py::test_ends on worker w*",
            "*! KeyboardInterrupt !*",
        ]
    )
    result.stdout.no_fnmatch_line("*died*")


USES_TMP_PATH = """
    import time
    import pytest

    @pytest.mark.parametrize("n", range(8))
    def test_keeps_its_file(n, tmp_path):
        (tmp_path / "data.txt").write_text("hello")
        time.sleep(0.3)  # while the other workers make their own tmp_path
        assert (tmp_path / "data.txt").read_text() == "hello"
"""


def test_workers_make_their_tmp_path_in_a_folder_each_of_the_basetemp(
    pytester: pytest.Pytester, forked: Run
) -> None:
    pytester.makepyfile(test_tmp=USES_TMP_PATH)
    basetemp = pytester.path / "base"
    result = forked("--fj-workers", "4", f"--basetemp={basetemp}")
    result.assert_outcomes(passed=8)
    assert {path.parent.name for path in basetemp.glob("w*/test_keeps_its_file*")} == {
        "w1",
        "w2",
        "w3",
        "w4",
    }


def test_the_main_process_owns_the_numbered_basetemp_and_its_lock(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_tmp=USES_TMP_PATH)
    # Without --basetemp (which `forked` gives), under pytester's temporary root.
    result = pytester.run(sys.executable, "-m", "pytest", *QUIET, "--fj-workers", "4", timeout=60)
    result.assert_outcomes(passed=8)
    (user_root,) = Path(os.environ["PYTEST_DEBUG_TEMPROOT"]).glob("pytest-of-*")
    assert sorted(path.name for path in user_root.iterdir()) == ["pytest-0", "pytest-current"]
    assert not list(user_root.glob("*/.lock"))


SLOW_WITH_A_CHILD = """
    import os
    import subprocess
    import time

    def test_slow():
        child = subprocess.Popen(["sleep", "60"])
        with open("pids.tmp", "w") as pids:
            pids.write(f"{os.getpid()} {child.pid}")
        os.rename("pids.tmp", "pids")
        time.sleep(60)
"""


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_or_sighup_ends_the_run_and_every_process_it_started(
    pytester: pytest.Pytester, number: signal.Signals, strays: list[int]
) -> None:
    worker, child = _end_a_slow_run(pytester, number, strays)
    assert not _is_running(worker)
    assert not _is_running(child)


def test_a_killed_main_process_takes_its_workers_along(
    pytester: pytest.Pytester, strays: list[int]
) -> None:
    worker, _ = _end_a_slow_run(pytester, signal.SIGKILL, strays)
    assert not _is_running(worker)  # what the test started is an orphan: no one to end it


@pytest.fixture
def strays() -> Iterator[list[int]]:
    """Pids to kill, if still running, when the test ends (when it failed, that is)."""
    pids: list[int] = []
    yield pids
    for pid in filter(_is_running, pids):
        os.kill(pid, signal.SIGKILL)


def _end_a_slow_run(
    pytester: pytest.Pytester, number: signal.Signals, strays: list[int]
) -> tuple[int, int]:
    """Signal a run once its test runs; the pids of its worker and the test's child,
    given 5 seconds to end."""
    pytester.makepyfile(test_slow=SLOW_WITH_A_CHILD)
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest", *QUIET, "--fj-workers", "2"],
        cwd=pytester.path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not (pytester.path / "pids").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    worker, child = map(int, (pytester.path / "pids").read_text().split())
    strays += [worker, child]
    process.send_signal(number)
    process.wait(timeout=30)
    deadline = time.monotonic() + 5
    while (_is_running(worker) or _is_running(child)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return worker, child


def _is_running(pid: int) -> bool:
    """Alive and not a zombie: a killed orphan waits for init to reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_a_fork_of_a_test_that_returns_ends_quietly(pytester: pytest.Pytester, forked: Run) -> None:
    pytester.makepyfile(
        test_fork="""
            import os

            def test_forks():
                pid = os.fork()
                if pid == 0:
                    return  # the child carries on in the worker's code
                os.waitpid(pid, 0)

            def test_after_1():
                with open("ran", "a") as ran:
                    ran.write("1")

            def test_after_2():
                with open("ran", "a") as ran:
                    ran.write("2")
        """
    )
    result = forked("--fj-workers", "2")
    result.assert_outcomes(passed=3)
    assert result.ret == pytest.ExitCode.OK
    assert sorted((pytester.path / "ran").read_text()) == ["1", "2"]  # once each


def test_a_user_property_pickle_cannot_carry_travels_as_text(
    pytester: pytest.Pytester, forked: Run
) -> None:
    pytester.makepyfile(
        test_properties="""
            import threading

            def test_lock(record_property):
                record_property("lock", threading.Lock())

            def test_lambda(record_property):
                record_property("function", lambda: 1)
                record_property("number", 1)
        """
    )
    result = forked("--fj-workers", "2", "--junitxml=report.xml")
    result.assert_outcomes(passed=2)
    properties = {
        element.get("name"): element.get("value")
        for element in ElementTree.parse(pytester.path / "report.xml").iter("property")
    }
    assert properties["lock"].startswith("<unlocked _thread.lock object")
    assert properties["function"].startswith("<function test_lambda.<locals>.<lambda>")
    assert properties["number"] == "1"


def test_a_worker_names_itself_in_forkjoin_worker(pytester: pytest.Pytester, forked: Run) -> None:
    pytester.makeconftest(
        """
            import os

            def pytest_sessionfinish(session):  # in the main process only
                with open("main", "w") as main:
                    main.write(os.environ.get("FORKJOIN_WORKER", "unset"))
        """
    )
    pytester.makepyfile(
        test_names="""
            import os
            import pytest

            @pytest.mark.parametrize("n", range(4))
            def test_names(n):
                with open(f"worker-{n}", "w") as worker:
                    worker.write(os.environ["FORKJOIN_WORKER"])
        """
    )
    result = forked("--fj-workers", "2")
    result.assert_outcomes(passed=4)
    assert {path.read_text() for path in pytester.path.glob("worker-*")} <= {"w1", "w2"}
    assert (pytester.path / "main").read_text() == "unset"


def test_the_session_stays_frozen_through_pytests_cleanups_then_thaws(
    pytester: pytest.Pytester,
) -> None:
    """main: collect, freeze, run on workers, unconfigure (frozen), cleanups, thawed

    Frozen, the session is skipped by the full collections of pytest's own cleanups
    (the unraisable-exception plugin runs five); it must be unfrozen after them, or a
    process that runs pytest.main more than once would never collect a session.
    """
    pytester.makepyfile(
        conftest="""
            import gc
            import os

            MAIN = os.getpid()

            def pytest_unconfigure(config):
                if os.getpid() == MAIN:
                    with open("frozen.txt", "a") as out:
                        out.write(f"unconfigure {gc.get_freeze_count() > 0}\\n")
        """,
        test_some="""
            import pytest
            @pytest.mark.parametrize("n", range(20))
            def test_n(n): pass
        """,
    )
    script = (
        "import gc, sys, pytest\n"
        "code = pytest.main(sys.argv[1:])\n"
        "with open('frozen.txt', 'a') as out:\n"
        "    out.write(f'after main {gc.get_freeze_count()}\\n')\n"
        "sys.exit(code)\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script, "-q", *QUIET, "--fj-workers", "2"],
        cwd=pytester.path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert (pytester.path / "frozen.txt").read_text().splitlines() == [
        "unconfigure True",
        "after main 0",
    ]
