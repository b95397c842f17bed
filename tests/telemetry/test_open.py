"""A broken history never breaks a run: one line of warning, then on it goes.

Each case hands `open_history` a real broken file (cut short, random bytes, a
directory, a read-only folder), then runs a job through it as a front end would.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from forkjoin.telemetry import NullStore, Recorder, Span, SqliteStore, open_history
from forkjoin.telemetry._schema import SCHEMA_VERSION

NOBODY = 65534


def a_healthy_history(path: Path, jobs: int = 20, spans: int = 500) -> None:
    store = open_history(path, warn=pytest.fail)
    for _ in range(jobs):
        job = store.start_job("workflow", "x")
        store.record_spans(
            job,
            [
                Span(f"{job.uid}.{n}", f"k{n % 40}", "step", "succeeded", n, n + 1.5)
                for n in range(spans)
            ],
        )
        store.finish_job(job, "succeeded")
    store.close()


def run_a_job(store: object) -> dict[str, object]:
    """What a front end does: a job of two spans, finished; never raises."""
    recorder = Recorder(store, store.start_job("workflow", "forkjoin.yaml"))  # type: ignore[attr-defined]
    recorder.record("build", kind="step", status="succeeded", start=1.0, end=2.0)
    job = recorder.finish("succeeded")
    return {"recorded": job.is_recorded, "short_id": job.short_id}


def cut_short(path: Path) -> None:
    a_healthy_history(path)
    with path.open("r+b") as file:
        file.truncate(path.stat().st_size // 2)


def random_bytes(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(40_000))


def a_directory(path: Path) -> None:
    (path / "something").mkdir(parents=True)


def not_our_shape(path: Path) -> None:
    """A valid SQLite file that says it is a history of our version, but is not one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE jobs (x)")
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    connection.commit()
    connection.close()


@pytest.mark.parametrize(
    ("breaking", "reason"),
    [
        (cut_short, "database disk image is malformed"),
        (random_bytes, "file is not a database"),
        (a_directory, "it is a directory"),
        (not_our_shape, "no such column"),
    ],
)
def test_an_unreadable_history_is_set_aside_and_a_new_one_started(
    history: Path, breaking: Callable[[Path], None], reason: str, clock, warnings: list[str]
) -> None:
    breaking(history)
    store = open_history(history, warn=warnings.append, clock=clock)
    assert isinstance(store, SqliteStore)
    assert len(warnings) == 1
    aside = history.with_name("history.db.corrupt-20251125-120000")
    assert warnings[0].startswith(f"forkjoin: history at {history} is unreadable ({reason}")
    assert warnings[0].endswith(f"); set aside as {aside}, starting a new one")
    assert aside.exists()
    assert run_a_job(store) == {"recorded": True, "short_id": "j1"}
    assert [job.short_id for job in store.recent_jobs()] == ["j1"]
    store.close()
    assert len(warnings) == 1


def test_the_default_warning_is_one_line_on_stderr(
    history: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    random_bytes(history)
    open_history(history).close()
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"forkjoin: history at {history} is unreadable (file is not a database)")
    assert "starting a new one" in err


def test_setting_aside_twice_in_one_second_keeps_both(history: Path, clock) -> None:
    for _ in range(2):
        random_bytes(history)
        open_history(history, warn=lambda _: None, clock=clock).close()
    names = sorted(path.name for path in history.parent.glob("history.db.corrupt-*"))
    assert names == ["history.db.corrupt-20251125-120000", "history.db.corrupt-20251125-120000-2"]


def test_a_history_from_a_newer_forkjoin_is_left_alone(history: Path, warnings: list[str]) -> None:
    a_healthy_history(history, jobs=1)
    connection = sqlite3.connect(history)
    connection.execute("PRAGMA user_version = 99")
    connection.close()
    store = open_history(history, warn=warnings.append)
    assert isinstance(store, NullStore)
    assert warnings == [
        f"forkjoin: history at {history} has schema version 99, newer than this"
        f" forkjoin's {SCHEMA_VERSION}; running without history"
    ]
    assert run_a_job(store) == {"recorded": False, "short_id": "j0"}
    assert history.exists() and not list(history.parent.glob("*.corrupt-*"))


def test_a_history_that_fails_mid_run_is_reported_once_and_the_run_goes_on(
    store: SqliteStore, history: Path, warnings: list[str]
) -> None:
    job = store.start_job("workflow", "x")
    other = sqlite3.connect(history)
    other.execute("DROP TABLE spans")  # as if another program broke it meanwhile
    other.close()
    recorder = Recorder(store, job)
    for n in range(3):
        recorder.record("build", kind="step", status="succeeded", start=n, end=n + 1)
        recorder.flush()
    recorder.finish("succeeded")
    assert warnings == [
        f"forkjoin: history at {history} failed (no such table: spans); this run goes on unrecorded"
    ]
    assert store.durations() == {}


# -- a read-only folder ------------------------------------------------------------------


def in_a_process_that_cannot_write(check: Callable[[], dict[str, object]]) -> dict[str, object]:
    """Run `check` where the read-only folder is really read-only.

    Root may write anywhere, so as root `check` runs in a forked child that has
    become nobody; modules it needs are imported before the fork.
    """
    if os.geteuid() != 0:
        return check()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report through the pipe, never return into pytest
        status = 1
        try:
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            os.write(write, json.dumps(check()).encode())
            status = 0
        except BaseException as error:
            os.write(write, json.dumps({"error": repr(error)}).encode())
        finally:
            os._exit(status)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        report = json.loads(pipe.read() or b"{}")
    os.waitpid(pid, 0)
    return report


@pytest.fixture
def reachable(tmp_path: Path) -> Iterator[Path]:
    """A folder that nobody may enter: pytest's own are for their owner only."""
    folder = Path(tempfile.mkdtemp(prefix="forkjoin-history-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


@pytest.mark.parametrize("broken", [False, True], ids=["missing", "random-bytes"])
def test_a_read_only_folder_runs_with_no_history(reachable: Path, broken: bool) -> None:
    folder = reachable / "read-only"
    folder.mkdir()
    history = folder / "history.db"
    if broken:
        random_bytes(history)
    folder.chmod(0o555)

    def check() -> dict[str, object]:
        said: list[str] = []
        store = open_history(history, warn=said.append)
        return {"warnings": said, "store": type(store).__name__, **run_a_job(store)}

    try:
        report = in_a_process_that_cannot_write(check)
    finally:
        folder.chmod(0o755)
    assert report.get("store") == "NullStore", report
    assert report["recorded"] is False
    [warning] = report["warnings"]  # type: ignore[misc]
    if broken:
        assert warning == (
            f"forkjoin: history at {history} is unreadable (file is not a database) and"
            " cannot be set aside (permission denied); running without history"
        )
        assert history.read_bytes()  # left where it was
    else:
        assert warning == (
            f"forkjoin: cannot use the history at {history} (unable to open database file);"
            " running without history"
        )
    assert sorted(path.name for path in folder.iterdir()) == (["history.db"] if broken else [])
