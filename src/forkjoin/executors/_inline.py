"""The inline executor: runs each call in the caller, at once. For debugging and tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from forkjoin.errors import Cancelled

__all__ = ["DoneFuture", "InlineExecutor"]


class DoneFuture:
    """A future that is born finished: the call already ran."""

    __slots__ = ("_error", "_value")

    def __init__(self, value: Any = None, error: BaseException | None = None) -> None:
        self._value = value
        self._error = error

    def add_done_callback(self, fn: Callable[[Any], object], /) -> None:
        fn(self)

    def result(self, timeout: float | None = None) -> Any:
        if self._error is not None:
            raise self._error
        return self._value

    def exception(self, timeout: float | None = None) -> BaseException | None:
        return self._error

    def cancel(self) -> bool:
        return False

    def done(self) -> bool:
        return True

    def cancelled(self) -> bool:
        return isinstance(self._error, Cancelled)


class InlineExecutor:
    """Runs every call synchronously inside `submit`, on the caller's thread.

    With it a session is one thread and fully deterministic: tracebacks point at
    your code, breakpoints work, and the order is the scheduler's order.
    """

    workers = 1
    in_process = True
    # The engine pulls work onto the caller's thread instead of pushing it here.
    runs_in_caller = True

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> DoneFuture:
        try:
            return DoneFuture(fn(*args, **kwargs))
        except Exception as error:
            return DoneFuture(error=error)

    def shutdown(self, *, wait: bool = True, cancel_pending: bool = False) -> None:
        pass
