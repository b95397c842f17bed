"""`Session`: where spawned tasks run, and which session and options are current.

The current session is, in order: the session of the task running on this thread
(so nested spawns stay in their parent's session), the innermost `with Session()`,
or a default threads session started on first use.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from types import TracebackType
from typing import Any

from forkjoin.executors import make_executor
from forkjoin.scheduler import (
    DEFAULT_OPTIONS,
    Engine,
    Estimator,
    FailureMode,
    Node,
    Observer,
    Options,
    Pool,
    current_node,
    nodes_in_call,
    report_unraisable,
)
from forkjoin.tasks._task import Task

__all__ = ["Session", "ambient_options", "current_session", "options"]

_session_var: ContextVar[Session | None] = ContextVar("forkjoin_session", default=None)
# The options of the innermost `options()` block, with the task that was running
# on this thread when it was entered (None outside tasks).
_options_var: ContextVar[tuple[Options, Node | None] | None] = ContextVar(
    "forkjoin_options", default=None
)
_default_session: Session | None = None
_default_lock = threading.Lock()


class Session:
    """Runs spawned tasks on one executor, like a trio nursery or Dagger.jl's `@sync`.

    `with Session(...)` makes it current: every spawn inside, also from nested
    tasks, goes to it. On exit it waits for every task spawned in it and raises an
    `ExceptionGroup` of the root failures that no `fetch`, `result` or `exception`
    has reported yet, if any; if the block itself raised, the tasks still pending
    are cancelled first.

    `executor` is "threads", "processes", "inline", "dask", "ray" or an executor
    object; `workers` sizes it (default: the CPU count). `address` connects "dask"
    or "ray" to a running cluster; without it they start a local one, closed with
    the session. `max_concurrency` bounds how many
    tasks run at once (default: `workers`). With `failure_mode="keep_going"` (the
    default) a failure touches only what depends on it; "fail_fast" stops starting
    tasks after the first failure. `history=True` (or a path) records the session as a
    job in the history, a span per task attempt, and ranks tasks by the durations
    their names took before, so the longest chains start first.
    """

    def __init__(
        self,
        executor: str | Any = "threads",
        workers: int | None = None,
        *,
        max_concurrency: int | None = None,
        failure_mode: FailureMode = "keep_going",
        estimator: Estimator | None = None,
        observer: Observer | None = None,
        history: bool | str | Path = False,
        address: str | None = None,
    ) -> None:
        # What the session records in the history, if asked to (see tasks/_history).
        self.recording = None
        if history is not False:
            from forkjoin.tasks._history import Observers, SessionHistory

            self.recording = recording = SessionHistory(history)
            estimator = estimator or recording.estimator
            observer = recording if observer is None else Observers([observer, recording])
        self.executor = make_executor(executor, workers, address)
        self.engine = Engine(
            self.executor,
            max_concurrency=max_concurrency,
            failure_mode=failure_mode,
            estimator=estimator,
            observer=observer,
            owner=self,
        )
        self._tokens: list[Any] = []
        self._closed = False

    def __repr__(self) -> str:
        kind = type(self.executor).__name__
        return f"<Session {kind} max_concurrency={self.engine.max_concurrency}>"

    def spawn(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Task:
        """Start `fn(*args, **kwargs)` on this session; see `forkjoin.spawn`."""
        return self._submit(fn, args, kwargs, ambient_options())

    def _submit(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        options: Options,
        pool: Pool | None = None,
    ) -> Task:
        """Start one call with explicit options: the form every front end uses."""
        if self._closed:
            raise RuntimeError("this session is closed: spawn inside its `with` block")
        needs = nodes_in_call(args, kwargs)
        task = Task(fn, args, kwargs or None, options, needs_resolving=bool(needs), pool=pool)
        if self.engine.estimator is not None:
            task.rank = self.engine.estimate(task.name)
        if self.recording is not None:
            self.recording.spawned((task,))
        self.engine.add(task, needs)
        return task

    def _submit_all(self, tasks: Sequence[tuple[Task, Sequence[Node]]]) -> None:
        """Add prepared tasks under one lock hold, each after the nodes it needs."""
        if self._closed:
            raise RuntimeError("this session is closed: spawn inside its `with` block")
        if self.recording is not None:
            self.recording.spawned([task for task, _ in tasks])
        self.engine.add_all(tasks)

    def __enter__(self) -> Session:
        if self._tokens:
            raise RuntimeError(
                "this session is entered already: a Session is one `with` block "
                "(other threads may still spawn into it with session.spawn)"
            )
        self._tokens.append(_session_var.set(self))
        return self

    def __exit__(
        self,
        error_type: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        _session_var.reset(self._tokens.pop())
        if error is not None:
            self.close(cancel=True)
            return
        try:
            self.engine.wait_all()
        except BaseException:
            self.close(cancel=True)  # Ctrl-C while waiting: leave nothing running
            raise
        self.close()
        failures = [
            node.error
            for node in self.engine.failures
            if node.error is not None and not node.reported
        ]
        if failures:
            count = f"{len(failures)} task{'s' if len(failures) != 1 else ''}"
            # BaseExceptionGroup becomes an ExceptionGroup by itself when every error
            # is an Exception; a task's SystemExit must not turn into a TypeError.
            raise BaseExceptionGroup(f"{count} failed in the session", failures)

    def close(self, *, cancel: bool = False) -> None:
        """Stop accepting tasks, optionally cancel what is pending, release the executor."""
        if self._closed:
            return
        self._closed = True
        if cancel:
            self.engine.cancel_all()
        self.engine.close()
        self.executor.shutdown(wait=not cancel, cancel_pending=cancel)


def current_session() -> Session:
    """The session a spawn here goes to (see the module docstring)."""
    node = current_node()
    if node is not None and node.engine is not None and isinstance(node.engine.owner, Session):
        return node.engine.owner
    session = _session_var.get()
    if session is not None:
        return session
    return _default()


def _default() -> Session:
    global _default_session
    with _default_lock:
        if _default_session is None:
            _default_session = Session("threads")
            atexit.register(_finish_at_exit, _default_session)
        return _default_session


def _finish_at_exit(session: Session) -> None:
    """Let the default session's tasks finish, as concurrent.futures does at exit,
    and report the failures nobody fetched, as asyncio reports an exception that
    was never retrieved."""
    try:
        session.engine.wait_all()
    except KeyboardInterrupt:
        session.close(cancel=True)
        return
    session.close()
    for node in session.engine.failures:
        if node.error is not None and not node.reported:
            report_unraisable(node.error, node, f"forkjoin: task {node.label} failed, unfetched")


def ambient_options() -> Options:
    """The options a spawn here gets: the innermost `options()` block, else what the
    running task passes on, else the defaults."""
    block = _options_var.get()
    node = current_node()
    # A block entered outside the running task (an inline task runs inside its
    # spawner's block) is the spawner's business, not this task's.
    if block is not None and block[1] is node:
        return block[0]
    if node is not None:
        return node.options.inherited()
    return DEFAULT_OPTIONS


@contextmanager
def options(
    *,
    name: str | None = None,
    retries: int | None = None,
    timeout: float | None = None,
    priority: int | None = None,
    backoff: float | None = None,
) -> Iterator[Options]:
    """Options for every task spawned inside the block, also by nested blocks and tasks.

    `retries` tries a failed task again that many times, waiting `backoff` seconds
    before the first retry and twice as long before each next one; `timeout`
    bounds each attempt in seconds (then `TaskTimeout`); a higher `priority` starts
    first. A nested block overrides only what it names. Tasks spawned by a task
    inherit its options, all but `name`.
    """
    chosen = ambient_options().merged(
        name=name, retries=retries, timeout=timeout, priority=priority, backoff=backoff
    )
    token = _options_var.set((chosen, current_node()))
    try:
        yield chosen
    finally:
        _options_var.reset(token)
