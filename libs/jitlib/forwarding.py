"""Acting on a record another node owns: the user's node forwards the command, with the user's token, to
the owner over NATS request-reply; the owner runs it as if it had been called directly.

The user always talks to their own node. When a change reaches a replica (``Runtime.require_owner``
raises ``OwnedElsewhere``), the server's call entry sends the call's method, its request bytes and the
caller's bearer token to ``fed.cmd.<owner>.<service>``. The hub carries that subject from every peer to
the owner only (``jitlib.natsconf``). On the owner, ``CommandResponder`` calls its own gRPC server with
the forwarded token: the owner verifies the token against the issuer's keys itself, applies its own
policy, writes its own audit entry and its own record, and its answer (the response, or the status with
its details) goes back unchanged. The user's node never writes the owner's record; the replica catches up
through the owner's event.

When the owner cannot be reached, the call fails at once with UNAVAILABLE naming the owner: "no
responders" when the link is down, or after ``forward_timeout`` seconds when the owner does not answer.
Nothing is queued: the user decides whether to try again.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc
import nats.errors
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from jitlib.bus import Bus, BusUnavailable
from jitlib.errors import FailedPrecondition, OwnerUnreachable
from jitlib.federation import domain
from jitlib.telemetry import inject_headers

#: The W3C trace context headers carried with a forwarded command.
TRACE_HEADERS = ("traceparent", "tracestate")

log = logging.getLogger(__name__)

#: Headers of a forwarded command and of its answer.
METHOD, AUTHORIZATION, FORWARDED_BY = "Jit-Method", "Authorization", "Jit-Forwarded-By"
STATUS, DETAILS, STATUS_BIN = "Jit-Status", "Jit-Details", "Jit-Status-Bin"
#: A forwarded server-streaming call: each answer message carries its sequence number; the last one
#: says so, with the call's status.
SEQ, END, MORE = "Jit-Seq", "Jit-End", "Jit-More"
#: The largest piece of a streamed answer sent in one NATS message (bytes of a serialized response).
STREAM_PENDING_BYTES = 256 * 1024 * 1024
#: The metadata key the owner's server sees on a forwarded call (for its logs and traces).
FORWARDED_METADATA = "x-jit-forwarded-by"


class OwnedElsewhere(FailedPrecondition):
    """A change reached a replica. Forwarded to ``owner`` when the node can; otherwise the caller gets
    FAILED_PRECONDITION ``OWNED_ELSEWHERE``."""

    def __init__(self, owner: str, node: str, record_type: str) -> None:
        super().__init__(
            "OWNED_ELSEWHERE",
            f"this {record_type.replace('_', ' ')} is a replica: it is owned by the {owner} node, "
            f"and only that node changes it",
            {"owner": owner, "node": node},
        )
        self.owner = owner


class ForwardedRefusal(Exception):
    """The owner refused a command forwarded to it (or could not be reached): the caller gets the owner's
    status as it is."""

    def __init__(self, answer: Answer) -> None:
        super().__init__(answer.details)
        self.answer = answer


def command_subject(owner: str, service: str) -> str:
    return f"fed.cmd.{domain(owner)}.{service}"


@dataclass(frozen=True)
class Answer:
    """What the owner answered: a status code (0 is OK) with its message and rich details, or the
    response's bytes."""

    code: grpc.StatusCode
    details: str = ""
    status_bin: bytes = b""
    payload: bytes = b""
    #: In a streamed answer: False for a piece of it, True for the status that ends it.
    final: bool = True


def _code(value: str) -> grpc.StatusCode:
    for code in grpc.StatusCode:
        if str(code.value[0]) == value:
            return code
    return grpc.StatusCode.UNKNOWN


class Forwarder:
    """The user's node's side: send a command to its owner and wait, bounded, for the answer."""

    def __init__(self, bus: Bus, service: str, node: str, timeout: float) -> None:
        self._bus = bus
        self._service = service
        self._node = node
        self._timeout = timeout

    async def forward(self, owner: str, method: str, request: bytes, token: str) -> Answer:
        headers = self._headers(method, token)
        unreachable = f"the {owner} node, which owns this record, cannot be reached"
        try:
            reply = await self._bus.nc.request(
                command_subject(owner, self._service), request, timeout=self._timeout, headers=headers
            )
        except nats.errors.NoRespondersError:
            return self._unreachable(owner, f"{unreachable} (the link is down); nothing was done, try again later")
        except (nats.errors.TimeoutError, TimeoutError):
            return self._unreachable(owner, f"{unreachable}: no answer within {self._timeout:g} s; try again later")
        except (BusUnavailable, nats.errors.Error):
            return self._unreachable(owner, f"{unreachable}: this node is not connected to its broker")
        h = reply.headers or {}
        code = _code(h.get(STATUS, "2"))
        if code is grpc.StatusCode.OK:
            return Answer(code, payload=reply.data)
        status_bin = base64.b64decode(h[STATUS_BIN]) if h.get(STATUS_BIN) else b""
        return Answer(code, h.get(DETAILS, ""), status_bin)

    async def forward_stream(self, owner: str, method: str, request: bytes, token: str) -> AsyncIterator[Answer]:
        """A server-streaming call forwarded to its owner: each piece of the answer in order, then the
        final status (an Answer with no payload). A gap in the sequence (a message lost on the way) ends
        the call with UNAVAILABLE rather than passing on an incomplete answer."""
        unreachable = f"the {owner} node, which owns this record, cannot be reached"
        try:
            nc = self._bus.nc
            inbox = nc.new_inbox()
            sub = await nc.subscribe(inbox, pending_bytes_limit=STREAM_PENDING_BYTES)
        except (BusUnavailable, nats.errors.Error):
            yield self._unreachable(owner, f"{unreachable}: this node is not connected to its broker")
            return
        try:
            headers = self._headers(method, token)
            await nc.publish(command_subject(owner, self._service), request, reply=inbox, headers=headers)
            expected = 0
            piece = bytearray()
            while True:
                try:
                    msg = await sub.next_msg(timeout=self._timeout)
                except (nats.errors.TimeoutError, TimeoutError):
                    yield self._unreachable(owner, f"{unreachable}: no answer within {self._timeout:g} s")
                    return
                h = msg.headers or {}
                if h.get("Status") == "503":
                    yield self._unreachable(owner, f"{unreachable} (the link is down); nothing was done")
                    return
                if h.get(SEQ) != str(expected):
                    yield self._unreachable(owner, f"the answer of the {owner} node was interrupted; try again")
                    return
                expected += 1
                if h.get(END):
                    code = _code(h.get(STATUS, "2"))
                    status_bin = base64.b64decode(h[STATUS_BIN]) if h.get(STATUS_BIN) else b""
                    yield Answer(code, h.get(DETAILS, ""), status_bin)
                    return
                piece += msg.data
                if h.get(MORE):
                    continue  # a piece larger than one NATS message comes in fragments
                yield Answer(grpc.StatusCode.OK, payload=bytes(piece), final=False)
                piece = bytearray()
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    def _headers(self, method: str, token: str) -> dict[str, str]:
        """What goes with a command: its method, the user's token, this node, and the trace (the owner's
        spans join the caller's trace)."""
        return {**inject_headers(), METHOD: method, AUTHORIZATION: f"Bearer {token}", FORWARDED_BY: self._node}

    def _unreachable(self, owner: str, message: str) -> Answer:
        err = OwnerUnreachable("OWNER_UNREACHABLE", message, {"owner": owner, "node": self._node})
        return Answer(err.code, message, err.to_status().SerializeToString())


def _identity(data: bytes) -> bytes:
    return data


class CommandResponder:
    """The owner's side: answer the commands forwarded to this service by running them on its own gRPC
    server, so that they take exactly the path of a direct call."""

    def __init__(
        self,
        bus: Bus,
        service: str,
        node: str,
        services: list[str],
        port: int,
        streaming: frozenset[str] = frozenset(),
        *,
        credentials: grpc.ChannelCredentials | None = None,
        server_name: str | None = None,
    ) -> None:
        self._bus = bus
        #: TLS to the service's own port when it serves TLS; ``server_name``: the name its certificate
        #: carries, checked instead of the loopback address.
        self._credentials = credentials
        self._server_name = server_name
        #: The server-streaming methods (full names) among them, answered piece by piece.
        self._streaming = streaming
        self._service = service
        self._node = node
        #: The gRPC services a forwarded method may name (``/jit.tasks.v1.TaskService/``).
        self._prefixes = tuple(f"/{name}/" for name in services)
        self._port = port
        self._channel: grpc.aio.Channel | None = None
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._subscribe(), name=f"{self._service}-commands")

    async def _subscribe(self) -> None:
        await self._bus.wait_ready()
        target = f"127.0.0.1:{self._port}"
        if self._credentials is None:
            self._channel = grpc.aio.insecure_channel(target)
        else:
            options = [("grpc.ssl_target_name_override", self._server_name)] if self._server_name else []
            self._channel = grpc.aio.secure_channel(target, self._credentials, options=options)
        # A queue group: several processes of this service share the commands.
        self._sub = await self._bus.nc.subscribe(
            command_subject(self._node, self._service), queue=f"cmd-{self._service}", cb=self._handle
        )

    async def _handle(self, msg: Msg) -> None:
        h = msg.headers or {}
        method = h.get(METHOD, "")
        if not method.startswith(self._prefixes) or not msg.reply:
            await self._answer(msg, Answer(grpc.StatusCode.UNIMPLEMENTED, "no such method on this service"))
            return
        assert self._channel is not None
        metadata: list[tuple[str, str]] = [(FORWARDED_METADATA, h.get(FORWARDED_BY, "?")[:16])]
        if h.get(AUTHORIZATION):
            metadata.append(("authorization", h[AUTHORIZATION]))
        # The caller's trace context, for the owner's server spans to join it.
        metadata += [(k, h[k][:512]) for k in TRACE_HEADERS if h.get(k)]
        if method in self._streaming:
            await self._stream(msg, method, metadata)
            return
        call = self._channel.unary_unary(method, request_serializer=_identity, response_deserializer=_identity)
        try:
            payload = await call(msg.data, metadata=metadata, timeout=30)
        except grpc.aio.AioRpcError as err:
            trailers: Any = err.trailing_metadata() or ()
            status_bin = next((v for k, v in trailers if k == "grpc-status-details-bin"), b"")
            await self._answer(msg, Answer(err.code(), err.details() or "", bytes(status_bin)))
            return
        await self._answer(msg, Answer(grpc.StatusCode.OK, payload=payload))

    async def _stream(self, msg: Msg, method: str, metadata: list[tuple[str, str]]) -> None:
        """Run a server-streaming call and send each piece as it comes, numbered, then the status."""
        assert self._channel is not None and msg.reply
        call = self._channel.unary_stream(method, request_serializer=_identity, response_deserializer=_identity)
        seq = 0
        final = Answer(grpc.StatusCode.OK)
        # What fits in one NATS message, with room for the headers.
        room = max(self._bus.nc.max_payload - 4096, 4096)
        try:
            async for piece in call(msg.data, metadata=metadata, timeout=600):
                for start in range(0, max(len(piece), 1), room):
                    more = start + room < len(piece)
                    headers = {SEQ: str(seq), **({MORE: "1"} if more else {})}
                    await self._bus.nc.publish(msg.reply, piece[start : start + room], headers=headers)
                    seq += 1
        except grpc.aio.AioRpcError as err:
            trailers: Any = err.trailing_metadata() or ()
            status_bin = next((v for k, v in trailers if k == "grpc-status-details-bin"), b"")
            final = Answer(err.code(), err.details() or "", bytes(status_bin))
        headers = {SEQ: str(seq), END: "1", STATUS: str(final.code.value[0])}
        if final.code is not grpc.StatusCode.OK:
            headers[DETAILS] = final.details[:1000]
            if final.status_bin:
                headers[STATUS_BIN] = base64.b64encode(final.status_bin).decode()
        with contextlib.suppress(Exception):
            await self._bus.nc.publish(msg.reply, b"", headers=headers)

    async def _answer(self, msg: Msg, answer: Answer) -> None:
        if len(answer.payload) > self._bus.nc.max_payload - 4096:
            answer = Answer(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                "the answer is too large to be forwarded between nodes; ask for less (a smaller page)",
            )
        headers = {STATUS: str(answer.code.value[0])}
        if answer.code is not grpc.StatusCode.OK:
            headers[DETAILS] = answer.details[:1000]
            if answer.status_bin:
                headers[STATUS_BIN] = base64.b64encode(answer.status_bin).decode()
        with contextlib.suppress(Exception):
            await self._bus.nc.publish(msg.reply, answer.payload, headers=headers)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
        if self._channel is not None:
            await self._channel.close(None)


__all__ = ["Answer", "CommandResponder", "Forwarder", "OwnedElsewhere", "command_subject"]
