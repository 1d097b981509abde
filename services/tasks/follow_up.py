"""Choreography: a preservation order nearing expiry opens a follow-up task for the issuing jurisdiction.

Consumes jit.preservation.<origin>.expiry_warning (jit.preservation.v1.ExpiryWarning). On the FIRST
warning of an expiry (the earliest offset), it creates one task "Extend or request production: ...", kind
FOLLOW_UP, addressed to the order's issuing jurisdiction (also its origin), in the order's workspace with
the order's visibility and shared_with, due at the order's expiry, linked to the order.

Exactly once: the consumer's inbox drops a redelivered event, and the task's request_id is derived from
the order id and the expiry (UUIDv5), created by the system user, so even a second event about the same
expiry (a replica, a replay) hits the unique (creator, request_id) index and creates nothing. An extension
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
from jitlib.runtime import Runtime, UnitOfWork
from services.tasks import domain, events, store
from services.tasks.domain import Link, NewTask
from services.tasks.mapping import task_to_pb

log = logging.getLogger(__name__)

PRESERVATION_STREAM = stream_for("preservation")
WARNINGS_SUBJECT = "jit.preservation.*.expiry_warning"
#: Namespace of the deterministic request ids of follow-up tasks.
FOLLOW_UP_NAMESPACE = uuid.UUID("5b0f3a4e-2f7e-4d43-9a55-6d1f1b0c9e21")
RECORD = "task"


def follow_up_request_id(order_id: str, expires_at_iso: str) -> str:
    """The request id of the one follow-up task of an order's expiry."""
    return str(uuid.uuid5(FOLLOW_UP_NAMESPACE, f"preservation-follow-up:{order_id}:{expires_at_iso}"))


def handler(rt: Runtime, loop: asyncio.AbstractEventLoop) -> Handler:
    def handle(session: Session, env: Envelope) -> None:
        warning = preservation_pb2.ExpiryWarning()
        if not env.state.Unpack(warning):
            raise PoisonMessage(f"expiry_warning event {env.id} does not carry an ExpiryWarning")
        if not warning.first:
            return
        order = warning.order
        expires = warning.expires_at.ToDatetime(tzinfo=UTC)
        request_id = follow_up_request_id(order.id, expires.isoformat())
        system = Actor(SYSTEM.user_id, SYSTEM.username, order.origin_jurisdiction)
        if store.find_by_request(session, system.user_id, request_id) is not None:
            return  # this expiry already has its follow-up task
        cmd = NewTask(
            request_id=request_id,
            workspace_id=order.workspace_id,
            title=f"Extend or request production: preservation order {order.id}",
            description=(
                f"The preservation order {order.id} with provider {order.provider_id} expires at "
                f"{expires.isoformat()}. Extend it if its legal basis allows, or request production."
            ),
            kind="FOLLOW_UP",
            assignee_jurisdiction=order.origin_jurisdiction,
            priority="HIGH",
            due_at=expires,
            restricted=order.visibility != common_pb2.VISIBILITY_WORKSPACE,
            shared_with=tuple(order.shared_with),
            links=(Link("PRESERVATION_ORDER", order.id),),
        )
        now = rt.clock.now()
        task = domain.create(cmd, task_id=new_id(), actor=system, now=now)
        workspace = rt.workspaces.get(task.workspace_id)
        members = workspace.members if workspace else frozenset(task.parties)
        uow = UnitOfWork(session, rt.tables, SYSTEM)
        digest = hashlib.sha256(request_id.encode()).hexdigest()
        store.TASKS.insert(session, task, request_id=request_id, request_digest=digest)
        uow.emit(events.subject(task, "created"), events.envelope(task, task_to_pb(task, now), "created", members, now))
        uow.audit(RECORD, task.id, task.workspace_id)
        audit.append(session, rt.tables, uow.audits, now)
        loop.call_soon_threadsafe(rt.relay.wake)

    return handle


def consumers(rt: Runtime) -> list[EventConsumer]:
    loop = asyncio.get_running_loop()
    return [rt.consumer("preservation-warnings", PRESERVATION_STREAM, WARNINGS_SUBJECT, handler(rt, loop))]
