"""Time for the scheduler: `now()` for observers, `call_later()` for timeouts and backoff.

Injected, so the scheduler's tests run timeouts and retries on a fake clock with no
threads and no sleeping.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from typing import Protocol

__all__ = ["Clock", "MonotonicClock", "TimerHandle"]


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    """Where the scheduler reads the time and sets alarms.

    `call_later(delay, fn)` calls `fn()` once, `delay` seconds from now, from any
    thread, unless the returned handle is cancelled first. The engine cancels
    handles while holding its lock: `cancel()` must not block or call back.
    """

    def now(self) -> float: ...

    def call_later(self, delay: float, fn: Callable[[], object]) -> TimerHandle: ...


class _Timer:
    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[], object]) -> None:
        self.fn: Callable[[], object] | None = fn

    def cancel(self) -> None:
        # Drop the callable at once: it holds a node and its value, and an alarm an
        # hour away must not keep a finished task's result alive that long.
        self.fn = None


class MonotonicClock:
    """The real clock: `time.monotonic`, and one timer thread started on first use.

    One thread serves every alarm of every engine that shares the clock, so a
    thousand tasks with timeouts cost one thread, not a thousand.
    """

    def __init__(self) -> None:
        self._due: list[tuple[float, int, _Timer]] = []
        self._order = itertools.count()
        self._changed = threading.Condition(threading.Lock())
        self._thread: threading.Thread | None = None

    def now(self) -> float:
        return time.monotonic()

    def call_later(self, delay: float, fn: Callable[[], object]) -> _Timer:
        timer = _Timer(fn)
        # An int too large for a float would raise here; TIMEOUT_MAX is centuries away.
        due = time.monotonic() + min(delay, threading.TIMEOUT_MAX)
        with self._changed:
            heapq.heappush(self._due, (due, next(self._order), timer))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._fire_when_due, name="forkjoin-timer", daemon=True
                )
                self._thread.start()
            self._changed.notify()
        return timer

    def _fire_when_due(self) -> None:
        while True:
            with self._changed:
                while True:
                    if not self._due:
                        self._changed.wait()
                        continue
                    when, _, timer = self._due[0]
                    delay = when - time.monotonic()
                    if delay <= 0:
                        heapq.heappop(self._due)
                        break
                    # A wait beyond TIMEOUT_MAX raises OverflowError, which would end
                    # this thread and with it every alarm of every engine on the clock.
                    self._changed.wait(min(delay, threading.TIMEOUT_MAX))
            fn = timer.fn
            if fn is not None:
                # An alarm that raises must not stop the alarms after it.
                try:
                    fn()
                except Exception:  # pragma: no cover - callbacks are the engine's own
                    import logging

                    logging.getLogger("forkjoin").exception("a timer callback failed")


SHARED_CLOCK = MonotonicClock()
