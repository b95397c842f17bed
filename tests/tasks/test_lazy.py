"""delayed / compute: graphs built lazily, run once, on the current session."""

from __future__ import annotations

import threading

import pytest

import forkjoin as fj


def inc(x: int) -> int:
    return x + 1


def add(a: int, b: int) -> int:
    return a + b


@pytest.fixture(params=["threads", "inline"])
def session(request: pytest.FixtureRequest) -> fj.Session:
    with fj.Session(request.param) as session:
        yield session


def test_a_diamond_runs_its_shared_node_once(session: fj.Session) -> None:
    """a -> b, a -> c, (b, c) -> d"""
    calls: list[int] = []

    def counted(x: int) -> int:
        calls.append(x)
        return x

    a = fj.delayed(counted)(1)
    b = fj.delayed(inc)(a)
    c = fj.delayed(inc)(a)
    d = fj.delayed(add)(b, c)
    assert d.compute() == 4
    assert calls == [1]


def test_compute_returns_a_tuple_and_keeps_shapes(session: fj.Session) -> None:
    one = fj.delayed(inc)(0)
    assert fj.compute(one, [one, {"k": one}], "plain") == (1, [1, {"k": 1}], "plain")


def test_nothing_runs_before_compute() -> None:
    ran = threading.Event()
    lazy = fj.delayed(ran.set)()
    assert not ran.is_set()
    with fj.Session("inline"):
        lazy.compute()
    assert ran.is_set()


def test_a_long_chain_does_not_recurse(session: fj.Session) -> None:
    """x0 -> x1 -> ... -> x20000"""
    node = fj.delayed(inc)(0)
    for _ in range(20_000):
        node = fj.delayed(inc)(node)
    assert node.compute() == 20_001


def test_a_failure_raises_the_roots_error(session: fj.Session) -> None:
    def broken(x: int) -> int:
        raise ArithmeticError(f"cannot {x}")

    total = fj.delayed(add)(fj.delayed(broken)(1), fj.delayed(inc)(1))
    with pytest.raises(ArithmeticError, match="cannot 1") as caught:
        total.compute()
    assert any("broken#" in note for note in caught.value.__notes__)


def test_the_longest_chain_starts_first() -> None:
    """short ; long0 -> long1 -> long2    (expect long0 before short, on one worker)"""
    order: list[str] = []

    def step(name: str, _previous: object = None) -> str:
        order.append(name)
        return name

    short = fj.delayed(step)("short")
    long_chain = fj.delayed(step)("long0")
    for i in (1, 2):
        long_chain = fj.delayed(step)(f"long{i}", long_chain)
    with fj.Session("inline"):
        fj.compute(short, long_chain)
    assert order.index("long0") < order.index("short")
