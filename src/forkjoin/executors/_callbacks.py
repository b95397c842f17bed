"""The thread a cluster executor runs its calls' done callbacks on.

Dask and Ray complete their futures on threads (or an event loop) of their own,
which must not block: the engine's reaction to a finished call (submitting the
calls it unblocks) runs here instead, one callback at a time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any

__all__ = ["CallbackThread", "Completion"]

# A callback, and the future it is called with.
Completion = tuple[Callable[[Any], object], Any]


class CallbackThread:
    """Calls each completion put on `queue`, in order, until `stop`."""

    def __init__(self, name: str) -> None:
        # Put on directly by the cluster's threads: one call, no wrapper, per task.
        self.queue: SimpleQueue[Completion | None] = SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def stop(self, *, wait: bool = True) -> None:
        """End after the completions already queued; with `wait`, until it has (unless
        called from a callback, which would wait for itself)."""
        self.queue.put(None)
        if wait and self._thread is not threading.current_thread():
            self._thread.join()

    def _run(self) -> None:
        queue = self.queue
        while True:
            item = queue.get()
            if item is None:
                return
            fn, future = item
            try:
                fn(future)
            except Exception:  # a broken callback must not stop the others
                logging.getLogger(__name__).exception("a done callback of %s raised", future.task)
