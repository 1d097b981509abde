"""What the evidence service publishes and consumes.

Publishes (through the outbox) on ``jit.evidence.<origin>.<event>``, stream JIT_EVIDENCE: request events
with the full EvidenceRequest as state (never the linked order's state: the request's audience is not the
order's), deadline alerts with a DeadlineAlert, item events with the EvidenceItem. Consumes
``jit.preservation.>`` (PreservationOrder, or ExpiryWarning carrying one) into a small replica of orders
(with the origin and visibility the policy needs), and records the reverse link when an order names one of
our requests as its follow-up, only for an order of the request's own issuing jurisdiction and workspace.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from google.protobuf.message import Message
from sqlalchemy.orm import Session

from jit.common.v1 import common_pb2
from jit.events.v1.envelope_pb2 import Envelope
from jit.evidence.v1 import evidence_pb2 as pb
from jit.preservation.v1 import preservation_pb2
from jitlib import audit, envelopes, outbox
from jitlib.actors import SYSTEM, Actor, changed
from jitlib.bus import EventConsumer, Handler, PoisonMessage, stream_for
from jitlib.clock import Clock
from jitlib.db import RuntimeTables
from jitlib.federation import inbound_filter
from jitlib.ids import is_uuid
from jitlib.jurisdictions import is_jurisdiction
from jitlib.mapping import ts_to_dt
from jitlib.runtime import Runtime
from services.evidence import domain, mapping, store
from services.evidence.domain import EvidenceItem, EvidenceRequest, OrderReplica

log = logging.getLogger(__name__)

STREAM = stream_for("evidence")
PRESERVATION_STREAM = stream_for("preservation")


def subject(origin: str, event: str) -> str:
    return f"jit.evidence.{origin}.{event}"


def _type(event: str) -> str:
    return "jit.evidence.v1.EvidenceRequest" + "".join(p.capitalize() for p in event.split("_"))


def _request_event(
    r: EvidenceRequest,
    event_type: str,
    state: Message,
    members: frozenset[str],
    actor: Actor,
    now: datetime,
    link: tuple[str, OrderReplica | None],
) -> Envelope:
    event = envelopes.record_envelope(
        r, state, aggregate_type="evidence_request", event_type=event_type, members=members, now=now, actor=actor
    )
    path, order = link
    if r.preservation_order_id:
        envelopes.limit_field(event, path, link_audience(r, order, members))
    return event


def link_audience(r: EvidenceRequest, order: OrderReplica | None, members: frozenset[str]) -> list[str]:
    """Who is entitled to the id of ``r``'s linked preservation order: the order's audience (``order``, this
    node's replica of it; a link is made only to an order of the request's workspace and issuing
    jurisdiction, whose node is the request's), or, with no such order here, the issuing jurisdiction alone.
    The request's audience is not the order's: a request event's copy for a peer's node names the order only
    when that country may read it (``envelopes.copy_for``), while this node's preservation service, which
    moves the order, reads the event whole from this node's stream."""
    if (
        order is None
        or order.id != r.preservation_order_id
        or order.workspace_id != r.workspace_id
        or order.origin_jurisdiction != r.origin_jurisdiction
    ):
        return [r.origin_jurisdiction]
    access = order.access()
    return envelopes.access_audience(access, members)


def linked_order(session: Session, r: EvidenceRequest) -> OrderReplica | None:
    """The replica of the order ``r`` is linked to (None when it names none, or it is not here)."""
    return store.get_order(session, r.preservation_order_id) if r.preservation_order_id else None


def request_envelope(
    r: EvidenceRequest,
    state: pb.EvidenceRequest,
    event: str,
    members: frozenset[str],
    now: datetime,
    order: OrderReplica | None = None,
) -> Envelope:
    """A request's event. ``order``: its linked order's replica (``linked_order``), whose audience alone gets
    the link (``link_audience``; without it, the request's issuing jurisdiction alone)."""
    return _request_event(r, _type(event), state, members, r.updated_by, now, ("preservation_order_id", order))


def alert_envelope(
    r: EvidenceRequest,
    alert: pb.DeadlineAlert,
    members: frozenset[str],
    now: datetime,
    order: OrderReplica | None = None,
) -> Envelope:
    """A deadline alert: the platform speaks, about the request (its link as ``request_envelope``'s)."""
    link = ("request.preservation_order_id", order)
    return _request_event(r, "jit.evidence.v1.DeadlineAlert", alert, members, SYSTEM, now, link)


def item_envelope(
    item: EvidenceItem,
    req: EvidenceRequest,
    state: pb.EvidenceItem,
    event: str,
    members: frozenset[str],
    actor: Actor,
    version: int,
    now: datetime,
    holder: str = "",
) -> Envelope:
    """An item's event, with its request's audience as addressed (``EvidenceRequest.item_access``: not the
    enforcing state that reads the request only for its enforcement, EPOC_ENFORCING_STATE_SEES_THE_ORDER).
    ``holder``: on a federation, the node that holds the item's bytes and custody chain (where it was
    received), which may not be the request's owner."""
    etype = "jit.evidence.v1.EvidenceItem" + "".join(p.capitalize() for p in event.split("_")[1:])
    return envelopes.record_envelope(
        _ItemsOf.of(req) if req.enforcing_jurisdiction else req,
        state,
        aggregate_type="evidence_item",
        event_type=etype,
        members=members,
        now=now,
        actor=actor,
        part=(item.id, version),
        origin=holder,
    )


@dataclass(frozen=True)
class _ItemsOf:
    """A request as its items' events see it (``envelopes.EventSource``): its parties those of
    ``EvidenceRequest.item_access``."""

    id: str
    version: int
    workspace_id: str
    origin_jurisdiction: str
    restricted: bool
    updated_by: Actor
    parties: frozenset[str]

    @classmethod
    def of(cls, r: EvidenceRequest) -> _ItemsOf:
        parties = r.item_access().parties
        return cls(r.id, r.version, r.workspace_id, r.origin_jurisdiction, r.restricted, r.updated_by, parties)


def restrict_held_items(
    session: Session,
    tables: RuntimeTables,
    before: datetime | None,
    updated: EvidenceRequest,
    members: frozenset[str],
    now: datetime,
) -> int:
    """On a node that holds items of another node's request, on taking in the owner's change that records an
    objection (``updated``, whose ``items_restricted_at`` was ``before`` here; EPOC_EMERGENCY_OBJECTION):
    the RESTRICTED custody entry on each item held here that it restricts (``store.restrict_held_items``,
    at ``now``, when this node records it: its chain stays in time order), its ``item_restricted`` event from
    this node (the item's holder, the origin of its events) to ``members``, and a system audit entry, in the
    replica's own transaction. How many items it restricted."""
    restricted = store.restrict_held_items(session, before, updated, now)
    for item, e in restricted:
        state = mapping.item_to_pb(item, e.seq, restricted=True)
        holder = domain.item_holder(item)
        envelope = item_envelope(item, updated, state, "item_restricted", members, SYSTEM, e.seq, now, holder)
        outbox.stage(session, tables, subject(updated.origin_jurisdiction, "item_restricted"), envelope)
    if restricted:
        entries = [
            audit.AuditEvent.by_system("event:item_restricted", "evidence_item", item.id, item.workspace_id)
            for item, _ in restricted
        ]
        audit.record(session, tables, entries, now)
    return len(restricted)


# -- consuming preservation-order events -----------------------------------------------------------


def _order_from(envelope: Envelope) -> preservation_pb2.PreservationOrder | None:
    order = preservation_pb2.PreservationOrder()
    if envelope.state.Unpack(order):
        return order
    warning = preservation_pb2.ExpiryWarning()
    if envelope.state.Unpack(warning) and warning.HasField("order"):
        return warning.order
    return None


def _replica(envelope: Envelope, order: preservation_pb2.PreservationOrder) -> OrderReplica:
    """The order as this service keeps it. An event whose envelope does not describe the order it carries
    (another workspace or origin) is set aside (dead letter): the origin decides who may link to it."""
    if not is_jurisdiction(order.origin_jurisdiction):
        raise PoisonMessage("preservation order without a valid origin jurisdiction")
    if envelope.origin_jurisdiction != order.origin_jurisdiction or envelope.workspace_id != order.workspace_id:
        raise PoisonMessage("envelope does not describe the preservation order it carries")
    return OrderReplica(
        id=order.id,
        workspace_id=order.workspace_id,
        state=int(order.state),
        expires_at=ts_to_dt(order.expires_at, order.HasField("expires_at")),
        version=int(order.version),
        follow_up_request_id=order.follow_up_request_id if is_uuid(order.follow_up_request_id) else "",
        origin_jurisdiction=order.origin_jurisdiction,
        # Need to know by default, as the preservation service itself reads its orders.
        restricted=order.visibility != common_pb2.VISIBILITY_WORKSPACE,
        shared_with=tuple(sorted({j for j in order.shared_with if is_jurisdiction(j)})),
    )


#: Order events handled in one transaction at most (each acked after its commit; ``jitlib.bus``): one per
#: event was 15 % of the evidence process's loop under the mixed load, half of it the transaction's own
#: cost (bench/README.md, "A 10-minute mixed load"); a larger batch holds the loop longer on SQLite.
ORDER_BATCH = 16


def order_handler(
    tables: RuntimeTables, clock: Clock, members_of: Callable[[str], frozenset[str]], *, link: bool = True
) -> Handler:
    """The consumer's handler: replicate the order; with ``link``, link a request that the order names as
    its follow-up, when the order is of the request's own issuing jurisdiction and workspace. Another
    node's orders (on a federation) are only replicated: their node links its own requests."""

    def handle(session: Session, envelope: Envelope) -> None:
        order = _order_from(envelope)
        if order is None or not is_uuid(order.id):
            return  # not an order event we understand (a future type): nothing to replicate
        # Several events share a transaction (``ORDER_BATCH``): what the ones before wrote is read fresh, as in
        # a transaction of its own (the request a link changed is not served from the session's objects).
        session.flush()
        session.expire_all()
        now = clock.now()
        replica = _replica(envelope, order)
        held = store.get_order(session, replica.id)
        if held is not None and held.origin_jurisdiction and held.origin_jurisdiction != replica.origin_jurisdiction:
            raise PoisonMessage("a preservation order's origin never changes")
        if not store.upsert_order(session, replica, held, now):
            return  # stale or repeated
        if not link or not replica.follow_up_request_id:
            return
        req = store.get(session, replica.follow_up_request_id)
        if req is None or req.preservation_order_id == replica.id:
            return
        if req.preservation_order_id or not domain.order_may_name(replica, req):
            log.warning(
                "order %s names request %s, which is linked to another order or is not of the order's "
                "workspace and issuing jurisdiction; not linked",
                replica.id,
                req.id,
            )
            return
        linked = changed(req, SYSTEM, now, preservation_order_id=replica.id)
        # Same deadlines: update_if_version keeps their alert progress.
        if not store.update_if_version(session, linked, req.version, {}):
            raise RuntimeError("request changed while linking; retried on redelivery")
        members = members_of(linked.workspace_id)
        state = mapping.request_to_pb(linked, now)
        outbox.stage(
            session,
            tables,
            subject(linked.origin_jurisdiction, "order_linked"),
            request_envelope(linked, state, "order_linked", members, now, replica),
        )
        audit.record(
            session,
            tables,
            [audit.AuditEvent.by_system("event:" + envelope.type, "evidence_request", linked.id, linked.workspace_id)],
            now,
        )

    return handle


def consumers(rt: Runtime) -> list[EventConsumer]:
    def members_of(ws: str) -> frozenset[str]:
        info = rt.workspaces.get(ws)
        return info.members if info is not None else frozenset()

    handler = order_handler(rt.tables, rt.clock, members_of)
    out = [rt.consumer("preservation-orders", PRESERVATION_STREAM, "jit.preservation.>", handler, batch=ORDER_BATCH)]
    fed = rt.federation
    if fed is not None and fed.peers:
        # Other nodes' orders this node's country may see: shown with the requests that name them.
        replicate_only = order_handler(rt.tables, rt.clock, members_of, link=False)
        out.append(
            rt.consumer(
                "peer-preservation-orders",
                fed.inbound_stream(),
                inbound_filter("jit.preservation.>"),
                replicate_only,
                inbound=True,
            )
        )
    return out
