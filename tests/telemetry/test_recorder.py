"""The recorder: spans gathered in memory, written in one batch, parents named early."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest

from forkjoin.telemetry import Job, Recorder, Span, SpanFields, SqliteStore, open_history


class CountingStore:
    """A real store that counts the writes of spans: the boundary a flush crosses."""

    def __init__(self, store: SqliteStore) -> None:
        self.store = store
        self.batches: list[int] = []

    def record_spans(self, job: Job, spans: Iterable[Span]) -> None:
        spans = list(spans)
        self.batches.append(len(spans))
        self.store.record_spans(job, spans)

    def record_fields(self, job: Job, spans: Sequence[SpanFields]) -> None:
        self.batches.append(len(spans))
        self.store.record_fields(job, spans)

    def __getattr__(self, name: str) -> object:
        return getattr(self.store, name)


def test_spans_reach_the_history_only_at_flush_in_one_batch(store: SqliteStore) -> None:
    counting = CountingStore(store)
    recorder = Recorder(counting, store.start_job("tests", "pytest"))  # type: ignore[arg-type]
    for n in range(100):
        recorder.record(f"t.py::test_{n}", kind="test", status="succeeded", start=n, end=n + 1)
    assert counting.batches == []
    assert store.spans(recorder.job) == []
    recorder.flush()
    recorder.flush()  # nothing new: no write
    assert counting.batches == [100]
    assert len(store.spans(recorder.job)) == 100


def test_flush_every_writes_by_itself_in_batches(store: SqliteStore) -> None:
    counting = CountingStore(store)
    job = store.start_job("tests", "pytest")
    recorder = Recorder(counting, job, flush_every=40)  # type: ignore[arg-type]
    for n in range(100):
        recorder.record("t", kind="test", status="succeeded", start=n, end=n + 1)
    recorder.finish("succeeded")
    assert counting.batches == [40, 40, 20]


def test_a_child_names_its_parent_before_either_is_written(store: SqliteStore, clock) -> None:
    """deploy (step) -> deploy[eu], deploy[us] (items)"""
    recorder = Recorder(store, store.start_job("workflow", "forkjoin.yaml"), clock=clock)
    step = recorder.start_span("deploy", kind="step", worker="main", attributes={"n": 2})
    items = [
        recorder.record(
            f"deploy[{region}]",
            kind="item",
            status="succeeded",
            start=clock.now,
            end=clock.advance(1.5),
            parent=step,
        )
        for region in ("eu", "us")
    ]
    recorder.end_span(step, "succeeded", attributes={"exit_code": 0})
    job = recorder.finish("succeeded")
    spans = {span.uid: span for span in store.spans(job)}
    assert set(spans) == {step, *items}
    assert [spans[item].parent for item in items] == [step, step]
    assert spans[step].duration == 3.0
    assert spans[step].attributes == {"n": 2, "exit_code": 0}
    assert spans[step].worker == "main"
    assert all(uid.startswith(job.uid + ".") for uid in spans)


def test_finish_ends_open_spans_as_cancelled_and_the_job(store: SqliteStore, clock) -> None:
    recorder = Recorder(store, store.start_job("workflow", "x"), clock=clock)
    recorder.start_span("slow", kind="step")
    job = recorder.finish("interrupted", clock.advance(7.0))
    [span] = store.spans(job)
    assert (span.key, span.status, span.duration) == ("slow", "cancelled", 7.0)
    assert store.job(job.short_id) == job
    assert (job.status, job.duration) == ("interrupted", 7.0)


def test_a_span_id_may_be_given_out_before_the_span_is_recorded(store: SqliteStore) -> None:
    recorder = Recorder(store, store.start_job("workflow", "x"))
    parent = recorder.new_span_id()
    child = recorder.record("c", kind="task", status="failed", start=1, end=2, parent=parent)
    recorder.record("p", kind="task", status="failed", start=0, end=3, span_id=parent)
    spans = {span.key: span for span in store.spans(recorder.finish("failed"))}
    assert spans["c"].uid == child and spans["c"].parent == spans["p"].uid == parent


def test_bad_statuses_and_unknown_spans_are_the_callers_bugs(store: SqliteStore) -> None:
    recorder = Recorder(store, store.start_job("workflow", "x"))
    with pytest.raises(ValueError, match="a span's status is one of succeeded, failed"):
        recorder.record("k", kind="step", status="done", start=0, end=1)
    with pytest.raises(KeyError):
        recorder.end_span("no-such-span", "succeeded")


def test_finish_exports_to_opentelemetry_when_asked(store: SqliteStore, warnings) -> None:
    exported: list[tuple[Job, Sequence[Span]]] = []
    recorder = Recorder(
        store,
        store.start_job("workflow", "x"),
        otel=lambda job, spans: exported.append((job, spans)),
        flush_every=1,
    )
    recorder.record("a", kind="step", status="succeeded", start=0, end=1)
    recorder.record("b", kind="step", status="succeeded", start=1, end=2)
    job = recorder.finish("succeeded")
    [(sent_job, sent_spans)] = exported
    assert sent_job == job and [span.key for span in sent_spans] == ["a", "b"]
    assert warnings == []


def test_opentelemetry_is_off_unless_an_endpoint_is_set(store: SqliteStore) -> None:
    for environ in ({}, {"OTEL_EXPORTER_OTLP_ENDPOINT": ""}):
        recorder = Recorder(store, store.start_job("workflow", "x"), environ=environ)
        assert recorder._otel is None


@pytest.mark.parametrize(
    ("error", "warning"),
    [
        (ImportError("no module named opentelemetry"), "OpenTelemetry is not installed"),
        (ConnectionError("refused"), "could not export spans to OpenTelemetry (refused)"),
    ],
)
def test_an_export_that_fails_is_one_warning_not_a_failed_run(
    store: SqliteStore, warnings: list[str], error: Exception, warning: str
) -> None:
    def failing(job: Job, spans: Sequence[Span]) -> None:
        raise error

    recorder = Recorder(store, store.start_job("workflow", "x"), otel=failing, warn=warnings.append)
    assert recorder.finish("succeeded").status == "succeeded"
    assert len(warnings) == 1 and warning in warnings[0]


def test_a_run_without_history_records_through_the_same_calls(tmp_path: Path) -> None:
    (tmp_path / "folder").write_text("a file where the history's folder should be")
    said: list[str] = []
    store = open_history(tmp_path / "folder" / "history.db", warn=said.append)
    recorder = Recorder(store, store.start_job("workflow", "x"))
    recorder.record("a", kind="step", status="succeeded", start=0, end=1)
    job = recorder.finish("succeeded")
    assert not job.is_recorded and job.status == "succeeded"
    assert len(said) == 1 and said[0].endswith("running without history")
