"""Choreography: a preservation order nearing expiry opens a follow-up task for the issuing jurisdiction, and
the order's later events close it.

Consumes jit.preservation.> (durable consumer ``preservation-orders``, in stream order, so that an order's
warning is handled before the events that follow it):

- ``expiry_warning`` (jit.preservation.v1.ExpiryWarning): on the FIRST warning of an expiry (the earliest
  offset) it creates one task, kind FOLLOW_UP, addressed to the order's issuing jurisdiction (also its
  origin), in the order's workspace with the order's visibility and shared_with, due at the order's
  expiry, linked to the order, concerning the order's victims (their pseudonyms, ``victim_refs``). None
  when this node's directory says the issuing jurisdiction was taken out of the workspace
  (``domain.follow_up_opened``, rule TASK_FOLLOW_UP_NOT_FOR_FORMER_MEMBER).
  Its title and description follow the order's legal basis
  (``domain.follow_up_text``): "Extend or request production" only while an extension is still possible
  (the order's ``extension_deadline``, which the preservation service computes from the basis and the
  provider); a Budapest Art. 29 order asks for the MLA production request, a used EPOC-PR extension or a
  provider that does not extend asks for production and says why. An order already over gets none.
- ``extended``, ``production_requested``, ``produced``, ``lifted``, ``expired``, ``not_executed``
  (jit.preservation.v1.PreservationOrder): the system closes the order's open follow-up tasks
  (``domain.follow_up_closure``, TASK_FOLLOW_UP_CLOSES): VERIFIED with an outcome naming the event when
  the order was extended (the follow-ups of earlier expiries), produced, or is kept until production;
  CANCELLED with a reason naming the event when it was lifted, expired or not executed. Each closure is a
  version-checked change with its event and an audit entry whose operation names the event.

Exactly once: the consumer's inbox drops a redelivered event; a follow-up task's request_id is derived
from the order id and the expiry (UUIDv5), created by the system user, so a second event about the same
expiry (a replica, a replay) hits the unique (creator, request_id) index and creates nothing; and a closed
task is no longer open, so the same closing event in a new envelope closes nothing twice. An extension
starts a new expiry, hence a new follow-up task.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from datetime import UTC

from sqlalchemy.orm import Session

from jit.common.v1 import common_pb2
from jit.events.v1.envelope_pb2 import Envelope
from jit.preservation.v1 import preservation_pb2
from jitlib import audit
from jitlib.actors import Actor
from jitlib.alerts import SYSTEM
from jitlib.bus import EventConsumer, Handler, PoisonMessage, stream_for
from jitlib.ids import new_id
from jitlib.mapping import enum_name, ts_to_dt
from jitlib.runtime import Runtime, UnitOfWork, current_method
from services.tasks import domain, events, store
from services.tasks.domain import Link, NewTask, OrderFacts, TransitionInput
from services.tasks.mapping import task_to_pb

log = logging.getLogger(__name__)

PRESERVATION_STREAM = stream_for("preservation")
ORDERS_SUBJECT = "jit.preservation.>"
WARNING_TYPE = "jit.preservation.v1.PreservationOrderExpiryWarning"
#: The envelope types of the events that may close a follow-up task, and the event each is.
CLOSING_TYPES = {
    "jit.preservation.v1.PreservationOrder" + "".join(p.capitalize() for p in event.split("_")): event
    for event in domain.CLOSING_EVENTS
}
#: Namespace of the deterministic request ids of follow-up tasks.
FOLLOW_UP_NAMESPACE = uuid.UUID("5b0f3a4e-2f7e-4d43-9a55-6d1f1b0c9e21")
RECORD = "task"


def follow_up_request_id(order_id: str, expires_at_iso: str) -> str:
    """The request id of the one follow-up task of an order's expiry."""
    return str(uuid.uuid5(FOLLOW_UP_NAMESPACE, f"preservation-follow-up:{order_id}:{expires_at_iso}"))


def order_facts(order: preservation_pb2.PreservationOrder) -> OrderFacts:
    return OrderFacts(
        id=order.id,
        provider_id=order.provider_id,
        legal_basis=enum_name(preservation_pb2.LegalBasis, order.legal_basis, "LEGAL_BASIS_") or "",
        state=enum_name(preservation_pb2.PreservationOrderState, order.state, "PRESERVATION_ORDER_STATE_") or "",
        expires_at=ts_to_dt(order.expires_at, order.HasField("expires_at")),
        extension_count=order.extension_count,
        extension_deadline=ts_to_dt(order.extension_deadline, order.HasField("extension_deadline")),
    )


def system_actor(order: preservation_pb2.PreservationOrder) -> Actor:
    """The system, acting for the order's issuing jurisdiction (whose follow-up tasks these are)."""
    return Actor(SYSTEM.user_id, SYSTEM.username, order.origin_jurisdiction)


def handler(rt: Runtime, loop: asyncio.AbstractEventLoop) -> Handler:
    def open_follow_up(session: Session, env: Envelope, uow: UnitOfWork) -> None:
        warning = preservation_pb2.ExpiryWarning()
        if not env.state.Unpack(warning):
            raise PoisonMessage(f"expiry_warning event {env.id} does not carry an ExpiryWarning")
        if not warning.first:
            return
        order = warning.order
        workspace = rt.workspaces.get(order.workspace_id)
        if workspace is not None and not domain.follow_up_opened(order.origin_jurisdiction, workspace.members):
            return  # its issuer was taken out of the JIT (TASK_FOLLOW_UP_NOT_FOR_FORMER_MEMBER)
        expires = warning.expires_at.ToDatetime(tzinfo=UTC)
        request_id = follow_up_request_id(order.id, expires.isoformat())
        system = system_actor(order)
        if store.find_by_request(session, system.user_id, request_id) is not None:
            return  # this expiry already has its follow-up task
        now = rt.clock.now()
        # Whether an extension may still be asked is judged when the warning was due at the latest (the
        # preservation service's clock), or later if this consumer is late.
        due = warning.due_at.ToDatetime(tzinfo=UTC) if warning.HasField("due_at") else now
        text = domain.follow_up_text(order_facts(order), expires, max(now, due))
        if text is None:
            return  # the order is over (expired at its first warning, lifted, ...): nothing to follow up
        cmd = NewTask(
            request_id=request_id,
            workspace_id=order.workspace_id,
            title=text.title,
            description=text.description,
            kind="FOLLOW_UP",
            assignee_jurisdiction=order.origin_jurisdiction,
            priority="HIGH",
            due_at=expires,
            restricted=order.visibility != common_pb2.VISIBILITY_WORKSPACE,
            shared_with=tuple(order.shared_with),
            links=(Link("PRESERVATION_ORDER", order.id),),
            # The order's victims are the follow-up's (VICTIM_BY_PSEUDONYM): it is about the same data.
            victim_refs=tuple(order.victim_refs),
        )
        task = domain.create(cmd, task_id=new_id(), actor=system, now=now)
        digest = hashlib.sha256(request_id.encode()).hexdigest()
        store.TASKS.insert(session, task, request_id=request_id, request_digest=digest)
        uow.emit(
            events.subject(task, "created"),
            events.envelope(task, task_to_pb(task, now), "created", rt.members_of(task), now),
        )
        uow.audit(RECORD, task.id, task.workspace_id)

    def close_follow_ups(session: Session, env: Envelope, event: str, uow: UnitOfWork) -> None:
        order = preservation_pb2.PreservationOrder()
        if not env.state.Unpack(order):
            raise PoisonMessage(f"{event} event {env.id} does not carry a PreservationOrder")
        facts = order_facts(order)
        closure = domain.follow_up_closure(event, facts, env.id)
        if closure is None:
            return
        keep = ""
        if closure.earlier_expiries_only and facts.expires_at is not None:
            keep = follow_up_request_id(order.id, facts.expires_at.isoformat())
        t = domain.TRANSITIONS[closure.action]
        found = store.follow_ups_of(
            session,
            order.workspace_id,
            order.id,
            creator_id=SYSTEM.user_id,
            states=t.sources,
            except_request_id=keep,
        )
        if closure.action == "resolve":
            data = TransitionInput(outcome=closure.text)
        else:
            data = TransitionInput(reason=closure.text)
        now = rt.clock.now()
        for task in found:
            members = rt.members_of(task)
            closed = domain.apply(task, closure.action, data, actor=system_actor(order), now=now, members=members)
            if not store.TASKS.update_if_version(session, closed, task.version):
                raise RuntimeError(f"follow-up task {task.id} changed under its row lock")
            state = task_to_pb(closed, now)
            uow.emit(events.subject(closed, t.event), events.envelope(closed, state, t.event, members, now))
            uow.audit(RECORD, closed.id, closed.workspace_id)

    def handle(session: Session, env: Envelope) -> None:
        event = "expiry_warning" if env.type == WARNING_TYPE else CLOSING_TYPES.get(env.type)
        if event is None:
            return  # created, issued, confirmed: nothing to do for a follow-up task
        uow = UnitOfWork(session, rt.tables, SYSTEM)
        # The audit entries name the event the system acted on (there is no RPC).
        method = current_method.set(f"event {env.type} {env.id}")
        try:
            if event == "expiry_warning":
                open_follow_up(session, env, uow)
            else:
                close_follow_ups(session, env, event, uow)
        finally:
            current_method.reset(method)
        if uow.audits:
            audit.record(session, rt.tables, uow.audits, rt.clock.now())
            loop.call_soon_threadsafe(rt.relay.wake)

    return handle


def consumers(rt: Runtime) -> list[EventConsumer]:
    loop = asyncio.get_running_loop()
    return [rt.consumer("preservation-orders", PRESERVATION_STREAM, ORDERS_SUBJECT, handler(rt, loop))]
