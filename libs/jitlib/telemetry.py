"""OpenTelemetry setup and W3C trace-context helpers for NATS headers.

gRPC client spans come from opentelemetry-instrumentation-grpc; the server span of each call from
``jitlib.server.CallEntry`` (``ServerSpans``: the same name, kind and attributes as that library's
server interceptor, started inside the handler it wraps once per method); one database span per
transaction from ``jitlib.db.Database`` (with its statement count). Events carry ``traceparent`` in their
NATS headers: captured when the event is written to the outbox (inside the RPC's span), so the consumer's
span continues the RPC's trace.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from urllib.parse import unquote

import grpc
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.propagators.textmap import TextMapPropagator
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased

from jitlib.config import CommonSettings

log = logging.getLogger(__name__)
_setup_lock = threading.Lock()


class JsonLinesFileExporter(SpanExporter):
    """Appends one JSON object per span to a file: traces without a collector."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = [json.dumps(json.loads(s.to_json()), separators=(",", ":")) for s in spans]
        with self._lock, self._path.open("a", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


def setup_tracing(service_name: str, settings: CommonSettings) -> trace.TracerProvider:
    """Install a tracer provider unless one is installed already (tests install an in-memory one)."""
    with _setup_lock:
        current = trace.get_tracer_provider()
        if isinstance(current, TracerProvider):
            return current
        provider = tracer_provider(service_name, settings)
        trace.set_tracer_provider(provider)
        return provider


def tracer_provider(service_name: str, settings: CommonSettings) -> TracerProvider:
    """The tracer provider ``settings.otel_exporter`` asks for. With no exporter (``none``) nothing would
    read a span, so a span is recorded only in a trace its caller samples (its ``traceparent`` says so);
    the others still have their trace and span ids, which logs, errors and events' headers carry on."""
    exporter: SpanExporter | None
    kind = settings.otel_exporter.lower()
    if kind == "console":
        exporter = ConsoleSpanExporter()
    elif kind == "file":
        exporter = JsonLinesFileExporter(settings.traces_file)
    elif kind == "otlp":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    elif kind == "none":
        exporter = None
    else:
        raise ValueError(f"JIT_OTEL_EXPORTER must be console, file, otlp or none, not {kind!r}")
    resource = Resource.create({"service.name": service_name})
    if exporter is None:
        return TracerProvider(resource=resource, sampler=ParentBased(root=ALWAYS_OFF))
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


#: The gRPC status codes that mark a server span as an error (the server's fault, not the caller's), as
#: opentelemetry-instrumentation-grpc marks them.
_SERVER_FAULTS = frozenset(
    {
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)


#: The parent of a call's span when its caller sends no trace context: none (a root, whatever the task's
#: context holds).
_NO_PARENT = otel_context.Context()


class ServerSpans:
    """The server span of each call of one gRPC method: named by the method, of kind SERVER, the child of
    the caller's ``traceparent``, with the ``rpc.*`` attributes and, when recorded, the peer's address.
    Made once per method; each call pays only the span itself."""

    def __init__(self, method: str, tracer: trace.Tracer) -> None:
        service, _, name = method.lstrip("/").partition("/")
        self._name = method
        self._tracer = tracer
        self._attributes: dict[str, str | int] = {
            "rpc.system": "grpc",
            "rpc.service": service,
            "rpc.method": name,
            "rpc.grpc.status_code": 0,
        }
        self._textmap: TextMapPropagator | None = None
        self._fields: frozenset[str] = frozenset()

    def start(self, metadata: Sequence[tuple[str, str | bytes]], peer: Callable[[], str]) -> trace.Span:
        """Start a call's span (not yet current: ``trace.use_span`` makes it so). The parent is extracted
        only from the trace-context keys the propagator reads (none in a call no one traces); the peer's
        address is read only for a span that is recorded."""
        textmap = propagate.get_global_textmap()
        if textmap is not self._textmap:  # its fields, worked out once per propagator installed
            self._textmap, self._fields = textmap, frozenset(textmap.fields)
        fields = self._fields
        carrier = {k: v for k, v in metadata if k in fields and isinstance(v, str)}
        span = self._tracer.start_span(
            self._name,
            context=propagate.extract(carrier) if carrier else _NO_PARENT,
            kind=trace.SpanKind.SERVER,
            attributes=self._attributes,
            record_exception=False,
            set_status_on_exception=False,
        )
        if span.is_recording():
            address = peer()
            if not address.startswith("unix:"):
                ip, _, port = address.split(",")[0].partition(":")[2].rpartition(":")
                span.set_attributes({"net.peer.ip": unquote(ip), "net.peer.port": port})
        return span

    @staticmethod
    def finish(span: trace.Span, code: grpc.StatusCode, details: str = "") -> None:
        """Record the call's status on its span (an error status only for the server's own faults)."""
        if code is grpc.StatusCode.OK or not span.is_recording():
            return
        span.set_attribute("rpc.grpc.status_code", code.value[0])
        if code in _SERVER_FAULTS:
            span.set_status(trace.Status(trace.StatusCode.ERROR, f"{code}:{details}"))


def left_out(headers: Mapping[str, str]) -> bool:
    """Whether a span made under the trace context of ``headers`` would not be recorded: they name a
    parent (a valid ``traceparent``) that its sampler left out. The providers' samplers are parent-based
    (``tracer_provider``: with no exporter explicitly, with one by default), so such a span would be
    made for nothing; its work can carry ``headers`` on as they are, the trace unbroken. Read from the
    header's text, without extracting a context."""
    parts = headers.get("traceparent", "").split("-")
    if len(parts) != 4 or [len(p) for p in parts] != [2, 32, 16, 2] or parts[0] == "ff":
        return False
    try:
        trace_id, span_id, flags = int(parts[1], 16), int(parts[2], 16), int(parts[3], 16)
    except ValueError:
        return False
    return bool(trace_id and span_id) and not flags & trace.TraceFlags.SAMPLED


def inject_headers() -> dict[str, str]:
    """The current trace context as W3C headers (traceparent, tracestate)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def extract_context(headers: Mapping[str, str] | None) -> otel_context.Context:
    return propagate.extract(dict(headers or {}))


def current_trace_id() -> str:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else ""


class TraceIdLogFilter(logging.Filter):
    """Adds ``trace_id`` to every log record so logs and traces join up."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.trace_id = current_trace_id() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: easy to ship to any log store."""

    def __init__(self, service_name: str) -> None:
        super().__init__()
        self._service = service_name

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "service": self._service,
            "logger": record.name,
            "trace_id": getattr(record, "trace_id", "-"),
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level: str, service_name: str) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(TraceIdLogFilter())
    handler.setFormatter(JsonFormatter(service_name))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
