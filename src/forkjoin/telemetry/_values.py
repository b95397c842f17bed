"""The values the history holds: a job (one run), its spans (timed pieces), their ids."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

__all__ = [
    "JOB_KINDS",
    "JOB_STATUSES",
    "SPAN_STATUSES",
    "Job",
    "ShortId",
    "Span",
    "SpanFields",
    "day_of",
    "parse_short_id",
]

JOB_KINDS = ("workflow", "tasks", "tests")
# A job is "running" from start_job until finish_job; one that stays so crashed.
JOB_STATUSES = ("running", "succeeded", "failed", "cancelled", "interrupted")
SPAN_STATUSES = ("succeeded", "failed", "skipped", "cancelled")


def day_of(timestamp: float) -> date:
    """The local calendar day of an epoch timestamp: the day a job is numbered in."""
    return datetime.fromtimestamp(timestamp).date()


@dataclass(frozen=True, slots=True)
class Job:
    """One run: a workflow, a session of tasks or a test suite, numbered in its day.

    `number` counts the jobs of `day` in this history from 1; 0 marks a job that was
    not recorded (a run without history). `uid` is unique across every history, and
    is what export and import match on.
    """

    id: int
    uid: str
    day: date
    number: int
    kind: str
    what: str
    started_at: float
    finished_at: float | None
    status: str
    attributes: Mapping[str, object] = field(default_factory=dict, hash=False)

    @property
    def short_id(self) -> str:
        """`j7`: the id a run prints as it starts; it names the job for the rest of its day."""
        return f"j{self.number}"

    @property
    def qualified_id(self) -> str:
        """`j1124.7`: the id that names the job on any later day too."""
        return f"j{self.day:%m%d}.{self.number}"

    @property
    def is_recorded(self) -> bool:
        return self.number > 0

    @property
    def duration(self) -> float | None:
        return None if self.finished_at is None else self.finished_at - self.started_at

    def label(self, today: date) -> str:
        """The shortest id that names this job on `today`."""
        return self.short_id if self.day == today else self.qualified_id


@dataclass(frozen=True, slots=True)
class Span:
    """A timed piece of a job: a step, a for-each item, a task, a test, an attempt.

    `key` is what estimates are keyed by (a step's name, `deploy[eu-west-1]`, a test's
    node id). `parent` is the `uid` of the enclosing span, or None at the top of the
    job. `start` and `end` are epoch seconds.
    """

    uid: str
    key: str
    kind: str
    status: str
    start: float
    end: float
    worker: str = ""
    parent: str | None = None
    attributes: Mapping[str, object] = field(default_factory=dict, hash=False)

    @property
    def duration(self) -> float:
        return self.end - self.start


# A span's fields as a plain tuple, in Span's order, with None for no attributes:
# what a Recorder gathers and a store writes. Building a Span (a frozen dataclass)
# costs a microsecond or more, and --fj-workers' main process records four spans
# for every test, so recording builds Spans only when OpenTelemetry wants them.
SpanFields = tuple[str, str, str, str, float, float, str, str | None, Mapping[str, object] | None]


@dataclass(frozen=True, slots=True)
class ShortId:
    """A parsed short id: the job `number` of a day given by `month` and `day`, or today."""

    number: int
    month: int | None = None
    day: int | None = None


_SHORT_ID = re.compile(r"j?(?:(?P<month>\d\d)(?P<day>\d\d)\.)?(?P<number>\d+)")


def parse_short_id(text: str) -> ShortId | None:
    """`j7`, `7`, `j1124.7` or `1124.7` as a ShortId; None if it is none of these."""
    match = _SHORT_ID.fullmatch(text.strip().lower())
    if match is None or int(match["number"]) == 0:
        return None
    if match["month"] is None:
        return ShortId(int(match["number"]))
    month, day = int(match["month"]), int(match["day"])
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    return ShortId(int(match["number"]), month, day)
