"""The scheduling engine: a ready queue with priorities, bounds and a failure policy.

It knows nodes, an executor's `submit`, an estimator and an observer, and nothing of
shells, pytest, SQLite or any executor module (DESIGN.md, "Layers").
"""

from forkjoin.scheduler._clock import SHARED_CLOCK, Clock, MonotonicClock, TimerHandle
from forkjoin.scheduler._context import current_node
from forkjoin.scheduler._engine import Engine, FailureMode
from forkjoin.scheduler._node import (
    CANCELLED,
    DEFAULT_OPTIONS,
    FAILED,
    PENDING,
    READY,
    RUNNING,
    SKIPPED,
    STATE_NAMES,
    SUCCEEDED,
    Node,
    Options,
)
from forkjoin.scheduler._observe import Estimator, Observer, call_reporting, report_unraisable
from forkjoin.scheduler._plan import Plan, Pool
from forkjoin.scheduler._resolve import find_nodes, nodes_in_call, resolve, resolve_call
from forkjoin.scheduler._simulate import Scheduled, simulate
from forkjoin.scheduler._stop import CancelAfterFailure

__all__ = [
    "CancelAfterFailure",
    "CANCELLED",
    "DEFAULT_OPTIONS",
    "FAILED",
    "PENDING",
    "READY",
    "RUNNING",
    "SHARED_CLOCK",
    "SKIPPED",
    "STATE_NAMES",
    "SUCCEEDED",
    "Scheduled",
    "Clock",
    "Engine",
    "Estimator",
    "FailureMode",
    "MonotonicClock",
    "Node",
    "Observer",
    "Options",
    "Plan",
    "Pool",
    "TimerHandle",
    "call_reporting",
    "current_node",
    "find_nodes",
    "nodes_in_call",
    "report_unraisable",
    "resolve",
    "resolve_call",
    "simulate",
]
