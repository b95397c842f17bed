"""Eight processes write one history at once: all succeed, all 8 jobs are there.

Real processes on a real file, released together at one instant so they collide
on creating the schema, on numbering their jobs and on writing their spans.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from forkjoin.telemetry import SqliteStore, open_history

WRITERS = 8
SPANS = 1000

WRITER = """
import os, sys, time
from forkjoin.telemetry import Recorder, open_history

path, start_at, spans = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
while time.time() < start_at:
    time.sleep(0.001)
began = time.perf_counter()
store = open_history(path)
recorder = Recorder(store, store.start_job("workflow", f"writer {os.getpid()}"), flush_every=100)
for n in range(spans):
    recorder.record(
        f"step-{n % 25}", kind="step", status="succeeded", start=n, end=n + 0.5,
        worker=str(os.getpid()),
    )
job = recorder.finish("succeeded")
store.close()
print(job.qualified_id, time.perf_counter() - began)
"""


@pytest.mark.slow
def test_eight_processes_record_eight_jobs_with_distinct_short_ids(tmp_path: Path) -> None:
    history = tmp_path / ".forkjoin" / "history.db"  # not there yet: they race to make it
    start_at = time.time() + 2.0
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(history), str(start_at), str(SPANS)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(WRITERS)
    ]
    outputs = [writer.communicate(timeout=60) for writer in writers]
    for writer, (_out, err) in zip(writers, outputs, strict=True):
        assert writer.returncode == 0, err
        assert err == ""  # no "database is locked", no history set aside
    reported = [out.split()[0] for out, _ in outputs]
    assert len(set(reported)) == WRITERS, reported

    store = open_history(history, warn=pytest.fail)
    assert isinstance(store, SqliteStore)
    jobs = store.recent_jobs(limit=100)
    assert sorted(job.qualified_id for job in jobs) == sorted(reported)
    assert {job.status for job in jobs} == {"succeeded"}
    if len({job.day for job in jobs}) == 1:  # unless the run straddled midnight
        assert sorted(job.number for job in jobs) == list(range(1, WRITERS + 1))
    for job in jobs:
        spans = store.spans(job)
        assert len(spans) == SPANS
        assert {span.worker for span in spans} == {job.what.split()[1]}
    assert {key: len(seconds) for key, seconds in store.durations(last=1000).items()} == {
        f"step-{n}": WRITERS * SPANS // 25 for n in range(25)
    }
    store.close()
