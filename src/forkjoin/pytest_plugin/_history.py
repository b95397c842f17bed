"""What the history knows of a suite's tests: durations, how steady they are, what failed."""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from forkjoin.errors import HistoryError
from forkjoin.telemetry import ENVIRONMENT_VARIABLE, HistoryStore, history_path, open_history

__all__ = [
    "HistoryHandle",
    "Knowledge",
    "cached_last_failed",
    "history_location",
    "read_knowledge",
]

# A test is unsteady when its slowest recent run took more than this many times its
# median, and long enough to matter: such a test may turn out long, so it starts early.
_UNSTEADY_RATIO = 2.0
_UNSTEADY_SECONDS = 0.05
# How many recent jobs are looked through for the last finished run of a suite.
_RECENT_JOBS = 20


@dataclass(frozen=True, slots=True)
class Knowledge:
    """Per key (a test's node id, or a fixture's key): seconds known, steadiness, failures.

    `seconds` holds the median of each key's recent successful runs, `longest` the
    slowest of them; keys never run successfully are in neither. `failed` holds the
    tests that failed the last time they ran.
    """

    seconds: Mapping[str, float] = field(default_factory=dict)
    longest: Mapping[str, float] = field(default_factory=dict)
    failed: frozenset[str] = frozenset()

    def is_unsteady(self, key: str) -> bool:
        longest = self.longest.get(key, 0.0)
        return longest >= _UNSTEADY_SECONDS and longest > _UNSTEADY_RATIO * self.seconds.get(
            key, 0.0
        )


class HistoryHandle:
    """The run's history, opened on first use: never before pytest has a terminal to warn on."""

    def __init__(self, path: Path, warn: Callable[[str], None]) -> None:
        self.path = path
        self._warn = warn
        self._store: HistoryStore | None = None

    @property
    def store(self) -> HistoryStore:
        if self._store is None:
            self._store = open_history(self.path, warn=self._warn)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


def history_location(config: pytest.Config, explicit: str | None) -> Path:
    """--fj-history, else $FORKJOIN_HISTORY (both from the invocation directory), else
    `.forkjoin/history.db` under the rootdir."""
    if explicit or os.environ.get(ENVIRONMENT_VARIABLE):
        return history_path(explicit, config.invocation_params.dir)
    return history_path(None, config.rootpath, environ={})


def read_knowledge(
    store: HistoryStore,
    keys: Iterable[str],
    *,
    failures: bool = False,
    last_failed: Iterable[str] = (),
    before: float | None = None,
) -> Knowledge:
    """What `store` knows of `keys`, in one query, and with `failures`, what failed last.

    The durations are those of spans that ended by `before`, when given. The failures
    are those of the latest finished job of kind `tests`, read only when that job
    failed (a job that succeeded had none), and `last_failed` besides (pytest's own
    cache). Never raises for the history's sake.
    """
    durations = store.durations(list(keys), before=before)
    seconds = {key: statistics.median(samples) for key, samples in durations.items()}
    longest = {key: max(samples) for key, samples in durations.items()}
    failed = set(last_failed)
    if not failures:
        return Knowledge(seconds, longest, frozenset(failed))
    try:
        for job in store.recent_jobs(_RECENT_JOBS):
            if job.kind != "tests" or job.status == "running":
                continue
            if job.status == "failed":
                failed.update(span.key for span in store.spans(job, kind="test", status="failed"))
            break
    except HistoryError:  # reading is best effort: a history in trouble orders nothing
        pass
    return Knowledge(seconds, longest, frozenset(failed))


def cached_last_failed(config: pytest.Config) -> list[str]:
    """The node ids pytest's cache says failed last time (empty without the cache)."""
    cache = getattr(config, "cache", None)
    if cache is None:
        return []
    last: Mapping[str, object] = cache.get("cache/lastfailed", {})
    return list(last)
