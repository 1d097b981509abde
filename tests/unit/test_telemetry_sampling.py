"""Which spans a service records: with an exporter, every one; with none (``JIT_OTEL_EXPORTER=none``, the
default), only those of a trace its caller samples, so a call nobody traces pays no recorded span, while
its trace ids still reach logs, errors and events' headers."""

from __future__ import annotations

from pathlib import Path

from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from jitlib.config import CommonSettings
from jitlib.telemetry import inject_headers, left_out, tracer_provider

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


def test_headers_of_a_trace_left_out_say_so_and_nothing_else_does() -> None:
    """``left_out``: the relay publishes an event of a trace nobody samples without a span of its own (it
    would not be recorded), carrying the headers it was staged with."""
    tracer = tracer_provider("jit-test", CommonSettings(otel_exporter="none")).get_tracer("t")
    with trace.use_span(tracer.start_span("call nobody traces")):
        assert left_out(inject_headers())
    with trace.use_span(NonRecordingSpan(trace.get_current_span(caller(sampled=True)).get_span_context())):  # type: ignore[arg-type]
        sampled = inject_headers()
    assert not left_out(sampled)
    tp = f"00-{TRACE_ID:032x}-00f067aa0ba902b7-00"
    assert left_out({"traceparent": tp})
    for bad in (
        {},  # no trace: a span made here starts one, recorded when the root sampler says so
        {"traceparent": ""},
        {"traceparent": f"00-{0:032x}-00f067aa0ba902b7-00"},  # no trace id
        {"traceparent": f"00-{TRACE_ID:032x}-{0:016x}-00"},  # no parent span
        {"traceparent": f"ff-{TRACE_ID:032x}-00f067aa0ba902b7-00"},  # a version W3C forbids
        {"traceparent": f"00-{TRACE_ID:032x}-00f067aa0ba902b7-0g"},
        {"traceparent": f"00-{TRACE_ID:032x}-00f067aa0ba902b7"},
    ):
        assert not left_out(bad), bad


def test_a_calls_span_has_the_callers_parent_or_none_and_reads_the_peer_only_when_recorded() -> None:
    from jitlib.telemetry import ServerSpans

    peers: list[str] = []

    def peer() -> str:
        peers.append("read")
        return "ipv4:127.0.0.1:40000"

    def start(exporter: str, *metadata: tuple[str, str]) -> trace.Span:
        tracer = tracer_provider("jit-test", CommonSettings(otel_exporter=exporter)).get_tracer("t")
        spans = ServerSpans("/jit.test.v1.Probe/Who", tracer)
        with trace.use_span(tracer.start_span("ambient, not the caller's")):
            return spans.start((("authorization", "Bearer x"), *metadata), peer)

    sampled = ("traceparent", f"00-{TRACE_ID:032x}-00f067aa0ba902b7-01")
    unsampled = ("traceparent", f"00-{TRACE_ID:032x}-00f067aa0ba902b7-00")
    assert not start("none").is_recording() and not start("none", unsampled).is_recording()
    assert peers == []  # nothing read for a span nobody records
    child = start("none", sampled)
    assert child.is_recording() and child.get_span_context().trace_id == TRACE_ID
    assert child.attributes["net.peer.ip"] == "127.0.0.1" and child.attributes["rpc.grpc.status_code"] == 0  # type: ignore[attr-defined]
    root = start("console")  # recorded, without the caller's trace context: a root, not the task's span's child
    assert root.is_recording() and root.parent is None  # type: ignore[attr-defined]
    assert root.get_span_context().trace_id != TRACE_ID and len(peers) == 2
