"""OpenTelemetry export: a job becomes one trace, with its spans' times and parents."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

pytest.importorskip("opentelemetry.sdk", reason="the otel extra is not installed")

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.trace import StatusCode

from forkjoin.telemetry import Job, Span, export_spans_to_otel, otel_enabled

JOB = Job(3, "ab" * 16, date(2025, 11, 24), 7, "workflow", "forkjoin.yaml", 100.0, 110.0, "failed")
SPANS = [
    # a child listed before its parent: the export must still nest it
    Span(
        "ab.3", "deploy[eu]", "item", "failed", 104.0, 109.0, "thread-2", "ab.2", {"exit_code": 3}
    ),
    Span("ab.1", "build", "step", "succeeded", 100.0, 103.5, "thread-1"),
    Span("ab.2", "deploy", "step", "failed", 103.5, 109.5, "thread-1", None, {"path": object()}),
    Span("ab.4", "orphan", "task", "skipped", 109.5, 109.5, "", "not-in-this-job"),
]


def test_a_job_and_its_spans_become_one_trace_with_times_and_parents() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    export_spans_to_otel(JOB, SPANS, tracer_provider=provider)
    finished = {span.name: span for span in exporter.get_finished_spans()}
    assert set(finished) == {"workflow forkjoin.yaml", "build", "deploy", "deploy[eu]", "orphan"}
    root = finished["workflow forkjoin.yaml"]
    assert (root.start_time, root.end_time) == (100_000_000_000, 110_000_000_000)
    assert root.attributes is not None and root.attributes["forkjoin.job.id"] == "j1124.7"
    assert root.status.status_code == StatusCode.ERROR
    assert root.parent is None
    trace_ids = {span.context.trace_id for span in finished.values()}
    assert len(trace_ids) == 1

    def parent_of(name: str) -> str:
        parent = finished[name].parent
        assert parent is not None
        return next(s.name for s in finished.values() if s.context.span_id == parent.span_id)

    assert parent_of("build") == "workflow forkjoin.yaml"
    assert parent_of("deploy") == "workflow forkjoin.yaml"
    assert parent_of("deploy[eu]") == "deploy"
    assert parent_of("orphan") == "workflow forkjoin.yaml"
    item = finished["deploy[eu]"]
    assert (item.start_time, item.end_time) == (104_000_000_000, 109_000_000_000)
    assert item.attributes is not None
    assert item.attributes["exit_code"] == 3
    assert item.attributes["forkjoin.worker"] == "thread-2"
    assert item.status.status_code == StatusCode.ERROR
    assert finished["build"].status.status_code == StatusCode.UNSET
    deploy_attributes = finished["deploy"].attributes
    assert deploy_attributes is not None and str(deploy_attributes["path"]).startswith("<object")


@pytest.mark.parametrize(
    ("environ", "enabled"),
    [
        ({}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "  "}, False),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_SDK_DISABLED": "true"},
            False,
        ),
    ],
)
def test_export_is_on_when_an_otlp_endpoint_is_set(environ: dict[str, str], enabled: bool) -> None:
    assert otel_enabled(environ) is enabled


def test_with_no_provider_the_spans_go_by_otlp_http_to_the_endpoint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A collector on the loopback receives the trace as OTLP protobuf."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    received: list[tuple[str, str, bytes]] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, self.headers["Content-Type"], body))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
        export_spans_to_otel(JOB, SPANS)
    finally:
        server.shutdown()
        server.server_close()
    assert len(received) == 1
    path, content_type, body = received[0]
    assert (path, content_type) == ("/v1/traces", "application/x-protobuf")
    assert b"deploy[eu]" in body and b"forkjoin" in body


def _closed_port() -> int:
    """A loopback port nothing listens on: bound, then closed."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_collector_that_is_down_fails_the_export_soon_and_silently(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    import logging
    import time

    from forkjoin.errors import ExportFailed

    endpoint = f"http://127.0.0.1:{_closed_port()}"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TIMEOUT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", raising=False)
    level = logging.getLogger("opentelemetry").level
    began = time.monotonic()
    with pytest.raises(ExportFailed) as raised:
        export_spans_to_otel(JOB, SPANS)
    assert time.monotonic() - began < 4.0  # the SDK alone retries for 10 s
    assert raised.value.endpoint == f"{endpoint}/v1/traces"
    assert capfd.readouterr().err == ""  # none of the SDK's logging
    assert logging.getLogger("opentelemetry").level == level


def test_a_run_with_its_collector_down_warns_once_naming_it(tmp_path: Path) -> None:
    """`forkjoin run` as a real process: the run succeeds, within a few seconds,
    and stderr has one line about OpenTelemetry."""
    import os
    import subprocess
    import sys
    import time

    (tmp_path / "forkjoin.yaml").write_text("steps:\n  a: {run: 'true'}\n")
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    environ = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    began = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "forkjoin.cli", "run"],
        cwd=tmp_path,
        env={**environ, "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - began < 6.0
    about_otel = [line for line in result.stderr.splitlines() if "OpenTelemetry" in line]
    assert about_otel == [
        "forkjoin: could not export spans to OpenTelemetry"
        f" (the collector at {endpoint}/v1/traces did not take them)"
    ]
    assert not [line for line in result.stderr.splitlines() if not line.startswith("forkjoin")]
