"""A Ctrl-C while the command starts: remembered, then answered with exit 130.

Python's own handler raises KeyboardInterrupt wherever the signal lands, and during
imports that can surface as another error (a SyntaxError from a module that could not
finish loading), or as click's "Aborted!" and exit 1. So until a command runs, a
SIGINT only sets a flag; the group checks it before the command and gives Python's
handler back, and `forkjoin run` installs its own.
"""

from __future__ import annotations

import os
import signal
import sys

__all__ = ["hand_back", "install"]

_interrupted = False


def _remember(_number: int, _frame: object) -> None:
    global _interrupted
    _interrupted = True


def install() -> None:
    """Remember a SIGINT from now on, unless SIGINT is ignored (it then stays so), when
    this process is the `forkjoin` command: a program that imports the CLI keeps its
    Ctrl-C as it is."""
    # `python -m forkjoin.cli` shows "-m" while the package imports; the script, its name.
    command = sys.argv[0] == "-m" or os.path.basename(sys.argv[0]) == "forkjoin"
    if command and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _remember)


def hand_back() -> None:
    """Give Python's handler back; exit 130 if a SIGINT came while we started."""
    global _interrupted
    if signal.getsignal(signal.SIGINT) is _remember:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if _interrupted:
        _interrupted = False  # answered: a later command of this process starts afresh
        raise SystemExit(130)
