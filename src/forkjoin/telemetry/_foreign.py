"""Reading other tools' timings as jobs of spans: pytest-split's durations, JUnit XML."""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from datetime import datetime

from forkjoin.errors import HistoryError
from forkjoin.partition import junit_test_id
from forkjoin.telemetry._values import Job, Span, day_of

__all__ = ["Record", "read_junit", "read_pytest_split"]

Record = tuple[Job, Sequence[Span]]


def content_uid(content: bytes) -> str:
    """A job uid made from a file's bytes, so importing the same file twice adds nothing."""
    return hashlib.sha256(content).hexdigest()[:32]


def read_pytest_split(
    durations: object, content: bytes, *, path: str, modified_at: float
) -> list[Record]:
    """pytest-split's `.test_durations` (node id -> seconds) as one job of kind "tests".

    Also the format before pytest-split 0.2, a list of [node id, seconds] pairs.
    The tests are laid end to end from `modified_at`, the file's time, as the run
    that measured them went; no tests, no job. Raises HistoryError for anything else.
    """
    if isinstance(durations, dict):
        pairs = list(durations.items())
    elif isinstance(durations, list) and all(
        isinstance(pair, list) and len(pair) == 2 for pair in durations
    ):
        pairs = [(pair[0], pair[1]) for pair in durations]
    else:
        raise HistoryError(
            "JSON, but neither forkjoin's JSON lines nor pytest-split's durations"
            " (an object of test node id -> seconds)",
            path=path,
        )
    uid = content_uid(content)
    spans: list[Span] = []
    moment = modified_at
    for index, (node_id, seconds) in enumerate(pairs, start=1):
        if not isinstance(node_id, str) or not _is_seconds(seconds):
            raise HistoryError(
                f"pytest-split durations: {node_id!r} should map to seconds, not {seconds!r}",
                path=path,
            )
        start, moment = moment, moment + float(seconds)
        spans.append(Span(f"{uid}.{index}", node_id, "test", "succeeded", start, moment))
    job = Job(
        0,
        uid,
        day_of(modified_at),
        0,
        "tests",
        path,
        modified_at,
        moment,
        "succeeded",
        {"imported_from": "pytest-split"},
    )
    return [(job, spans)] if spans else []


def read_junit(content: bytes, *, path: str, modified_at: float) -> Record:
    """A JUnit XML report as one job of kind "tests": a span per suite, one per test case.

    A case's key is `forkjoin.partition.junit_test_id`'s: pytest's node id when it
    can be told, as `forkjoin split --durations` reads the report. It failed if it
    holds <failure> or <error>, was skipped if it holds <skipped>. Suites start at
    their `timestamp`, else `modified_at`, and their cases are laid end to end.
    Raises HistoryError for XML that is not well formed or not JUnit.
    """
    try:
        root = ElementTree.fromstring(content)
    except ElementTree.ParseError as error:
        line, column = error.position
        raise HistoryError(
            f"line {line}, column {column + 1}: not well-formed XML", path=path
        ) from error
    if root.tag not in ("testsuites", "testsuite"):
        raise HistoryError(
            f"XML, but not JUnit: the root is <{root.tag}>, not <testsuites> or <testsuite>",
            path=path,
        )
    uid = content_uid(content)
    spans: list[Span] = []
    moment = first = None
    for suite in root.iter("testsuite"):
        began = _timestamp(suite.get("timestamp"), path) or moment or modified_at
        first = began if first is None else min(first, began)
        suite_uid = f"{uid}.{len(spans) + 1}"
        cases: list[Span] = []
        moment, failed = began, False
        for case in suite.findall("testcase"):
            status, attributes = _outcome(case)
            failed = failed or status == "failed"
            start, moment = moment, moment + _seconds(case.get("time"), path, case)
            cases.append(
                Span(
                    f"{uid}.{len(spans) + len(cases) + 2}",
                    _node_id(case),
                    "test",
                    status,
                    start,
                    moment,
                    suite.get("hostname", ""),
                    suite_uid,
                    attributes,
                )
            )
        stated = suite.get("time")
        ended = began + _seconds(stated, path, suite) if stated else moment
        moment = max(moment, ended)
        name = suite.get("name") or "testsuite"
        status = "failed" if failed else "succeeded"
        spans.append(
            Span(suite_uid, name, "suite", status, began, ended, suite.get("hostname", ""))
        )
        spans.extend(cases)
    started = modified_at if first is None else first
    finished = max((span.end for span in spans), default=started)
    failed = any(span.status == "failed" for span in spans)
    job = Job(
        0,
        uid,
        day_of(started),
        0,
        "tests",
        path,
        started,
        finished,
        "failed" if failed else "succeeded",
        {"imported_from": "junit"},
    )
    return job, spans


def _node_id(case: ElementTree.Element) -> str:
    # The same id `forkjoin split --durations` gives the case, so a history made
    # by importing a report knows what the report itself would.
    return junit_test_id(case.get("classname", ""), case.get("name", ""), case.get("file"))


def _outcome(case: ElementTree.Element) -> tuple[str, dict[str, object]]:
    for tag, status in (("failure", "failed"), ("error", "failed"), ("skipped", "skipped")):
        found = case.find(tag)
        if found is not None:
            message = (found.get("message") or "").strip()
            return status, ({"message": message[:500]} if message else {})
    return "succeeded", {}


def _seconds(text: str | None, path: str, element: ElementTree.Element) -> float:
    if not text:
        return 0.0
    try:
        seconds = float(text.replace(",", ""))
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:  # also rejects nan
        name = element.get("name", "")
        raise HistoryError(
            f"<{element.tag} name={name!r}> has time={text!r}, not seconds", path=path
        )
    return seconds


def _timestamp(text: str | None, path: str) -> float | None:
    if not text:
        return None
    try:
        # A timestamp without a zone is local time, as JUnit writers mean it.
        return datetime.fromisoformat(text).timestamp()
    except ValueError as error:
        raise HistoryError(f"<testsuite timestamp={text!r}> is not a date", path=path) from error


def _is_seconds(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
