"""Conversions between the jit.evidence.v1 messages and the domain types."""

from __future__ import annotations

import bisect
import functools
import struct
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper

from jit.evidence.v1 import evidence_pb2 as pb
from jit.preservation.v1 import preservation_pb2
from jitlib import wire
from jitlib.actors import Actor
from jitlib.fields import same_fields
from jitlib.mapping import (
    RecordMapping,
    actor_fields,
    actor_from_pb,
    actor_pb,
    dt_to_ts,
    enum_value,
    required_stored_enum,
    stored_enum,
    ts_fields,
    ts_fields_or_none,
    ts_to_dt,
)
from services.evidence import custody
from services.evidence.deadlines import COUNTING, Deadline, DeadlineKind
from services.evidence.domain import (
    CategoryOutcome,
    CategoryState,
    Consent,
    Delay,
    EvidenceItem,
    EvidenceRequest,
    ExportClearance,
    ItemReplica,
    NewItem,
    NewRequest,
    OrderReplica,
    Refusal,
    State,
    Target,
    TransitionInput,
    clock_schedule,
    suppression_lapsed,
    suppression_lapses_at,
)

#: The fields every evidence request message has, with its state, both ways.
REQUEST_FIELDS = RecordMapping(pb.EvidenceRequestState, "EVIDENCE_REQUEST_STATE_", State, "evidence request state")


class _Enums:
    """Collects field names whose enum value is unknown."""

    def __init__(self) -> None:
        self.unknown: list[str] = []

    def get(self, field: str, enum: EnumTypeWrapper, value: int, prefix: str) -> str:
        name = enum_value(enum, value, prefix)
        if name is None:
            self.unknown.append(field)
            return ""
        return name


def new_request_from_pb(req: pb.CreateRequestRequest) -> NewRequest:
    e = _Enums()
    categories = tuple(
        e.get(f"data_categories[{i}]", pb.DataCategory, c, "DATA_CATEGORY_") for i, c in enumerate(req.data_categories)
    )
    targets = tuple(
        Target(e.get(f"targets[{i}].type", pb.TargetType, t.type, "TARGET_TYPE_"), t.value, t.platform)
        for i, t in enumerate(req.targets)
    )
    record = REQUEST_FIELDS.new_from_pb(req, e.unknown)
    return NewRequest(
        **record,
        legal_basis=e.get("legal_basis", pb.LegalBasis, req.legal_basis, "LEGAL_BASIS_"),
        epoc_procedure=e.get("epoc_procedure", pb.EpocProcedure, req.epoc_procedure, "EPOC_PROCEDURE_"),
        issuing_authority=req.issuing_authority,
        addressee_kind=e.get("addressee_kind", pb.AddresseeKind, req.addressee_kind, "ADDRESSEE_KIND_"),
        addressee_jurisdiction=req.addressee_jurisdiction,
        provider_name=req.provider_name,
        data_categories=categories,
        targets=targets,
        offence_category=e.get("offence_category", pb.OffenceCategory, req.offence_category, "OFFENCE_CATEGORY_"),
        urgency=e.get("urgency", pb.Urgency, req.urgency, "URGENCY_"),
        title=req.title,
        description=req.description,
        preservation_order_id=req.preservation_order_id,
        user_notice_status=e.get(
            "user_notice_status", pb.UserNoticeStatus, req.user_notice_status, "USER_NOTICE_STATUS_"
        ),
        user_notice_suppressed_until=ts_to_dt(
            req.user_notice_suppressed_until, req.HasField("user_notice_suppressed_until")
        ),
        listed_offence=e.get("listed_offence", pb.ListedOffence, req.listed_offence, "LISTED_OFFENCE_"),
        max_sentence_months=req.max_sentence_months,
        unknown_enums=tuple(e.unknown),
        notification_exemption_reason=req.notification_exemption_reason,
        victim_refs=tuple(req.victim_refs),
    )


#: A refusal of recognition's ground (RefuseEnforcement), whose field is named as RefuseRequest's.
_ENFORCEMENT_GROUND = pb.EnforcementRefusalGround.DESCRIPTOR


def transition_input(request: Any) -> TransitionInput:
    """The transition data carried by any of the transition request messages."""
    e = _Enums()
    fields = {f.name for f in request.DESCRIPTOR.fields}
    reason = ""
    for name in ("reason", "detail", "note", "clarification"):
        if name in fields and isinstance(getattr(request, name), str):
            reason = getattr(request, name)
    ground = non_exec = notice = enforcement_ground = ""
    if "ground" in fields and request.DESCRIPTOR.fields_by_name["ground"].enum_type is _ENFORCEMENT_GROUND:
        enforcement_ground = e.get("ground", pb.EnforcementRefusalGround, request.ground, "ENFORCEMENT_REFUSAL_GROUND_")
    elif "ground" in fields:
        ground = e.get("ground", pb.RefusalGround, request.ground, "REFUSAL_GROUND_")
    if "reason" in fields and not isinstance(request.reason, str):
        non_exec = e.get("reason", pb.NonExecutionReason, request.reason, "NON_EXECUTION_REASON_")
    if "status" in fields:
        notice = e.get("status", pb.UserNoticeStatus, request.status, "USER_NOTICE_STATUS_")
    categories: tuple[str, ...] = ()
    if "data_categories" in fields:
        categories = tuple(
            e.get(f"data_categories[{i}]", pb.DataCategory, c, "DATA_CATEGORY_")
            for i, c in enumerate(request.data_categories)
        )
    description = request.description if "description" in fields and request.HasField("description") else None
    return TransitionInput(
        reason=reason,
        refusal_ground=ground,
        non_execution_reason=non_exec,
        received_at=ts_to_dt(request.received_at, request.HasField("received_at")) if "received_at" in fields else None,
        postponed_until=ts_to_dt(request.until, request.HasField("until")) if "until" in fields else None,
        user_notice_status=notice,
        user_notice_suppressed_until=(
            ts_to_dt(request.suppressed_until, request.HasField("suppressed_until"))
            if "suppressed_until" in fields
            else None
        ),
        data_categories=categories,
        description=description,
        expected_at=(
            ts_to_dt(request.expected_at, request.HasField("expected_at")) if "expected_at" in fields else None
        ),
        enforcing_jurisdiction=request.enforcing_jurisdiction if "enforcing_jurisdiction" in fields else "",
        enforcement_ground=enforcement_ground,
        compliance_days=request.compliance_days if "compliance_days" in fields else 0,
        unknown_enums=tuple(e.unknown),
    )


def _named(prefix: str, name: str) -> str | None:
    """An enum field's value by its name; None for no name: the constructor leaves the field unset
    (UNSPECIFIED) without looking a name up."""
    return prefix + name if name else None


def outcome_fields(o: CategoryOutcome) -> dict[str, Any]:
    """The fields of a ``pb.DataCategoryOutcome``, for its request's constructor (``ts_fields``)."""
    return {
        "category": "DATA_CATEGORY_" + o.category,
        "state": "DATA_CATEGORY_STATE_" + o.state.value,
        "ground": _named("REFUSAL_GROUND_", o.ground),
        "decided_at": ts_fields_or_none(o.decided_at),
    }


def outcomes_fields(r: EvidenceRequest) -> list[dict[str, Any]]:
    """``outcome_fields`` of each of the request's categories, in its order (``category_outcomes``): an open
    one's made without its ``CategoryOutcome`` (a list's page has one or more per request)."""
    decided = {o.category: o for o in r.decided_categories} if r.decided_categories else None
    out = []
    for c in r.data_categories:
        o = decided.get(c) if decided else None
        out.append(outcome_fields(o) if o is not None else {"category": "DATA_CATEGORY_" + c, "state": _OPEN})
    return out


_OPEN = "DATA_CATEGORY_STATE_" + CategoryState.OPEN.value


def refusal_fields(r: Refusal) -> dict[str, Any]:
    """The fields of a ``pb.Refusal``, for its request's constructor (``ts_fields``)."""
    return {
        "submission": r.submission,
        "ground": _named("REFUSAL_GROUND_", r.ground),
        "data_categories": ["DATA_CATEGORY_" + c for c in r.categories],
        "refused_at": ts_fields(r.refused_at),
        "whole": r.whole,
    }


def outcomes_from_pb(msgs: Sequence[pb.DataCategoryOutcome]) -> tuple[CategoryOutcome, ...]:
    """The decided categories of a request's message (open ones are derived, not stored)."""
    out = []
    for m in msgs:
        state = CategoryState(required_stored_enum(pb.DataCategoryState, m.state, "DATA_CATEGORY_STATE_", "state"))
        if state is CategoryState.OPEN:
            continue
        out.append(
            CategoryOutcome(
                required_stored_enum(pb.DataCategory, m.category, "DATA_CATEGORY_", "category_outcomes.category"),
                state,
                stored_enum(pb.RefusalGround, m.ground, "REFUSAL_GROUND_", "category_outcomes.ground"),
                ts_to_dt(m.decided_at, m.HasField("decided_at")),
            )
        )
    return tuple(out)


def refusals_from_pb(msgs: Sequence[pb.Refusal]) -> tuple[Refusal, ...]:
    return tuple(
        Refusal(
            m.submission,
            required_stored_enum(pb.RefusalGround, m.ground, "REFUSAL_GROUND_", "refusals.ground"),
            tuple(
                required_stored_enum(pb.DataCategory, c, "DATA_CATEGORY_", "refusals.data_categories")
                for c in m.data_categories
            ),
            m.refused_at.ToDatetime(tzinfo=UTC),
            m.whole,
        )
        for m in msgs
    )


def deadline_to_pb(d: Deadline, now: datetime, delay: Delay | None = None) -> pb.Deadline:
    """A deadline as shown; with the date the executing state expects to meet it when ``delay`` is about
    this deadline (the legal ``due_at`` does not move)."""
    return pb.Deadline(**deadline_fields(d, now, delay))


def deadline_fields(d: Deadline, now: datetime | None, delay: Delay | None = None) -> dict[str, Any]:
    """The fields of ``deadline_to_pb``, for its request's constructor (``ts_fields``); without ``overdue``
    when ``now`` is None (``request_answer``)."""
    return {
        "kind": "DEADLINE_KIND_" + d.kind.value,
        "due_at": ts_fields(d.due_at),
        "source": d.source,
        "working_days": d.working_days,
        "counted_from": ts_fields(d.counted_from),
        "overdue": d.due_at < now if now is not None else None,
        "expected_at": ts_fields(delay.expected_at) if delay is not None and delay.deadline is d.kind else None,
    }


def delay_fields(d: Delay) -> dict[str, Any]:
    """The fields of a ``pb.DelayNotice``, for its request's constructor (``ts_fields``)."""
    return {
        "deadline": "DEADLINE_KIND_" + d.deadline.value,
        "reason": d.reason,
        "expected_at": ts_fields(d.expected_at),
        "notified_at": ts_fields(d.notified_at),
        "notified_by": actor_fields(d.notified_by),
    }


def delay_from_pb(msg: pb.EvidenceRequest) -> Delay | None:
    """The request's notified delay from its owner's message (None when it has none)."""
    if not msg.HasField("delay"):
        return None
    d = msg.delay
    kind = required_stored_enum(pb.DeadlineKind, d.deadline, "DEADLINE_KIND_", "delay.deadline")
    if not d.HasField("expected_at") or not d.HasField("notified_at"):
        raise ValueError("delay.expected_at")
    return Delay(
        DeadlineKind(kind),
        d.reason,
        d.expected_at.ToDatetime(tzinfo=UTC),
        d.notified_at.ToDatetime(tzinfo=UTC),
        actor_from_pb(d.notified_by),
    )


def order_to_pb(o: OrderReplica, request_id: str) -> pb.LinkedOrder:
    try:
        state_name = preservation_pb2.PreservationOrderState.Name(o.state)
    except ValueError:  # a state newer than our stub
        state_name = str(o.state)
    msg = pb.LinkedOrder(
        id=o.id,
        state=o.state,
        state_name=state_name,
        version=o.version,
        names_this_request=o.follow_up_request_id == request_id,
    )
    if o.expires_at is not None:
        msg.expires_at.CopyFrom(dt_to_ts(o.expires_at))
    return msg


def _set_ts(msg: Any, name: str, value: datetime | None) -> None:
    if value is not None:
        getattr(msg, name).CopyFrom(dt_to_ts(value))


def request_to_pb(
    r: EvidenceRequest,
    now: datetime,
    *,
    order: OrderReplica | None = None,
    item_count: int = 0,
    hide_link: bool = False,
    allowed_actions: Sequence[str] = (),
) -> pb.EvidenceRequest:
    """The request as protobuf. ``order``: the linked order to show (the caller may read it); ``hide_link``:
    leave out ``preservation_order_id`` too (a view for a caller who may not read the order);
    ``allowed_actions``: what the caller may do now (``domain.allowed_actions``), never in an event's state.
    Made in one constructor call, its messages given as their fields (``request_fields``)."""
    return pb.EvidenceRequest(
        **request_fields(
            r, now, order=order, item_count=item_count, hide_link=hide_link, allowed_actions=allowed_actions
        )
    )


def request_fields(
    r: EvidenceRequest,
    now: datetime | None,
    *,
    order: OrderReplica | None = None,
    item_count: int = 0,
    hide_link: bool = False,
    allowed_actions: Sequence[str] = (),
) -> dict[str, Any]:
    """The fields of ``request_to_pb``: a list's page makes each request in its answer
    (``requests.add(**fields)``), not made and then copied in. ``now`` None: its deadlines without
    ``overdue``, and no ``user_notice_suppression_lapsed`` (``request_answer``)."""
    fields = REQUEST_FIELDS.to_pb(r)
    fields.update(
        preservation_order_id="" if hide_link else r.preservation_order_id,
        addressee_jurisdiction=r.addressee_jurisdiction,
        legal_basis="LEGAL_BASIS_" + r.legal_basis,
        epoc_procedure=_named("EPOC_PROCEDURE_", r.epoc_procedure),
        issuing_authority=r.issuing_authority,
        addressee_kind="ADDRESSEE_KIND_" + r.addressee_kind,
        provider_name=r.provider_name,
        data_categories=["DATA_CATEGORY_" + c for c in r.data_categories],
        targets=[{"type": "TARGET_TYPE_" + t.type, "value": t.value, "platform": t.platform} for t in r.targets],
        offence_category="OFFENCE_CATEGORY_" + r.offence_category,
        urgency="URGENCY_" + r.urgency,
        title=r.title,
        description=r.description,
        user_notice_status="USER_NOTICE_STATUS_" + r.user_notice_status,
        deadlines=[deadline_fields(d, now, r.delay) for d in r.deadlines] or None,
        state_reason=r.state_reason,
        refusal_ground=_named("REFUSAL_GROUND_", r.refusal_ground),
        non_execution_reason=_named("NON_EXECUTION_REASON_", r.non_execution_reason),
        decision_deadline_extended=r.decision_extended,
        item_count=item_count,
        allowed_actions=allowed_actions or None,
        category_outcomes=outcomes_fields(r) or None,
        refusals=[refusal_fields(x) for x in r.refusals] if r.refusals else None,
        submission=r.submission,
        postponed_from=_named("EVIDENCE_REQUEST_STATE_", r.postponed_from),
        decision_suspended_seconds=r.decision_suspended_seconds,
        execution_suspended_seconds=r.execution_suspended_seconds,
        notification_exemption_reason=r.notification_exemption_reason,
        victim_refs=r.victim_refs or None,
        listed_offence=_named("LISTED_OFFENCE_", r.listed_offence),
        max_sentence_months=r.max_sentence_months,
        enforcing_jurisdiction=r.enforcing_jurisdiction,
        enforcement_requested_at=ts_fields_or_none(r.enforcement_requested_at),
        enforcement_decided_at=ts_fields_or_none(r.enforcement_decided_at),
        enforcement_refusal_ground=_named("ENFORCEMENT_REFUSAL_GROUND_", r.enforcement_refusal_ground),
        compliance_days=r.compliance_days,
        user_notice_suppressed_until=ts_fields_or_none(r.user_notice_suppressed_until),
        user_notice_suppression_lapsed=suppression_lapsed(r, now) if now is not None else None,
        next_deadline_at=ts_fields(r.deadlines[0].due_at) if r.deadlines else None,
        issued_at=ts_fields_or_none(r.issued_at),
        received_at=ts_fields_or_none(r.received_at),
        decided_at=ts_fields_or_none(r.decided_at),
        postponed_until=ts_fields_or_none(r.postponed_until),
        postponed_at=ts_fields_or_none(r.postponed_at),
        items_restricted_at=ts_fields_or_none(r.items_restricted_at),
        delay=delay_fields(r.delay) if r.delay is not None else None,
        linked_order=order_to_pb(order, r.id) if order is not None else None,
    )
    return fields


#: The number of the form ``request_answer`` makes: change it with ``request_fields`` or ``deadline_fields``
#: (a field added or computed otherwise), with a migration that empties ``evidence_requests.answer``
#: (``jitlib.answers``). The form digest adds how deadlines are counted (``deadlines.COUNTING``), whose
#: change the start's recount follows by writing every answer again.
ANSWER_FORM = 5 + 1000 * COUNTING
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_HEAD = struct.Struct(">IBBq")
#: ``_HEAD``'s lapse of a request whose user notice is not suppressed: never.
_NEVER = 2**63 - 1
_DEADLINE = struct.Struct(">qI")
_END = struct.Struct(">q")
_ORDER_ID = wire.strings(pb.EvidenceRequest.DESCRIPTOR, "preservation_order_id")
_DEADLINE_FIELD = wire.messages(pb.EvidenceRequest.DESCRIPTOR, "deadlines")
_OVERDUE = wire.true(pb.Deadline.DESCRIPTOR, "overdue")
_ACTIONS = wire.strings(pb.EvidenceRequest.DESCRIPTOR, "allowed_actions")
_LAPSED = wire.true(pb.EvidenceRequest.DESCRIPTOR, "user_notice_suppression_lapsed")


def micros(t: datetime) -> int:
    """``t`` in microseconds since 1970 (UTC), as the answered form holds its times."""
    return (t - _EPOCH) // _MICROSECOND


class AnsweredRequest(NamedTuple):
    """A request as ``ListRequests`` answers it, kept with its row (``request_answer``): its message less
    its preservation order's id (shown to whom the policy lets see the order), its deadlines (each less its
    ``overdue``), its ``user_notice_suppression_lapsed`` and the caller's actions; its deadlines, each its
    due time (microseconds) and message; when its user notice's suppression lapses (microseconds, ``_NEVER``
    when it is not suppressed); and which transitions its clocks allow when (``domain.ClockSchedule``, in
    microseconds): the ends, and where in ``data`` the sets of transitions allowed begin (read only for the
    time a page asks about)."""

    base: bytes
    deadlines: tuple[tuple[int, bytes], ...]
    lapses_at: int
    ends: tuple[int, ...]
    data: bytes
    sets_at: int

    def clocks_allow(self, now_us: int) -> frozenset[str]:
        """The transitions the request's clocks allow at ``now_us``: the set after as many sets as ends have
        passed (``_allowed_after``)."""
        return _allowed_after(self.data[self.sets_at :], bisect.bisect_right(self.ends, now_us))

    def message(self, now_us: int, order_id: str, actions: tuple[str, ...]) -> bytes:
        """The request's message at ``now_us`` (its deadlines overdue then, its user notice's suppression lapsed
        then or not), showing ``order_id`` (its linked order's, where the caller may see the order; else "")
        and the caller's ``actions``."""
        body = self.base + _ORDER_ID((order_id,)) if order_id else self.base
        for due, deadline in self.deadlines:
            body += _DEADLINE_FIELD(deadline + _OVERDUE if due < now_us else deadline)
        if self.lapses_at <= now_us:
            body += _LAPSED
        return body + _actions_field(actions)


#: The caller's actions as the message's field, written once for each set of actions (few: a page's callers
#: are offered the actions of a state and side).
_actions_field = functools.lru_cache(maxsize=1024)(_ACTIONS)


@functools.lru_cache(maxsize=1024)
def _allowed_after(sets: bytes, passed: int) -> frozenset[str]:
    """The set of transition names after ``passed`` others in ``sets`` (an answer's sets, each its count,
    then each name's length and name). Kept for each: requests of one state and instrument hold the same
    sets, so a page's mostly ask the same."""
    at = 0
    for _ in range(passed):  # past each set: its count, then each name
        count, at = sets[at], at + 1
        for _ in range(count):
            at += 1 + sets[at]
    names, count, at = [], sets[at], at + 1
    for _ in range(count):
        length = sets[at]
        names.append(sets[at + 1 : at + 1 + length].decode())
        at += 1 + length
    return frozenset(names)


def request_answer(r: EvidenceRequest) -> bytes:
    """The request's ``AnsweredRequest`` as bytes (what ``answered`` reads)."""
    fields = request_fields(r, None, hide_link=True)
    fields["deadlines"] = None
    base = pb.EvidenceRequest(**fields).SerializeToString()
    schedule = clock_schedule(r)
    lapses_at = suppression_lapses_at(r)
    lapses_us = micros(lapses_at) if lapses_at is not None else _NEVER
    out = [_HEAD.pack(len(base), len(r.deadlines), len(schedule.ends), lapses_us), base]
    for d in r.deadlines:
        body = pb.Deadline(**deadline_fields(d, None, r.delay)).SerializeToString()
        out += [_DEADLINE.pack(micros(d.due_at), len(body)), body]
    out += [_END.pack(micros(end)) for end in schedule.ends]
    for allowed in schedule.allowed:
        names = sorted(allowed)
        out.append(bytes([len(names)]))
        out += [bytes([len(n)]) + n.encode() for n in names]
    return b"".join(out)


def answered(data: bytes) -> AnsweredRequest:
    """What ``request_answer`` wrote (its sets of transitions read when asked: ``clocks_allow``). The answer
    opened under its record's version and form only (``jitlib.answers``): what this mapping wrote."""
    size, count, ends_count, lapses_at = _HEAD.unpack_from(data, 0)
    at = _HEAD.size + size
    base = data[_HEAD.size : at]
    dls = []
    for _ in range(count):
        due, length = _DEADLINE.unpack_from(data, at)
        at += _DEADLINE.size
        dls.append((due, data[at : at + length]))
        at += length
    packed = _ends(ends_count)
    ends = packed.unpack_from(data, at)
    sets_at = at + packed.size
    if sets_at + ends_count + 1 > len(data):  # each set at least its count
        raise ValueError("an answered request shorter than its parts")
    return AnsweredRequest(base, tuple(dls), lapses_at, ends, data, sets_at)


@functools.cache
def _ends(count: int) -> struct.Struct:
    """``count`` ends, each as ``_END`` packs it."""
    return struct.Struct(">" + "q" * count)


def request_from_pb(msg: pb.EvidenceRequest) -> EvidenceRequest:
    """A request from the state its events carry (a replica of another node's request): the inverse of
    ``request_to_pb``. The deadlines are the owner's, as its message shows them, not computed again here:
    the owner counted them under its rules, and a replica shows what the owner shows. What a view adds
    (``linked_order``, ``item_count``, ``next_deadline_at``, each deadline's ``overdue``, ``replica``) is
    not part of the record. ValueError for an enum value this build does not know, or UNSPECIFIED where
    the owner always sets one: the record could not be shown as its owner shows it."""
    return EvidenceRequest(
        **REQUEST_FIELDS.from_pb(msg),
        issuing_authority=msg.issuing_authority,
        legal_basis=required_stored_enum(pb.LegalBasis, msg.legal_basis, "LEGAL_BASIS_", "legal_basis"),
        epoc_procedure=stored_enum(pb.EpocProcedure, msg.epoc_procedure, "EPOC_PROCEDURE_", "epoc_procedure"),
        addressee_kind=required_stored_enum(pb.AddresseeKind, msg.addressee_kind, "ADDRESSEE_KIND_", "addressee_kind"),
        addressee_jurisdiction=msg.addressee_jurisdiction,
        provider_name=msg.provider_name,
        data_categories=tuple(
            required_stored_enum(pb.DataCategory, c, "DATA_CATEGORY_", "data_categories") for c in msg.data_categories
        ),
        targets=tuple(
            Target(required_stored_enum(pb.TargetType, t.type, "TARGET_TYPE_", "targets.type"), t.value, t.platform)
            for t in msg.targets
        ),
        offence_category=required_stored_enum(
            pb.OffenceCategory, msg.offence_category, "OFFENCE_CATEGORY_", "offence_category"
        ),
        urgency=required_stored_enum(pb.Urgency, msg.urgency, "URGENCY_", "urgency"),
        title=msg.title,
        description=msg.description,
        preservation_order_id=msg.preservation_order_id,
        user_notice_status=required_stored_enum(
            pb.UserNoticeStatus, msg.user_notice_status, "USER_NOTICE_STATUS_", "user_notice_status"
        ),
        user_notice_suppressed_until=ts_to_dt(
            msg.user_notice_suppressed_until, msg.HasField("user_notice_suppressed_until")
        ),
        issued_at=ts_to_dt(msg.issued_at, msg.HasField("issued_at")),
        received_at=ts_to_dt(msg.received_at, msg.HasField("received_at")),
        decided_at=ts_to_dt(msg.decided_at, msg.HasField("decided_at")),
        state_reason=msg.state_reason,
        refusal_ground=stored_enum(pb.RefusalGround, msg.refusal_ground, "REFUSAL_GROUND_", "refusal_ground"),
        non_execution_reason=stored_enum(
            pb.NonExecutionReason, msg.non_execution_reason, "NON_EXECUTION_REASON_", "non_execution_reason"
        ),
        decision_extended=msg.decision_deadline_extended,
        postponed_until=ts_to_dt(msg.postponed_until, msg.HasField("postponed_until")),
        postponed_from=stored_enum(
            pb.EvidenceRequestState, msg.postponed_from, "EVIDENCE_REQUEST_STATE_", "postponed_from"
        ),
        postponed_at=ts_to_dt(msg.postponed_at, msg.HasField("postponed_at")),
        decision_suspended_seconds=msg.decision_suspended_seconds,
        execution_suspended_seconds=msg.execution_suspended_seconds,
        delay=delay_from_pb(msg),
        items_restricted_at=ts_to_dt(msg.items_restricted_at, msg.HasField("items_restricted_at")),
        deadlines=tuple(deadline_from_pb(d) for d in msg.deadlines),
        decided_categories=outcomes_from_pb(msg.category_outcomes),
        refusals=refusals_from_pb(msg.refusals),
        submission=msg.submission or 1,
        notification_exemption_reason=msg.notification_exemption_reason,
        victim_refs=tuple(msg.victim_refs),
        listed_offence=stored_enum(pb.ListedOffence, msg.listed_offence, "LISTED_OFFENCE_", "listed_offence"),
        max_sentence_months=msg.max_sentence_months,
        enforcing_jurisdiction=msg.enforcing_jurisdiction,
        enforcement_requested_at=ts_to_dt(msg.enforcement_requested_at, msg.HasField("enforcement_requested_at")),
        enforcement_decided_at=ts_to_dt(msg.enforcement_decided_at, msg.HasField("enforcement_decided_at")),
        enforcement_refusal_ground=stored_enum(
            pb.EnforcementRefusalGround,
            msg.enforcement_refusal_ground,
            "ENFORCEMENT_REFUSAL_GROUND_",
            "enforcement_refusal_ground",
        ),
        compliance_days=msg.compliance_days,
    )


def deadline_from_pb(d: pb.Deadline) -> Deadline:
    """A deadline as its owner's message shows it (the inverse of ``deadline_to_pb``; ``overdue`` is
    derived when read)."""
    kind = required_stored_enum(pb.DeadlineKind, d.kind, "DEADLINE_KIND_", "deadlines.kind")
    if not d.HasField("due_at") or not d.HasField("counted_from"):
        raise ValueError("deadlines.due_at")
    return Deadline(
        DeadlineKind(kind),
        d.due_at.ToDatetime(tzinfo=UTC),
        d.source,
        d.counted_from.ToDatetime(tzinfo=UTC),
        d.working_days,
    )


def legal_basis_from_pb(value: int) -> str | None:
    """A list filter's legal basis: "" for any, None when unknown."""
    return enum_value(pb.LegalBasis, value, "LEGAL_BASIS_")


def custody_action_from_pb(value: int) -> custody.Action | None:
    """The custody action a caller records; None when unspecified or unknown."""
    name = enum_value(pb.CustodyAction, value, "CUSTODY_ACTION_") or ""
    return custody.Action(name) if name in custody.Action.__members__ else None


# -- items -----------------------------------------------------------------------------------------


def new_item_from_pb(m: pb.ItemMetadata) -> NewItem:
    consents = tuple(
        Consent(
            c.purpose,
            c.granted_by_jurisdiction,
            ts_to_dt(c.granted_at, c.HasField("granted_at")),
            c.reference,
        )
        for c in m.use_conditions.consents
    )
    return NewItem(
        **same_fields(m, "request_id evidence_request_id sha256 size_bytes media_type filename description"),
        origin_jurisdiction=m.origin_jurisdiction,
        conditions=m.use_conditions.conditions,
        consents=consents,
        sensitive=m.sensitive,
    )


#: The fields an item and its message name the same (the message calls ``evidence_request_id`` ``request_id``).
_ITEM_SAME = "id workspace_id origin_jurisdiction media_type size_bytes sha256 filename description"


def item_to_pb(
    item: EvidenceItem,
    custody_entries: int = 0,
    *,
    restricted: bool = False,
    allowed_actions: tuple[str, ...] = (),
    pending: ExportClearance | None = None,
) -> pb.EvidenceItem:
    """The item as shown; ``restricted``: its request's objection restricted it (``domain.item_restricted``);
    ``allowed_actions`` and ``pending`` (its open export request) for one caller, never in an event."""
    conditions = pb.UseConditions(jit_purposes_only=True, conditions=item.conditions)
    for c in item.consents:
        consent = pb.UseConsent(
            purpose=c.purpose, granted_by_jurisdiction=c.granted_by_jurisdiction, reference=c.reference
        )
        _set_ts(consent, "granted_at", c.granted_at)
        conditions.consents.append(consent)
    return pb.EvidenceItem(
        **same_fields(item, _ITEM_SAME),
        request_id=item.evidence_request_id,
        use_conditions=conditions,
        received_by=actor_pb(item.received_by),
        received_at=dt_to_ts(item.received_at),
        custody_entries=custody_entries,
        restricted=restricted,
        sensitive=item.sensitive,
        allowed_actions=allowed_actions,
        pending_export=pb.PendingExport(
            request=custody_to_pb(pending.request),
            approval=custody_to_pb(pending.approval) if pending.approval is not None else None,
        )
        if pending is not None
        else None,
    )


def item_from_pb(msg: pb.EvidenceItem) -> ItemReplica:
    """Another node's item from the state its events carry: its metadata, at its custody sequence."""
    consents = tuple(
        Consent(
            c.purpose,
            c.granted_by_jurisdiction,
            c.granted_at.ToDatetime(tzinfo=UTC) if c.HasField("granted_at") else None,
            c.reference,
        )
        for c in msg.use_conditions.consents
    )
    item = EvidenceItem(
        **same_fields(msg, _ITEM_SAME),
        evidence_request_id=msg.request_id,
        conditions=msg.use_conditions.conditions,
        consents=consents,
        received_by=actor_from_pb(msg.received_by),
        received_at=msg.received_at.ToDatetime(tzinfo=UTC),
        blob_key="",
        sensitive=msg.sensitive,
    )
    return ItemReplica(item, msg.custody_entries)


def custody_to_pb(e: custody.Entry) -> pb.CustodyEntry:
    return pb.CustodyEntry(
        seq=e.seq,
        item_id=e.item_id,
        action="CUSTODY_ACTION_" + e.action.value,
        actor=actor_pb(Actor(e.user_id, e.username, e.jurisdiction)),
        at=dt_to_ts(e.at),
        purpose=e.purpose,
        recipient=e.recipient,
        sha256=e.sha256,
        prev_hash=e.prev_hash,
        entry_hash=e.entry_hash,
    )
