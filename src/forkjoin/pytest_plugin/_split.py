"""`--fj-splits N --fj-group I`: keep this CI node's share of the collected tests.

Every node collects the whole suite, computes the same partition from the same
durations (the history, or `--fj-durations FILE`), and deselects all but its group,
after `-k` and `-m` have deselected theirs: the groups never overlap and together
are the whole selected suite.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from forkjoin.pytest_plugin._clusters import SplitPlan, plan_split
from forkjoin.pytest_plugin._fixtures import shared_fixtures, teardown_key
from forkjoin.pytest_plugin._history import HistoryHandle, read_knowledge

__all__ = ["SplitSelection"]


class SplitSelection:
    """The plugin that deselects the other groups' tests."""

    def __init__(
        self,
        splits: int,
        group: int,
        *,
        durations: Mapping[str, float] | None,
        history: HistoryHandle,
    ) -> None:
        """Balance by `durations` when given (a file's), else by what `history` knows."""
        self._splits = splits
        self._group = group
        self._durations = durations
        self._history = history
        self._summary: str | None = None

    @pytest.hookimpl(trylast=True)  # after -k, -m and --lf have chosen
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        plan = self.plan(items)
        mine = set(plan.groups[self._group - 1])
        selected = [item for item in items if item.nodeid in mine]
        deselected = [item for item in items if item.nodeid not in mine]
        total = len(items)
        items[:] = selected
        if deselected:
            config.hook.pytest_deselected(items=deselected)
        seconds = plan.expected_seconds[self._group - 1]
        source = "--fj-durations" if self._durations is not None else "history"
        self._summary = (
            f"forkjoin: group {self._group} of {self._splits}: {len(selected)} of {total}"
            f" tests, expected {seconds:.1f} s (by {source})"
        )

    def plan(self, items: list[pytest.Item]) -> SplitPlan:
        ids = [item.nodeid for item in items]
        if self._durations is not None:
            return plan_split(ids, self._splits, durations=self._durations)
        shared = {item.nodeid: fixtures for item in items if (fixtures := shared_fixtures(item))}
        fixture_keys = {key for fixtures in shared.values() for _, key in fixtures}
        wanted = [*ids, *fixture_keys, *map(teardown_key, fixture_keys)]
        knowledge = read_knowledge(self._history.store, wanted)
        fixture_seconds = {
            key: knowledge.seconds[key] + knowledge.seconds.get(teardown_key(key), 0.0)
            for key in fixture_keys
            if key in knowledge.seconds
        }
        return plan_split(
            ids,
            self._splits,
            durations=knowledge.seconds,
            shared=shared,
            fixture_seconds=fixture_seconds,
        )

    def pytest_report_collectionfinish(self) -> str | None:
        return self._summary
