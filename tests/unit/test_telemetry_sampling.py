"""Which spans a service records: with an exporter, every one; with none (``JIT_OTEL_EXPORTER=none``, the
default), only those of a trace its caller samples, so a call nobody traces pays no recorded span, while
its trace ids still reach logs, errors and events' headers."""

from __future__ import annotations

from pathlib import Path

from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from jitlib.config import CommonSettings
from jitlib.telemetry import inject_headers, tracer_provider

TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736


def caller(sampled: bool) -> object:
    flags = TraceFlags(TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT)
    remote = SpanContext(trace_id=TRACE_ID, span_id=0x00F067AA0BA902B7, is_remote=True, trace_flags=flags)
    return trace.set_span_in_context(NonRecordingSpan(remote))


def test_with_no_exporter_only_a_trace_the_caller_samples_is_recorded() -> None:
    tracer = tracer_provider("jit-test", CommonSettings(otel_exporter="none")).get_tracer("t")
    root = tracer.start_span("call nobody traces")
    assert not root.is_recording()
    with trace.use_span(root):
        # Not recorded, yet it has a trace: logs and errors name it, and an event carries it on.
        ctx = root.get_span_context()
        assert ctx.is_valid
        _version, trace_id, span_id, flags = inject_headers()["traceparent"].split("-")
        assert (trace_id, span_id) == (f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}")
        assert not int(flags, 16) & TraceFlags.SAMPLED  # and tells the next service it was not sampled
    assert not tracer.start_span("unsampled caller", context=caller(sampled=False)).is_recording()  # type: ignore[arg-type]
    child = tracer.start_span("sampled caller", context=caller(sampled=True))  # type: ignore[arg-type]
    assert child.is_recording() and child.get_span_context().trace_id == TRACE_ID


def test_with_an_exporter_a_call_nobody_traced_before_is_recorded(tmp_path: Path) -> None:
    settings = CommonSettings(otel_exporter="file", otel_file=tmp_path / "traces.jsonl")
    provider = tracer_provider("jit-test", settings)
    try:
        assert provider.get_tracer("t").start_span("root").is_recording()
    finally:
        provider.shutdown()
