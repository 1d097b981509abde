"""Conversions between the jit.preservation.v1 messages and the domain types, and the ListOrders page
token (a ``jitlib.paging`` token carrying the compound position: expiry, then id)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any, Protocol

from jit.preservation.v1 import preservation_pb2 as pb
from jitlib import paging, usernotice
from jitlib.errors import InvalidArgument
from jitlib.ids import is_uuid
from jitlib.mapping import (
    RecordMapping,
    dt_to_ts,
    enum_name,
    required_stored_enum,
    stored_enum,
    ts_fields_or_none,
    ts_to_dt,
)
from services.preservation.domain import (
    LegalBasis,
    NewOrder,
    Order,
    OrderState,
    ProductionOutcome,
    Provider,
    Target,
    TransitionInput,
    Warning,
    suppression_lapsed,
)

#: The fields every order message has, with its state, both ways.
ORDER_FIELDS = RecordMapping(
    pb.PreservationOrderState, "PRESERVATION_ORDER_STATE_", OrderState, "preservation order state"
)


def new_order_from_pb(req: pb.CreateOrderRequest) -> NewOrder:
    unknown = []
    basis = enum_name(pb.LegalBasis, req.legal_basis, "LEGAL_BASIS_")
    if basis is None:
        unknown.append("legal_basis")
    targets = []
    for t in req.targets:
        kind = enum_name(pb.TargetKind, t.kind, "TARGET_KIND_")
        targets.append(Target(kind or "UNKNOWN", t.value))
    categories = []
    for i, c in enumerate(req.data_categories):
        name = enum_name(pb.DataCategory, c, "DATA_CATEGORY_")
        if name is None or name == "UNSPECIFIED":
            unknown.append(f"data_categories[{i}]")
        else:
            categories.append(name)
    # Need to know by default: an order is restricted to its parties unless the issuer opens it up.
    notice = enum_name(pb.UserNoticeStatus, req.user_notice_status, "USER_NOTICE_STATUS_")
    if notice is None:
        unknown.append("user_notice_status")
    record = ORDER_FIELDS.new_from_pb(req, unknown)
    return NewOrder(
        **record,
        legal_basis=basis or "",
        provider_id=req.provider_id,
        targets=tuple(targets),
        data_categories=tuple(categories),
        description=req.description,
        unknown_enums=tuple(unknown),
        victim_refs=tuple(req.victim_refs),
        user_notice_status="" if notice in (None, "UNSPECIFIED") else notice,
        user_notice_suppressed_until=ts_to_dt(
            req.user_notice_suppressed_until, req.HasField("user_notice_suppressed_until")
        ),
    )


#: The order's timestamps carried in its message (unset when None).
_TIMES = (
    "expires_at",
    "issued_at",
    "received_at",
    "confirmed_at",
    "extension_deadline",
    "produced_at",
    "production_requested_at",
    "clock_stopped_at",
    "user_notice_suppressed_until",
    "enforcement_requested_at",
    "enforcement_decided_at",
)


def order_to_pb(
    order: Order,
    now: datetime,
    overdue_after: timedelta,
    allowed_actions: Sequence[str] = (),
    *,
    follow_up_shown: bool = True,
) -> pb.PreservationOrder:
    """The order as a message, made by one constructor call (its timestamps given as their fields, unset
    when None); ``allowed_actions`` only in an answer to a caller (``domain.allowed_actions``), never in an
    event's state. ``follow_up_shown`` False: without ``follow_up_request_id`` (an answer to a caller who may
    not read that request, ``domain.follow_up_shown``). An event's state names it, for the nodes entitled to
    the request only (``events.limit_follow_up``). ``user_notice_suppression_lapsed`` as of ``now``."""
    message = _order_message(
        order, order.is_confirmation_overdue(now, overdue_after), allowed_actions, follow_up=follow_up_shown
    )
    if suppression_lapsed(order, now):
        message.user_notice_suppression_lapsed = True
    return message


#: The number of the form ``order_answer`` makes: change it with ``_order_message`` (a field added or
#: computed otherwise), with a migration that empties ``preservation_orders.answer`` (``jitlib.answers``).
ANSWER_FORM = 3


def order_answer(order: Order) -> bytes:
    """The order as ``ListOrders`` answers it, less the clock's ``confirmation_overdue``, whether its user
    notice's suppression has lapsed (``user_notice_suppression_lapsed``), the caller's ``allowed_actions`` and
    the follow-up request's id, which only a caller who may read that request is
    shown (the page adds them), serialized: kept with its row (``store.ANSWERS``)."""
    return _order_message(order, False, (), follow_up=False).SerializeToString()


def _order_message(
    order: Order, confirmation_overdue: bool, allowed_actions: Sequence[str], *, follow_up: bool
) -> pb.PreservationOrder:
    times: dict[str, Any] = {name: ts_fields_or_none(getattr(order, name)) for name in _TIMES}
    return pb.PreservationOrder(
        **ORDER_FIELDS.to_pb(order),
        follow_up_request_id=order.follow_up_request_id if follow_up else "",
        legal_basis="LEGAL_BASIS_" + order.legal_basis.value,
        provider_id=order.provider_id,
        targets=[pb.TargetIdentifier(kind="TARGET_KIND_" + t.kind, value=t.value) for t in order.targets],
        data_categories=["DATA_CATEGORY_" + c for c in order.data_categories],
        description=order.description,
        provider_reference=order.provider_reference,
        state_reason=order.state_reason,
        not_executed_reason="NOT_EXECUTED_REASON_" + (order.not_executed_reason or "UNSPECIFIED"),
        extension_count=order.extension_count,
        confirmation_overdue=confirmation_overdue,
        allowed_actions=allowed_actions or None,
        clock_remaining_seconds=order.clock_remaining_seconds or 0,
        victim_refs=order.victim_refs or None,
        user_notice_status="USER_NOTICE_STATUS_" + order.user_notice_status,
        enforcing_jurisdiction=order.enforcing_jurisdiction,
        enforcement_refusal_ground="ENFORCEMENT_REFUSAL_GROUND_" + (order.enforcement_refusal_ground or "UNSPECIFIED"),
        **times,
    )


def order_from_pb(msg: pb.PreservationOrder) -> Order:
    """An order from the state its events carry (a replica of another node's order): the inverse of
    ``order_to_pb``. The expiry, the extension deadline and the count of extensions are the owner's, as
    its message shows them, not computed again here: the owner's clock rule (its national law, its
    provider register) set them, and a replica shows what the owner shows. ``clock_started_at`` is not
    in the message: it only schedules the expiry warnings, which the owner's node alone sends (a replica
    has no warning schedule). ``confirmation_overdue`` is derived when read, as on every node.
    ValueError for an enum value this build does not know, or UNSPECIFIED where the owner always sets one."""
    return Order(
        **ORDER_FIELDS.from_pb(msg),
        legal_basis=LegalBasis(required_stored_enum(pb.LegalBasis, msg.legal_basis, "LEGAL_BASIS_", "legal_basis")),
        provider_id=msg.provider_id,
        targets=tuple(
            Target(required_stored_enum(pb.TargetKind, t.kind, "TARGET_KIND_", "targets.kind"), t.value)
            for t in msg.targets
        ),
        data_categories=tuple(
            required_stored_enum(pb.DataCategory, c, "DATA_CATEGORY_", "data_categories") for c in msg.data_categories
        ),
        description=msg.description,
        state_reason=msg.state_reason,
        not_executed_reason=stored_enum(
            pb.NotExecutedReason, msg.not_executed_reason, "NOT_EXECUTED_REASON_", "not_executed_reason"
        ),
        provider_reference=msg.provider_reference,
        follow_up_request_id=msg.follow_up_request_id,
        issued_at=ts_to_dt(msg.issued_at, msg.HasField("issued_at")),
        received_at=ts_to_dt(msg.received_at, msg.HasField("received_at")),
        confirmed_at=ts_to_dt(msg.confirmed_at, msg.HasField("confirmed_at")),
        expires_at=ts_to_dt(msg.expires_at, msg.HasField("expires_at")),
        extension_count=msg.extension_count,
        extension_deadline=ts_to_dt(msg.extension_deadline, msg.HasField("extension_deadline")),
        produced_at=ts_to_dt(msg.produced_at, msg.HasField("produced_at")),
        production_requested_at=ts_to_dt(msg.production_requested_at, msg.HasField("production_requested_at")),
        clock_stopped_at=ts_to_dt(msg.clock_stopped_at, msg.HasField("clock_stopped_at")),
        # Set exactly while the clock is stopped (then it may be 0: nothing was left).
        clock_remaining_seconds=msg.clock_remaining_seconds if msg.HasField("clock_stopped_at") else None,
        victim_refs=tuple(msg.victim_refs),
        # An owner of an older version sends none: the provider's default.
        user_notice_status=stored_enum(
            pb.UserNoticeStatus, msg.user_notice_status, "USER_NOTICE_STATUS_", "user_notice_status"
        )
        or usernotice.PENDING,
        user_notice_suppressed_until=ts_to_dt(
            msg.user_notice_suppressed_until, msg.HasField("user_notice_suppressed_until")
        ),
        enforcing_jurisdiction=msg.enforcing_jurisdiction,
        enforcement_requested_at=ts_to_dt(msg.enforcement_requested_at, msg.HasField("enforcement_requested_at")),
        enforcement_decided_at=ts_to_dt(msg.enforcement_decided_at, msg.HasField("enforcement_decided_at")),
        enforcement_refusal_ground=stored_enum(
            pb.EnforcementRefusalGround,
            msg.enforcement_refusal_ground,
            "ENFORCEMENT_REFUSAL_GROUND_",
            "enforcement_refusal_ground",
        ),
    )


def warning_kind(warning: Warning) -> int:
    if warning.enforcement:
        return (
            pb.WARNING_KIND_ENFORCEMENT_DECISION_DUE if warning.offset else pb.WARNING_KIND_ENFORCEMENT_DECISION_PASSED
        )
    if warning.notice:
        return (
            pb.WARNING_KIND_NOTICE_SUPPRESSION_ENDING if warning.offset else pb.WARNING_KIND_NOTICE_SUPPRESSION_LAPSED
        )
    if warning.production_outcome is ProductionOutcome.NOT_COUNTED:
        return pb.WARNING_KIND_PRODUCTION_NOT_COUNTED
    if warning.production_outcome is not None:
        return pb.WARNING_KIND_PRODUCTION_ENDED
    return pb.WARNING_KIND_AT_EXPIRY if warning.at_expiry else pb.WARNING_KIND_BEFORE_EXPIRY


def warning_to_pb(state: pb.PreservationOrder, warning: Warning) -> pb.ExpiryWarning:
    outcome = warning.production_outcome
    return pb.ExpiryWarning(
        order=state,
        offset_seconds=int(warning.offset.total_seconds()),
        expires_at=dt_to_ts(warning.expires_at),
        first=warning.first,
        due_at=dt_to_ts(warning.due_at),
        kind=warning_kind(warning),  # type: ignore[arg-type]
        reason=warning.reason,
        production_request_id=warning.production_request_id,
        production_outcome="PRODUCTION_OUTCOME_" + (outcome.value if outcome is not None else "UNSPECIFIED"),
    )


def not_executed_reason_from_pb(value: int) -> str:
    name = enum_name(pb.NotExecutedReason, value, "NOT_EXECUTED_REASON_")
    return "" if name is None or name == "UNSPECIFIED" else name


def provider_to_pb(p: Provider) -> pb.Provider:
    # The message is the register's entry, field for field.
    return pb.Provider(**asdict(p))


# ---- the ListOrders page token ---------------------------------------------------------------------

_FORGED = "is not a token this service issued"


class Positioned(Protocol):
    """Where an order stands in ``ListOrders``: an ``Order``, or a row of its page (``store.Listed``)."""

    @property
    def id(self) -> str: ...
    @property
    def expires_at(self) -> datetime | None: ...


def order_position(order: Positioned) -> dict[str, Any]:
    """Where a page ended: the last order's expiry (None: no expiry, those sort last) and id."""
    return {"e": order.expires_at.isoformat() if order.expires_at else None, "a": order.id}


def position_from_token(request: pb.ListOrdersRequest) -> tuple[datetime | None, str] | None:
    """The (expires_at, id) after which the next page starts; None for the first page.

    INVALID_ARGUMENT on ``page_token`` for a token of another list or filters (``jitlib.paging``) and for
    a position this service would not have written."""
    position = paging.decode(request)
    if position is None:
        return None
    expires, after = position.get("e"), position.get("a")
    if set(position) != {"e", "a"} or not isinstance(after, str) or not is_uuid(after):
        raise InvalidArgument.one("page_token", _FORGED)
    if expires is None:
        return None, after
    if not isinstance(expires, str) or len(expires) > 40:
        raise InvalidArgument.one("page_token", _FORGED)
    try:
        at = datetime.fromisoformat(expires)
    except ValueError:
        raise InvalidArgument.one("page_token", _FORGED) from None
    if at.tzinfo is None:
        raise InvalidArgument.one("page_token", _FORGED)
    return at, after


def page_token(order: Positioned, request: pb.ListOrdersRequest) -> str:
    return paging.encode(order_position(order), request)


def transition_input(request: Any) -> TransitionInput:
    """The transition data any of the transition request messages carries (fields by name). In
    RecordNotExecuted, ``reason`` is the enumerated reason and ``details`` the free text; the enforcement's
    free text (``note``, ``detail``) is its ``reason`` too."""
    fields = request.DESCRIPTOR.fields_by_name
    enum_reason = "reason" in fields and not isinstance(request.reason, str)
    text = next((getattr(request, name) for name in ("note", "detail") if name in fields), None)
    ground = ""
    if "ground" in fields:
        ground = enum_name(pb.EnforcementRefusalGround, request.ground, "ENFORCEMENT_REFUSAL_GROUND_") or "UNKNOWN"
        ground = "" if ground == "UNSPECIFIED" else ground
    return TransitionInput(
        enforcing_jurisdiction=request.enforcing_jurisdiction if "enforcing_jurisdiction" in fields else "",
        enforcement_ground=ground,
        issued_at=ts_to_dt(request.issued_at, request.HasField("issued_at")) if "issued_at" in fields else None,
        received_at=(
            ts_to_dt(request.received_at, request.HasField("received_at")) if "received_at" in fields else None
        ),
        confirmed_at=(
            ts_to_dt(request.confirmed_at, request.HasField("confirmed_at")) if "confirmed_at" in fields else None
        ),
        provider_reference=request.provider_reference if "provider_reference" in fields else "",
        follow_up_request_id=request.follow_up_request_id if "follow_up_request_id" in fields else "",
        reason=request.details
        if "details" in fields
        else text
        if text is not None
        else (request.reason if "reason" in fields and not enum_reason else ""),
        not_executed_reason=not_executed_reason_from_pb(request.reason) if enum_reason else "",
        user_notice_status=(
            enum_name(pb.UserNoticeStatus, request.status, "USER_NOTICE_STATUS_") or "UNKNOWN"
            if "status" in fields
            else ""
        ),
        user_notice_suppressed_until=(
            ts_to_dt(request.suppressed_until, request.HasField("suppressed_until"))
            if "suppressed_until" in fields
            else None
        ),
    )
