"""Choreography: the statistics' projection follows the tasks, evidence and preservation events.

Three durable consumers (``stats-tasks``, ``stats-evidence``, ``stats-preservation``) of the streams
JIT_TASKS, JIT_EVIDENCE and JIT_PRESERVATION, in stream order. Each event carries its record's full state;
the projection keeps the codes the statistics count (``stats_domain.Counted``) at the newest version, and
for an evidence request follows its legal deadlines from one event to the next (``stats_domain.advance``),
for an EPOC-PR the enforcing state's deadline to decide on it (``stats_domain.order_enforcement``).
Events that carry something else (an evidence item, a deadline alert, an expiry warning) change nothing.

Exactly once: the inbox drops a redelivered event, and an event of a version the projection already holds
changes nothing. On a federation, a node counts the records its own services hold (its own, and the
replicas its services keep are not re-published: what other nodes own is counted there).
"""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy.orm import Session

from jit.events.v1.envelope_pb2 import Envelope
from jit.evidence.v1 import evidence_pb2
from jit.preservation.v1 import preservation_pb2
from jit.tasks.v1 import tasks_pb2
from jitlib.bus import EventConsumer, Handler, stream_for
from jitlib.mapping import enum_name, record_access_from_pb
from jitlib.policy import evidence_request_addressee
from jitlib.runtime import Runtime
from services.victims import stats_domain, stats_store
from services.victims.stats_domain import Counted

Running = list[tuple[str, datetime, datetime]]


def _ts(value: Timestamp, present: bool) -> datetime | None:
    return value.ToDatetime(tzinfo=UTC) if present else None


def task_counted(t: tasks_pb2.Task) -> Counted:
    return Counted(
        **record_access_from_pb(t),
        kind="task",
        state=enum_name(tasks_pb2.TaskState, t.state, "TASK_STATE_") or "",
        addressee=t.assignee_jurisdiction,
        addressee_jurisdiction=t.assignee_jurisdiction or None,
        victim_refs=tuple(t.victim_refs),
        at=_ts(t.created_at, t.HasField("created_at")),
    )


def request_counted(r: evidence_pb2.EvidenceRequest) -> tuple[Counted, Running]:
    basis = enum_name(evidence_pb2.LegalBasis, r.legal_basis, "LEGAL_BASIS_") or ""
    # An EPOC transferred for enforcement is its enforcing state's to read from then on
    # (EPOC_ENFORCING_STATE_SEES_THE_ORDER): that state counts it too.
    addressee = evidence_request_addressee(
        enum_name(evidence_pb2.AddresseeKind, r.addressee_kind, "ADDRESSEE_KIND_") or "",
        r.addressee_jurisdiction,
        basis,
        enum_name(evidence_pb2.EpocProcedure, r.epoc_procedure, "EPOC_PROCEDURE_") or "",
        r.enforcing_jurisdiction,
    )
    offence = enum_name(evidence_pb2.OffenceCategory, r.offence_category, "OFFENCE_CATEGORY_") or ""
    counted = Counted(
        **record_access_from_pb(r),
        kind="request",
        state=enum_name(evidence_pb2.EvidenceRequestState, r.state, "EVIDENCE_REQUEST_STATE_") or "",
        addressee=r.addressee_jurisdiction,
        addressee_jurisdiction=addressee,
        instrument=basis,
        offence="" if offence == "UNSPECIFIED" else offence,
        victim_refs=tuple(r.victim_refs),
        at=_ts(r.issued_at, r.HasField("issued_at")) or _ts(r.created_at, r.HasField("created_at")),
        received_at=_ts(r.received_at, r.HasField("received_at")),
    )
    running = [
        (enum_name(evidence_pb2.DeadlineKind, d.kind, "DEADLINE_KIND_") or "", d.counted_from.ToDatetime(tzinfo=UTC),
         d.due_at.ToDatetime(tzinfo=UTC))
        for d in r.deadlines
    ]  # fmt: skip
    return counted, running


def order_counted(o: preservation_pb2.PreservationOrder) -> tuple[Counted, stats_domain.Transfer | None]:
    """The order as counted, with its transfer for enforcement (an EPOC-PR's, None when it has none). From the
    transfer on the enforcing state is its addressee, and counts it (EPOC_PR_ENFORCING_STATE_SEES_THE_ORDER)."""
    transfer = None
    if o.enforcing_jurisdiction and o.HasField("enforcement_requested_at"):
        transfer = stats_domain.Transfer(
            o.enforcing_jurisdiction,
            o.enforcement_requested_at.ToDatetime(tzinfo=UTC),
            _ts(o.enforcement_decided_at, o.HasField("enforcement_decided_at")),
        )
    return Counted(
        **record_access_from_pb(o),
        kind="order",
        state=enum_name(preservation_pb2.PreservationOrderState, o.state, "PRESERVATION_ORDER_STATE_") or "",
        addressee=o.provider_id,
        addressee_jurisdiction=o.enforcing_jurisdiction or None,
        instrument=enum_name(preservation_pb2.LegalBasis, o.legal_basis, "LEGAL_BASIS_") or "",
        victim_refs=tuple(o.victim_refs),
        at=_ts(o.issued_at, o.HasField("issued_at")) or _ts(o.created_at, o.HasField("created_at")),
        produced=o.HasField("produced_at"),
    ), transfer


def apply(session: Session, env: Envelope) -> bool:
    """Apply one event to the projection; True when it changed a row."""
    at = env.occurred_at.ToDatetime(tzinfo=UTC) if env.HasField("occurred_at") else datetime.now(UTC)
    running: Running = []
    enforcing = ""
    transfer = None
    name = env.state.TypeName()
    if name == tasks_pb2.Task.DESCRIPTOR.full_name:
        task = tasks_pb2.Task()
        env.state.Unpack(task)
        after = task_counted(task)
    elif name == evidence_pb2.EvidenceRequest.DESCRIPTOR.full_name:
        request = evidence_pb2.EvidenceRequest()
        env.state.Unpack(request)
        after, running = request_counted(request)
        enforcing = request.enforcing_jurisdiction
    elif name == preservation_pb2.PreservationOrder.DESCRIPTOR.full_name:
        order = preservation_pb2.PreservationOrder()
        env.state.Unpack(order)
        after, transfer = order_counted(order)
    else:
        return False  # an item, an alert, a warning: not a record the statistics count
    if not after.id or not after.workspace_id:
        return False
    row = stats_domain.advance(stats_store.get_counted(session, after.id), after, running, at, enforcing, transfer)
    if row is None:
        return False
    stats_store.put_counted(session, row)
    return True


def handler() -> Handler:
    def handle(session: Session, env: Envelope) -> None:
        apply(session, env)

    return handle


def consumers(rt: Runtime) -> list[EventConsumer]:
    return [
        rt.consumer(f"stats-{domain}", stream_for(domain), f"jit.{domain}.>", handler())
        for domain in ("tasks", "evidence", "preservation")
    ]
