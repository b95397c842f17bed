"""Fixtures wider than a test: their setup and teardown timed apart, and who shares them.

pytest-split folds a module-scoped fixture's setup into whichever test happens to
come first, so its data depend on the order the tests ran in. Here a fixture of
class, module, package or session scope is timed on its own: `FixtureTimer` hangs
the timings on the report of the phase they happened in (`forkjoin_fixtures`, a
list of `[key, part, start, end, failed]`), which travels from a worker like any
report attribute, and the recorder makes them spans of their own and leaves them
out of the test's span. `shared_fixtures` tells, from the collection alone, which
of those fixtures a test would set up, for the split to keep their users together.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Generator
from typing import Any

import pytest

__all__ = ["REPORT_ATTRIBUTE", "FixtureTimer", "fixture_key", "shared_fixtures", "teardown_key"]

REPORT_ATTRIBUTE = "forkjoin_fixtures"
_WIDE_SCOPES = frozenset({"class", "module", "package", "session"})
# What a fixture's span key starts with: never a test's node id, so fixtures form
# families of their own in the estimator and never pass for tests.
_PREFIX = "fixture:"
_TEARDOWN_PREFIX = "fixture teardown:"

Timing = list[object]  # [key, "setup" | "teardown", start, end, failed]


def fixture_key(scope_node_id: str, name: str) -> str:
    """`fixture:tests/test_db.py::database`: the history key of one fixture instance."""
    return f"{_PREFIX}{scope_node_id}::{name}" if scope_node_id else f"{_PREFIX}{name}"


def teardown_key(key: str) -> str:
    """The key of the teardown of the fixture whose setup is keyed `key`."""
    return _TEARDOWN_PREFIX + key.removeprefix(_PREFIX)


class FixtureTimer:
    """Times each wide fixture's setup and teardown, and hangs them on the phase's report."""

    def __init__(self) -> None:
        self._timings: list[Timing] = []
        self._teardowns: dict[str, float] = {}

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(
        self, fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
    ) -> Generator[None, object, object]:
        if fixturedef.scope not in _WIDE_SCOPES:
            return (yield)
        key = fixture_key(request.node.nodeid, fixturedef.argname)
        start = time.time()
        failed = True
        try:
            result = yield
            failed = False
            return result
        finally:
            self._timings.append([key, "setup", start, time.time(), failed])
            # Finalizers run last-added first: this one marks the start of the
            # fixture's own teardown, which pytest_fixture_post_finalizer ends.
            fixturedef.addfinalizer(functools.partial(self._teardown_starts, key))

    def _teardown_starts(self, key: str) -> None:
        self._teardowns[key] = time.time()

    def pytest_fixture_post_finalizer(
        self, fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
    ) -> None:
        if fixturedef.scope not in _WIDE_SCOPES:
            return
        key = fixture_key(request.node.nodeid, fixturedef.argname)
        start = self._teardowns.pop(key, None)
        if start is not None:
            self._timings.append([key, "teardown", start, time.time(), False])

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item) -> Generator[None, Any, Any]:
        report = yield
        if self._timings:
            setattr(report, REPORT_ATTRIBUTE, self._timings)
            self._timings = []
        return report


def shared_fixtures(item: pytest.Item) -> list[tuple[str, str]]:
    """The class- and module-scoped fixtures `item` uses, as (scope node id, key) pairs.

    Read from the collection (pytest's private `_fixtureinfo`, absent on items that
    are not functions: those share nothing here). Package and session scopes are
    left out: every group of a split would set them up anyway.
    """
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return []
    shared = []
    for name, definitions in info.name2fixturedefs.items():
        if not definitions:
            continue
        scope = definitions[-1].scope
        node: pytest.Collector | None
        if scope == "module":
            node = item.getparent(pytest.Module)
        elif scope == "class":
            node = item.getparent(pytest.Class)
        else:
            continue
        if node is not None:
            shared.append((node.nodeid, fixture_key(node.nodeid, name)))
    return shared
