"""Conversions between the jit.preservation.v1 removal messages and the removal domain types, and the
ListRemovals page token (a ``jitlib.paging`` token carrying the position: due_at, then id)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from jit.preservation.v1 import removal_pb2 as pb
from jitlib import paging
from jitlib.errors import InvalidArgument
from jitlib.mapping import (
    RecordMapping,
    actor_from_pb,
    actor_pb,
    dt_to_ts,
    enum_name,
    required_stored_enum,
    stored_enum,
    ts_to_dt,
)
from services.preservation.mapping import position_from_token as order_position_from_token
from services.preservation.removal_domain import (
    Answer,
    ContentItem,
    NewRemoval,
    Removal,
    RemovalBasis,
    RemovalState,
    Reupload,
)

REMOVAL_FIELDS = RecordMapping(pb.RemovalRequestState, "REMOVAL_REQUEST_STATE_", RemovalState, "removal request state")


def _items_from_pb(items: Sequence[pb.ContentItem]) -> tuple[ContentItem, ...]:
    return tuple(ContentItem(i.url, i.platform_item_id, i.account, i.sha256) for i in items)


def new_removal_from_pb(req: pb.CreateRemovalRequest) -> NewRemoval:
    unknown = []
    basis = enum_name(pb.RemovalBasis, req.basis, "REMOVAL_BASIS_")
    if basis is None:
        unknown.append("basis")
    return NewRemoval(
        request_id=req.request_id,
        workspace_id=req.workspace_id,
        basis=basis or "",
        national_jurisdiction=req.national_jurisdiction,
        provider_id=req.provider_id,
        items=_items_from_pb(req.items),
        sent_at=ts_to_dt(req.sent_at, req.HasField("sent_at")),
        preservation_order_id=req.preservation_order_id,
        proceed_without_preservation_reason=req.proceed_without_preservation_reason,
        victim_refs=tuple(req.victim_refs),
        unknown_enums=tuple(unknown),
    )


_TIMES = ("sent_at", "due_at", "acknowledged_at", "decided_at", "answered_at", "removed_at")


def removal_to_pb(
    removal: Removal,
    now: datetime,
    allowed_actions: Sequence[str] = (),
    *,
    order_shown: bool = False,
    reason_shown: bool = False,
) -> pb.RemovalRequest:
    """The request as a message; ``allowed_actions`` only in an answer to a caller, never in an event.
    ``preservation_order_id`` only when ``order_shown`` (``removal_domain.order_shown``: the caller may read
    the order), ``proceed_without_preservation_reason`` only when ``reason_shown``
    (``removal_domain.reason_shown``: the issuing jurisdiction); neither in an event, which goes to members
    who may not read the order: a removal linked to an order they may not read must look to them as one
    sent without preservation, and an empty reason beside an empty id would say that an order exists."""
    msg = pb.RemovalRequest(
        **REMOVAL_FIELDS.to_pb(removal),
        basis="REMOVAL_BASIS_" + removal.basis.value,
        national_jurisdiction=removal.national_jurisdiction,
        provider_id=removal.provider_id,
        items=[
            pb.ContentItem(url=i.url, platform_item_id=i.platform_item_id, account=i.account, sha256=i.sha256)
            for i in removal.items
        ],
        clock_seconds=removal.clock_seconds,
        clock_source=removal.clock_source,
        past_due=removal.past_due(now),
        refusal_reason="REFUSAL_REASON_" + (removal.refusal_reason or "UNSPECIFIED"),
        state_reason=removal.state_reason,
        blocked_in=list(removal.blocked_in),
        reupload_count=removal.reupload_count,
        reuploads=[
            pb.Reupload(sha256=r.sha256, url=r.url, seen_at=dt_to_ts(r.seen_at), recorded_by=actor_pb(r.recorded_by))
            for r in removal.reuploads
        ],
        preservation_order_id=removal.preservation_order_id if order_shown else "",
        proceed_without_preservation_reason=removal.proceed_without_preservation_reason if reason_shown else "",
        victim_refs=list(removal.victim_refs),
        allowed_actions=list(allowed_actions),
    )
    for name in _TIMES:
        value = getattr(removal, name)
        if value is not None:
            getattr(msg, name).CopyFrom(dt_to_ts(value))
    return msg


def removal_from_pb(msg: pb.RemovalRequest) -> Removal:
    """A removal request from the state its events carry (a replica of another node's): the inverse of
    ``removal_to_pb``. ValueError for an enum value this build does not know."""
    sent = ts_to_dt(msg.sent_at, msg.HasField("sent_at"))
    due = ts_to_dt(msg.due_at, msg.HasField("due_at"))
    if sent is None or due is None:
        raise ValueError("sent_at, due_at")
    return Removal(
        **REMOVAL_FIELDS.from_pb(msg),
        basis=RemovalBasis(required_stored_enum(pb.RemovalBasis, msg.basis, "REMOVAL_BASIS_", "basis")),
        national_jurisdiction=msg.national_jurisdiction,
        provider_id=msg.provider_id,
        items=_items_from_pb(msg.items),
        sent_at=sent,
        due_at=due,
        clock_seconds=msg.clock_seconds,
        clock_source=msg.clock_source,
        acknowledged_at=ts_to_dt(msg.acknowledged_at, msg.HasField("acknowledged_at")),
        decided_at=ts_to_dt(msg.decided_at, msg.HasField("decided_at")),
        answered_at=ts_to_dt(msg.answered_at, msg.HasField("answered_at")),
        removed_at=ts_to_dt(msg.removed_at, msg.HasField("removed_at")),
        refusal_reason=stored_enum(pb.RefusalReason, msg.refusal_reason, "REFUSAL_REASON_", "refusal_reason"),
        state_reason=msg.state_reason,
        blocked_in=tuple(msg.blocked_in),
        reupload_count=msg.reupload_count,
        reuploads=tuple(
            Reupload(r.sha256, r.url, r.seen_at.ToDatetime(tzinfo=sent.tzinfo), actor_from_pb(r.recorded_by))
            for r in msg.reuploads
        ),
        preservation_order_id=msg.preservation_order_id,
        proceed_without_preservation_reason=msg.proceed_without_preservation_reason,
        victim_refs=tuple(msg.victim_refs),
    )


def answer_from_pb(request: Any) -> Answer:
    """What any of the transition request messages carries (fields by name)."""
    fields = request.DESCRIPTOR.fields_by_name
    when = "seen_at" if "seen_at" in fields else "answered_at"
    reason = ""
    if "reason" in fields:
        name = enum_name(pb.RefusalReason, request.reason, "REFUSAL_REASON_")
        reason = "" if name in (None, "UNSPECIFIED") else str(name)
    return Answer(
        answered_at=ts_to_dt(getattr(request, when), request.HasField(when)),
        reason=reason,
        details=request.details if "details" in fields else "",
        blocked_in=tuple(request.blocked_in) if "blocked_in" in fields else (),
        sha256=request.sha256 if "sha256" in fields else "",
        url=request.url if "url" in fields else "",
    )


# ---- the ListRemovals page token -------------------------------------------------------------------


def position_from_token(request: pb.ListRemovalsRequest) -> tuple[datetime, str] | None:
    """The (due_at, id) after which the next page starts; None for the first page. The token has the shape of
    ListOrders' (``mapping.position_from_token`` reads it); a removal request always has a due time."""
    position = order_position_from_token(cast(Any, request))
    if position is None:
        return None
    due, after = position
    if due is None:
        raise InvalidArgument.one("page_token", "is not a token this service issued")
    return due, after


def page_token(removal: Removal, request: pb.ListRemovalsRequest) -> str:
    return paging.encode({"e": removal.due_at.isoformat(), "a": removal.id}, request)
