"""Read known durations from a file: pytest-split's `.test_durations` or a JUnit XML report."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from xml.etree import ElementTree

from forkjoin.errors import DurationsError

__all__ = ["junit_test_id", "read_durations"]

_JUNIT_ROOTS = ("testsuites", "testsuite")


def read_durations(path: str | os.PathLike[str]) -> dict[str, float]:
    """Seconds per item id, from a pytest-split JSON file or a JUnit XML report.

    The format is told by the content, not the name: a file starting with `<` is
    JUnit XML, anything else JSON. JSON is an object of id to seconds (or the older
    pytest-split list of `[id, seconds]` pairs). JUnit gives each `testcase` the id
    `junit_test_id` makes (pytest's node id when it can be told); a test case
    without a usable `time` is left out, and a repeated one (a rerun) keeps its
    last time. Raises DurationsError, naming the file and the
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
        durations[junit_test_id(case.get("classname") or "", name, case.get("file"))] = seconds
    return durations


def _seconds(text: str | None) -> float | None:
    """The time attribute as seconds, or None when it is missing or unusable."""
    try:
        seconds = float(text) if text is not None else math.nan
    except ValueError:
        return None
    return seconds if 0 <= seconds < math.inf else None


def junit_test_id(classname: str, name: str, file: str | None = None) -> str:
    """The id of a JUnit `testcase`: pytest's node id whenever it can be told.

    With `file` (pytest's xunit1), the module part is taken off `classname` and the
    rest is the class path: `tests/test_a.py::TestX::name`. Without it (xunit2,
    pytest's default), the module is the dotted path up to the last part named as
    pytest finds test files (`test_*` or `*_test`): `tests.test_a.TestX` gives the
    same `tests/test_a.py::TestX::name`. Any other runner's case is
    `classname::name` (or `file::classname::name`), which both estimators split
    into families at the `::`. `forkjoin history import` keys its spans by this
    too, so a history and a durations file know the same tests.
    """
    if not file:
        parts = classname.split(".") if classname else []
        modules = [index for index, part in enumerate(parts) if _is_test_module(part)]
        if not modules:
            return f"{classname}::{name}" if classname else name
        end = modules[-1] + 1
        return "::".join(["/".join(parts[:end]) + ".py", *parts[end:], name])
    file = file.replace("\\", "/")
    module = file.removesuffix(".py").replace("/", ".")
    if classname == module or not classname:
        classes = []
    elif classname.startswith(module + "."):
        classes = classname[len(module) + 1 :].split(".")
    else:  # not pytest's naming (jest, say): keep the class name whole
        classes = [classname]
    return "::".join([file, *classes, name])


def _is_test_module(part: str) -> bool:
    # pytest's default `python_files`: test_*.py and *_test.py.
    return part.startswith("test_") or part.endswith("_test")
