"""Moving history between machines: export as JSON lines, import and merge by uid."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from forkjoin.errors import HistoryError
from forkjoin.telemetry._foreign import Record, read_junit, read_pytest_split
from forkjoin.telemetry._protocol import HistoryStore
from forkjoin.telemetry._values import JOB_STATUSES, SPAN_STATUSES, Job, Span, day_of

__all__ = ["FORMAT_VERSION", "Imported", "export", "import_file"]

FORMAT_VERSION = 1
_HEADER = "forkjoin-history"
_TYPES = (_HEADER, "job", "span")


@dataclass(frozen=True, slots=True)
class Imported:
    """What an import added: `jobs` and `spans` that the history did not hold yet."""

    format: str
    jobs: int
    spans: int


def export(store: HistoryStore, file: TextIO) -> tuple[int, int]:
    """Write every job of `store` and its spans to `file` as JSON lines; return the counts.

    A header line, then each job followed by its spans. Jobs and spans carry their
    uids, unique across histories, so `import_file` elsewhere merges them without
    conflict; short ids are not written, as each history numbers its own days.
    """
    jobs = spans = 0
    file.write(_line({"type": _HEADER, "version": FORMAT_VERSION}))
    for job in store.jobs():
        file.write(
            _line(
                {
                    "type": "job",
                    "uid": job.uid,
                    "kind": job.kind,
                    "what": job.what,
                    "started_at": job.started_at,
                    "finished_at": job.finished_at,
                    "status": job.status,
                    "attributes": dict(job.attributes),
                }
            )
        )
        jobs += 1
        for span in store.spans(job):
            file.write(
                _line(
                    {
                        "type": "span",
                        "uid": span.uid,
                        "job": job.uid,
                        "parent": span.parent,
                        "kind": span.kind,
                        "key": span.key,
                        "status": span.status,
                        "start": span.start,
                        "end": span.end,
                        "worker": span.worker,
                        "attributes": dict(span.attributes),
                    }
                )
            )
            spans += 1
    return jobs, spans


def import_file(store: HistoryStore, path: str | Path) -> Imported:
    """Merge the jobs and spans of the file at `path` into `store`, in one transaction.

    The format is told by the content: JSON lines from `export`, pytest-split's
    `.test_durations`, or JUnit XML. What the history holds already (same uids) is
    left as it is, so importing a file twice changes nothing. Raises HistoryError,
    naming the file and what is wrong, before writing anything.
    """
    where = str(path)
    try:
        content = Path(path).read_bytes()
        modified_at = Path(path).stat().st_mtime
    except OSError as error:
        raise HistoryError(f"cannot read it ({error.strerror})", path=where) from error
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise HistoryError(
            f"not text: byte {error.start} is not UTF-8; expected JSON lines,"
            " pytest-split durations or JUnit XML",
            path=where,
        ) from None
    if not text.strip():
        raise HistoryError("the file is empty", path=where)
    if text.lstrip().startswith("<"):
        format_, records = "junit", [read_junit(content, path=where, modified_at=modified_at)]
    else:
        try:
            whole: object = json.loads(text)
        except json.JSONDecodeError:
            format_, records = "jsonl", _read_lines(text, where)
        else:
            if isinstance(whole, dict) and whole.get("type") in _TYPES:
                format_, records = "jsonl", _read_lines(text, where)
            else:
                format_ = "pytest-split"
                records = read_pytest_split(whole, content, path=where, modified_at=modified_at)
    jobs, spans = store.merge(records)
    return Imported(format_, jobs, spans)


def _line(value: Mapping[str, object]) -> str:
    return json.dumps(value, separators=(",", ":"), default=str) + "\n"


def _read_lines(text: str, where: str) -> list[Record]:
    jobs: dict[str, Job] = {}
    spans: dict[str, list[Span]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = _Fields(line, number, where)
        kind = fields.text("type")
        if kind == _HEADER:
            version = fields.value("version")
            if not isinstance(version, int) or version > FORMAT_VERSION:
                raise fields.error(f"format version {version!r}: written by a newer forkjoin")
        elif kind == "job":
            status = fields.choice("status", JOB_STATUSES)
            started_at = fields.seconds("started_at")
            job = Job(
                0,
                fields.text("uid"),
                day_of(started_at),
                0,
                fields.text("kind"),
                fields.text("what", empty=True),
                started_at,
                fields.optional_seconds("finished_at"),
                status,
                fields.mapping("attributes"),
            )
            jobs.setdefault(job.uid, job)
            spans.setdefault(job.uid, [])
        elif kind == "span":
            job_uid = fields.text("job")
            if job_uid not in jobs:
                raise fields.error(f"a span of job {job_uid}, which no line above describes")
            parent = fields.value("parent")
            if parent is not None and not isinstance(parent, str):
                raise fields.error(f"parent should be a span uid or null, not {parent!r}")
            spans[job_uid].append(
                Span(
                    fields.text("uid"),
                    fields.text("key", empty=True),
                    fields.text("kind"),
                    fields.choice("status", SPAN_STATUSES),
                    fields.seconds("start"),
                    fields.seconds("end"),
                    fields.text("worker", empty=True),
                    parent,
                    fields.mapping("attributes"),
                )
            )
        else:
            raise fields.error(
                f"type {kind!r}: expected JSON lines from `forkjoin history export`"
                " (job and span lines), pytest-split durations or JUnit XML"
            )
    return [(job, spans[uid]) for uid, job in jobs.items()]


class _Fields:
    """One JSON line's fields, each checked, with errors that name the line."""

    __slots__ = ("_number", "_values", "_where")

    def __init__(self, line: str, number: int, where: str) -> None:
        self._number = number
        self._where = where
        try:
            values = json.loads(line)
        except json.JSONDecodeError as error:
            raise self.error(
                f"not JSON ({error.msg}); expected JSON lines from `forkjoin history"
                " export`, pytest-split durations or JUnit XML"
            ) from None
        if not isinstance(values, dict):
            raise self.error("not a JSON object")
        self._values: dict[str, object] = values

    def error(self, reason: str) -> HistoryError:
        return HistoryError(f"line {self._number}: {reason}", path=self._where)

    def value(self, name: str) -> object:
        return self._values.get(name)

    def text(self, name: str, *, empty: bool = False) -> str:
        value = self._values.get(name, "" if empty else None)
        if not isinstance(value, str) or not (value or empty):
            raise self.error(f"{name} should be text, not {value!r}")
        return value

    def choice(self, name: str, choices: tuple[str, ...]) -> str:
        value = self.text(name)
        if value not in choices:
            raise self.error(f"{name} {value!r} is not one of {', '.join(choices)}")
        return value

    def optional_seconds(self, name: str) -> float | None:
        return None if self._values.get(name) is None else self.seconds(name)

    def seconds(self, name: str) -> float:
        value = self._values.get(name)
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise self.error(f"{name} should be epoch seconds, not {value!r}")
        return float(value)

    def mapping(self, name: str) -> dict[str, object]:
        value = self._values.get(name, {})
        if not isinstance(value, dict):
            raise self.error(f"{name} should be a JSON object, not {value!r}")
        return value
