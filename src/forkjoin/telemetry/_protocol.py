"""What every history store offers, and the null store of a run that has no history."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Protocol

from forkjoin.errors import HistoryError
from forkjoin.telemetry._values import JOB_STATUSES, Job, Span, SpanFields, day_of

__all__ = ["Clock", "HistoryStore", "NullStore", "Warn", "check_status", "unrecorded_job"]

Clock = Callable[[], float]
Warn = Callable[[str], None]


class HistoryStore(Protocol):
    """Where jobs and spans are recorded and read back; `open_history` gives one.

    Recording (`start_job`, `record_spans` or `record_fields`, `finish_job`) never raises for the
    history's sake: a history that fails is reported once through `warn` and the run
    goes on unrecorded. Reading raises HistoryError, except `durations`, which the
    estimator needs to never fail.
    """

    @property
    def path(self) -> Path: ...

    def today(self) -> date: ...

    def start_job(
        self,
        kind: str,
        what: str,
        attributes: Mapping[str, object] | None = None,
        *,
        started_at: float | None = None,
    ) -> Job: ...

    def record_spans(self, job: Job, spans: Iterable[Span]) -> None: ...

    def record_fields(self, job: Job, spans: Sequence[SpanFields]) -> None: ...

    def finish_job(self, job: Job, status: str, finished_at: float | None = None) -> Job: ...

    def recent_jobs(self, limit: int = 20) -> list[Job]: ...

    def jobs(self) -> Iterator[Job]: ...

    def job(self, short_id: str) -> Job: ...

    def spans(
        self, job: Job, *, kind: str | None = None, status: str | None = None
    ) -> list[Span]: ...

    def durations(
        self,
        keys: Iterable[str] | None = None,
        *,
        last: int = 10,
        before: float | None = None,
    ) -> dict[str, list[float]]: ...

    def merge(self, records: Sequence[tuple[Job, Sequence[Span]]]) -> tuple[int, int]: ...

    def close(self) -> None: ...

    def __enter__(self) -> HistoryStore: ...

    def __exit__(self, *exc_info: object) -> None: ...


def unrecorded_job(
    kind: str, what: str, attributes: Mapping[str, object] | None, started_at: float
) -> Job:
    """A job that a run without history still has: number 0, so `is_recorded` is False."""
    return Job(
        0,
        uuid.uuid4().hex,
        day_of(started_at),
        0,
        kind,
        what,
        started_at,
        None,
        "running",
        dict(attributes or {}),
    )


def check_status(status: str) -> None:
    """Raise ValueError unless `status` is one a job may finish with."""
    if status not in JOB_STATUSES or status == "running":
        finals = ", ".join(s for s in JOB_STATUSES if s != "running")
        raise ValueError(f"a job finishes as one of {finals}, not {status!r}")


class NullStore:
    """The history of a run that has none: records nothing, knows nothing.

    What `open_history` returns when no history can be had (a read-only folder,
    a history from a newer forkjoin), so that the run goes on all the same.
    """

    __slots__ = ("_clock", "_path")

    def __init__(self, path: Path, *, clock: Clock = time.time) -> None:
        self._path = path
        self._clock = clock

    @property
    def path(self) -> Path:
        return self._path

    def today(self) -> date:
        return day_of(self._clock())

    def start_job(
        self,
        kind: str,
        what: str,
        attributes: Mapping[str, object] | None = None,
        *,
        started_at: float | None = None,
    ) -> Job:
        started = self._clock() if started_at is None else started_at
        return unrecorded_job(kind, what, attributes, started)

    def record_spans(self, job: Job, spans: Iterable[Span]) -> None:
        return None

    def record_fields(self, job: Job, spans: Sequence[SpanFields]) -> None:
        return None

    def finish_job(self, job: Job, status: str, finished_at: float | None = None) -> Job:
        check_status(status)
        finished = self._clock() if finished_at is None else finished_at
        return dataclasses.replace(job, status=status, finished_at=finished)

    def recent_jobs(self, limit: int = 20) -> list[Job]:
        return []

    def jobs(self) -> Iterator[Job]:
        return iter(())

    def job(self, short_id: str) -> Job:
        raise HistoryError(f"no job {short_id}: there is no usable history", path=str(self._path))

    def spans(self, job: Job, *, kind: str | None = None, status: str | None = None) -> list[Span]:
        return []

    def durations(
        self,
        keys: Iterable[str] | None = None,
        *,
        last: int = 10,
        before: float | None = None,
    ) -> dict[str, list[float]]:
        return {}

    def merge(self, records: Sequence[tuple[Job, Sequence[Span]]]) -> tuple[int, int]:
        raise HistoryError("there is no usable history to import into", path=str(self._path))

    def close(self) -> None:
        return None

    def __enter__(self) -> NullStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None
