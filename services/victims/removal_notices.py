"""The victim is told: a removal request (preservation service) naming victims by pseudonym whose content a
platform removed, blocked or restored gives each named victim a notice, recorded by the system (legal
REMOVAL_VICTIM_NOTICE): step CONTENT_REMOVED or CONTENT_RESTORED, channel SYSTEM, told_at the platform's
answer, so that the liaison supporting the victim sees it in ``jit victim notices`` and tells them.

Consumes jit.preservation.> (durable consumer ``removal-notices``) and, on a federation, the same events
other nodes send this one (``removal-notices-in``, from ``JIT_IN``): a removal request belongs to the node
of whoever filed it, a victim to the lead's, so the lead's node hears of a request a member's prosecutor
filed only from that member's node. Only the events jit.preservation.v1.RemovalRequestRemoved,
...GeoBlocked and ...Restored are read, the others are skipped. Once per event and victim: each consumer's
inbox drops a redelivered event, and the notice's request id is derived from the event's id and the
pseudonym (UUIDv5), so the notices' unique (teller, request) index refuses a second one, whichever
consumer saw the event. A pseudonym this node does not hold (a replica, another workspace) is left alone:
the victim's notices live on the lead's node.
"""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy.orm import Session

from jit.events.v1.envelope_pb2 import Envelope
from jit.preservation.v1 import removal_pb2
from jitlib import audit
from jitlib.actors import Actor
from jitlib.alerts import SYSTEM
from jitlib.bus import EventConsumer, Handler, PoisonMessage, stream_for
from jitlib.ids import new_id
from jitlib.mapping import ts_to_dt
from jitlib.runtime import Runtime, UnitOfWork, current_method
from services.victims import domain, events, store
from services.victims.mapping import victim_to_pb

PRESERVATION_STREAM = stream_for("preservation")
SUBJECTS = "jit.preservation.>"
RECORD = "victim"
#: The namespace of the notices' request ids (UUIDv5 of event id and pseudonym).
_NAMESPACE = uuid.UUID("5d0f6c53-6a4e-4b8e-9d55-1f3c2a7e9b01")


def notice_request_id(event_id: str, pseudonym: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{event_id}/{pseudonym}"))


def handler(rt: Runtime, loop: asyncio.AbstractEventLoop) -> Handler:
    def handle(session: Session, env: Envelope) -> None:
        step = domain.REMOVAL_NOTICE_STEPS.get(env.type)
        if step is None:
            return  # an order, a warning, another transition of a removal request
        removal = removal_pb2.RemovalRequest()
        if not env.state.Unpack(removal):
            raise PoisonMessage(f"{env.type} event {env.id} does not carry a RemovalRequest")
        if removal.workspace_id != env.workspace_id:
            raise PoisonMessage(f"{env.type} event {env.id}: its state is of another workspace than its envelope")
        now = rt.clock.now()
        told_at = ts_to_dt(removal.answered_at, removal.HasField("answered_at")) or now
        actor = Actor(SYSTEM.user_id, SYSTEM.username, removal.origin_jurisdiction)
        what = "removed" if step is domain.NoticeStep.CONTENT_REMOVED else "restored"
        note = f"{removal.provider_id} {what} content of removal request {removal.id}"
        uow = UnitOfWork(session, rt.tables, SYSTEM)
        method = current_method.set(f"event {env.type} {env.id}")
        try:
            for ref in dict.fromkeys(removal.victim_refs):
                victim = store.by_pseudonym(session, removal.workspace_id, ref, for_update=True)
                if victim is None or victim.replicated_at is not None:
                    continue  # not held here
                request_id = notice_request_id(env.id, ref)
                if store.notice_by_request(session, SYSTEM.user_id, request_id) is not None:
                    continue  # recorded for this event already
                updated, notice = domain.removal_notice(
                    victim, step, notice_id=new_id(), told_at=told_at, note=note, actor=actor, now=now
                )
                if not store.VICTIMS.update_if_version(session, updated, victim.version):
                    raise RuntimeError(f"victim {victim.id} changed under its row lock")
                store.insert_notice(session, notice, request_id=request_id, request_digest=env.id[:64])
                members = rt.members_of(updated)
                uow.emit(
                    events.subject(updated, "notice_recorded"),
                    events.envelope(updated, victim_to_pb(updated), "notice_recorded", members, now),
                )
                uow.audit(RECORD, updated.id, updated.workspace_id)
        finally:
            current_method.reset(method)
        if uow.audits:
            audit.record(session, rt.tables, uow.audits, now)
            loop.call_soon_threadsafe(rt.relay.wake)

    return handle


def consumers(rt: Runtime) -> list[EventConsumer]:
    """This node's preservation events and, on a federation, those its peers' nodes send it (the inbound
    check ties each to the node that owns its removal request)."""
    handle = handler(rt, asyncio.get_running_loop())
    return rt.consumers_here_and_from_peers("removal-notices", PRESERVATION_STREAM, SUBJECTS, handle)
