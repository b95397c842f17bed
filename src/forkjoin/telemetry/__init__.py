"""The history of runs: jobs and spans in SQLite, duration estimates, export and import.

A front end records a run like this::

    store = open_history(history_path(option, Path.cwd()))
    recorder = Recorder(store, store.start_job("workflow", "forkjoin.yaml"))
    span = recorder.start_span("build", kind="step", worker="thread-1")
    recorder.end_span(span, "succeeded")
    job = recorder.finish("succeeded")          # one transaction for every span
    print(f"job {job.short_id}")

and the scheduler estimates with `HistoryEstimator.from_store(store)`. Telemetry
knows jobs and spans only, never a front end or the scheduler's internals
(DESIGN.md, "Layers"). docs/history.md tells the schema and the choices.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from forkjoin.telemetry._estimator import DEFAULT_SECONDS, HistoryEstimator, families
from forkjoin.telemetry._open import (
    DEFAULT_HISTORY,
    ENVIRONMENT_VARIABLE,
    history_path,
    open_history,
    read_history,
)
from forkjoin.telemetry._otel import export_spans_to_otel, otel_enabled
from forkjoin.telemetry._protocol import HistoryStore, NullStore
from forkjoin.telemetry._recorder import Recorder
from forkjoin.telemetry._store import SqliteStore
from forkjoin.telemetry._values import (
    JOB_KINDS,
    JOB_STATUSES,
    SPAN_STATUSES,
    Job,
    Span,
    SpanFields,
    parse_short_id,
)

__all__ = [
    "DEFAULT_HISTORY",
    "DEFAULT_SECONDS",
    "ENVIRONMENT_VARIABLE",
    "FORMAT_VERSION",
    "JOB_KINDS",
    "JOB_STATUSES",
    "SPAN_STATUSES",
    "HistoryEstimator",
    "HistoryStore",
    "Imported",
    "Job",
    "NullStore",
    "Recorder",
    "Span",
    "SpanFields",
    "SqliteStore",
    "export",
    "export_spans_to_otel",
    "families",
    "history_path",
    "import_file",
    "open_history",
    "otel_enabled",
    "read_history",
    "parse_short_id",
]

# Moving history between machines is for `forkjoin history export|import` alone: a run
# does not pay for importing it (and the readers of foreign formats) as it starts.
_EXCHANGE = ("FORMAT_VERSION", "Imported", "export", "import_file")

if TYPE_CHECKING:
    from forkjoin.telemetry._exchange import FORMAT_VERSION, Imported, export, import_file


def __getattr__(name: str) -> object:
    if name in _EXCHANGE:
        from forkjoin.telemetry import _exchange

        return getattr(_exchange, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
