"""What a run of a workflow learns from the history, and what it writes there.

Before the run: the expected seconds of each step and item (the estimator), which
rank the ready queue by the longest remaining path. During it: a span per step and
per item, kept in memory. After it: the job and its spans, in one transaction.
A step's key is its id, an item's its label (`deploy/eu-west-1`), so that an item
never seen before is estimated from its siblings.

A step or item retried is recorded as its attempts: its own span times the last
attempt (so the estimator learns what a success takes, not the failures and backoff
before it), and each earlier attempt is a failed `attempt` span under it.
"""

from __future__ import annotations

import socket
import time

from forkjoin.scheduler import STATE_NAMES
from forkjoin.telemetry import HistoryEstimator, HistoryStore, Recorder
from forkjoin.workflow._spec import Workflow
from forkjoin.workflow._summary import Record

__all__ = ["RunHistory"]


class RunHistory:
    """The history's side of one run: its job, its estimates, its spans."""

    def __init__(self, store: HistoryStore, workflow: Workflow, max_concurrency: int) -> None:
        self.estimator = HistoryEstimator.from_store(store)
        job = store.start_job(
            "workflow",
            workflow.path,
            {"steps": len(workflow.steps), "max_concurrency": max_concurrency},
        )
        self.recorder = Recorder(store, job)
        self.worker = socket.gethostname()
        self._attempt_started: dict[str, float] = {}  # record id -> its last attempt's start

    @property
    def job_id(self) -> str | None:
        """The job's id for its log folder (`j1125.7`), or None when nothing is recorded."""
        job = self.recorder.job
        return job.qualified_id if job.is_recorded else None

    @property
    def short_id(self) -> str | None:
        """`j7`, or None when nothing is recorded."""
        job = self.recorder.job
        return job.short_id if job.is_recorded else None

    def estimate(self, key: str) -> float:
        return self.estimator.estimate(key)

    def ranks(self, workflow: Workflow) -> dict[str, float]:
        """Each step's expected seconds from its start to the end of the run."""
        return workflow.graph().remaining_weight(self.estimator.estimate)

    def new_span_id(self) -> str:
        return self.recorder.new_span_id()

    def attempt_started(self, record: Record) -> None:
        """An attempt of a step or item starts (the first, or a retry)."""
        self._attempt_started[record.id] = time.time()

    def attempt_failed(self, record: Record) -> None:
        """An attempt failed and will be retried: a failed `attempt` span, under the
        span the step or item will have."""
        assert record.node is not None
        end = time.time()
        start = self._attempt_started.pop(record.id, end)
        if record.span_id is None:  # an item's span id is given out here
            record.span_id = self.recorder.new_span_id()
        attributes: dict[str, object] = {"attempt": record.node.attempts}
        if record.exit_code is not None:
            attributes["exit_code"] = record.exit_code
        self.recorder.record(
            record.label,
            kind="attempt",
            status="failed",
            start=start,
            end=end,
            worker=self.worker,
            attributes=attributes,
            parent=record.span_id,
        )

    def record(self, record: Record, parent: Record | None) -> None:
        """A span for a step or item that has ended, under its step for an item.

        It starts when its last attempt started: earlier ones are `attempt` spans.
        """
        assert record.node is not None and record.finished_at is not None
        start = self._attempt_started.pop(record.id, None)
        if start is None:
            start = record.started_at if record.started_at is not None else record.finished_at
        attributes: dict[str, object] = {"attempts": record.node.attempts}
        if record.exit_code is not None:
            attributes["exit_code"] = record.exit_code
        self.recorder.record(
            record.label,
            kind="step" if parent is None else "item",
            status=STATE_NAMES[record.node.state],
            start=start,
            end=record.finished_at,
            worker=self.worker,
            attributes=attributes,
            parent=None if parent is None else parent.span_id,
            span_id=record.span_id,
        )

    def finish(self, outcome: str, finished_at: float) -> None:
        """Write the job's end and every span; the history's trouble is only a warning."""
        self.recorder.finish(outcome, finished_at)
