"""Read known durations from a file: pytest-split's `.test_durations` or a JUnit XML report."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from xml.etree import ElementTree

from forkjoin.errors import DurationsError

__all__ = ["read_durations"]

_JUNIT_ROOTS = ("testsuites", "testsuite")


def read_durations(path: str | os.PathLike[str]) -> dict[str, float]:
    """Seconds per item id, from a pytest-split JSON file or a JUnit XML report.

    The format is told by the content, not the name: a file starting with `<` is
    JUnit XML, anything else JSON. JSON is an object of id to seconds (or the older
    pytest-split list of `[id, seconds]` pairs). JUnit gives each `testcase` the id
    `file::Class::name` when it has a `file` attribute, as pytest names it, else
    `classname.name`; a test case without a usable `time` is left out, and a repeated
    one (a rerun) keeps its last time. Raises DurationsError, naming the file and the
    line when known, if the content is malformed, and OSError if it cannot be read.
    """
    name = os.fspath(path)
    content = Path(path).read_bytes()
    if content.lstrip().startswith(b"<"):
        return _read_junit(content, name)
    return _read_json(content, name)


def _read_json(content: bytes, path: str) -> dict[str, float]:
    try:
        data = json.loads(content)
    except UnicodeDecodeError as error:
        raise DurationsError(path, f"is not UTF-8 text ({error.reason})") from error
    except json.JSONDecodeError as error:
        raise DurationsError(path, f"is not valid JSON: {error.msg}", line=error.lineno) from error
    if isinstance(data, list):  # pytest-split before 0.3 wrote [[id, seconds], ...]
        pairs = []
        for position, pair in enumerate(data, 1):
            if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str)):
                raise DurationsError(path, f"entry {position} is not an [id, seconds] pair")
            pairs.append((pair[0], pair[1]))
    elif isinstance(data, dict):
        pairs = list(data.items())
    else:
        raise DurationsError(
            path, f"holds a JSON {type(data).__name__}: expected an object of id to seconds"
        )
    durations = {}
    for item, seconds in pairs:
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            raise DurationsError(path, f"the duration of {item!r} is {seconds!r}, not seconds")
        if not 0 <= seconds < math.inf:
            raise DurationsError(path, f"the duration of {item!r} is {seconds!r}: not >= 0")
        durations[item] = float(seconds)
    return durations


def _read_junit(content: bytes, path: str) -> dict[str, float]:
    try:
        root = ElementTree.fromstring(content)
    except ElementTree.ParseError as error:
        line, _column = error.position
        reason = str(error).split(":")[0]  # expat's "reason: line 3, column 4"
        raise DurationsError(path, f"is not well-formed XML: {reason}", line=line) from error
    if root.tag not in _JUNIT_ROOTS:
        raise DurationsError(
            path, f"has a <{root.tag}> root: a JUnit report has <testsuites> or <testsuite>"
        )
    durations = {}
    for case in root.iter("testcase"):
        name = case.get("name")
        seconds = _seconds(case.get("time"))
        if name is None or seconds is None:
            continue
        durations[_junit_id(case.get("file"), case.get("classname") or "", name)] = seconds
    return durations


def _seconds(text: str | None) -> float | None:
    """The time attribute as seconds, or None when it is missing or unusable."""
    try:
        seconds = float(text) if text is not None else math.nan
    except ValueError:
        return None
    return seconds if 0 <= seconds < math.inf else None


def _junit_id(file: str | None, classname: str, name: str) -> str:
    """pytest's node id `path/test_a.py::Class::name` when the file is known."""
    if not file:
        return f"{classname}.{name}" if classname else name
    file = file.replace("\\", "/")
    module = file.removesuffix(".py").replace("/", ".")
    if classname == module:
        classes = []
    elif classname.startswith(module + "."):
        classes = classname[len(module) + 1 :].split(".")
    else:  # not pytest's naming (jest, say): keep the class name whole
        classes = [classname] if classname else []
    return "::".join([file, *classes, name])
