"""Lists cut by history: `split`; `@parallel`, a function whose list argument may be
cut into buckets, as Dagger's `+parallel`; and `item_span`, which times one item.

    @fj.parallel(over="files")
    def lint(files: list[str]) -> list[int]:
        results = []
        for file in files:
            with fj.item_span(file):
                results.append(check(file))
        return results

    lint(files=all_files)      # buckets balanced by history, run on the session

A call cuts the `over` list into as many buckets as the session runs tasks at once,
balanced by each item's recorded time (`forkjoin.partition`), runs one task per bucket,
and merges: the buckets' lists put back in item order, or `merge(results)`. Failures
are raised together, as an ExceptionGroup. Each `item_span` becomes a span in the
session's history, keyed `function[item]` under its bucket's task span, so the next
split knows every item's time however the items were batched; a failed bucket keeps
the items it timed, the failing one `failed`.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from itertools import product
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from forkjoin.tasks._api import wait
from forkjoin.tasks._session import current_session
from forkjoin.tasks._task import Task

__all__ = ["item_span", "parallel", "split"]

if TYPE_CHECKING:
    from forkjoin.telemetry import HistoryStore

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

# The item timings of the bucket running on this thread: (item, start, end, status).
_timings: ContextVar[list[tuple[str, float, float, str]] | None] = ContextVar(
    "forkjoin_item_timings", default=None
)
# Where a failed bucket's error carries the items it timed back to the caller.
_TIMINGS_OF_ERROR = "_forkjoin_item_timings"


@contextmanager
def item_span(item: object) -> Iterator[None]:
    """Time one item of a `@parallel` bucket; recorded as `function[item]`.

    Outside a bucket it only runs the block. An exception ends the span `failed` and
    goes on up.
    """
    timings = _timings.get()
    start = time.time()
    status = "failed"
    try:
        yield
        status = "succeeded"
    finally:
        if timings is not None:
            timings.append((str(item), start, time.time(), status))


def split(
    items: Iterable[T],
    k: int,
    *,
    key: Callable[[T], str] | None = None,
    durations: Mapping[str, float] | None = None,
    history: bool | str | Path | HistoryStore | None = None,
) -> list[list[T]]:
    """Cut `items` into `k` lists of even expected time, the same on every machine.

    `forkjoin.partition.split` (see there), with the durations recorded in `history`
    (True for the default history, a path, or an open store) under any `durations`
    given. Reading the history never creates one.
    """
    from forkjoin.partition import split as partition

    if history is not None and history is not False:
        recorded = _recorded_durations(history)
        durations = {**recorded, **(durations or {})}
    return partition(items, k, key=key, durations=durations)


def _recorded_durations(history: bool | str | Path | HistoryStore) -> dict[str, float]:
    from forkjoin.telemetry import HistoryEstimator, history_path, read_history

    if not isinstance(history, bool | str | Path):
        return HistoryEstimator.from_store(history).known()
    explicit = None if isinstance(history, bool) else Path(history)
    with read_history(history_path(explicit, Path.cwd())) as store:
        return HistoryEstimator.from_store(store).known()


def parallel(
    *,
    over: str | Sequence[str],
    buckets: int | None = None,
    merge: Callable[[list[Any]], Any] | None = None,
) -> Callable[[F], F]:
    """Mark `over` (an argument name, or several) as a list a call may cut into buckets.

    With several names the items are their Cartesian product, and each bucket's call
    gets aligned lists: the i-th entries of each list make one combination. `buckets`
    defaults to the session's `max_concurrency`. Without `merge`, each bucket must
    return one result per item, as a list, and the call returns them in item order.
    """
    names = (over,) if isinstance(over, str) else tuple(over)
    if not names:
        raise ValueError("parallel needs at least one `over` argument")

    def decorate(fn: F) -> F:
        signature = inspect.signature(fn)
        missing = [name for name in names if name not in signature.parameters]
        if missing:
            raise TypeError(f"{fn.__qualname__} has no argument {', '.join(missing)}")

        @functools.wraps(fn)
        def call(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs)
            lists = [list(bound.arguments.get(name, ())) for name in names]
            items = list(product(*lists)) if len(names) > 1 else lists[0]
            return _run_buckets(fn, bound, names, items, buckets, merge)

        return call  # type: ignore[return-value]

    return decorate


def _run_buckets(
    fn: Callable[..., Any],
    bound: inspect.BoundArguments,
    names: tuple[str, ...],
    items: list[Any],
    buckets: int | None,
    merge: Callable[[list[Any]], Any] | None,
) -> Any:
    from forkjoin.partition import split as partition

    session = current_session()
    prefix = fn.__qualname__
    ids = [_item_id(item) for item in items]
    estimator = session.engine.estimator
    knows = getattr(estimator, "knows", None)
    durations = {}
    if estimator is not None and knows is not None:
        keys = {i: f"{prefix}[{i}]" for i in ids}
        durations = {i: estimator.estimate(key) for i, key in keys.items() if knows(key)}
    count = buckets or session.engine.max_concurrency
    positions = partition(range(len(items)), count, key=ids.__getitem__, durations=durations)
    recording = getattr(session, "recording", None)
    if recording is not None:
        recording.keep_span_of(_bucket)  # the parent of its item spans
    tasks: list[tuple[list[int], Task]] = []
    for bucket in positions:
        if not bucket:
            continue
        arguments = dict(bound.arguments)
        chosen = [items[position] for position in bucket]
        if len(names) == 1:
            arguments[names[0]] = chosen
        else:
            for column, name in enumerate(names):
                arguments[name] = [combination[column] for combination in chosen]
        call = inspect.BoundArguments(bound.signature, arguments)
        task = session.spawn(_bucket, fn, call.args, call.kwargs)
        tasks.append((bucket, task))
    wait([task for _, task in tasks])
    _record_item_spans(session, prefix, [task for _, task in tasks])
    failures = [task.exception() for _, task in tasks if task.exception() is not None]
    if failures:
        message = f"{len(failures)} of {len(tasks)} buckets of {prefix} failed"
        raise ExceptionGroup(message, failures)  # type: ignore[type-var]
    results = [task.result()[0] for _, task in tasks]
    if merge is not None:
        return merge(results)
    merged: list[Any] = [None] * len(items)
    for (bucket, _), result in zip(tasks, results, strict=True):
        if not isinstance(result, list) or len(result) != len(bucket):
            raise TypeError(
                f"a bucket of {prefix} returned {type(result).__name__}, not a list of one "
                f"result per item ({len(bucket)}); pass merge= to combine other results"
            )
        for position, value in zip(bucket, result, strict=True):
            merged[position] = value
    return merged


def _bucket(
    fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Any, list[tuple[str, float, float, str]]]:
    """Run one bucket; its result and the item spans it timed.

    The timings travel back with the result, or on the error when the bucket fails
    (an exception's attributes are pickled with it), so they survive a process
    executor, and a failure keeps the items timed before it and the one that failed.
    """
    timings: list[tuple[str, float, float, str]] = []
    token = _timings.set(timings)
    try:
        return fn(*args, **kwargs), timings
    except BaseException as error:
        with suppress(AttributeError, TypeError):  # an error that takes no attributes
            setattr(error, _TIMINGS_OF_ERROR, timings)
        raise
    finally:
        _timings.reset(token)


def _record_item_spans(session: Any, prefix: str, tasks: list[Task]) -> None:
    recording = getattr(session, "recording", None)
    for task in tasks:
        error = task.exception()
        if error is None:
            timings = task.result()[1]
        else:
            timings = getattr(error, _TIMINGS_OF_ERROR, ())
            with suppress(AttributeError):  # the user's error, as it was raised
                delattr(error, _TIMINGS_OF_ERROR)
        if recording is None:
            continue
        parent = recording.span_of(task)
        for item, start, end, status in timings:
            recording.recorder.record(
                f"{prefix}[{item}]",
                kind="item",
                status=status,
                start=start,
                end=end,
                parent=parent,
            )


def _item_id(item: object) -> str:
    """An item's id: its text, or its parts joined by `-` for a combination."""
    if isinstance(item, tuple):
        return "-".join(str(part) for part in item)
    return str(item)
