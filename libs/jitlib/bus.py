"""NATS JetStream: the connection (kept alive across broker outages), streams, publishing and durable
pull consumers with an inbox of processed event ids.

Delivery contract: the outbox relay publishes each event with ``Nats-Msg-Id`` = event id, so a republish
after a crash is dropped by the server's duplicate window. A consumer commits its own transaction and the
event id in its inbox together, then acks; a redelivery after a crash before the ack finds the id in the
inbox and is acked without running the handler again. A consumer made with ``batch`` > 1 handles up to that
many events of a fetched batch in one transaction (their effects and inbox rows commit together) and acks
each only after that commit; the contract is the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import nats
import nats.errors
import nats.js.errors
from google.protobuf.message import DecodeError
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from opentelemetry import trace
from opentelemetry.instrumentation.utils import suppress_instrumentation
from sqlalchemy import Table, bindparam, delete, func, select
from sqlalchemy.orm import Session
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential

from jit.events.v1.envelope_pb2 import Envelope
from jitlib import envelopes, sealing
from jitlib.clock import Clock, SystemClock
from jitlib.db import Database, RuntimeTables
from jitlib.federation import sender_of
from jitlib.mapping import INVALID_TIME
from jitlib.natsauth import Credentials, connect_options
from jitlib.sqlexec import CompiledInsert, CompiledSelect
from jitlib.telemetry import extract_context
from jitlib.validate import WORKSPACE_ID

log = logging.getLogger(__name__)
tracer = trace.get_tracer("jitlib.bus")

#: How long the broker remembers event ids to drop republished duplicates.
DUPLICATE_WINDOW_SECONDS = 24 * 3600.0


class BusUnavailable(Exception):
    """NATS is not reachable right now; the caller keeps its work and retries later."""


class StreamRefused(Exception):
    """NATS refused to create or change a stream as configured (e.g. more replicas than servers)."""


def stream_for(domain: str) -> StreamConfig:
    """One stream per domain, subjects jit.<domain>.<origin>.<event>."""
    return StreamConfig(
        name=f"JIT_{domain.upper()}",
        subjects=[f"jit.{domain}.>"],
        storage=StorageType.FILE,
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
    )


class Bus:
    """A NATS connection that keeps trying: a service starts and serves even while the broker is down."""

    def __init__(
        self,
        servers: str | Sequence[str],
        name: str,
        *,
        streams: list[StreamConfig] | None = None,
        replicas: int | None = None,
        tls: ssl.SSLContext | None = None,
        credentials: Credentials | None = None,
    ) -> None:
        #: Every server of the node's NATS (a cluster's three): the client reconnects to a surviving one.
        self._servers = [u.strip() for u in servers.split(",")] if isinstance(servers, str) else list(servers)
        self._url = ",".join(self._servers)
        #: TLS to the server (its CA, and a client certificate when the server verifies clients).
        self._tls = tls
        self._name = name
        self._streams = list(streams or [])
        #: ``num_replicas`` of every stream this bus creates or updates; None keeps an existing stream's.
        self.replicas = replicas
        #: This service's own NATS user (``jitlib.natsauth``); None on a broker that asks for none.
        self._credentials = credentials
        self._nc: NatsClient | None = None
        self._js: JetStreamContext | None = None
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def ready(self) -> asyncio.Event:
        return self._ready

    @property
    def shown_url(self) -> str:
        """The servers' addresses without any credentials written into them."""

        def bare(url: str) -> str:
            scheme, sep, rest = url.partition("://")
            return f"{scheme}{sep}{rest.rpartition('@')[2]}" if sep else url.rpartition("@")[2]

        return ",".join(bare(u) for u in self._servers)

    def owns(self, stream: StreamConfig) -> bool:
        """Whether this service declares ``stream`` (creates it, and may update it)."""
        return any(cfg.name == stream.name for cfg in self._streams)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._connect_forever(), name=f"{self._name}-nats-connect")

    async def _connect_forever(self) -> None:
        # Never give up: a service starts and serves while NATS is down; its events wait in the outbox.
        async for attempt in AsyncRetrying(
            wait=wait_exponential(multiplier=0.2, max=5.0),
            retry=retry_if_exception_type(Exception),
            before_sleep=lambda state: log.warning(
                "NATS not reachable at %s (%s); retrying",
                self.shown_url,
                state.outcome.exception() if state.outcome else "",
            ),
        ):
            with attempt:
                await self._connect_once()

    async def _connect_once(self) -> None:
        nc = await nats.connect(
            self._servers,
            name=self._name,
            allow_reconnect=True,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            connect_timeout=2,
            tls=self._tls,
            disconnected_cb=self._on_disconnected,
            reconnected_cb=self._on_reconnected,
            **connect_options(self._credentials),
        )
        try:
            js = nc.jetstream(timeout=5)
            for cfg in self._streams:
                await ensure_stream(js, cfg, replicas=self.replicas)
        except BaseException:
            with contextlib.suppress(Exception):
                await nc.close()
            raise
        self._nc, self._js = nc, js
        self._ready.set()
        log.info("connected to NATS at %s as %s", self.shown_url, self._credentials.user if self._credentials else "-")

    async def _on_disconnected(self) -> None:
        log.warning("disconnected from NATS")

    async def _on_reconnected(self) -> None:
        log.info("reconnected to NATS")

    async def wait_ready(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(self._ready.wait(), timeout)

    async def ensure_stream(self, cfg: StreamConfig) -> None:
        """``ensure_stream`` with this node's replicas."""
        await ensure_stream(self.js, cfg, replicas=self.replicas)

    async def create_stream(self, cfg: StreamConfig) -> None:
        """Create another service's stream as it declares it, when it does not exist yet (so a consumer does
        not depend on the order services start in); an existing one is left as its owner made it: a
        service may create the streams it consumes, never update them."""
        try:
            await self.js.stream_info(cfg.name or "")
        except nats.js.errors.NotFoundError:
            try:
                await self.js.add_stream(replace(cfg, num_replicas=self.replicas) if self.replicas else cfg)
            except nats.js.errors.APIError as exc:
                if exc.err_code != _STREAM_NAME_IN_USE:  # else made by its owner meanwhile: fine
                    raise

    @property
    def js(self) -> JetStreamContext:
        if self._js is None:
            raise BusUnavailable("not connected to NATS yet")
        return self._js

    @property
    def nc(self) -> NatsClient:
        if self._nc is None:
            raise BusUnavailable("not connected to NATS yet")
        return self._nc

    async def publish(self, subject: str, payload: bytes, headers: dict[str, str], *, timeout: float = 2.0) -> Any:
        if self._js is None or self._nc is None or not self._nc.is_connected:
            raise BusUnavailable("NATS is not connected")
        try:
            return await self._js.publish(subject, payload, timeout=timeout, headers=headers)
        except (TimeoutError, nats.errors.Error, nats.js.errors.Error) as exc:
            raise BusUnavailable(f"publish to {subject} failed: {exc!r}") from exc

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._nc.close(), timeout=5)
        self._nc = self._js = None
        self._ready.clear()


#: JetStream's error codes for "stream name already in use with a different configuration" and for
#: "insufficient resources" (e.g. fewer servers than replicas).
_STREAM_NAME_IN_USE = 10058
_INSUFFICIENT_RESOURCES = 10023


def _is_refusal(exc: nats.js.errors.APIError) -> bool:
    """A verdict on the configuration, not a passing state (no JetStream leader yet, during an election)."""
    if isinstance(exc, nats.js.errors.ServiceUnavailableError):
        return exc.err_code == _INSUFFICIENT_RESOURCES
    return not isinstance(exc, nats.js.errors.NotFoundError)


def _refused(cfg: StreamConfig, exc: nats.js.errors.APIError) -> StreamRefused:
    copies = cfg.num_replicas or 1
    hint = (
        " JIT_NATS_STREAM_REPLICAS must be 1 on a single server and at most the number of JetStream servers "
        "of a cluster."
        if copies > 1
        else ""
    )
    return StreamRefused(
        f"NATS refuses stream {cfg.name} with {copies} replica(s): {(exc.description or '')[:200]} "
        f"(error {exc.err_code}).{hint}"
    )


async def ensure_stream(js: JetStreamContext, cfg: StreamConfig, *, replicas: int | None = None) -> None:
    """Create the stream, or bring an existing one to this configuration. ``replicas`` (the node's
    ``JIT_NATS_STREAM_REPLICAS``) sets its copies, scaling an existing stream up or down; without it a new
    stream gets the configuration's (one by default) and an existing one keeps the copies it has.
    StreamRefused says in words why NATS refused (more replicas than servers, replicas on a server that
    is not clustered)."""
    wanted = replace(cfg, num_replicas=replicas) if replicas else cfg
    try:
        info = await js.stream_info(cfg.name or "")
    except nats.js.errors.NotFoundError:
        try:
            await js.add_stream(wanted)
            return
        except nats.js.errors.APIError as exc:
            if exc.err_code != _STREAM_NAME_IN_USE:
                if _is_refusal(exc):
                    raise _refused(wanted, exc) from exc
                raise
        # created concurrently by another service: update below
        info = await js.stream_info(cfg.name or "")
    if wanted.num_replicas is None and info.config.num_replicas:
        wanted = replace(wanted, num_replicas=info.config.num_replicas)
    try:
        await js.update_stream(wanted)
    except nats.js.errors.APIError as exc:
        if _is_refusal(exc):
            raise _refused(wanted, exc) from exc
        raise


class PoisonMessage(Exception):
    """A handler's verdict that this event can never be processed: record it and stop redelivering."""


def check_inbound(subject: str, envelope: Envelope, node: str) -> None:
    """What a peer's node sent this one is taken in only when that peer owns the record (the subject it
    was stored under names the sender, written by this node's server), this node's country is in the
    event's audience, or among those the change withdrew the record from (``withdrawn_from``), its
    workspace is a workspace id (what this node's columns hold), and its times can be read (``check_times``)."""
    sender = sender_of(subject)
    if not sender or sender != envelope.origin_jurisdiction:
        raise PoisonMessage(f"sent by the {sender or '?'} node about a record it does not own")
    if node not in envelope.audience and node not in envelope.withdrawn_from:
        raise PoisonMessage(f"this node ({node}) is not in the event's audience")
    if envelope.workspace_id and not WORKSPACE_ID.fullmatch(envelope.workspace_id):
        raise PoisonMessage("workspace_id is not a workspace id")
    check_times(envelope)


def check_times(envelope: Envelope) -> None:
    """A peer's event whose envelope or state holds a Timestamp out of what protobuf and Python can read
    (after the year 9999, nanos out of range) is a poison message naming the field (``state.created_at``),
    not a handler's ValueError redelivered, nor a time taken in unread: the gRPC entry checks a request so
    (``mapping.timestamp_check``), and a peer's node is checked as a caller is."""
    try:
        bad = envelopes.invalid_time(envelope)
    except DecodeError as exc:
        raise PoisonMessage("state: not the message its type names") from exc
    if bad is not None:
        raise PoisonMessage(f"{bad} {INVALID_TIME}")


#: Runs inside the consumer's database transaction; raise PoisonMessage for an event that can never work.
Handler = Callable[[Session, Envelope], None]

_AFTER_COMMIT = "jit.bus.after_commit"


def after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Have the consumer call ``callback`` on the event loop once the handler's transaction committed
    (never when it rolls back): to wake what reads what the handler wrote."""
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


def _letter_ids(query: Any, after: int, session: Session) -> list[int]:
    return list(session.scalars(query, {"after": after}))


def _committed_callbacks(session: Session) -> list[Callable[[], None]]:
    callbacks: list[Callable[[], None]] = session.info.pop(_AFTER_COMMIT, [])
    return callbacks


def _workspace_of(data: bytes) -> str:
    """The workspace an event's bytes name, or "" when they are no envelope or name no workspace id (a
    peer's event may carry anything there: it is kept in a column of 64 characters)."""
    try:
        workspace_id = Envelope.FromString(data).workspace_id
    except (DecodeError, ValueError):
        return ""
    return workspace_id if WORKSPACE_ID.fullmatch(workspace_id) else ""


#: The longest event id taken in: the inbox's and the dead letters' column (a UUID has 36 characters).
MAX_EVENT_ID = 64


@functools.cache
def _inbox_statements(inbox: Table) -> tuple[CompiledSelect, CompiledInsert]:
    """A service's inbox statements, run on the transaction's cursor (``jitlib.sqlexec``): which of some events
    a consumer handled already (every event or batch of events reads it), and the rows of those it handles.
    Through the session's execution each cost several times its statement (bench/README.md, Messaging,
    session 48)."""
    handled = CompiledSelect(
        select(inbox.c.event_id).where(
            inbox.c.consumer == bindparam("consumer"), inbox.c.event_id.in_(bindparam("ids", expanding=True))
        )
    )
    return handled, CompiledInsert(inbox)


@dataclass(frozen=True)
class Retried:
    """What ``EventConsumer.retry_dead_letters`` did: letters applied now, found handled already (deleted
    both), set aside still; ``gone``: taken meanwhile by another copy of the service."""

    applied: int = 0
    handled: int = 0
    kept: int = 0
    gone: int = 0


class EventConsumer:
    """A durable pull consumer whose handler runs in a DB transaction together with the inbox insert."""

    def __init__(
        self,
        bus: Bus,
        database: Database,
        tables: RuntimeTables,
        *,
        durable: str,
        stream: StreamConfig,
        filter_subject: str,
        handler: Handler,
        max_deliver: int = 8,
        ack_wait_seconds: float = 30.0,
        clock: Clock | None = None,
        inbound_for: str | None = None,
        batch: int = 1,
        retries_dead_letters: bool = False,
    ) -> None:
        self._bus = bus
        #: Its handler takes an event late and out of its stream's order without harm (a replica's: an
        #: older version changes nothing): what it set aside is tried again at start (``retry_dead_letters``).
        self.retries_dead_letters = retries_dead_letters
        #: At most this many events of a fetched batch are handled in one transaction (1: each in its own).
        self._batch = max(1, batch)
        self._db = database
        #: This node's country when the consumer reads what peers' nodes sent (``JIT_IN``).
        self._inbound_for = inbound_for
        self._tables = tables
        self.durable = durable
        self._stream = stream
        self._filter = filter_subject
        self._handler = handler
        self._max_deliver = max_deliver
        self._ack_wait = ack_wait_seconds
        self._clock = clock or SystemClock()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"consumer-{self.durable}")

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, asyncio.TimeoutError, Exception):
                await asyncio.wait_for(self._task, timeout=5.0)

    async def _subscribe(self) -> JetStreamContext.PullSubscription:
        await self._bus.wait_ready()
        if self._bus.owns(self._stream):
            await self._bus.ensure_stream(self._stream)
        else:  # another service's stream: made here if its owner has not yet, never changed (jitlib.natsauth)
            await self._bus.create_stream(self._stream)
        config = ConsumerConfig(
            durable_name=self.durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self._ack_wait,
            # One more than our own limit, so we see the last delivery and can dead-letter it.
            max_deliver=self._max_deliver + 1,
            filter_subject=self._filter,
        )
        return await self._bus.js.pull_subscribe(
            self._filter, durable=self.durable, stream=self._stream.name, config=config
        )

    async def _run(self) -> None:
        sub = None
        while not self._stopping:
            try:
                if sub is None:
                    sub = await self._subscribe()
                with suppress_instrumentation():
                    msgs = await sub.fetch(batch=64, timeout=1.0)
            except (TimeoutError, nats.errors.TimeoutError):
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("consumer %s cannot fetch (%s); retrying", self.durable, exc)
                await asyncio.sleep(1.0)
                continue
            for start in range(0, len(msgs), self._batch):
                await self.process_many(msgs[start : start + self._batch])
                # The loop's other work between two transactions: on SQLite a unit of work runs inline on
                # the loop, so a whole fetch handled in one go held every request behind it (hundreds of ms).
                await asyncio.sleep(0)

    async def process_many(self, msgs: Sequence[Msg]) -> None:
        """Handle several deliveries in one transaction: each event's effect and its inbox row commit
        together with the others', and each is acked only after that commit (a crash before leaves them
        unacked, and their redelivery finds them in the inbox). Any failure (an undecodable event, a
        poison message, a handler's error) rolls the whole transaction back, and each event is then
        handled alone (``process``): its neighbours lose nothing but the first attempt."""
        if len(msgs) == 1:
            await self.process(msgs[0])
            return
        envelopes: list[Envelope] = []
        links: list[trace.Link] = []
        contexts: list[Any] = []
        for msg in msgs:
            try:
                envelope = Envelope.FromString(msg.data)
            except DecodeError:
                envelope = Envelope()
            if not envelope.id or self._inbound_for is not None:
                # set aside by ``process`` (dead letter), or checked against its sender there
                await self._one_by_one(msgs)
                return
            envelopes.append(envelope)
            contexts.append(extract_context(dict(msg.headers or {})))
            sent = trace.get_current_span(contexts[-1]).get_span_context()
            if sent.is_valid:
                links.append(trace.Link(sent))
        handled, record = _inbox_statements(self._tables.inbox)

        def unit(session: Session) -> tuple[int, list[Callable[[], None]]]:
            ids = [e.id for e in envelopes]
            done = {row[0] for row in handled.rows(session, consumer=self.durable, ids=ids)}
            fresh = []
            for msg, envelope, sent_in in zip(msgs, envelopes, contexts, strict=True):
                if envelope.id in done:
                    continue
                done.add(envelope.id)  # the same event twice in one batch takes effect once
                # Each event's handling is still a span of its own trace (a child of its publish), as alone.
                with tracer.start_as_current_span(
                    f"{msg.subject} process",
                    context=sent_in,
                    kind=trace.SpanKind.CONSUMER,
                    attributes={
                        "messaging.system": "nats",
                        "messaging.destination.name": msg.subject,
                        "messaging.consumer.group.name": self.durable,
                        "messaging.message.id": envelope.id,
                    },
                ):
                    self._handler(session, envelope)
                fresh.append({"consumer": self.durable, "event_id": envelope.id, "processed_at": self._clock.now()})
            if fresh:
                record.execute(session, fresh)
            return len(envelopes) - len(fresh), _committed_callbacks(session)

        with tracer.start_as_current_span(
            f"{self._filter} process",
            kind=trace.SpanKind.CONSUMER,
            links=links,
            attributes={
                "messaging.system": "nats",
                "messaging.destination.name": self._filter,
                "messaging.consumer.group.name": self.durable,
                "messaging.batch.message_count": len(msgs),
            },
        ) as span:
            try:
                duplicates, callbacks = await self._db.write(unit)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                span.set_attribute("jit.batch_failed", True)
                log.info("consumer %s: a batch of %d failed (%s); each event alone", self.durable, len(msgs), exc)
                await self._one_by_one(msgs)
                return
            span.set_attribute("jit.duplicates", duplicates)
            for callback in callbacks:
                callback()
            for msg in msgs:
                await self._ack(msg)

    async def _one_by_one(self, msgs: Sequence[Msg]) -> None:
        for msg in msgs:
            await self.process(msg)
            await asyncio.sleep(0)

    async def process(self, msg: Msg) -> None:
        """Handle one delivery: exactly-once effect through the inbox, then ack."""
        headers = dict(msg.headers or {})
        with tracer.start_as_current_span(
            f"{msg.subject} process",
            context=extract_context(headers),
            kind=trace.SpanKind.CONSUMER,
            attributes={
                "messaging.system": "nats",
                "messaging.destination.name": msg.subject,
                "messaging.consumer.group.name": self.durable,
            },
        ) as span:
            try:
                envelope = Envelope.FromString(msg.data)
                if not envelope.id or len(envelope.id) > MAX_EVENT_ID:
                    raise PoisonMessage(f"envelope has no id, or one longer than {MAX_EVENT_ID} characters")
                if self._inbound_for is not None:
                    check_inbound(msg.subject, envelope, self._inbound_for)
            except DecodeError as exc:
                await self._dead_letter(msg, None, f"undecodable envelope: {exc}")
                await msg.term()
                return
            except PoisonMessage as exc:
                await self._dead_letter(msg, None, str(exc))
                await msg.term()
                return
            span.set_attribute("messaging.message.id", envelope.id)
            handled, record = _inbox_statements(self._tables.inbox)

            def unit(session: Session) -> tuple[bool, list[Callable[[], None]]]:
                if handled.rows(session, consumer=self.durable, ids=[envelope.id]):
                    return True, []
                self._handler(session, envelope)
                record.execute(
                    session, {"consumer": self.durable, "event_id": envelope.id, "processed_at": self._clock.now()}
                )
                return False, _committed_callbacks(session)

            try:
                duplicate, callbacks = await self._db.write(unit)
                if duplicate:
                    span.set_attribute("jit.duplicate", True)
            except PoisonMessage as exc:
                await self._dead_letter(msg, envelope.id, str(exc))
                await msg.term()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                deliveries = msg.metadata.num_delivered or 1
                span.record_exception(exc)
                if deliveries >= self._max_deliver:
                    log.error("consumer %s gives up on %s after %d deliveries", self.durable, envelope.id, deliveries)
                    await self._dead_letter(msg, envelope.id, f"{type(exc).__name__}: {exc}")
                    await msg.term()
                else:
                    log.warning("consumer %s failed on %s (%s); will retry", self.durable, envelope.id, exc)
                    await msg.nak(delay=min(2.0**deliveries, 30.0))
                return
            for callback in callbacks:
                callback()
            await self._ack(msg)

    async def _ack(self, msg: Msg) -> None:
        await msg.ack()

    async def retry_dead_letters(self, batch: int = 200) -> Retried:
        """Handle again, oldest first, what this consumer set aside (``dead_letters``): each letter in a
        transaction of its own with its inbox row, as a delivery is (``process``), the letter deleted in
        it. One found handled already (the inbox) is deleted without its handler; one that fails again is
        kept as it was; one whose content is gone (its workspace shredded: nothing left to apply) is kept
        and not tried. Run before the consumer reads its stream, and only for a handler that may take an
        event late and out of order (``retries_dead_letters``): a node whose older build could not read
        what a newer peer's node sent (a kind of deadline it did not know) takes it in once upgraded,
        instead of keeping a copy that stays behind until the record changes again (or missing)."""
        table = self._tables.dead_letters
        ids = select(table.c.id).where(
            table.c.consumer == self.durable, table.c.id > bindparam("after"), func.length(table.c.payload) > 0
        )
        ids = ids.order_by(table.c.id).limit(batch)
        done = Retried()
        after = 0
        while True:
            page = await self._db.read(functools.partial(_letter_ids, ids, after))
            for letter in page:
                try:
                    outcome, callbacks = await self._db.write(functools.partial(self._retry_one, letter))
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.info("consumer %s: dead letter %d still fails (%s)", self.durable, letter, type(exc).__name__)
                    done = replace(done, kept=done.kept + 1)
                    continue
                for callback in callbacks:
                    callback()
                done = replace(done, **{outcome: getattr(done, outcome) + 1})
            if len(page) < batch:
                break
            after = page[-1]
        if done.applied or done.handled or done.kept:
            log.info(
                "consumer %s: of its dead letters %d applied now, %d found handled, %d still set aside",
                self.durable, done.applied, done.handled, done.kept,
            )  # fmt: skip
        return done

    def _retry_one(self, letter: int, session: Session) -> tuple[str, list[Callable[[], None]]]:
        """``retry_dead_letters``'s unit for the dead letter ``letter``: ("applied" | "handled" | "gone",
        the callbacks to run once committed). Raises what the handler raises (the unit rolls back)."""
        table = self._tables.dead_letters
        row = session.execute(
            select(table.c.event_id, table.c.subject, table.c.payload).where(table.c.id == letter).with_for_update()
        ).one_or_none()
        if row is None:
            return "gone", []  # another copy of this service took it meanwhile
        data = sealing.open_payload(
            session, row.payload, sealing.dead_letter_name(self.durable, row.event_id, row.subject)
        )
        if data is None:
            raise sealing.ContentDestroyed("")  # shredded since: kept, nothing to apply
        envelope = Envelope.FromString(data)
        if not envelope.id or len(envelope.id) > MAX_EVENT_ID:
            raise PoisonMessage("envelope has no id, or one longer than the inbox takes")
        if self._inbound_for is not None:
            check_inbound(row.subject, envelope, self._inbound_for)
        session.execute(delete(table).where(table.c.id == letter))
        handled, record = _inbox_statements(self._tables.inbox)
        if handled.rows(session, consumer=self.durable, ids=[envelope.id]):
            return "handled", []
        self._handler(session, envelope)
        record.execute(session, {"consumer": self.durable, "event_id": envelope.id, "processed_at": self._clock.now()})
        return "applied", _committed_callbacks(session)

    async def _dead_letter(self, msg: Msg, event_id: str | None, error: str) -> None:
        now: datetime = self._clock.now()
        values = dict(
            consumer=self.durable,
            event_id=event_id[:MAX_EVENT_ID] if event_id else event_id,
            subject=msg.subject[:255],
            error=error[:4000],
            deliveries=msg.metadata.num_delivered or 1,
            recorded_at=now,
        )
        tables = self._tables
        table = tables.dead_letters

        def write(session: Session) -> None:
            # The event carries a record's state, free text included: kept sealed, like the outbox.
            name = sealing.dead_letter_name(self.durable, event_id, msg.subject)
            workspace_id = _workspace_of(msg.data)
            try:
                if workspace_id and sealing.certified_destroyed(session, tables, workspace_id):
                    raise sealing.ContentDestroyed(workspace_id)  # in a service whose keys are not jitlib's
                payload = sealing.seal_payload(session, msg.data, name, workspace_id)
            except sealing.ContentDestroyed:
                payload = b""  # its workspace's content was destroyed: keep nothing of it
            # Its workspace named in clear: its shred deletes it (``sealing.destroy_payloads``).
            session.execute(table.insert().values(payload=payload, workspace_id=workspace_id, **values))

        await self._db.write(write)
