"""Workflows: a forkjoin.yaml of steps, loaded, checked and described; run on the engine.

    from forkjoin.workflow import load

    workflow = load("forkjoin.yaml")          # or a WorkflowError: file:line:column: ...
    for step_id in workflow.select(["test-*"]).graph().topological_order():
        ...

A file is a mapping of settings (`max_concurrency`, `failure_mode`, `env`, `pools`,
`executor`, `address`)
and `steps`, each step a shell command (`run`) or a Python function (`call`), with
`needs`, `for_each` or `matrix`, and options. Keys starting with `x-` at the top
level are ignored, to hold YAML anchors for `<<` merges. Every mistake is one
WorkflowError that names the file, the line, the column and the fix.
"""

from forkjoin.errors import StepFailed
from forkjoin.workflow._launch import LAUNCHERS, Launcher, LocalLauncher, make_launcher
from forkjoin.workflow._load import load, loads
from forkjoin.workflow._orphans import adopt_orphans, end_adopted
from forkjoin.workflow._predict import Placed, Prediction, predict
from forkjoin.workflow._run import Run, choose_concurrency, new_job_id
from forkjoin.workflow._spec import (
    FailureMode,
    Item,
    OnFailure,
    Reference,
    ReferenceKind,
    Step,
    Workflow,
    parse_duration,
)
from forkjoin.workflow._status import LiveStatus, PlainStatus, Status, choose_status

__all__ = [
    "LAUNCHERS",
    "FailureMode",
    "Item",
    "Launcher",
    "LiveStatus",
    "LocalLauncher",
    "OnFailure",
    "Placed",
    "PlainStatus",
    "Prediction",
    "Reference",
    "ReferenceKind",
    "Run",
    "Step",
    "Status",
    "StepFailed",
    "Workflow",
    "adopt_orphans",
    "choose_concurrency",
    "choose_status",
    "end_adopted",
    "load",
    "loads",
    "make_launcher",
    "new_job_id",
    "parse_duration",
    "predict",
]
