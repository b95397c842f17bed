"""What travels over a worker's two pipes: length-prefixed pickles, and reports made small.

    main ── RUN [indices] | NO_MORE | STEAL n | STOP ──────────────► worker
    main ◄── DONE index reports warnings log_size location | NEED | GAVE [indices]
             | RECYCLE rss | EXIT index is_interrupt reason returncode ── worker

A worker writes one DONE frame per test as soon as the test ends, so a worker that
dies loses nothing that finished; the main process reads whatever has arrived in
one `os.read`, so many frames cost one wake-up. Most tests pass silently, and their
three reports travel as three short tuples that the main process rebuilds from its
own copy of the item; any other report travels as pytest's own serialized form
(`pytest_report_to_serializable`), as pytest-xdist sends it.
"""

from __future__ import annotations

import errno
import importlib
import os
import pickle
import struct
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from forkjoin.pytest_plugin._fixtures import REPORT_ATTRIBUTE

__all__ = [
    "DONE",
    "EXIT",
    "GAVE",
    "NEED",
    "NO_MORE",
    "RECYCLE",
    "RUN",
    "STEAL",
    "STOP",
    "FrameReader",
    "decode_reports",
    "decode_warning",
    "encode_report",
    "encode_warning",
    "picklable_reports",
    "receive",
    "send",
]

# main → worker
RUN = 1  # (RUN, [index, ...]): run these, in this order, after what you have
NO_MORE = 2  # (NO_MORE,): nothing to add for now: run your last test with nextitem None
STEAL = 3  # (STEAL, n): give back up to n of the tests you have not started
STOP = 4  # (STOP,): tear down and exit after the test that is running
# worker → main
DONE = 11  # (DONE, index, [report, ...], [warning, ...], log size, item location)
NEED = 12  # (NEED,): my queue runs low
GAVE = 13  # (GAVE, [index, ...]): the answer to STEAL
RECYCLE = 14  # (RECYCLE, rss): I grew too big and exit; what I had not run is yours
# (EXIT, index | None, is_interrupt, reason, returncode): a test called pytest.exit
# (or raised KeyboardInterrupt): the session ends; I tear down and exit
EXIT = 15

_HEADER = struct.Struct("!I")
_READ_SIZE = 1 << 20
# The attributes of a TestReport that a plain passed report has (`_id` from pytest 9
# on, `nodeid` before), and the one the fixture timer adds.
_PLAIN = frozenset(
    {
        "_id",
        "nodeid",
        "location",
        "keywords",
        "outcome",
        "longrepr",
        "when",
        "user_properties",
        "sections",
        "duration",
        "start",
        "stop",
        REPORT_ATTRIBUTE,
    }
)

Message = tuple[Any, ...]
Encoded = tuple[Any, ...] | dict[str, Any]


def send(fd: int, message: Message) -> None:
    """Write one frame; raises BrokenPipeError when the other end has gone."""
    payload = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
    view = memoryview(_HEADER.pack(len(payload)) + payload)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def receive(fd: int) -> Message | None:
    """Read one frame from a blocking `fd`; None at end of file."""
    header = _read_exactly(fd, _HEADER.size)
    if header is None:
        return None
    (size,) = _HEADER.unpack(header)
    payload = _read_exactly(fd, size)
    if payload is None:
        return None
    message: Message = pickle.loads(payload)
    return message


def _read_exactly(fd: int, size: int) -> bytes | None:
    chunks = []
    while size:
        chunk = os.read(fd, size)
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


class FrameReader:
    """The frames arriving on a non-blocking `fd`, as many as have come."""

    __slots__ = ("_buffer", "fd", "is_closed")

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._buffer = bytearray()
        self.is_closed = False

    def read(self) -> list[Message]:
        """The complete frames read so far; sets `is_closed` at end of file."""
        while True:
            try:
                chunk = os.read(self.fd, _READ_SIZE)
            except BlockingIOError:
                break
            except OSError as error:
                if error.errno != errno.EBADF:
                    raise
                chunk = b""
            if not chunk:
                self.is_closed = True
                break
            self._buffer += chunk
            if len(chunk) < _READ_SIZE:
                break
        return self._frames()

    def _frames(self) -> list[Message]:
        messages = []
        buffer = self._buffer
        position = 0
        while len(buffer) - position >= _HEADER.size:
            (size,) = _HEADER.unpack_from(buffer, position)
            end = position + _HEADER.size + size
            if end > len(buffer):
                break
            messages.append(pickle.loads(buffer[position + _HEADER.size : end]))
            position = end
        del buffer[:position]
        return messages


def encode_report(config: pytest.Config, report: pytest.TestReport, plain: bool) -> Encoded:
    """A passed, silent report as `(when, start, stop, duration, fixtures)`, others in full.

    `plain` is False when the test changed its item's markers: the main process's copy
    of the item would then give the report other keywords.
    """
    if (
        plain
        and report.outcome == "passed"
        and report.longrepr is None
        and not report.sections
        and not report.user_properties
        and report.__dict__.keys() <= _PLAIN
    ):
        return (
            report.when,
            report.start,
            report.stop,
            report.duration,
            getattr(report, REPORT_ATTRIBUTE, None),
        )
    data: dict[str, Any] = config.hook.pytest_report_to_serializable(config=config, report=report)
    return data


def decode_reports(
    config: pytest.Config, item: pytest.Item, encoded: Sequence[Encoded]
) -> list[pytest.TestReport]:
    """The reports `encode_report` made of one test, for `item`, in the main process."""
    reports = []
    plain: dict[str, Any] | None = None  # a rebuilt plain report's attributes, before any hook
    for one in encoded:
        if isinstance(one, dict):
            reports.append(config.hook.pytest_report_from_serializable(config=config, data=one))
            continue
        when, start, stop, duration, fixtures = one
        if plain is None:
            report = pytest.TestReport(
                item.nodeid, item.location, dict.fromkeys(item.keywords, 1), "passed", None, when
            )
            plain = dict(report.__dict__)
        else:
            report = _plain_like(plain)
        report.when, report.start, report.stop, report.duration = when, start, stop, duration
        if fixtures is not None:
            setattr(report, REPORT_ATTRIBUTE, fixtures)
        reports.append(report)
    return reports


def picklable_reports(encoded: Sequence[Encoded]) -> list[Encoded]:
    """`encoded` with the values pickle cannot carry made text, as junitxml writes them.

    A user property or an attribute a plugin set on a report may be anything (a lock,
    a lambda): rather than losing the test's reports, the main process gets `str`.
    """
    return [one if isinstance(one, tuple) else _picklable_report(one) for one in encoded]


def _picklable_report(data: dict[str, Any]) -> dict[str, Any]:
    data = dict(data)
    data["user_properties"] = [
        (name, value if _is_picklable(value) else str(value))
        for name, value in data.get("user_properties", ())
    ]
    return {key: value if _is_picklable(value) else str(value) for key, value in data.items()}


def _is_picklable(value: object) -> bool:
    try:
        pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
    except Exception:  # what pickle raises depends on the object: any of them says no
        return False
    return True


def _plain_like(attributes: Mapping[str, Any]) -> pytest.TestReport:
    # TestReport.__init__ parses the node id again (pytest 9) and walks the keywords:
    # done once per test instead of once per phase, it was a tenth of re-emitting one.
    report: pytest.TestReport = pytest.TestReport.__new__(pytest.TestReport)
    report.__dict__.update(attributes)
    report.sections = []
    report.user_properties = []
    return report


def encode_warning(message: warnings.WarningMessage) -> tuple[Any, ...]:
    """A recorded warning as plain values: its text, category, file and line."""
    category = message.category
    return (
        str(message.message),
        category.__module__,
        category.__qualname__,
        message.filename,
        message.lineno,
        message.line,
    )


def decode_warning(encoded: Sequence[Any]) -> warnings.WarningMessage:
    """The warning `encode_warning` made; its category rebuilt when it can be imported."""
    text, module_name, qualname, filename, lineno, line = encoded
    category: type[Warning] = UserWarning
    try:
        found: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            found = getattr(found, part)
        if isinstance(found, type) and issubclass(found, Warning):
            category = found
    except Exception:  # a category that cannot be rebuilt is told as a UserWarning
        pass
    message: Warning | str
    try:
        message = category(text)
    except Exception:  # a category whose constructor wants more than the text
        message = text
    return warnings.WarningMessage(message, category, filename, lineno, None, line)
