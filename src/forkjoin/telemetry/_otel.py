"""Sending a job's spans to OpenTelemetry, when the standard OTLP variables ask for it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from forkjoin.telemetry._values import Job, Span

if TYPE_CHECKING:
    from opentelemetry.trace import Span as OtelSpan
    from opentelemetry.trace import TracerProvider
    from opentelemetry.util.types import AttributeValue

__all__ = ["export_spans_to_otel", "otel_enabled"]

_ENDPOINTS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")


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
    variables, and shut down (so flushed) before returning. Raises ImportError
    when OpenTelemetry is not installed (the `otel` extra).
    """
    from opentelemetry import trace

    own_provider = tracer_provider is None
    provider = _otlp_provider() if tracer_provider is None else tracer_provider
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
    if own_provider:
        provider.shutdown()  # type: ignore[attr-defined]
    elif hasattr(provider, "force_flush"):
        provider.force_flush()


def _otlp_provider() -> TracerProvider:
    import os

    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # OTEL_SERVICE_NAME, when set, names the service; forkjoin only fills the gap.
    named = "OTEL_SERVICE_NAME" in os.environ
    provider = SdkTracerProvider(
        resource=Resource.create({} if named else {"service.name": "forkjoin"})
    )
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


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
