"""Short ids: `j7` today, `j1124.7` any day; the values a job and a span are."""

from __future__ import annotations

from datetime import date

import pytest

from forkjoin.telemetry import Job, Span, parse_short_id
from forkjoin.telemetry._values import ShortId


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("j7", ShortId(7)),
        ("7", ShortId(7)),
        ("J12", ShortId(12)),
        (" j7 ", ShortId(7)),
        ("j1124.7", ShortId(7, 11, 24)),
        ("1124.7", ShortId(7, 11, 24)),
        ("j0101.123", ShortId(123, 1, 1)),
    ],
)
def test_short_ids_parse(text: str, expected: ShortId) -> None:
    assert parse_short_id(text) == expected


@pytest.mark.parametrize("text", ["", "j", "j0", "jx", "j1324.1", "j1100.1", "j124.7", "k7", "7.1"])
def test_what_is_not_a_short_id_parses_to_none(text: str) -> None:
    assert parse_short_id(text) is None


def make_job(day: date, number: int) -> Job:
    return Job(1, "u" * 32, day, number, "workflow", "forkjoin.yaml", 0.0, 2.5, "succeeded")


def test_a_job_is_named_short_on_its_day_and_qualified_after() -> None:
    job = make_job(date(2025, 11, 24), 7)
    assert job.short_id == "j7"
    assert job.qualified_id == "j1124.7"
    assert job.label(date(2025, 11, 24)) == "j7"
    assert job.label(date(2025, 11, 25)) == "j1124.7"
    assert job.duration == 2.5
    assert job.is_recorded


def test_a_job_numbered_0_was_not_recorded() -> None:
    assert not make_job(date(2025, 11, 24), 0).is_recorded


def test_values_are_frozen_and_hashable_despite_their_attributes() -> None:
    span = Span("s1", "build", "step", "succeeded", 1.0, 3.5, attributes={"exit_code": 0})
    assert span.duration == 2.5
    with pytest.raises(AttributeError):
        span.key = "other"  # type: ignore[misc]
    assert hash(span) == hash(Span("s1", "build", "step", "succeeded", 1.0, 3.5))
