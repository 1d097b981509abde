"""What the messaging service consumes: the records' events (system notices in each record's thread) and
the workspace events (closures, for retention). Each handler runs in the consumer's transaction, once per
event (inbox)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from jit.common.v1 import common_pb2
from jit.events.v1.envelope_pb2 import Envelope
from jitlib.alerts import SYSTEM, Alert
from jitlib.runtime import Runtime, UnitOfWork
from services.messaging import domain, store
from services.messaging.servicer import Messaging, Sender, ensure_record_thread

THREADED = {"task", "evidence_request", "preservation_order"}
SYSTEM_SENDER = Sender("system", "jit-system", "SYSTEM")


class _SystemUnit(UnitOfWork):
    """A unit of work inside a consumer's transaction (the consumer commits it with the inbox row)."""


def make_notice_handler(rt: Runtime, m: Messaging):  # type: ignore[no-untyped-def]
    def handle(session: Session, env: Envelope) -> None:
        if env.aggregate_type not in THREADED or not env.aggregate_id:
            return
        now = rt.clock.now()
        rec = session.get(store.RecordRow, (env.aggregate_type, env.aggregate_id))
        audience = ",".join(sorted(set(env.audience)))
        if rec is None:
            rec = store.RecordRow(
                kind=env.aggregate_type,
                id=env.aggregate_id,
                workspace_id=env.workspace_id,
                origin_jurisdiction=env.origin_jurisdiction,
                audience=audience,
                version=env.aggregate_version,
            )
            session.add(rec)
            session.flush()
        elif env.aggregate_version >= rec.version:
            rec.audience, rec.version = audience, env.aggregate_version
        thread = ensure_record_thread(m, session, rec, now)
        text = domain.notice_text(env.type, env.aggregate_type, env.actor.jurisdiction, _warning_words(env))
        uow = _SystemUnit(session, rt.tables, SYSTEM)
        m.post(uow, thread, SYSTEM_SENDER, text, f"event:{env.id}", now, system=True)
        from jitlib import audit

        audit.append(session, rt.tables, uow.audits, now)

    return handle


def _warning_words(env: Envelope) -> str:
    """ "in 7 days" for an expiry warning, read from its state without depending on its service's code."""
    if not env.type.endswith("ExpiryWarning"):
        return ""
    # ExpiryWarning.offset_seconds is field 2 (the agreed contract); read it from the raw message.
    data, pos = env.state.value, 0
    while pos < len(data):
        tag, pos = _varint(data, pos)
        field, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            if field == 2 and value:
                return f"in {_words(timedelta(seconds=value))}"
        elif wire == 2:
            length, pos = _varint(data, pos)
            pos += length
        else:
            break
    return ""


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _words(delta: timedelta) -> str:
    days, hours = delta.days, delta.seconds // 3600
    if days and hours:
        return f"{days} days {hours} hours"
    if days:
        return f"{days} day{'s' if days != 1 else ''}"
    return f"{hours} hour{'s' if hours != 1 else ''}"


def make_closure_handler():  # type: ignore[no-untyped-def]
    def handle(session: Session, env: Envelope) -> None:
        ws = common_pb2.Workspace()
        if not env.state.Unpack(ws) or ws.status != common_pb2.WORKSPACE_STATUS_CLOSED:
            return
        closed = datetime.fromisoformat(ws.closed_at) if ws.closed_at else env.occurred_at.ToDatetime(tzinfo=UTC)
        if closed.tzinfo is None:
            closed = closed.replace(tzinfo=UTC)
        if session.get(store.WorkspaceClosure, ws.id) is None:
            session.add(store.WorkspaceClosure(workspace_id=ws.id, closed_at=closed))

    return handle


def retention_scan(retention: timedelta):  # type: ignore[no-untyped-def]
    """Alerts for workspaces whose retention has ended: their content is to be shredded."""

    def scan(session: Session, now: datetime) -> list[Alert]:
        rows = session.scalars(
            select(store.WorkspaceClosure).where(
                store.WorkspaceClosure.shredded_at.is_(None), store.WorkspaceClosure.closed_at <= now - retention
            )
        )
        return [
            Alert(key=f"shred:{r.workspace_id}", due_at=r.closed_at + retention, payload=r.workspace_id) for r in rows
        ]

    return scan


def make_shredder(m: Messaging):  # type: ignore[no-untyped-def]
    def shred(uow: UnitOfWork, alert: Alert) -> None:
        ws_id = alert.payload
        now = m.rt.clock.now()
        for ch in uow.session.scalars(select(store.ChannelRow).where(store.ChannelRow.workspace_id == ws_id)):
            m.keys.destroy_all(uow.session, ch.id, now)
            m.forget(ch.id)
            ch.shredded_at = now
            uow.audit("channel", ch.id, ws_id, outcome="ok")
        closure = uow.session.get(store.WorkspaceClosure, ws_id)
        if closure is not None:
            closure.shredded_at = now

    return shred
