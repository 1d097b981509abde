"""What the messaging service consumes: the records' events (a system notice in each record's thread)
and the workspace events (closures, for retention), plus the retention scan that shreds a closed
workspace's channels. Each handler runs in the consumer's transaction, once per event (inbox)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from jit.common.v1 import common_pb2
from jit.events.v1.envelope_pb2 import Envelope
from jit.preservation.v1 import preservation_pb2
from jitlib import audit
from jitlib.alerts import SYSTEM, Alert, Emit, Scan
from jitlib.bus import Handler
from jitlib.runtime import Runtime, UnitOfWork
from services.messaging import domain, store
from services.messaging.channels import Channels
from services.messaging.domain import RecordReplica
from services.messaging.live import Live

#: The aggregate types whose events become notices in their record's thread.
THREADED = frozenset(domain.THREADED.values())


def _expires_in(env: Envelope) -> str:
    """ "in 7 days" for a preservation order's expiry warning; "" for any other event."""
    warning = preservation_pb2.ExpiryWarning()
    if not env.state.Unpack(warning):
        return ""
    return domain.expires_in(timedelta(seconds=warning.offset_seconds))


def notice_handler(rt: Runtime, channels: Channels, live: Live, loop: asyncio.AbstractEventLoop) -> Handler:
    def handle(session: Session, env: Envelope) -> None:
        if env.aggregate_type not in THREADED or not env.aggregate_id:
            return
        now = rt.clock.now()
        seen = RecordReplica(
            kind=env.aggregate_type,
            id=env.aggregate_id,
            workspace_id=env.workspace_id,
            origin_jurisdiction=env.origin_jurisdiction,
            audience=frozenset(env.audience),
            version=env.aggregate_version,
        )
        current = store.get_replica(session, seen.kind, seen.id)
        replica = domain.replica_after(current, seen)
        if replica is not current:
            store.put_replica(session, replica, new=current is None)
        thread = channels.record_thread(session, replica, now)
        if thread.shredded_at is not None:
            return  # retention ended: the thread takes no more notices
        text = domain.notice_text(env.type, env.aggregate_type, env.actor.jurisdiction, _expires_in(env))
        uow = UnitOfWork(session, rt.tables, SYSTEM)
        channels.post(
            uow,
            thread.id,
            sender=domain.SYSTEM_SENDER,
            text=text,
            files=[],
            request_id=f"event:{env.id}",
            digest="",
            now=now,
            system=True,
        )
        audit.append(session, rt.tables, uow.audits, now)

        def committed() -> None:
            rt.relay.wake()
            live.notify(thread.id)

        loop.call_soon_threadsafe(committed)

    return handle


def closure_handler() -> Handler:
    def handle(session: Session, env: Envelope) -> None:
        ws = common_pb2.Workspace()
        if not env.state.Unpack(ws) or ws.status != common_pb2.WORKSPACE_STATUS_CLOSED:
            return
        closed = datetime.fromisoformat(ws.closed_at) if ws.closed_at else env.occurred_at.ToDatetime(tzinfo=UTC)
        if closed.tzinfo is None:
            closed = closed.replace(tzinfo=UTC)
        store.record_closure(session, ws.id, closed)

    return handle


def retention_scan(retention: timedelta) -> Scan:
    """Alerts for workspaces whose retention has ended: their content is to be shredded."""

    def scan(session: Session, now: datetime) -> Sequence[Alert]:
        return [
            Alert(key=f"shred:{ws}", due_at=closed_at + retention, payload=ws)
            for ws, closed_at in store.closures_due(session, now - retention)
        ]

    return scan


def shredder(rt: Runtime, channels: Channels, live: Live, loop: asyncio.AbstractEventLoop) -> Emit:
    def shred(uow: UnitOfWork, alert: Alert) -> None:
        shredded = channels.shred_workspace(uow, alert.payload, rt.clock.now())

        def committed() -> None:
            for channel_id in shredded:
                live.forget(channel_id)

        loop.call_soon_threadsafe(committed)

    return shred
