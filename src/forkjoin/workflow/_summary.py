"""The JSON summary of a run, and the record of each node it is made from."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from forkjoin.errors import Cancelled, TaskTimeout
from forkjoin.scheduler import CANCELLED, FAILED, SKIPPED, STATE_NAMES, SUCCEEDED, Node
from forkjoin.workflow._spec import Item, Step

__all__ = ["Record", "error_text", "skipped_because", "status_of", "summarise"]


@dataclass(slots=True, eq=False)
class Record:
    """What a run learns of one node, a step or an item, for the summary."""

    id: str
    step: Step
    label: str  # the prefix of its lines: `deploy`, `deploy/eu-west-1`
    log_file: Path
    index: int | None = None
    item: Item | dict[str, Item] | None = None
    node: Node | None = None
    exit_code: int | None = None
    started_at: float | None = None
    finished_at: float | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    items: list[Record] | None = None
    # An item of `on_failure: continue` fails without telling the engine, so that a
    # fail_fast run still runs its other items: its failure is kept here.
    failure: str | None = None
    # A step whose items a fail_fast stop left unstarted, none of them failed: it did
    # not fail, it was stopped, and says so.
    stopped: bool = False
    # The failed step a skipped one waited on (`skipped_because`), set as it ends.
    skipped_because: str | None = None
    span_id: str | None = None  # its span in the history, when the run records one


def summarise(
    job: str,
    status: str,
    started_at: float | None,
    finished_at: float | None,
    records: list[Record],
) -> dict[str, Any]:
    """The summary `--summary-json` writes: the job, its status and times, each node."""
    return {
        "job": job,
        "status": status,
        "started_at": _iso(started_at),
        "finished_at": _iso(finished_at),
        "duration_ms": _milliseconds(started_at, finished_at),
        "nodes": [_node_summary(record) for record in records],
    }


def _node_summary(record: Record) -> dict[str, Any]:
    node = record.node
    assert node is not None
    summary: dict[str, Any] = {
        "id": record.id,
        "status": status_of(record),
        "exit_code": record.exit_code,
        "started_at": _iso(record.started_at),
        "finished_at": _iso(record.finished_at if record.started_at else None),
        "duration_ms": _milliseconds(record.started_at, record.finished_at),
        "attempts": node.attempts,
        "log_file": _log_file(record),
        "error": error_text(record),
        "skipped_because": record.skipped_because,
        "outputs": dict(record.outputs),
    }
    if record.step.for_each is not None or record.step.matrix is not None:
        summary["items"] = [
            {
                "index": child.index,
                "item": child.item,
                "status": status_of(child),
                "exit_code": child.exit_code,
                "outputs": dict(child.outputs),
                "error": error_text(child),
                "log_file": _log_file(child),
            }
            for child in record.items or ()
        ]
    return summary


def skipped_because(
    record: Record, by_node: dict[Node, Record], first_failure: Node | None
) -> str | None:
    """The id of the failed node a skipped (or stopped) node is skipped for, else None."""
    node = record.node
    assert node is not None
    if record.stopped:
        cause = first_failure
    elif node.state != SKIPPED:
        return None
    else:
        cause = node.cause
    while cause is not None and cause.state == SKIPPED and cause.cause is not None:
        cause = cause.cause
    if cause is None or cause.state == SKIPPED:
        cause = first_failure  # skipped by a fail_fast stop
    failed = None if cause is None else by_node.get(cause)
    return None if failed is None else failed.id


def status_of(record: Record) -> str:
    """What became of a step or item: `succeeded`, `failed`, `skipped` or `cancelled`."""
    assert record.node is not None
    if record.node.state == SUCCEEDED and record.failure is not None:
        return "failed"  # an item of `on_failure: continue`
    if record.stopped:
        return "skipped"
    return STATE_NAMES[record.node.state]


def error_text(record: Record) -> str | None:
    node = record.node
    assert node is not None
    if record.failure is not None and node.state == SUCCEEDED:
        return record.failure
    if record.stopped:
        return None
    if node.state == CANCELLED:
        return "cancelled"
    if node.state != FAILED or node.error is None:
        return None
    if isinstance(node.error, Cancelled):
        return "cancelled"
    if isinstance(node.error, TaskTimeout):  # its text names the engine's node
        return f"`{record.id}` timed out after {node.error.seconds:g} s"
    return str(node.error) or type(node.error).__name__


def _log_file(record: Record) -> str | None:
    return str(record.log_file) if record.log_file.exists() else None


def _iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")


def _milliseconds(started: float | None, finished: float | None) -> int | None:
    if started is None or finished is None:
        return None
    return round((finished - started) * 1000)
