"""`--fj-splits N --fj-group I`: keep this CI node's share of the collected tests.

Every node collects the whole suite, computes the same partition from the same
durations (the history, or `--fj-durations FILE`), and deselects all but its group,
after `-k` and `-m` have deselected theirs: the groups never overlap and together
are the whole selected suite.

The groups of one CI run form a split set, named by FORKJOIN_SPLIT_ID, else the
CI's run id (GITHUB_RUN_ID, CI_PIPELINE_ID), and each group's job records it. Every
group of a set reads the history as it was when the set's first job started, so
groups run one after another on one history, each recording into it, still cut
the same partition. A re-run of one group of a CI run keeps the run's id, and so
its share.

    history ── group 1 starts (t1), plans from spans ended by t1, runs, records
            └─ group 2 starts, plans from spans ended by t1 too: the same cut
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import pytest

from forkjoin.errors import HistoryError
from forkjoin.pytest_plugin._clusters import SplitPlan, plan_split
from forkjoin.pytest_plugin._fixtures import shared_fixtures, teardown_key
from forkjoin.pytest_plugin._history import HistoryHandle, read_knowledge
from forkjoin.telemetry import HistoryStore

__all__ = ["SPLIT_SET_ATTRIBUTE", "SPLIT_SET_VARIABLES", "SplitSelection", "split_set_id"]

# Where a split set's id comes from, the first one set winning. GITHUB_RUN_ID
# without GITHUB_RUN_ATTEMPT: a re-run group must get the share it had.
SPLIT_SET_VARIABLES = ("FORKJOIN_SPLIT_ID", "GITHUB_RUN_ID", "CI_PIPELINE_ID")
# The job attribute that holds it.
SPLIT_SET_ATTRIBUTE = "split_set"


def split_set_id(environ: Mapping[str, str] | None = None) -> str | None:
    """The id of this run's split set, from `environ` (default os.environ); None if none."""
    environ = os.environ if environ is None else environ
    for name in SPLIT_SET_VARIABLES:
        if value := environ.get(name, "").strip():
            return value
    return None


def _set_started(store: HistoryStore, split_set: str) -> float | None:
    """When the first job of `split_set` started; None if the history has none."""
    try:
        starts = [
            job.started_at
            for job in store.jobs()
            if job.kind == "tests" and job.attributes.get(SPLIT_SET_ATTRIBUTE) == split_set
        ]
    except HistoryError:  # reading is best effort: the durations will say what they can
        return None
    return min(starts, default=None)


class SplitSelection:
    """The plugin that deselects the other groups' tests."""

    def __init__(
        self,
        splits: int,
        group: int,
        *,
        durations: Mapping[str, float] | None,
        history: HistoryHandle,
        split_set: str | None = None,
    ) -> None:
        """Balance by `durations` when given (a file's), else by what `history` knows,
        as it was when the first job of `split_set` started."""
        self._splits = splits
        self._group = group
        self._durations = durations
        self._history = history
        self._split_set = split_set
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
        store = self._history.store
        before = None if self._split_set is None else _set_started(store, self._split_set)
        knowledge = read_knowledge(store, wanted, before=before)
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
