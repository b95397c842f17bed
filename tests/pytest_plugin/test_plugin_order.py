"""The dispatch order from history, batch sizes, and the frames between processes."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from forkjoin.pytest_plugin._crash import describe_exit, read_tail
from forkjoin.pytest_plugin._history import Knowledge
from forkjoin.pytest_plugin._order import WorkQueue, dispatch_order
from forkjoin.pytest_plugin._protocol import RUN, FrameReader, receive, send

IDS = ["t.py::fast", "t.py::new", "t.py::slow", "t.py::broken", "t.py::shaky", "t.py::mid"]


def test_failed_first_then_unknown_or_unsteady_then_longest_first() -> None:
    """broken (failed) ; new (no history), shaky (once 10x its median) ; slow > mid > fast"""
    knowledge = Knowledge(
        seconds={
            "t.py::fast": 0.01,
            "t.py::slow": 3.0,
            "t.py::broken": 0.5,
            "t.py::shaky": 0.2,
            "t.py::mid": 1.0,
        },
        longest={
            "t.py::fast": 0.01,
            "t.py::slow": 3.1,
            "t.py::broken": 0.5,
            "t.py::shaky": 2.0,
            "t.py::mid": 1.0,
        },
        failed=frozenset({"t.py::broken"}),
    )
    order = dispatch_order(IDS, knowledge)
    assert [IDS[index] for index in order.indices] == [
        "t.py::broken",
        "t.py::new",  # the family's median (0.5) is above shaky's 0.2
        "t.py::shaky",
        "t.py::slow",
        "t.py::mid",
        "t.py::fast",
    ]
    assert order.tiers == [2, 1, 2, 0, 1, 2]


def test_a_short_test_that_varies_is_not_unsteady() -> None:
    knowledge = Knowledge(seconds={"a": 0.001}, longest={"a": 0.02})
    assert not knowledge.is_unsteady("a")
    assert Knowledge(seconds={"a": 0.1}, longest={"a": 0.5}).is_unsteady("a")


def test_without_history_the_order_is_the_collection_order() -> None:
    order = dispatch_order(IDS, Knowledge())
    assert order.indices == list(range(len(IDS)))


def test_batches_shrink_to_one_test_and_keep_collection_order_within_a_tier() -> None:
    ids = [f"t.py::test_{number:03d}" for number in range(600)]
    queue = WorkQueue(dispatch_order(ids, Knowledge()), workers=2)
    sizes = []
    while len(queue):
        batch = queue.take()
        assert batch == sorted(batch)
        sizes.append(len(batch))
    assert sizes[0] == 100  # a third of a worker's fair share of 600
    assert sizes[-1] == 1
    assert sizes == sorted(sizes, reverse=True)
    assert sum(sizes) == 600


def test_a_batch_runs_a_failed_test_before_its_neighbours() -> None:
    ids = [f"t.py::test_{number}" for number in range(12)]
    knowledge = Knowledge(failed=frozenset({"t.py::test_11"}))
    batch = WorkQueue(dispatch_order(ids, knowledge), workers=1).take()
    assert batch[0] == 11
    assert batch[1:] == sorted(batch[1:])


def test_tests_put_back_come_out_first() -> None:
    queue = WorkQueue(dispatch_order(IDS, Knowledge()), workers=1)
    first = queue.take()
    queue.put_back(first[1:])
    assert queue.take()[: len(first) - 1] == first[1:]


def test_frames_cross_a_pipe_whole_however_they_are_cut() -> None:
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    reader = FrameReader(read_end)
    big = list(range(50_000))  # a frame larger than the pipe's buffer takes several reads
    pid = os.fork()
    if pid == 0:  # the writer: a worker would be the one sending
        try:
            send(write_end, (RUN, [1, 2, 3]))
            send(write_end, (RUN, big))
        finally:
            os._exit(0)
    os.close(write_end)
    messages = []
    while not reader.is_closed:
        messages += reader.read()
    os.waitpid(pid, 0)
    assert messages == [(RUN, [1, 2, 3]), (RUN, big)]


def test_a_blocking_read_gets_one_frame_then_the_end() -> None:
    read_end, write_end = os.pipe()
    send(write_end, (RUN, ["a"]))
    os.close(write_end)
    assert receive(read_end) == (RUN, ["a"])
    assert receive(read_end) is None


def test_exits_are_told_in_words() -> None:
    pid = os.fork()
    if pid == 0:
        os.kill(os.getpid(), signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    assert describe_exit(status) == "killed by signal 9 (SIGKILL)"
    pid = os.fork()
    if pid == 0:
        os._exit(3)
    _, status = os.waitpid(pid, 0)
    assert describe_exit(status) == "exited with code 3"


def test_a_tail_starts_at_the_offset_or_is_cut(tmp_path: Path) -> None:
    log = tmp_path / "w1.log"
    log.write_bytes(b"old test\nnew test\n" + b"x" * 40_000)
    tail = read_tail(log, len(b"old test\n"))
    assert tail.startswith("[…]") and len(tail) < 33_000
    assert read_tail(log, 0).endswith("x")
    log.write_bytes(b"old test\nnew test\n")
    assert read_tail(log, len(b"old test\n")) == "new test\n"
    assert read_tail(tmp_path / "missing.log") == ""
