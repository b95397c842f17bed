"""Inside a worker process of `ProcessExecutor`: receive a call, run it, send back the outcome."""

from __future__ import annotations

import contextlib
import faulthandler
import os
import pickle
import select
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

import cloudpickle

__all__ = ["task_name", "type_name", "worker_main"]


def task_name(fn: Callable[..., Any]) -> str:
    return str(getattr(fn, "__qualname__", None) or type(fn).__qualname__)


def type_name(value: object) -> str:
    kind = type(value)
    module = "" if kind.__module__ == "builtins" else f"{kind.__module__}."
    return module + kind.__qualname__


def worker_main(connection: Connection, parent_pid: int) -> None:
    """Run the calls sent down `connection` until it closes: the life of a worker."""
    # The parent decides when a worker stops; a Ctrl-C reaches the whole process group,
    # and the parent may still want the calls that are running.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    faulthandler.enable()
    _exit_with_parent(parent_pid)
    try:
        while True:
            try:
                payload = connection.recv_bytes()
                outcome = _run_call(payload)
                del payload
                connection.send_bytes(outcome)
            except (EOFError, OSError):
                return  # the parent closed the pipe, or is gone
    finally:
        # Executors that a task started in this worker and left running.
        from forkjoin.executors._processes import kill_all_workers

        kill_all_workers()


def _run_call(payload: bytes) -> bytes:
    """Run one pickled call; return (True, value, None) or (False, error, traceback) pickled."""
    task = "?"
    try:
        fn, args, kwargs = cloudpickle.loads(payload)
        task = task_name(fn)
        value = fn(*args, **kwargs)
    except BaseException as error:
        return _pickle_error(error, task)
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()  # so a task's prints are not lost if the worker is killed
    try:
        return bytes(cloudpickle.dumps((True, value, None)))
    except Exception as error:
        failure = TypeError(
            f"task {task} returned a {type_name(value)}, which cannot be pickled to leave "
            f"its worker process: {error}"
        )
        failure.__cause__ = error
        return _pickle_error(failure, task)


def _pickle_error(error: BaseException, task: str) -> bytes:
    text = "".join(traceback.format_exception(error))
    try:
        data = bytes(cloudpickle.dumps((False, error, text)))
        # An exception whose __init__ wants other arguments than its args pickles but
        # cannot be rebuilt; find that out here, where it can still be reported.
        pickle.loads(data)
    except Exception as pickling_error:
        substitute = TypeError(
            f"task {task} raised {type_name(error)}: {error}, which cannot be pickled to "
            f"leave its worker process ({pickling_error!r})"
        )
        return bytes(cloudpickle.dumps((False, substitute, text)))
    return data


def _exit_with_parent(parent_pid: int) -> None:
    """Start a thread that ends this worker when the executor's process ends, even mid-call.

    The forkserver, this worker's parent, cannot do it: it lives on as long as any of its
    children does.
    """
    try:
        parent = os.pidfd_open(parent_pid) if sys.platform == "linux" else None
    except ProcessLookupError:
        os._exit(1)
    threading.Thread(
        target=_watch_parent, args=(parent_pid, parent), name="forkjoin-parent-watch", daemon=True
    ).start()


def _watch_parent(parent_pid: int, parent: int | None) -> None:
    if parent is not None:
        select.select([parent], [], [])  # a pidfd turns readable when its process exits
    else:
        while os.getppid() == parent_pid:  # spawned, so the parent is the executor's
            time.sleep(1.0)
    os._exit(1)
