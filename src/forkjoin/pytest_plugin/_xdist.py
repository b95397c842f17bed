"""Where fork is missing: `--fj-workers N` runs on pytest-xdist, in forkjoin's order.

pytest-xdist starts N workers that each collect the suite; its `load` scheduling
hands out tests in collection order. Through its `pytest_xdist_make_scheduler` hook
this module gives it the same scheduling with the pending tests in the order the
forked runner uses (failed last time, then the unknown and unsteady, then longest
first). Recording still happens here, in the controller, from the reports xdist
re-emits; the split, if any, runs in each xdist worker on the same history.
"""

from __future__ import annotations

from typing import Any

import pytest

from forkjoin.pytest_plugin._history import HistoryHandle, cached_last_failed, read_knowledge
from forkjoin.pytest_plugin._order import dispatch_order

__all__ = ["use_xdist"]


def use_xdist(config: pytest.Config, workers: int, history: HistoryHandle) -> None:
    """Turn this run into an xdist run on `workers` workers, scheduled by forkjoin.

    Raises pytest.UsageError when pytest-xdist is not installed, or -n is given too.
    """
    if not config.pluginmanager.hasplugin("xdist"):
        raise pytest.UsageError(
            "--fj-workers needs fork, which this platform lacks, or pytest-xdist:"
            " pip install pytest-xdist"
        )
    if config.getoption("numprocesses", None):
        raise pytest.UsageError(
            "--fj-workers and pytest-xdist's -n both run tests in parallel: give one of them"
        )
    # xdist read its own options before this hook: set what it would have set for -n N.
    config.option.numprocesses = workers
    config.option.dist = "load"
    config.option.tx = ["popen"] * workers
    config.pluginmanager.register(_XdistScheduling(config, history), "forkjoin-xdist")


class _XdistScheduling:
    """The plugin that gives xdist forkjoin's scheduler."""

    def __init__(self, config: pytest.Config, history: HistoryHandle) -> None:
        self._config = config
        self._history = history

    @pytest.hookimpl(tryfirst=True)  # before xdist's own, which would answer first
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> Any:
        from xdist.scheduler import (  # type: ignore[import-untyped, import-not-found, unused-ignore]
            LoadScheduling,
        )

        history = self._history

        class HistoryOrderedScheduling(LoadScheduling):  # type: ignore[misc]
            """xdist's `load` scheduling, the pending tests in forkjoin's order."""

            collection: Any
            maxschedchunk: Any

            def schedule(self) -> None:
                if self.collection is None and self._check_nodes_have_same_collection():
                    collection = next(iter(self.node2collection.values()))
                    knowledge = read_knowledge(
                        history.store,
                        collection,
                        failures=True,
                        last_failed=cached_last_failed(config),
                    )
                    self.collection = collection
                    self.pending[:] = dispatch_order(collection, knowledge).indices
                    if collection:
                        self.maxschedchunk = self.maxschedchunk or len(collection)
                        self._distribute()
                    return
                super().schedule()

            def _distribute(self) -> None:
                # As LoadScheduling.schedule does after building `pending`.
                if len(self.pending) < 2 * len(self.nodes):
                    for position in range(len(self.pending)):
                        self._send_tests(self.nodes[position % len(self.nodes)], 1)
                else:
                    per_node = len(self.collection) // len(self.node2pending)
                    chunk = max(min(per_node // 4, self.maxschedchunk), 2)
                    for node in self.nodes:
                        self._send_tests(node, chunk)
                if not self.pending:
                    for node in self.nodes:
                        node.shutdown()

        return HistoryOrderedScheduling(config, log)
