"""Any object with the executor protocol runs a session: here, concurrent.futures itself."""

from __future__ import annotations

import concurrent.futures
from typing import Any

import pytest

import forkjoin as fj


class FuturesExecutor:
    """concurrent.futures' pool, declared remote: the engine sees only its futures."""

    in_process = False

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.pool = concurrent.futures.ThreadPoolExecutor(workers)

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        return self.pool.submit(fn, *args, **kwargs)

    def shutdown(self, *, wait: bool = True, cancel_pending: bool = False) -> None:
        self.pool.shutdown(wait=wait, cancel_futures=cancel_pending)


def add1(x: int) -> int:
    return x + 1


def test_a_concurrent_futures_pool_runs_the_readme_example() -> None:
    with fj.Session(FuturesExecutor(2)):
        p = fj.spawn(add1, 4)
        q = fj.spawn(add1, p)
        assert fj.fetch([p, q]) == [5, 6]
        assert fj.map(add1, range(5), parallelism=2) == [1, 2, 3, 4, 5]


def test_errors_and_retries_go_through_foreign_futures() -> None:
    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 2:
            raise ConnectionError("once")
        return "ok"

    with fj.Session(FuturesExecutor(2)):
        with fj.options(retries=1):
            assert fj.fetch(fj.spawn(flaky)) == "ok"
        with pytest.raises(ZeroDivisionError):
            fj.fetch(fj.spawn(add1, fj.spawn(lambda: 1 / 0)))


def test_an_object_without_the_protocol_is_refused_clearly() -> None:
    with pytest.raises(TypeError, match="an executor needs submit, workers, in_process"):
        fj.Session(object())


class FinishedFutures:
    """Hands back futures that are done already, as a cluster's can be for cached work."""

    in_process = False
    workers = 1

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as error:
            future.set_exception(error)
        return future

    def shutdown(self, *, wait: bool = True, cancel_pending: bool = False) -> None:
        pass


def test_a_long_chain_on_finished_futures_does_not_recurse() -> None:
    """x0 -> x1 -> ... -> x3000, each future done before its callback is attached"""
    import traceback

    depths: list[int] = []

    def inc(x: int) -> int:
        depths.append(len(traceback.extract_stack()))
        return x + 1

    with fj.Session(FinishedFutures()):
        task = fj.spawn(inc, 0)
        for _ in range(3000):
            task = fj.spawn(inc, task)
        assert task.result(timeout=30) == 3001
    assert max(depths) < 100
