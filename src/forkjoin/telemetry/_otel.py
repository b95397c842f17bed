"""Sending a job's spans to OpenTelemetry, when the standard OTLP variables ask for it."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from forkjoin.errors import ExportFailed
from forkjoin.telemetry._values import Job, Span

if TYPE_CHECKING:
    from opentelemetry.trace import Span as OtelSpan
    from opentelemetry.trace import TracerProvider
    from opentelemetry.util.types import AttributeValue

__all__ = ["export_spans_to_otel", "otel_enabled"]

_ENDPOINTS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
_TIMEOUTS = ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT")
# How long our own exporter tries, unless the user set a timeout: the SDK's default
# of 10 s, spent retrying a collector that is down, is 10 s added to every run.
DEFAULT_TIMEOUT = 2.0


def otel_enabled(environ: Mapping[str, str]) -> bool:
    """True when an OTLP endpoint is set and the SDK is not switched off (OTEL_SDK_DISABLED)."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return any(environ.get(name, "").strip() for name in _ENDPOINTS)


def export_spans_to_otel(
    job: Job, spans: Sequence[Span], tracer_provider: TracerProvider | None = None
) -> None:
    """Emit `job` as one OpenTelemetry trace: a root span for the job, one per span.

    Each keeps its recorded start and end and its parent (a span whose parent is
    not among `spans` hangs from the job's). Without `tracer_provider`, an SDK
    provider exporting by OTLP over HTTP is made from the standard OTEL_*
    variables, and shut down (so flushed) before returning: it tries for
    OTEL_EXPORTER_OTLP_TIMEOUT seconds if set, else `DEFAULT_TIMEOUT`, with the SDK's
    own logging silenced, and raises ExportFailed naming the endpoint when the
    collector did not take the spans. Raises ImportError when OpenTelemetry is not
    installed (the `otel` extra).
    """
    if tracer_provider is not None:
        _emit(job, spans, tracer_provider)
        if hasattr(tracer_provider, "force_flush"):
            tracer_provider.force_flush()
        return
    with _sdk_silenced():
        provider, failures = _otlp_provider()
        _emit(job, spans, provider)
        provider.shutdown()  # type: ignore[attr-defined]
    if failures:
        raise ExportFailed(_endpoint(os.environ))


def _emit(job: Job, spans: Sequence[Span], provider: TracerProvider) -> None:
    from opentelemetry import trace

    tracer = provider.get_tracer("forkjoin.telemetry")
    root = tracer.start_span(
        f"{job.kind} {job.what}".strip(),
        start_time=_nanoseconds(job.started_at),
        attributes={
            "forkjoin.job.id": job.qualified_id,
            "forkjoin.job.uid": job.uid,
            "forkjoin.job.kind": job.kind,
            "forkjoin.job.what": job.what,
            "forkjoin.status": job.status,
            **_attributes(job.attributes),
        },
    )
    _set_status(root, job.status)
    by_uid = {span.uid: span for span in spans}
    made: dict[str, OtelSpan] = {}
    # Parents first, so that every child can be started inside its parent's context.
    for span in sorted(spans, key=lambda span: (_depth(span, by_uid), span.start)):
        parent = made.get(span.parent, root) if span.parent is not None else root
        made[span.uid] = tracer.start_span(
            span.key,
            context=trace.set_span_in_context(parent),
            start_time=_nanoseconds(span.start),
            attributes={
                "forkjoin.kind": span.kind,
                "forkjoin.status": span.status,
                "forkjoin.worker": span.worker,
                **_attributes(span.attributes),
            },
        )
        _set_status(made[span.uid], span.status)
    for span in spans:
        made[span.uid].end(end_time=_nanoseconds(span.end))
    finished = (
        job.finished_at
        if job.finished_at is not None
        else max((span.end for span in spans), default=job.started_at)
    )
    root.end(end_time=_nanoseconds(finished))


def _otlp_provider() -> tuple[TracerProvider, list[object]]:
    """An SDK provider exporting by OTLP over HTTP, and the list its failed exports
    are put in (the SDK only logs them)."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )

    failures: list[object] = []
    # None lets the SDK read the user's OTEL_EXPORTER_OTLP_(TRACES_)TIMEOUT itself.
    chosen = any(os.environ.get(name, "").strip() for name in _TIMEOUTS)
    otlp = OTLPSpanExporter(timeout=None if chosen else DEFAULT_TIMEOUT)

    class Watched(SpanExporter):
        """The OTLP exporter, keeping what it failed to send."""

        def export(self, spans: Any) -> SpanExportResult:
            result = otlp.export(spans)
            if result != SpanExportResult.SUCCESS:
                failures.append(result)
            return result

        def shutdown(self) -> None:
            otlp.shutdown()  # type: ignore[no-untyped-call]

        def force_flush(self, timeout_millis: int = 30000) -> bool:
            return otlp.force_flush(timeout_millis)

    exporter = Watched()
    # OTEL_SERVICE_NAME, when set, names the service; forkjoin only fills the gap.
    named = "OTEL_SERVICE_NAME" in os.environ
    provider = SdkTracerProvider(
        resource=Resource.create({} if named else {"service.name": "forkjoin"})
    )
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider, failures


def _endpoint(environ: Mapping[str, str]) -> str:
    """Where the spans were sent: the traces endpoint, or the base one's /v1/traces."""
    traces = environ.get(_ENDPOINTS[0], "").strip()
    if traces:
        return traces
    return environ.get(_ENDPOINTS[1], "").strip().rstrip("/") + "/v1/traces"


@contextmanager
def _sdk_silenced() -> Iterator[None]:
    """The SDK's loggers say nothing meanwhile: a collector that is down is our one
    warning line, not its retries and tracebacks."""
    logger = logging.getLogger("opentelemetry")
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.setLevel(level)


def _depth(span: Span, by_uid: Mapping[str, Span]) -> int:
    depth, seen, parent = 0, set(), span.parent
    while parent is not None and parent in by_uid and parent not in seen:
        seen.add(parent)  # a cycle in imported data must not loop forever
        depth += 1
        parent = by_uid[parent].parent
    return depth


def _set_status(span: OtelSpan, status: str) -> None:
    from opentelemetry.trace import Status, StatusCode

    if status == "failed":
        span.set_status(Status(StatusCode.ERROR))


def _attributes(attributes: Mapping[str, object]) -> dict[str, AttributeValue]:
    """Our JSON attributes as OpenTelemetry's: scalars as they are, the rest as text."""
    converted: dict[str, AttributeValue] = {}
    for name, value in attributes.items():
        if isinstance(value, str | bool | int | float):
            converted[name] = value
        elif value is not None:
            converted[name] = str(value)
    return converted


def _nanoseconds(seconds: float) -> int:
    return round(seconds * 1_000_000_000)
