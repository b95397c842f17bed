"""Processes of a run that left their step's process group: adopted, and ended on Ctrl-C.

A step's command runs in a process group of its own, and a stop signals that group.
A process that moves itself out of it (`setsid`, a daemon's double fork) is out of
reach of that signal, and once its parent ends it would be the init process's. Made a
*child subreaper* (Linux), the run adopts such orphans instead, so that an interrupted
run can end them too. Elsewhere both calls do nothing.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

__all__ = ["adopt_orphans", "end_adopted"]

_PR_SET_CHILD_SUBREAPER = 36


def adopt_orphans() -> bool:
    """Make this process the subreaper of its descendants; False where it cannot be."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes  # here, not at the top: only `forkjoin run` needs it, once

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def end_adopted(keep: set[int], *, seconds: float = 2.0) -> None:
    """SIGKILL every child of this process but those in `keep`, and reap it, until none
    is left or `seconds` have passed (a killed child's own children come to us next).

    Only for a process that `adopt_orphans`: every other child of it is an orphan."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        children = [pid for pid in _children() if pid not in keep]
        if not children:
            return
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass


def _children() -> list[int]:
    """The processes whose parent is this one, zombies included."""
    me = os.getpid()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # it ended as we looked
        # The name, in parentheses, may hold spaces: the fields follow its last ")".
        if int(stat.rsplit(")", 1)[1].split()[1]) == me:
            found.append(int(entry.name))
    return found
