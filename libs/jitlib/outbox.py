"""Transactional outbox: the state change and its event are written in one transaction; a relay
publishes pending events to JetStream and marks them sent.

A crash between commit and publish loses nothing (the row stays pending and is published after restart);
a crash between publish and marking duplicates nothing (the broker drops the same Nats-Msg-Id).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import NamedTuple, Protocol

from opentelemetry import trace
from opentelemetry.instrumentation.utils import suppress_instrumentation
from sqlalchemy import Table, func, select, update
from sqlalchemy.orm import Session

from jit.events.v1.envelope_pb2 import Envelope
from jitlib import sealing
from jitlib.bus import Bus, BusUnavailable
from jitlib.clock import Clock, SystemClock
from jitlib.db import Database, RuntimeTables
from jitlib.envelopes import copy_for, withdrawal
from jitlib.federation import Federation, outbound_subject
from jitlib.sqlexec import CompiledInsert
from jitlib.telemetry import extract_context, inject_headers, left_out

log = logging.getLogger(__name__)
tracer = trace.get_tracer("jitlib.outbox")


#: Events on these subjects are for other nodes only: never published on this node's own broker (a
#: message's text, which this node keeps sealed in its database).
PEERS_ONLY = "jit.peers."

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class PayloadSealer(Protocol):
    """Seals what an outbox row holds at rest (``jitlib.crypto.KekSealer``)."""

    def seal(self, data: bytes, name: str) -> bytes: ...

    def open(self, data: bytes, name: str) -> bytes: ...


class Staged(NamedTuple):
    """An event as staged: its id, subject, envelope in clear and trace headers (JSON)."""

    id: str
    subject: str
    payload: bytes | None
    headers: str


def stage(
    session: Session, tables: RuntimeTables, subject: str, envelope: Envelope, sealer: PayloadSealer | None = None
) -> Staged:
    """Write an event to the outbox inside the caller's transaction, with the current trace context. The
    row holds the envelope sealed (it carries the record's state, free text included): under the
    workspace's content key (``jitlib.sealing``; shredding the workspace destroys it too), or the KEK.
    With ``sealer`` (only for an event for other nodes, ``PEERS_ONLY``), sealed by it. The relay opens
    the row just before publishing it, or takes what this returns from the committer
    (``OutboxRelay.committed``) and reads nothing."""
    clear = envelope.SerializeToString(deterministic=True)
    if sealer is not None:
        if not subject.startswith(PEERS_ONLY):
            raise ValueError("only an event for other nodes is kept sealed in the outbox")
        payload = sealer.seal(clear, envelope.id)
    else:
        payload = sealing.seal_payload(session, clear, envelope.id, envelope.workspace_id)
    headers = json.dumps(inject_headers())
    occurred = envelope.occurred_at  # as a datetime, what ``Timestamp.ToDatetime`` gives, without its conversions
    _insert(tables.outbox).execute(
        session,
        {
            "id": envelope.id,
            "subject": subject,
            "event_type": envelope.type,
            "payload": payload,
            "headers": headers,
            "created_at": _EPOCH + timedelta(seconds=occurred.seconds, microseconds=occurred.nanos // 1000),
            "attempts": 0,
            "workspace_id": envelope.workspace_id,
        },
    )
    return Staged(envelope.id, subject, clear, headers)


class OutboxRelay:
    """Publishes pending outbox rows in order, as its own task on the service's event loop.

    After a commit, the committer hands the relay the events it staged (``committed``): the relay
    publishes them as they are, without reading them back from the outbox, and marks them sent; no
    request waits for it and no fixed linger delays an event (a burst of commits is published together,
    since what is committed while one publish awaits its ack goes out in the next). A scan of the outbox
    (``publish_pending``) is the safety net: at start (what a crash left pending), after a failed
    publish, on ``wake`` (a writer that staged rows outside ``Runtime.change``), when the relay has
    fallen ``max_handed`` events behind (it then holds none in memory) and every ``poll_seconds`` while
    idle. An event committed while a scan reads is both handed over and found by
    the scan: the scan publishes it and it is dropped from what was handed, so one relay publishes it
    once. Two relays on one database (replicas, ``jitlib.processes``) may both publish a row one of them
    left pending; it goes out twice with one ``Nats-Msg-Id``, and the broker drops the second copy.

    Events handed over are marked sent together, at most ``mark_seconds`` after their publish (one
    write for a burst, not one per event, and none between a create and the next at concurrency 1); a
    crash in between republishes them at start, and the broker drops those copies as it drops any
    republished event (its duplicate window is minutes, ``mark_seconds`` a fraction of a second)."""

    def __init__(
        self,
        database: Database,
        tables: RuntimeTables,
        bus: Bus,
        *,
        poll_seconds: float = 1.0,
        linger_seconds: float = 0.01,
        mark_seconds: float = 0.05,
        batch: int = 200,
        max_handed: int = 2000,
        clock: Clock | None = None,
        federation: Federation | None = None,
    ) -> None:
        self._db = database
        self._federation = federation
        #: Opens the rows staged sealed (set by a service that stages such rows).
        self.sealer: PayloadSealer | None = None
        self._tables = tables
        self._bus = bus
        self._poll = poll_seconds
        self._linger = linger_seconds
        self._batch = batch
        self._clock = clock or SystemClock()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        #: Events committed and handed over by their committer, in commit order, not published yet: at most
        #: ``max_handed`` (a relay further behind reads them back from the outbox instead, ``committed``).
        self._handed: list[Staged] = []
        self._max_handed = max_handed
        #: The outbox must be scanned (at start, after a failure, when woken without the events).
        self._scan = True
        self._mark_seconds = mark_seconds
        #: Handed events published and not marked sent yet, and when they are to be (loop time).
        self._unmarked: list[str] = []
        self._mark_at = 0.0
        #: The ids the last scan read (what it published, or failed on and will scan again).
        self._scanned: frozenset[str] = frozenset()

    def wake(self) -> None:
        """Scan the outbox soon: rows were committed that were not handed over."""
        self._scan = True
        self._wakeup.set()

    def committed(self, events: list[Staged]) -> None:
        """Events just committed (staged by ``stage``): publish them without reading them back. A relay
        that has fallen ``max_handed`` events behind (its broker slower than the commits) lets go of what
        it holds and scans the outbox, where all of it is, in batches: what it keeps in memory stays
        bounded however long it lags, and the scan publishes in the outbox's order, each event once."""
        if len(self._handed) + len(events) > self._max_handed:
            self._handed.clear()
            self._scan = True
        else:
            self._handed.extend(events)
        self._wakeup.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self, *, drain: bool = True) -> None:
        """Stop the relay; with ``drain``, try one last publish of what is pending (bounded in time)."""
        self._stopping = True
        self._wakeup.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._task, timeout=5.0)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._flush_marks(), timeout=3.0)
        if drain:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.publish_pending(), timeout=3.0)

    async def _run(self) -> None:
        backoff = 0.2
        loop = asyncio.get_running_loop()
        while not self._stopping:
            self._wakeup.clear()
            try:
                if self._unmarked and (self._scan or loop.time() >= self._mark_at):
                    await self._flush_marks()  # before a scan, which would find them pending
                if self._scan:
                    self._scan = False
                    # What was handed over before this scan is committed: the scan finds it.
                    self._handed.clear()
                    full = await self.publish_pending()
                    if self._handed:
                        # Committed while the scan read, and found by it: already published.
                        self._handed = [e for e in self._handed if e.id not in self._scanned]
                    if full:
                        self._scan = True  # a full batch: more may be waiting
                    backoff = 0.2
                    continue
                if self._handed:
                    batch, self._handed = self._handed, []
                    await self._publish(batch, defer_mark=True)
                    backoff = 0.2
                    continue
            except BusUnavailable as exc:
                self._scan = True  # what was not published stays pending in the outbox
                log.info("outbox waits for NATS: %s", exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            except asyncio.CancelledError:
                raise
            except Exception:
                self._scan = True
                log.exception("outbox relay error; retrying")
                await asyncio.sleep(1.0)
                continue
            marking = bool(self._unmarked)
            try:
                wait = max(0.0, self._mark_at - loop.time()) if marking else self._poll
                async with asyncio.timeout(wait):  # not wait_for: no task of its own per wake (Python 3.11)
                    await self._wakeup.wait()
            except TimeoutError:
                if not marking:
                    self._scan = True  # the safety net: rows a crashed writer or another replica left
                continue
            if self._linger and self._scan:
                # Let the commits of a burst gather, so one scan and one update carry several events.
                await asyncio.sleep(self._linger)

    async def publish_pending(self) -> bool:
        """Publish one batch; returns True when a full batch was sent (more may be waiting)."""
        ob = self._tables.outbox
        query = (
            select(ob.c.id, ob.c.subject, ob.c.payload, ob.c.headers)
            .where(ob.c.published_at.is_(None))
            .order_by(ob.c.id)
            .limit(self._batch)
        )

        def pending(session: Session) -> list[Staged]:
            out = []
            for r in session.execute(query).all():
                if r.subject.startswith(PEERS_ONLY):
                    payload = self.sealer.open(r.payload, r.id) if self.sealer is not None else r.payload
                else:
                    # None: its workspace was shredded before it went out; it never will.
                    payload = sealing.open_payload(session, r.payload, r.id)
                out.append(Staged(r.id, r.subject, payload, r.headers))
            return out

        with suppress_instrumentation():  # idle polling must not flood the traces
            rows = await self._db.read(pending)
        self._scanned = frozenset(r.id for r in rows)
        if not rows:
            return False
        await self._publish(rows)
        return len(rows) == self._batch

    async def _flush_marks(self) -> None:
        if self._unmarked:
            ids, self._unmarked = self._unmarked, []
            await self._mark_sent(ids)

    async def _publish(self, rows: list[Staged], *, defer_mark: bool = False) -> None:
        """Publish ``rows`` (their payloads in clear) in order, then mark those sent (``defer_mark``:
        within ``mark_seconds``, with others); a failure stops at the row that failed, the rows before
        it marked."""
        sent: list[str] = []
        try:
            for row in rows:
                if row.payload is None:
                    log.info("event %s is not published: its workspace's content was destroyed", row.id)
                    sent.append(row.id)
                    continue
                stored = json.loads(row.headers or "{}")
                if left_out(stored):
                    # Its trace was not sampled, so its publish span would not be recorded: none is made, and
                    # the event carries on the trace context it was staged with.
                    await self._send(row.id, row.subject, row.payload, {**stored, "Nats-Msg-Id": row.id})
                    sent.append(row.id)
                    continue
                with tracer.start_as_current_span(
                    f"{row.subject} publish",
                    context=extract_context(stored),
                    kind=trace.SpanKind.PRODUCER,
                    attributes={
                        "messaging.system": "nats",
                        "messaging.destination.name": row.subject,
                        "messaging.message.id": row.id,
                    },
                ):
                    headers = inject_headers()
                    headers["Nats-Msg-Id"] = row.id
                    await self._send(row.id, row.subject, row.payload, headers)
                sent.append(row.id)
        finally:
            if sent and defer_mark and self._mark_seconds:
                if not self._unmarked:
                    self._mark_at = asyncio.get_running_loop().time() + self._mark_seconds
                self._unmarked += sent
            elif sent:
                await self._mark_sent(sent)

    async def _send(self, event_id: str, subject: str, payload: bytes, headers: dict[str, str]) -> None:
        """Publish an event on this node's broker (not one for other nodes only, nor a record sent again
        to the nodes of countries that joined its workspace), then its copies for peers."""
        event = Envelope.FromString(payload) if self._federation is not None else None
        if not subject.startswith(PEERS_ONLY) and (event is None or not event.resent_to):
            ack = await self._bus.publish(subject, payload, headers)
            if getattr(ack, "duplicate", False):
                log.info("event %s was already on the stream (duplicate dropped)", event_id)
        if event is not None:
            await self._send_to_peers(event_id, subject, payload, headers, event)

    async def _send_to_peers(
        self, event_id: str, subject: str, payload: bytes, headers: dict[str, str], event: Envelope
    ) -> None:
        """On a node of a federation, the copy for each peer in the event's audience, on a subject that
        names that peer (``jit.out.<peer>.``): nothing leaves for a country not entitled to it, and a
        node sends only what it owns. A peer the change took out of the record's audience
        (``withdrawn_from``) gets the event's withdrawal instead (``envelopes.withdrawal``: no state), to
        drop its copy. A record sent again to the countries that joined its workspace (``resent_to``,
        ``jitlib.joining``) goes to those of its audience only. A part of the state that fewer countries are
        entitled to (``field_audiences``: a linked record's id) is in the copy of an entitled peer only
        (``envelopes.copy_for``); this node's own stream keeps the event whole. The row is marked sent only
        after every copy is stored, and a republished copy is dropped by its id (each copy is made again
        from the row, the same for the same peer)."""
        if self._federation is None or not self._federation.is_owner(event.origin_jurisdiction):
            return
        audience = set(event.audience) & set(event.resent_to) if event.resent_to else event.audience
        for peer in self._federation.recipients(audience):
            copy = copy_for(event, peer)
            body = payload if copy is None else copy.SerializeToString(deterministic=True)
            copy_headers = {**headers, "Nats-Msg-Id": f"{event_id}.{peer}"}
            await self._bus.publish(outbound_subject(peer, subject), body, copy_headers)
        for peer in self._federation.recipients(set(event.withdrawn_from) - set(event.audience)):
            await self._bus.publish(
                outbound_subject(peer, subject),
                withdrawal(event, peer).SerializeToString(deterministic=True),
                {**headers, "Nats-Msg-Id": f"{event_id}.{peer}"},
            )

    async def _mark_sent(self, ids: list[str]) -> None:
        ob = self._tables.outbox
        stmt = update(ob).where(ob.c.id.in_(ids)).values(published_at=self._clock.now())
        with suppress_instrumentation():
            await self._db.write(lambda session: session.execute(stmt))

    async def pending_count(self) -> int:
        ob = self._tables.outbox
        query = select(func.count()).select_from(ob).where(ob.c.published_at.is_(None))
        return int(await self._db.read(lambda session: session.scalar(query)) or 0)


@functools.cache
def _insert(outbox: Table) -> CompiledInsert:
    """The outbox's INSERT, compiled once: every change that emits stages a row."""
    return CompiledInsert(outbox)
