"""Recording one job: spans gathered in memory, written to the history in one batch."""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence

from forkjoin.telemetry._failures import describe, print_warning
from forkjoin.telemetry._otel import export_spans_to_otel, otel_enabled
from forkjoin.telemetry._protocol import Clock, HistoryStore, Warn
from forkjoin.telemetry._values import SPAN_STATUSES, Job, Span, SpanFields

__all__ = ["Recorder"]

OtelExport = Callable[[Job, Sequence[Span]], None]
_STATUSES = frozenset(SPAN_STATUSES)


class _Open:
    """A span that has started and not ended yet."""

    __slots__ = ("attributes", "key", "kind", "parent", "start", "worker")

    def __init__(
        self,
        key: str,
        kind: str,
        start: float,
        worker: str,
        parent: str | None,
        attributes: Mapping[str, object] | None,
    ) -> None:
        self.key = key
        self.kind = kind
        self.start = start
        self.worker = worker
        self.parent = parent
        self.attributes = attributes


class Recorder:
    """Gathers the spans of one job in memory; `flush` and `finish` write them.

    So the run's hot path never waits on SQLite: `record`, `start_span` and
    `end_span` only append to a list, and a flush writes the lot in one
    transaction. Span ids are given out here, `<job uid>.<n>`, so a child can
    name its parent before either is written. Thread-safe. When
    OTEL_EXPORTER_OTLP_ENDPOINT (or ..._TRACES_ENDPOINT) is set, `finish` also
    sends the job's spans to OpenTelemetry.
    """

    __slots__ = (
        "_clock",
        "_counter",
        "_exported",
        "_flush_every",
        "_job",
        "_lock",
        "_open",
        "_otel",
        "_pending",
        "_store",
        "_warn",
    )

    def __init__(
        self,
        store: HistoryStore,
        job: Job,
        *,
        clock: Clock = time.time,
        warn: Warn = print_warning,
        flush_every: int | None = None,
        otel: OtelExport | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        """Record into `job` of `store`; flush by itself every `flush_every` spans.

        `otel` exports the spans at `finish`; by default `export_spans_to_otel`
        when the environment (`environ`, default os.environ) asks for it.
        """
        self._store = store
        self._job = job
        self._clock = clock
        self._warn = warn
        self._flush_every = flush_every
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        self._pending: list[SpanFields] = []
        self._open: dict[str, _Open] = {}
        if otel is None and otel_enabled(os.environ if environ is None else environ):
            otel = export_spans_to_otel
        self._otel = otel
        # Every span of the job, kept only for OpenTelemetry, which wants them all.
        self._exported: list[Span] | None = [] if otel is not None else None

    @property
    def job(self) -> Job:
        return self._job

    def new_span_id(self) -> str:
        """A fresh span id, for a span recorded later with `span_id=`."""
        return f"{self._job.uid}.{next(self._counter)}"

    def record(
        self,
        key: str,
        *,
        kind: str,
        status: str,
        start: float,
        end: float,
        worker: str = "",
        attributes: Mapping[str, object] | None = None,
        parent: str | None = None,
        span_id: str | None = None,
    ) -> str:
        """Record a span that has ended; return its id. Raises ValueError for a bad status.

        `attributes` is kept as given until the flush, not copied.
        """
        if status not in _STATUSES:
            raise ValueError(
                f"a span's status is one of {', '.join(SPAN_STATUSES)}, not {status!r}"
            )
        uid = span_id or f"{self._job.uid}.{next(self._counter)}"
        # A tuple, never a Span unless OpenTelemetry wants one (see SpanFields).
        row = (uid, key, kind, status, start, end, worker, parent, attributes)
        with self._lock:
            self._pending.append(row)
            full = self._flush_every is not None and len(self._pending) >= self._flush_every
        if full:
            self.flush()
        return uid

    def start_span(
        self,
        key: str,
        *,
        kind: str,
        start: float | None = None,
        worker: str = "",
        parent: str | None = None,
        attributes: Mapping[str, object] | None = None,
    ) -> str:
        """Open a span (from `node_started`); return the id that `end_span` closes."""
        uid = f"{self._job.uid}.{next(self._counter)}"
        began = self._clock() if start is None else start
        with self._lock:
            self._open[uid] = _Open(key, kind, began, worker, parent, attributes)
        return uid

    def end_span(
        self,
        span_id: str,
        status: str,
        *,
        end: float | None = None,
        attributes: Mapping[str, object] | None = None,
    ) -> None:
        """Close a span opened by `start_span`, adding `attributes` to its own.

        Raises KeyError for an id that is not open, ValueError for a bad status.
        """
        with self._lock:
            opened = self._open.pop(span_id)
        merged = opened.attributes
        if attributes:
            merged = {**opened.attributes, **attributes} if opened.attributes else attributes
        self.record(
            opened.key,
            kind=opened.kind,
            status=status,
            start=opened.start,
            end=self._clock() if end is None else end,
            worker=opened.worker,
            attributes=merged,
            parent=opened.parent,
            span_id=span_id,
        )

    def flush(self) -> None:
        """Write the spans gathered so far, in one transaction. Never raises for the history."""
        with self._lock:
            pending, self._pending = self._pending, []
        if not pending:
            return
        if self._exported is not None:
            self._exported.extend(Span(*row[:8], row[8] or {}) for row in pending)
        self._store.record_fields(self._job, pending)

    def finish(self, status: str, finished_at: float | None = None) -> Job:
        """End the job: spans still open end `cancelled`, everything is written.

        Returns the finished job. Raises ValueError for a status a job cannot end with.
        """
        finished = self._clock() if finished_at is None else finished_at
        with self._lock:
            still_open = list(self._open)
        for span_id in still_open:
            self.end_span(span_id, "cancelled", end=finished)
        self.flush()
        self._job = self._store.finish_job(self._job, status, finished)
        if self._otel is not None and self._exported is not None:
            self._export(self._otel, self._exported)
        return self._job

    def _export(self, otel: OtelExport, spans: Sequence[Span]) -> None:
        try:
            otel(self._job, spans)
        except ImportError:
            self._warn(
                "forkjoin: OTEL_EXPORTER_OTLP_ENDPOINT is set but OpenTelemetry is not"
                " installed (pip install 'forkjoin[otel]'); spans not exported"
            )
        except Exception as error:  # a collector that is down must not fail the run
            self._warn(f"forkjoin: could not export spans to OpenTelemetry ({describe(error)})")
