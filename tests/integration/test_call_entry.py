"""The entry every call pays (``jitlib.server.CallEntry``), on a real grpc.aio server: the caller's token
checked before the request is decoded, the caller bound for the servicer, one server span per call (the
child of the caller's trace, with its status), errors mapped to statuses, and each method's handler wrapped
once rather than once per call."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, NamedTuple

import grpc
import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from jitlib import auth
from jitlib.errors import InvalidArgument, NotFound
from jitlib.runtime import current_method
from jitlib.server import CallEntry
from tests.unit.test_token_verification import claims, sign, verifier

SERVICE = "jit.test.v1.Probe"
WHO, BROKEN, REFUSED, COUNT, ENDLESS = (f"/{SERVICE}/{m}" for m in ("Who", "Broken", "Refused", "Count", "Endless"))
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
STREAM_TRACE_ID = "5c0a3e8d2b7f4a1e9d6c8b3a2f1e0d9c"  # the streams' test's own trace
PARENT_ID = "00f067aa0ba902b7"


class Probe:
    """A service whose methods say who called them, fail, or stream; it counts the requests it decoded."""

    def __init__(self) -> None:
        self.decoded = 0
        #: Each item of an endless stream: its caller, method and trace as the servicer saw them.
        self.seen: list[tuple[str, str, int]] = []
        self.closed: list[tuple[str, str, int]] = []

    def decode(self, data: bytes) -> bytes:
        self.decoded += 1
        return data

    async def who(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        await asyncio.sleep(0)  # another call may run meanwhile: each keeps its own caller
        return f"{auth.current().username} {current_method.get()}".encode()

    async def broken(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        raise RuntimeError("a bug, with a secret in its message")

    async def refused(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        raise NotFound("task", "T-1")

    async def count(self, request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
        for i in range(int(request.decode())):
            yield f"{auth.current().username} {i}".encode()
        raise InvalidArgument.one("count", "the stream stops here")

    async def endless(self, request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
        def now() -> tuple[str, str, int]:
            return auth.current().username, current_method.get(), trace.get_current_span().get_span_context().trace_id

        try:
            i = 0
            while True:
                if request == b"slow":
                    await asyncio.sleep(0.001)
                self.seen.append(now())
                yield str(i).encode() * (1 if request == b"slow" else 200_000)
                i += 1
        finally:
            self.closed.append(now())

    def handler(self) -> grpc.GenericRpcHandler:
        d = self.decode
        return grpc.method_handlers_generic_handler(
            SERVICE,
            {
                "Who": grpc.unary_unary_rpc_method_handler(self.who, d),
                "Broken": grpc.unary_unary_rpc_method_handler(self.broken, d),
                "Refused": grpc.unary_unary_rpc_method_handler(self.refused, d),
                "Count": grpc.unary_stream_rpc_method_handler(self.count, d),
                "Endless": grpc.unary_stream_rpc_method_handler(self.endless, d),
            },
        )


def bearer(username: str) -> tuple[str, str]:
    return ("authorization", f"Bearer {sign(claims(preferred_username=username))}")


async def serve(body: Callable[[grpc.aio.Channel, Probe], Awaitable[Any]]) -> Any:
    probe = Probe()
    server = CallEntry(verifier()).server(grpc.aio.server())
    server.add_generic_rpc_handlers((probe.handler(),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            return await body(channel, probe)
    finally:
        await server.stop(None)


def test_each_call_is_served_as_its_own_caller_and_a_request_without_a_token_is_never_decoded() -> None:
    async def body(channel: grpc.aio.Channel, probe: Probe) -> None:
        who = channel.unary_unary(WHO)
        answers = await asyncio.gather(
            *(who(b"x", metadata=(bearer(name),)) for name in ["nl-prosecutor", "de-liaison"] * 5)
        )
        assert [a.decode() for a in answers] == [f"{n} {WHO}" for n in ["nl-prosecutor", "de-liaison"] * 5]
        assert probe.decoded == 10
        for metadata in [(), (("authorization", "Bearer not-a-jwt"),), (("authorization", "Basic abc"),)]:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await who(b"secret bytes", metadata=metadata)
            assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED
        assert probe.decoded == 10  # the refused calls' bytes were never decoded
        got = []
        with pytest.raises(grpc.aio.AioRpcError) as stopped:
            async for item in channel.unary_stream(COUNT)(b"2", metadata=(bearer("de-liaison"),)):
                got.append(item)
        assert got == [b"de-liaison 0", b"de-liaison 1"]
        assert stopped.value.code() is grpc.StatusCode.INVALID_ARGUMENT

    asyncio.run(serve(body))


def test_errors_become_statuses_and_the_span_says_which() -> None:
    async def body(channel: grpc.aio.Channel, probe: Probe) -> dict[str, grpc.aio.AioRpcError]:
        failed = {}
        for method in (BROKEN, REFUSED):
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await channel.unary_unary(method)(b"x", metadata=(bearer("nl-prosecutor"),))
            failed[method] = err.value
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await channel.unary_unary(WHO)(b"x")
        failed[WHO] = err.value
        return failed

    failed = asyncio.run(serve(body))
    assert failed[BROKEN].code() is grpc.StatusCode.INTERNAL
    assert "secret" not in (failed[BROKEN].details() or "")
    assert failed[REFUSED].code() is grpc.StatusCode.NOT_FOUND
    assert failed[WHO].code() is grpc.StatusCode.UNAUTHENTICATED


def test_a_call_is_one_server_span_in_the_callers_trace(spans: Any) -> None:
    traceparent = ("traceparent", f"00-{TRACE_ID}-{PARENT_ID}-01")

    async def body(channel: grpc.aio.Channel, probe: Probe) -> None:
        await channel.unary_unary(WHO)(b"x", metadata=(bearer("nl-prosecutor"), traceparent))
        for method, md in [(BROKEN, (bearer("nl-prosecutor"), traceparent)), (WHO, (traceparent,))]:
            with pytest.raises(grpc.aio.AioRpcError):
                await channel.unary_unary(method)(b"x", metadata=md)

    asyncio.run(serve(body))
    mine = [s for s in spans.get_finished_spans() if format(s.context.trace_id, "032x") == TRACE_ID]
    assert [s.name for s in mine] == [WHO, BROKEN, WHO]
    for span in mine:
        assert span.kind is SpanKind.SERVER
        assert span.parent is not None and format(span.parent.span_id, "016x") == PARENT_ID
        assert span.attributes["rpc.system"] == "grpc"
        assert (span.attributes["rpc.service"], "/" + SERVICE + "/" + span.attributes["rpc.method"]) == (
            SERVICE,
            span.name,
        )
        assert span.attributes["net.peer.ip"] == "127.0.0.1"
    ok, broken, refused = mine
    assert ok.attributes["rpc.grpc.status_code"] == 0 and ok.status.status_code is StatusCode.UNSET
    assert broken.attributes["rpc.grpc.status_code"] == grpc.StatusCode.INTERNAL.value[0]
    assert broken.status.status_code is StatusCode.ERROR
    assert [e.name for e in broken.events] == ["exception"]
    # A caller's mistake is not the server's error (as opentelemetry-instrumentation-grpc marks it).
    assert refused.attributes["rpc.grpc.status_code"] == grpc.StatusCode.UNAUTHENTICATED.value[0]
    assert refused.status.status_code is StatusCode.UNSET


def test_a_stream_the_client_leaves_ends_its_span_and_runs_the_servicers_finally_as_the_caller(
    spans: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A reader who cancels a stream mid-way: the servicer saw its caller, method and the call's trace at
    every step and in its ``finally`` (run when the stream ends, not when collected), the call's span ends,
    and nothing is logged of a context detached in another task than the one it was attached in (the
    span and the caller are attached around each step, never across a ``yield``)."""
    traceparent = ("traceparent", f"00-{STREAM_TRACE_ID}-{PARENT_ID}-01")

    async def body(channel: grpc.aio.Channel, probe: Probe) -> Probe:
        for round in range(1, 11):
            pace = b"slow" if round % 2 else b"flood"  # the stream waits in the servicer, or in gRPC's write
            call = channel.unary_stream(ENDLESS)(pace, metadata=(bearer("de-liaison"), traceparent))
            got = 0
            async for _item in call:
                got += 1
                if got == 3:
                    call.cancel()
                    break
            for _ in range(500):  # the servicer's stream is closed as the call ends on the server
                if len(probe.closed) == round:
                    break
                await asyncio.sleep(0.01)
        return probe

    with caplog.at_level("ERROR"):
        probe = asyncio.run(serve(body))
    expected = ("de-liaison", ENDLESS, int(STREAM_TRACE_ID, 16))
    assert len(probe.closed) == 10 and set(probe.closed) == {expected}
    assert probe.seen and set(probe.seen) == {expected}
    mine = [s for s in spans.get_finished_spans() if format(s.context.trace_id, "032x") == STREAM_TRACE_ID]
    assert [s.name for s in mine if s.name == ENDLESS] == [ENDLESS] * 10
    assert not [r for r in caplog.records if "detach" in r.getMessage()], [r.getMessage() for r in caplog.records]


class Details(NamedTuple):
    method: str
    invocation_metadata: tuple[tuple[str, str], ...]


def test_each_methods_handler_is_wrapped_once_not_per_call() -> None:
    generic = CallEntry(verifier()).generic(Probe().handler())
    first = generic.service(Details(WHO, (bearer("nl-prosecutor"),)))
    assert first is not None
    assert generic.service(Details(WHO, (bearer("de-liaison"),))) is first
    assert generic.service(Details(WHO, ())) is first  # the token is checked in the call, not here
    assert generic.service(Details(BROKEN, (bearer("de-liaison"),))) is not first
    assert generic.service(Details(f"/{SERVICE}/Missing", ())) is None


class Context:
    """What a handler reads of its call: the call's metadata and peer; an abort records the status."""

    def __init__(self, *metadata: tuple[str, str]) -> None:
        self.metadata = metadata
        self.aborted: grpc.StatusCode | None = None

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self.metadata

    def peer(self) -> str:
        return "ipv4:127.0.0.1:40000"

    async def abort(self, code: grpc.StatusCode, details: str, trailing_metadata: Any = ()) -> None:
        self.aborted = code
        raise grpc.aio.AbortError()


async def call(handler: grpc.RpcMethodHandler, request: bytes, *metadata: tuple[str, str]) -> tuple[Any, Any]:
    """A unary call of a wrapped ``handler`` with ``metadata``: its answer (None when it aborted) and the
    status it aborted with (None when it answered)."""
    context = Context(*metadata)
    try:
        return await handler.unary_unary(request, context), context.aborted
    except grpc.aio.AbortError:
        return None, context.aborted


def test_a_wrapped_handler_serves_the_caller_its_own_call_carries() -> None:
    """Each call's caller comes from that call's metadata, checked in the call itself: nothing an earlier
    call or another task decided reaches it. A request is decoded only after the caller's token is
    accepted, and bytes that are not a message of the method are INVALID_ARGUMENT, nothing echoed."""
    probe = Probe()
    entry = CallEntry(verifier())
    who = entry.generic(probe.handler()).service(Details(WHO, ()))
    assert who is not None

    def strict(data: bytes) -> bytes:
        raise ValueError(f"not a message: {data!r}")

    picky = entry.wrap(WHO, grpc.unary_unary_rpc_method_handler(probe.who, strict))

    nl, de = bearer("nl-prosecutor"), bearer("de-liaison")
    assert asyncio.run(call(who, b"x", nl)) == (f"nl-prosecutor {WHO}".encode(), None)
    assert asyncio.run(call(who, b"x", de)) == (f"de-liaison {WHO}".encode(), None)
    assert probe.decoded == 2
    assert asyncio.run(call(who, b"x")) == (None, grpc.StatusCode.UNAUTHENTICATED)
    assert asyncio.run(call(who, b"x", ("authorization", "Bearer x"))) == (None, grpc.StatusCode.UNAUTHENTICATED)
    assert asyncio.run(call(picky, b"x")) == (None, grpc.StatusCode.UNAUTHENTICATED)
    assert probe.decoded == 2  # the refused calls' bytes were never decoded
    assert asyncio.run(call(picky, b"\xff garbage", nl)) == (None, grpc.StatusCode.INVALID_ARGUMENT)


def test_a_request_whose_handler_takes_bytes_reaches_it_as_bytes_and_a_decoded_one_has_its_times_checked() -> None:
    """A method whose request holds Timestamps (``CreateTask``): a unary handler registered without a
    deserializer (bytes in, as ``bench.entry_steps`` serves the call) gets the bytes as they were sent, not
    a stream of them; with the method's deserializer, a request holding a time protobuf cannot read is
    INVALID_ARGUMENT before the servicer runs, and a valid one is served."""
    from google.protobuf.timestamp_pb2 import Timestamp

    from jit.tasks.v1 import tasks_pb2

    create = "/jit.tasks.v1.TaskService/CreateTask"
    entry = CallEntry(verifier())
    got: list[Any] = []

    async def keep(request: Any, context: grpc.aio.ServicerContext) -> bytes:
        got.append(request)
        return b"ok"

    as_bytes = entry.wrap(create, grpc.unary_unary_rpc_method_handler(keep))
    decoded = entry.wrap(create, grpc.unary_unary_rpc_method_handler(keep, tasks_pb2.CreateTaskRequest.FromString))

    nl = bearer("nl-prosecutor")
    good = tasks_pb2.CreateTaskRequest(title="t", due_at=Timestamp(seconds=1_900_000_000)).SerializeToString()
    bad = tasks_pb2.CreateTaskRequest(title="t", due_at=Timestamp(seconds=1_900_000_000, nanos=-1)).SerializeToString()
    assert asyncio.run(call(as_bytes, bad, nl)) == (b"ok", None)
    assert got == [bad]
    assert asyncio.run(call(decoded, bad, nl)) == (None, grpc.StatusCode.INVALID_ARGUMENT)
    assert len(got) == 1  # the servicer never ran
    assert asyncio.run(call(decoded, good, nl)) == (b"ok", None)
    assert got[1] == tasks_pb2.CreateTaskRequest.FromString(good)
