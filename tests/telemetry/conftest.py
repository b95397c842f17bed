"""Test doubles for telemetry: a fake clock and a history in a temporary folder.

The history itself is never faked: every test reads and writes a real SQLite
file. Only time is, since short ids depend on the local day.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from forkjoin.telemetry import SqliteStore, open_history

# Noon, local time, so that a few hours either way stay on the same day.
NOV_24 = datetime(2025, 11, 24, 12, 0).timestamp()
NOV_25 = datetime(2025, 11, 25, 12, 0).timestamp()


class FakeClock:
    """Epoch seconds that move only when a test says so."""

    def __init__(self, now: float = NOV_25) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def warnings() -> list[str]:
    """What the history said through its injected `warn`."""
    return []


@pytest.fixture
def history(tmp_path: Path) -> Path:
    return tmp_path / ".forkjoin" / "history.db"


@pytest.fixture
def store(history: Path, clock: FakeClock, warnings: list[str]) -> Iterator[SqliteStore]:
    """A new history on the fake clock, closed after the test."""
    opened = open_history(history, warn=warnings.append, clock=clock)
    assert isinstance(opened, SqliteStore)
    yield opened
    opened.close()
