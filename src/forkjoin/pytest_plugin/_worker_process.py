"""What a forked worker does to its own process before it runs a test: its output,
its capture files, its faulthandler, its tmp_path folder, its death with the main
process; and how big it has grown.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

__all__ = [
    "close_fd",
    "die_with_main_process",
    "redirect_output",
    "resident_bytes",
    "use_own_basetemp",
]

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def redirect_output(config: pytest.Config, log: IO[bytes], capture_prefix: Path) -> None:
    """Point fds 1 and 2 at the log, stdin at /dev/null, and capture afresh.

    The global capture inherited from the main process writes to files the main
    process and every other worker share: it is stopped without reading it out,
    and started again on files of this worker's own, named so that the main process
    can read what a test had printed when it crashed its worker.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    capture = config.pluginmanager.getplugin("capturemanager")
    global_capture = getattr(capture, "_global_capturing", None)
    if global_capture is not None:
        global_capture.stop_capturing()
        capture._global_capturing = None
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    _point_pytest_faulthandler_at(config, log)
    if global_capture is not None:
        with _named_capture_files(capture_prefix):
            capture.start_global_capturing()
        capture.suspend_global_capture()
    signal.signal(signal.SIGINT, signal.default_int_handler)


class _named_capture_files:  # a context manager, read as a verb
    """pytest's capture files, named `<prefix>-1`, `-2`... instead of anonymous.

    pytest makes them with `tempfile.TemporaryFile`, by that name in its capture
    module; it is swapped only while the worker's capture starts.
    """

    def __init__(self, prefix: Path) -> None:
        self._prefix = prefix
        self._module: Any = None
        self._original: Any = None

    def __enter__(self) -> None:
        from _pytest import capture  # pytest's private module: checked, else left alone

        if not hasattr(capture, "TemporaryFile"):
            return
        self._module = capture
        self._original = capture.TemporaryFile
        counter: Iterator[int] = iter(range(1, 100))
        prefix = self._prefix

        def named(buffering: int = -1, **_: Any) -> IO[bytes]:
            path = f"{prefix}-{next(counter)}"
            return open(path, "w+b", buffering=buffering)

        capture.TemporaryFile = named

    def __exit__(self, *exc_info: object) -> None:
        if self._module is not None:
            self._module.TemporaryFile = self._original


def die_with_main_process() -> None:
    """On Linux, be killed when the main process dies, even by SIGKILL.

    In a group of its own, a worker stuck in a test would outlive a main process that
    had no chance to interrupt it. Had the main process died before this call, the
    worker finds its pipe closed instead. (Not inherited by what the tests fork.)
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def use_own_basetemp(config: pytest.Config, name: str) -> None:
    """Make tmp_path's folders in `<basetemp>/<name>`, as pytest-xdist does in `gw0`.

    The main process made the base before forking; as pytest-xdist's workers, this
    one takes its folder for a --basetemp of its own, which it empties and makes.
    """
    factory: Any = getattr(config, "_tmp_path_factory", None)
    if factory is not None and factory._basetemp is not None:
        factory._given_basetemp = factory._basetemp / name
        factory._basetemp = None


def _point_pytest_faulthandler_at(config: pytest.Config, log: IO[bytes]) -> None:
    """pytest's faulthandler plugin writes to a copy of the terminal's stderr, made at
    start-up (for `faulthandler_timeout`): make that descriptor the log's."""
    try:
        from _pytest.faulthandler import fault_handler_stderr_fd_key
    except ImportError:
        return
    fd = config.stash.get(fault_handler_stderr_fd_key, None)
    if isinstance(fd, int):
        os.dup2(log.fileno(), fd)


def resident_bytes() -> int:
    """This process's resident memory, from /proc (else its peak, from getrusage)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE_SIZE
    except (OSError, ValueError, IndexError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def close_fd(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)
