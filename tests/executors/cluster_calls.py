"""The calls the Dask and Ray tests send to their clusters, and what waits on them.

A module of its own so both test modules share it: Dask's workers import it by
name (tests/conftest.py puts this folder on their path); Ray's get it by value
(test_ray.py registers it with Ray's cloudpickle).
"""

from __future__ import annotations

import os
import time
from pathlib import Path


def square(x: int) -> int:
    return x * x


def total(values: list[int], extra: dict[str, int]) -> int:
    return sum(values) + extra["plus"]


def write_pid_then_sleep(path: str, seconds: float) -> str:
    marker = Path(path)
    if marker.exists():
        return "second attempt"
    marker.write_text(str(os.getpid()))
    time.sleep(seconds)
    return "first attempt"


def wait_for_pid(path: Path, seconds: float = 60) -> int:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and path.read_text():
            return int(path.read_text())
        time.sleep(0.05)
    raise AssertionError(f"{path} was never written")


class Big:
    """A value that writes down the pid of every process that unpickles it."""

    def __init__(self, probe: str, size: int) -> None:
        self.probe = probe
        self.payload = b"x" * size

    def __len__(self) -> int:
        return len(self.payload)

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        with open(str(state["probe"]), "a") as probe:
            probe.write(f"{os.getpid()}\n")


def unpickled_in(probe: Path) -> set[int]:
    return {int(line) for line in probe.read_text().split()} if probe.exists() else set()
