"""gRPC server bootstrap shared by every service: grpc.aio with OpenTelemetry and auth interceptors,
rich error mapping, health checking, reflection, the audit service, the outbox relay, the workspace
directory consumer, and a graceful stop on SIGTERM (stop accepting, drain in-flight calls, then stop)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn, Protocol, TypeVar

import grpc
from google.protobuf.message import Message
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from nats.js.api import StreamConfig
from opentelemetry import trace
from sqlalchemy import MetaData

from jit.audit.v1 import audit_pb2, audit_pb2_grpc
from jit.retention.v1 import retention_pb2, retention_pb2_grpc
from jitlib import answers, audit, auth, changes, db, joining, policy, processes, sealing, tls, workspaces
from jitlib.audit_service import AuditServicer
from jitlib.auth import JwksCache, TokenVerifier, TrustedIssuer
from jitlib.bus import Bus, EventConsumer
from jitlib.clock import Clock, SystemClock
from jitlib.config import CommonSettings, ServiceSettings
from jitlib.errors import InvalidArgument, JitError
from jitlib.forwarding import CommandResponder, ForwardedRefusal, Forwarder, OwnedElsewhere
from jitlib.mapping import timestamp_check
from jitlib.outbox import OutboxRelay
from jitlib.principal import Principal
from jitlib.retention_service import RetentionServicer
from jitlib.retention_sweep import RetentionSweep
from jitlib.runtime import Runtime, current_method
from jitlib.telemetry import ServerSpans, current_trace_id, setup_logging, setup_tracing

log = logging.getLogger(__name__)

_PUBLIC_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")
Metadata = Sequence[tuple[str, str | bytes]]


class CallEntry:
    """The entry every call pays, wrapped once around each method's handler when it is registered (no
    gRPC interceptor, so no interceptor chain run per call): traces every call (its server span, the child
    of the caller's trace), authenticates it (except health and reflection), binds the Principal and the
    method name for the servicer, and turns exceptions into proper statuses (never UNKNOWN, never a
    traceback).

    A call pays its metadata read once, its token check (a cache hit for a token seen before; expiry,
    audience and issuer as the verifier keeps them) and its span. The token is checked before the request
    is decoded: a caller without a valid token never has its request decoded (a unary request arrives as
    bytes and is decoded after the check; a request stream is read only by the servicer)."""

    def __init__(
        self,
        verifier: TokenVerifier,
        forwarder: Forwarder | None = None,
        tracer: trace.Tracer | None = None,
        narrow: Callable[[Principal], Principal] | None = None,
    ) -> None:
        self._verifier = verifier
        #: What the caller's token says, checked against what this node knows: the workspaces its country was
        #: taken out of are not its own any more (``policy.in_directory``).
        self._narrow = narrow
        #: On a federation: sends a change that reached a replica to the record's owner.
        self._forwarder = forwarder
        self._tracer = tracer or trace.get_tracer(__name__)

    def server(self, server: grpc.aio.Server) -> grpc.aio.Server:
        """``server``, with every handler registered through it wrapped by this entry."""
        return _EntryServer(server, self)

    def generic(self, handler: grpc.GenericRpcHandler) -> grpc.GenericRpcHandler:
        """``handler``, each method's handler it finds wrapped once (built on the first call of the method)."""
        return _WrappedGeneric(handler, self)

    def wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        """The handler that serves ``method`` with ``handler`` behind this entry."""
        spans = ServerSpans(method, self._tracer)
        forwarder = self._forwarder
        verify = self._verifier.verify
        narrow = self._narrow
        public = method.startswith(_PUBLIC_PREFIXES)
        kind = _kind(handler)
        inner: Any = getattr(handler, kind)
        unary_request = kind.startswith("unary_")
        # A unary request arrives as bytes and is decoded after the token check; a stream's items are
        # decoded as the servicer reads them, after it.
        decode = handler.request_deserializer if unary_request else None
        # Every Timestamp of the request is a valid time before any servicer reads one (protobuf refuses
        # to read another as a datetime); a stream's items are checked as the servicer reads them. A unary
        # request its handler takes as bytes (no deserializer) is passed on as bytes: it holds no message.
        check_times = timestamp_check(method)

        async def enter(
            request: Any, context: grpc.aio.ServicerContext, metadata: Metadata, span: trace.Span
        ) -> tuple[Principal | None, Any]:
            """The caller (None for health and reflection) and the request, decoded once the caller is known."""
            caller: Principal | None = None
            if not public:
                try:
                    caller = await verify(auth.bearer_from_metadata(metadata))
                    if narrow is not None:
                        caller = narrow(caller)
                except JitError as err:
                    await abort(context, span, err.code, err.message, err.to_status().SerializeToString())
            if decode is not None:
                try:
                    request = decode(request)
                except Exception:  # not a message of this method: said so, without its bytes
                    bad = InvalidArgument.one("request", "not a valid message of this method")
                    await abort(context, span, bad.code, bad.message, bad.to_status().SerializeToString())
                if check_times is not None:
                    try:
                        check_times(request)
                    except InvalidArgument as bad:
                        await abort(context, span, bad.code, bad.message, bad.to_status().SerializeToString())
            elif check_times is not None and not unary_request:
                request = _times_checked(request, check_times)
            return caller, request

        async def abort(
            context: grpc.aio.ServicerContext,
            span: trace.Span,
            code: grpc.StatusCode,
            details: str,
            status_bin: bytes | None = None,
        ) -> NoReturn:
            ServerSpans.finish(span, code, details)
            trailers = (("grpc-status-details-bin", status_bin),) if status_bin else ()
            await context.abort(code, details, trailing_metadata=trailers)

        async def fail(context: grpc.aio.ServicerContext, span: trace.Span, exc: BaseException) -> NoReturn:
            if isinstance(exc, ForwardedRefusal):
                a = exc.answer
                await abort(context, span, a.code, a.details, a.status_bin)
            if isinstance(exc, JitError):
                await abort(context, span, exc.code, exc.message, exc.to_status().SerializeToString())
            log.exception("unhandled error in %s", method)
            span.record_exception(exc)
            ref = current_trace_id() or "n/a"
            await abort(context, span, grpc.StatusCode.INTERNAL, f"internal error (trace {ref})")

        def bind(caller: Principal | None, message: Any = None) -> tuple[Any, Any, Any]:
            """The caller, the method and (a unary call's) request, for what the servicer does with them: the
            audit entries name the method; a change remembers the call that made it (``jitlib.changes``)."""
            request = message if isinstance(message, Message) else None
            return (
                (auth.bind(caller) if caller is not None else None),
                current_method.set(method),
                changes.current_request.set(request),
            )

        def unbind(tokens: tuple[Any, Any, Any]) -> None:
            if tokens[0] is not None:
                auth.unbind(tokens[0])
            current_method.reset(tokens[1])
            changes.current_request.reset(tokens[2])

        @contextlib.contextmanager
        def attached(span: trace.Span, caller: Principal | None) -> Iterator[None]:
            """The call's span current and its caller bound, for one step of a stream. Never across a
            ``yield``: a stream the client ends is closed at its yield by the loop, in a task of its own,
            where a context attached in the call's task cannot be detached."""
            with trace.use_span(span, end_on_exit=False, record_exception=False, set_status_on_exception=False):
                tokens = bind(caller)
                try:
                    yield
                finally:
                    unbind(tokens)

        def raw(request: Any, raw_request: Any) -> bytes:
            """The request as its bytes (a forwarded call passes them on as they came)."""
            return raw_request if isinstance(raw_request, bytes) else request.SerializeToString()  # type: ignore[no-any-return]

        async def unary_response(request: Any, context: grpc.aio.ServicerContext) -> Any:
            metadata: Metadata = context.invocation_metadata() or ()  # type: ignore[assignment]
            span = spans.start(metadata, context.peer)
            with trace.use_span(span, end_on_exit=True, record_exception=False, set_status_on_exception=False):
                caller, message = await enter(request, context, metadata, span)
                tokens = bind(caller, message)
                try:
                    return await inner(message, context)
                except grpc.aio.AbortError:
                    raise
                except OwnedElsewhere as exc:
                    if forwarder is None or kind != "unary_unary" or caller is None:
                        await fail(context, span, exc)
                    answer = await forwarder.forward(exc.owner, method, raw(message, request), caller.token)
                    if answer.code is grpc.StatusCode.OK:
                        return answer.payload  # the owner's response, passed on as it is
                    await abort(context, span, answer.code, answer.details, answer.status_bin)
                except Exception as exc:
                    await fail(context, span, exc)
                finally:
                    unbind(tokens)

        async def forwarded(
            owner: str,
            message: Any,
            request: Any,
            caller: Principal,
            context: grpc.aio.ServicerContext,
            span: trace.Span,
        ) -> AsyncGenerator[bytes, None]:
            """The owner's answer to a stream call owned elsewhere, its pieces passed on as they are."""
            assert forwarder is not None
            async for answer in forwarder.forward_stream(owner, method, raw(message, request), caller.token):
                if answer.payload or (answer.code is grpc.StatusCode.OK and not answer.details):
                    if answer.payload:
                        yield answer.payload
                    continue
                await abort(context, span, answer.code, answer.details, answer.status_bin)

        async def stream_response(request: Any, context: grpc.aio.ServicerContext) -> Any:
            metadata: Metadata = context.invocation_metadata() or ()  # type: ignore[assignment]
            span = spans.start(metadata, context.peer)
            try:
                with attached(span, None):
                    caller, message = await enter(request, context, metadata, span)
                items: AsyncGenerator[Any, None] = inner(message, context)
                try:
                    while True:
                        with attached(span, caller):  # each step as the caller, in the call's span
                            try:
                                item = await anext(items)
                            except StopAsyncIteration:
                                break
                            except grpc.aio.AbortError:
                                raise
                            except OwnedElsewhere as exc:
                                if forwarder is None or kind != "unary_stream" or caller is None:
                                    await fail(context, span, exc)
                                await items.aclose()
                                items = forwarded(exc.owner, message, request, caller, context, span)
                                continue
                            except Exception as exc:
                                await fail(context, span, exc)
                        yield item
                finally:
                    # The servicer's stream is closed with this one, its ``finally`` run now (as the caller)
                    # rather than whenever it is collected.
                    with attached(span, caller):
                        await items.aclose()
            finally:
                span.end()

        behaviour = stream_response if kind.endswith("_stream") else unary_response
        # A forwarded call's answer arrives already serialized by the owner: it is passed on as it is.
        serialize = _passing(handler.response_serializer) if unary_request else handler.response_serializer
        return _MAKERS[kind](behaviour, None if unary_request else handler.request_deserializer, serialize)


class _WrappedGeneric(grpc.GenericRpcHandler):
    """A generic handler whose methods' handlers are wrapped by the call entry, once per method."""

    def __init__(self, handler: grpc.GenericRpcHandler, entry: CallEntry) -> None:
        self._handler = handler
        self._entry = entry
        #: method -> (the handler found, its wrapped one).
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        found = self._handler.service(handler_call_details)
        if found is None:
            return None
        method: str = handler_call_details.method  # type: ignore[attr-defined]
        known = self._wrapped.get(method)
        if known is None or known[0] is not found:
            known = self._wrapped[method] = (found, self._entry.wrap(method, found))
        return known[1]


class _EntryServer(grpc.aio.Server):
    """A grpc.aio server whose registrations go through the call entry: what the services' generated
    ``add_*_to_server`` (and health, reflection) register is served behind it."""

    def __init__(self, server: grpc.aio.Server, entry: CallEntry) -> None:
        self._server = server
        self._entry = entry

    def add_generic_rpc_handlers(self, generic_rpc_handlers: Iterable[grpc.GenericRpcHandler]) -> None:
        self._server.add_generic_rpc_handlers([self._entry.generic(h) for h in generic_rpc_handlers])

    def add_registered_method_handlers(
        self, service_name: str, method_handlers: dict[str, grpc.RpcMethodHandler]
    ) -> None:
        wrap = self._entry.wrap
        self._server.add_registered_method_handlers(  # type: ignore[attr-defined]
            service_name, {name: wrap(f"/{service_name}/{name}", h) for name, h in method_handlers.items()}
        )

    def add_insecure_port(self, address: str) -> int:
        return self._server.add_insecure_port(address)

    def add_secure_port(self, address: str, server_credentials: grpc.ServerCredentials) -> int:
        return self._server.add_secure_port(address, server_credentials)

    async def start(self) -> None:
        await self._server.start()

    async def stop(self, grace: float | None = None) -> None:
        await self._server.stop(grace)

    async def wait_for_termination(self, timeout: float | None = None) -> bool:
        return await self._server.wait_for_termination(timeout)


_MAKERS: dict[str, Callable[..., grpc.RpcMethodHandler]] = {
    "unary_unary": grpc.unary_unary_rpc_method_handler,
    "unary_stream": grpc.unary_stream_rpc_method_handler,
    "stream_unary": grpc.stream_unary_rpc_method_handler,
    "stream_stream": grpc.stream_stream_rpc_method_handler,
}


async def _times_checked(items: AsyncIterator[Any], check: Callable[[Any], None]) -> AsyncIterator[Any]:
    """A request stream's items, each message's Timestamps checked as the servicer reads it (an item that
    is no message, such as a chunk's bytes as the service's own reader gives them, has none)."""
    async for item in items:
        if hasattr(item, "DESCRIPTOR"):
            check(item)
        yield item


def _kind(handler: grpc.RpcMethodHandler) -> str:
    """Which of the four call shapes ``handler`` serves."""
    if handler.unary_unary:
        return "unary_unary"
    if handler.unary_stream:
        return "unary_stream"
    return "stream_unary" if handler.stream_unary else "stream_stream"


def _passing(serialize: Any) -> Callable[[Any], bytes]:
    """The handler's response serializer, passing bytes through as they are: a forwarded call's answer
    arrives already serialized by the owner."""

    def serialize_or_pass(response: Any) -> bytes:
        return response if isinstance(response, bytes) else serialize(response)  # type: ignore[no-any-return]

    return serialize_or_pass


def _server_streaming(services: Sequence[str]) -> frozenset[str]:
    """The full names (``/pkg.Service/Method``) of the server-streaming methods of ``services``."""
    from google.protobuf import descriptor_pool

    pool = descriptor_pool.Default()
    found = set()
    for name in services:
        service = pool.FindServiceByName(name)
        for m in service.methods:
            if m.server_streaming and not m.client_streaming:
                found.add(f"/{name}/{m.name}")
    return frozenset(found)


class Worker(Protocol):
    """A background job of a service (an event consumer, a deadline scanner): started after the database
    and the bus, stopped after the server has drained."""

    def start(self) -> None: ...

    async def stop(self) -> None: ...


Register = Callable[[Runtime, grpc.aio.Server], Sequence[str]]
ConsumerFactory = Callable[[Runtime], Sequence[Worker]]
#: A start-time backfill (``ServiceSpec.backfills``): its batches through ``write`` at ``now``; rows changed.
Backfill = Callable[[db.Write, datetime], int]


@dataclass
class ServiceSpec:
    """What a service tells the bootstrap about itself."""

    name: str
    metadata: MetaData
    tables: db.RuntimeTables
    migrations_dir: Path
    #: Streams this service publishes to (created at connect).
    streams: Sequence[StreamConfig]
    #: Adds the servicers; returns their full service names (for health and reflection).
    register: Register
    #: The background workers, run once per service: by its only process, or by copy 0 of several.
    consumers: ConsumerFactory | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: Workers every process runs beside its calls, whatever its index (``jitlib.processes``): what serves
    #: the process's own calls from memory (messaging's live delivery, fed by the process's own listener).
    process_workers: ConsumerFactory | None = None
    #: The kinds of record this service owns and sends to the node of a country that joins a workspace
    #: (``jitlib.joining``), in the order they are sent.
    resends: Callable[[Runtime], Sequence[joining.ResendKind[Any]]] | None = None
    #: What brings the rows an older version stored up to this one, run at each start before the service
    #: serves (by the supervisor of several copies), after the sealing backfill: each writes its batches
    #: through ``write`` at ``now`` and returns how many rows it changed; once done, it must cost next to
    #: nothing (evidence's recount of stored deadlines records the count it recounted to).
    backfills: Sequence[Backfill] = ()

    @classmethod
    def of(
        cls,
        name: str,
        store: ModuleType,
        streams: Sequence[StreamConfig],
        register: Register,
        consumers: ConsumerFactory | None = None,
        extra: dict[str, Any] | None = None,
        process_workers: ConsumerFactory | None = None,
        resends: Callable[[Runtime], Sequence[joining.ResendKind[Any]]] | None = None,
        backfills: Sequence[Backfill] = (),
    ) -> ServiceSpec:
        """The spec of a service whose ``store`` module declares ``Base`` and ``RUNTIME``, with its
        Alembic migrations in the ``migrations`` folder beside it."""
        return cls(
            name=name,
            metadata=store.Base.metadata,
            tables=store.RUNTIME,
            migrations_dir=Path(str(store.__file__)).parent / "migrations",
            streams=streams,
            register=register,
            consumers=consumers,
            extra=extra if extra is not None else {},
            process_workers=process_workers,
            resends=resends,
            backfills=backfills,
        )


class ServiceApp:
    """One running service process (or an in-process instance in tests)."""

    def _jwks_url(self, issuer: str) -> str:
        if issuer == self.common.oidc_issuer and self.common.oidc_jwks_url:
            return self.common.oidc_jwks_url
        return f"{issuer.rstrip('/')}/protocol/openid-connect/certs"

    def _server_credentials(self) -> grpc.ServerCredentials | None:
        """TLS on the gRPC port when the node has a certificate, else None (plaintext). Read before anything
        starts, so that a wrong file stops the service at once, naming the file."""
        c = self.common
        if not c.grpc_tls:
            return None
        if c.tls_cert_file is None or c.tls_key_file is None:
            raise tls.TlsConfigError("JIT_TLS_CERT_FILE and JIT_TLS_KEY_FILE: set both, or neither")
        return tls.server_credentials(
            c.tls_cert_file, c.tls_key_file, c.tls_ca_file, require_client_cert=c.tls_client_auth
        )

    def _loopback(self) -> tuple[grpc.ChannelCredentials | None, str | None]:
        """How this service reaches its own port (a forwarded command is answered there)."""
        c = self.common
        if not c.grpc_tls or c.tls_cert_file is None:
            return None, None
        creds = tls.channel_credentials(
            c.tls_ca_file,
            c.tls_client_cert_file if c.tls_client_auth else None,
            c.tls_client_key_file if c.tls_client_auth else None,
        )
        return creds, tls.first_dns_name(c.tls_cert_file)

    def __init__(
        self,
        spec: ServiceSpec,
        settings: ServiceSettings,
        common: CommonSettings | None = None,
        *,
        clock: Clock | None = None,
        verifier: TokenVerifier | None = None,
        process_index: int | None = None,
    ) -> None:
        self.spec = spec
        #: None: the service's only process. Else this copy's index among ``settings.processes`` copies
        #: sharing the port (``jitlib.processes``): the supervisor prepared the database, and only copy 0
        #: runs the background workers.
        self.process_index = process_index
        self.settings = settings
        self.common = common or CommonSettings()
        self.clock = clock or SystemClock()
        self.verifier = verifier or TokenVerifier(
            audience=self.common.oidc_audience,
            trusted=[
                TrustedIssuer(issuer, JwksCache(self._jwks_url(issuer), verify=self.common.http_verify()), jurisdiction)
                for jurisdiction, issuer in self.common.issuers()
            ],
            clients=self.common.clients,
            algorithms=self.common.algorithms,
            leeway_seconds=self.common.oidc_leeway_seconds,
        )
        self.runtime: Runtime | None = None
        self.server: grpc.aio.Server | None = None
        self.health: health.aio.HealthServicer | None = None  # type: ignore[name-defined]
        self.port = 0
        self._consumers: list[Worker] = []
        self._directory: workspaces.DirectorySync | None = None
        self._services: list[str] = []
        self._responder: CommandResponder | None = None

    async def start(self) -> int:
        credentials = self._server_credentials()
        nats_tls = self.common.nats_tls_context(self.common.nats_servers)
        loopback = self._loopback()
        setup_tracing(f"jit-{self.spec.name}", self.common)
        url = self.settings.resolved_database_url(self.common, self.spec.name)
        prepared = self.process_index is not None
        if self.settings.migrate_on_start and not prepared:
            await asyncio.to_thread(db.migrate, self.spec.migrations_dir, url)
        database = db.Database(url)
        # Links the audit entries that changes record unlinked, woken by their commits (``jitlib.audit``).
        chainer = audit.Chainer(database, self.spec.tables)
        keks = self.settings.kek_ring(self.common, self.spec.name)
        content_keys = sealing.install(database.info, self.spec.metadata, keks)
        if content_keys is not None:
            # SQLite overwrites what it deletes: a destroyed key leaves no copy in a free page.
            sealing.enable_secure_delete(database.engine)
        if not prepared:
            await asyncio.to_thread(_backfill, self.spec, database, self.clock.now())
        federation = self.common.federation()
        streams = [*self.spec.streams, workspaces.WORKSPACE_STREAM, *(federation.streams() if federation else [])]
        bus = Bus(
            self.common.nats_servers,
            f"jit-{self.spec.name}",
            streams=streams,
            replicas=self.common.nats_stream_replicas,
            tls=nats_tls,
            credentials=self.common.nats_credentials(self.spec.name),
        )
        relay = OutboxRelay(
            database,
            self.spec.tables,
            bus,
            poll_seconds=self.settings.outbox_poll_seconds,
            linger_seconds=self.settings.outbox_linger_seconds,
            clock=self.clock,
            federation=federation,
        )
        directory = workspaces.DirectorySync(bus, database, self.spec.tables, federation)
        self._directory = directory
        rt = Runtime(
            name=self.spec.name,
            common=self.common,
            settings=self.settings,
            db=database,
            tables=self.spec.tables,
            bus=bus,
            relay=relay,
            clock=self.clock,
            workspaces=directory,
            federation=federation,
            keks=keks,
            content_keys=content_keys,
            chainer=chainer,
        )
        self.runtime = rt
        forwarder = (
            Forwarder(bus, self.spec.name, federation.node, self.common.federation_forward_timeout_seconds)
            if federation is not None
            else None
        )
        rt.forwarder = forwarder
        joins = None
        if federation is not None and federation.peers and self.spec.resends is not None:
            joins = joining.Joins(
                database,
                self.spec.tables,
                self.clock,
                federation.node,
                federation.peers,
                self.spec.resends(rt),
                committed=relay.committed,
            )
            directory.joins = joins
        if not self.process_index and self.spec.resends is not None:
            # Peers linked since the last start get what this node owns in their countries' workspaces.
            peers = federation.peers if federation is not None else frozenset()
            noted = await database.write(
                partial(joining.link_peers, tables=self.spec.tables, peers=peers, now=self.clock.now())
            )
            if noted:
                log.info(
                    "peers linked since the last start: %s; what this node owns in %d of their workspaces goes to them",
                    ",".join(sorted({c for countries in noted.values() for c in countries})),
                    len(noted),
                )
        bus.start()
        relay.start()
        chainer.start()
        await directory.start()
        rotation = sealing.KekRotation(
            database.write, database.read, self.spec.metadata, keks, interval=self.common.kek_check_seconds
        )
        self.spec.extra["kek_rotation"] = rotation
        sweep = RetentionSweep(
            rt,
            self.spec.metadata,
            [s.name or "" for s in self.spec.streams],
            default_years=self.common.retention_years,
            interval=self.common.retention_scan_seconds,
            hooks=self.spec.extra.get("retention_hooks"),
        )
        self.spec.extra["retention_sweep"] = sweep
        fill = answers.AnswersFill(database.write, answers.declared(self.spec.metadata))
        self.spec.extra["answers_fill"] = fill
        # Every process runs its own process workers; copy 0 of several runs the background workers, once
        # for the service (``jitlib.processes``).
        self._consumers = list(self.spec.process_workers(rt)) if self.spec.process_workers else []
        if not self.process_index:
            self._consumers += [rotation, sweep, fill, *(self.spec.consumers(rt) if self.spec.consumers else [])]
            self._consumers += [joins] if joins is not None else []
        for consumer in self._consumers:
            if isinstance(consumer, EventConsumer) and consumer.retries_dead_letters:
                await consumer.retry_dead_letters()  # before it reads its stream (a replica's: jitlib.replicas)
            consumer.start()

        narrow = partial(policy.in_directory, members_of=directory.members_of)
        server = CallEntry(self.verifier, forwarder, narrow=narrow).server(
            grpc.aio.server(
                options=[
                    ("grpc.max_receive_message_length", self.settings.max_request_bytes),
                    # Copies of one service share the port; a sole process refuses a port already taken.
                    ("grpc.so_reuseport", 1 if self.process_index is not None else 0),
                ],
                maximum_concurrent_rpcs=self.settings.max_concurrent_rpcs,
            )
        )
        audit_pb2_grpc.add_AuditServiceServicer_to_server(AuditServicer(rt), server)
        retention_pb2_grpc.add_RetentionServiceServicer_to_server(RetentionServicer(rt), server)
        names = [
            *self.spec.register(rt, server),
            audit_pb2.DESCRIPTOR.services_by_name["AuditService"].full_name,
            retention_pb2.DESCRIPTOR.services_by_name["RetentionService"].full_name,
        ]
        self.health = health.aio.HealthServicer()  # type: ignore[attr-defined]
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        reflection.enable_server_reflection(
            [*names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME], server
        )
        listen = self.settings.listen
        self.port = (
            server.add_insecure_port(listen) if credentials is None else server.add_secure_port(listen, credentials)
        )
        if self.port == 0:
            raise RuntimeError(f"cannot listen on {self.settings.listen}")
        await server.start()
        for n in [*names, ""]:
            await self.health.set(n, health_pb2.HealthCheckResponse.SERVING)
        self.server = server
        self._services = names
        if federation is not None and not self.process_index:
            loopback_credentials, server_name = loopback
            self._responder = CommandResponder(
                bus,
                self.spec.name,
                federation.node,
                names,
                self.port,
                _server_streaming(names),
                credentials=loopback_credentials,
                server_name=server_name,
            )
            self._responder.start()
        log.info("%s serving on port %d", self.spec.name, self.port)
        return self.port

    async def stop(self, grace: float | None = None) -> None:
        """Graceful stop: report NOT_SERVING, refuse new calls, let in-flight calls finish within the
        grace period, then stop the background workers and flush what the outbox still holds."""
        grace = self.settings.shutdown_grace_seconds if grace is None else grace
        if self.health is not None:
            await self.health.enter_graceful_shutdown()
        if self._responder is not None:
            await self._responder.stop()
        if self.server is not None:
            await self.server.stop(grace)
        for consumer in self._consumers:
            await consumer.stop()
        if self._directory is not None:
            await self._directory.stop()
        if self.runtime is not None:
            await self.runtime.relay.stop(drain=True)
            if self.runtime.chainer is not None:
                await self.runtime.chainer.stop()
            await self.runtime.bus.close()
            self.runtime.db.dispose()

    async def run_until_signalled(self) -> None:
        await self.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        log.info("%s stopping (draining in-flight calls)", self.spec.name)
        await self.stop()


def _backfill(spec: ServiceSpec, database: db.Database, now: datetime) -> None:
    """Rows written in clear before sealing existed (an older version's database) are sealed before serving;
    then the service's own backfills run (``ServiceSpec.backfills``)."""
    sealed = sealing.backfill_all(database.write_sync, spec.metadata, spec.tables)
    if sealed:
        log.info("%s: %d rows written in clear before sealing are now sealed", spec.name, sealed)
    for backfill in spec.backfills:
        backfill(database.write_sync, now)


def prepare(spec: ServiceSpec, settings: ServiceSettings, common: CommonSettings) -> None:
    """What a service's supervisor does once before it starts the copies (``jitlib.processes``): apply
    the migrations, create the KEK file if it is missing, seal the rows an older version left in clear."""
    url = settings.resolved_database_url(common, spec.name)
    if settings.migrate_on_start:
        db.migrate(spec.migrations_dir, url)
    database = db.Database(url)
    try:
        sealing.install(database.info, spec.metadata, settings.kek_ring(common, spec.name))
        _backfill(spec, database, SystemClock().now())
    finally:
        database.dispose()


def check_processes(spec: ServiceSpec, settings: ServiceSettings) -> None:
    """Refuse a port the copies cannot share."""
    n = settings.processes
    if n > 1 and settings.listen.rsplit(":", 1)[-1] == "0":
        raise SystemExit(f"JIT_{spec.name.upper()}_LISTEN: {n} processes need a fixed port to share")


S = TypeVar("S", bound=ServiceSettings)


def run(name: str, make_spec: Callable[[S], ServiceSpec], settings: S, argv: Sequence[str] | None = None) -> None:
    """``python -m services.<name>``: run one service with settings from the environment until SIGTERM.
    ``python -m services.<name> migrate``: apply its migrations to its database, then exit (what a
    deployment runs before the new version serves, with ``JIT_<NAME>_MIGRATE_ON_START=false``).
    With ``JIT_<NAME>_PROCESSES`` above 1, this process prepares the database and supervises that many
    copies of the service on its port (``jitlib.processes``)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args not in ([], ["migrate"]):
        raise SystemExit(f"usage: python -m services.{name} [migrate]")
    common = CommonSettings()
    setup_logging(common.log_level, name)
    spec = make_spec(settings)
    if args == ["migrate"]:
        db.migrate(spec.migrations_dir, settings.resolved_database_url(common, name))
        log.info("%s: migrations applied", name)
        return
    index = processes.process_index()
    if index is None and settings.processes > 1:
        check_processes(spec, settings)
        prepare(spec, settings, common)
        command = [sys.executable, "-m", f"services.{name}"]
        raise SystemExit(processes.supervise(name, command, settings.processes))
    asyncio.run(ServiceApp(spec, settings, common, process_index=index).run_until_signalled())
