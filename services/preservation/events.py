"""What the preservation service publishes and consumes.

Publishes one event per change on jit.preservation.<origin>.<event> in the jit.events.v1.Envelope with the
full PreservationOrder as state, and the expiry warnings on jit.preservation.<origin>.expiry_warning with
an ExpiryWarning as state (sent exactly once each by jitlib.alerts.AlertScanner).

Consumes jit.evidence.> : an evidence request linked to an order (preservation_order_id) that reaches
ISSUED or later (not REFUSED, WITHDRAWN or NOT_EXECUTED) moves the order to PRODUCTION_REQUESTED; EXECUTED
moves it to PRODUCED. That is judged at the instant the request was issued (its ``issued_at``), not when
the event is consumed: issued before the expiry it counts, even if the clock has expired an EPOC-PR or
Budapest order since; issued after it, the order is not moved and that is logged
(PRESERVATION_PRODUCTION_REQUESTED_BEFORE_EXPIRY). When the order's own production request (its
follow_up_request_id) is REFUSED, WITHDRAWN or NOT_EXECUTED while the order is PRODUCTION_REQUESTED, the
order is resumed (event ``resumed``: back to the state before, a stopped clock runs again with the time
that was left) and the issuer is warned (an ExpiryWarning of kind PRODUCTION_ENDED on expiry_warning) in
the same transaction: once, since a redelivered or repeated event finds the order no longer
PRODUCTION_REQUESTED. The warnings that a non-disclosure order suppressing the provider's notice to the
account holder ends (48 h and 8 h before, by default) and has ended are ExpiryWarnings too (kinds
NOTICE_SUPPRESSION_ENDING, NOTICE_SUPPRESSION_LAPSED, never ``first``), sent once each by the same scanner.
Only a request for the preserved data counts (PRESERVATION_PRODUCTION_REQUEST_FOR_THE_PRESERVED_DATA: addressed
where the order's provider is established, and for an EPOC-PR or Budapest Art. 29 order an instrument that
may follow it): any other leaves the order as it is, and the issuer is warned once per linked request
(``not_counted``, an ExpiryWarning of kind PRODUCTION_NOT_COUNTED).
Only a request of the order's own issuing jurisdiction and workspace moves it (the evidence service checks
that when the link is made; this is the second check): any other is set aside as a dead letter and the
order does not change.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy.orm import Session

from jit.common.v1 import common_pb2
from jit.events.v1.envelope_pb2 import Envelope
from jit.evidence.v1 import evidence_pb2
from jit.preservation.v1 import preservation_pb2 as pb
from jitlib import audit, envelopes
from jitlib.actors import SYSTEM as SYSTEM_ACTOR
from jitlib.alerts import SYSTEM, Alert, Due, Emit, Scan, record_once
from jitlib.bus import EventConsumer, Handler, PoisonMessage, stream_for
from jitlib.ids import is_uuid
from jitlib.mapping import ts_to_dt
from jitlib.policy import PRESERVATION_ORDER_RULES
from jitlib.records import store_change
from jitlib.runtime import Runtime, UnitOfWork
from services.preservation import domain, store
from services.preservation.domain import DueWarning, Order, OrderState, Rules, TransitionInput
from services.preservation.mapping import order_to_pb, warning_to_pb

log = logging.getLogger(__name__)

STREAM = stream_for("preservation")
EVIDENCE_STREAM = stream_for("evidence")
RECORD = "preservation_order"
WARNING_EVENT = "expiry_warning"
WARNING_TYPE = "jit.preservation.v1.PreservationOrderExpiryWarning"


#: ``not_executed`` is ``jit.preservation.v1.PreservationOrderNotExecuted``, on
#: ``jit.preservation.<origin>.not_executed``; ``envelope`` takes the type whole (the warnings' is WARNING_TYPE).
EVENTS = envelopes.RecordEvents("preservation", "PreservationOrder", aggregate_type=RECORD)
subject, event_type = EVENTS.subject, EVENTS.event_type


def envelope(
    order: Order,
    state: pb.PreservationOrder | pb.ExpiryWarning,
    etype: str,
    members: frozenset[str],
    now: datetime,
    *,
    request_facts: str = "",
) -> Envelope:
    """The event of ``order`` with ``state`` (the order, or a warning carrying it), for the order's audience:
    the id of an evidence request it names (its follow-up, or a warning's ``production_request_id``) only for
    the nodes entitled to that request (``limit_requests``). ``request_facts``: the facts of a warning's
    ``production_request_id`` when it is not the order's follow-up."""
    event = EVENTS.typed_envelope(order, state, etype, members, now)
    limit_requests(event, order, state, members, request_facts)
    return event


def request_audience(order: Order, facts: str, members: frozenset[str]) -> list[str]:
    """Who is entitled to an evidence request of ``order``'s workspace with access ``facts``
    (``domain.follow_up_facts``; none known: the order's issuing jurisdiction alone)."""
    access = domain.follow_up_access(order.workspace_id, order.origin_jurisdiction, facts)
    return envelopes.access_audience(access, members)


def limit_requests(
    event: Envelope,
    order: Order,
    state: pb.PreservationOrder | pb.ExpiryWarning,
    members: frozenset[str],
    request_facts: str = "",
) -> None:
    """Mark in ``event`` the evidence requests' ids its state names as for the countries entitled to each
    request (``envelopes.limit_field``): this node's consumers (the evidence service records the reverse
    link from it) get them, a peer's node only when its country may read the request. The order's audience
    is not the request's: DOMAIN.md, a record the reader may not see is never hinted at."""
    order_state, prefix = (state.order, "order.") if isinstance(state, pb.ExpiryWarning) else (state, "")
    if order_state.follow_up_request_id:
        follow_up = request_audience(order, order.follow_up_facts, members)
        envelopes.limit_field(event, prefix + "follow_up_request_id", follow_up)
    if isinstance(state, pb.ExpiryWarning) and state.production_request_id:
        facts = order.follow_up_facts if state.production_request_id == order.follow_up_request_id else request_facts
        envelopes.limit_field(event, "production_request_id", request_audience(order, facts, members))


def write_change(
    uow: UnitOfWork,
    before: Order,
    after: Order,
    event: str,
    *,
    rules: Rules,
    members: frozenset[str],
    now: datetime,
) -> pb.PreservationOrder:
    """Store a transition (version-checked), its event and its audit entry, in the caller's transaction.

    The warning schedule is recomputed from the new state: a new expiry starts a new series, a state
    without a clock has none. The warnings of the end of a non-disclosure order suppressing the user notice
    are planned again from ``now`` when that changes (``domain.notice_plan_changed``: its status or end, or
    the order issued), and left where they are otherwise (some may have been sent).
    """
    next_alert = domain.next_alert_at(after, rules.offsets)
    state = order_to_pb(after, now, rules.confirmation_overdue_after)
    extra: dict[str, object] = {"next_alert_at": next_alert}
    if domain.notice_plan_changed(before, after):
        extra["notice_alert_at"] = domain.next_notice_alert_at(after, rules.notice_offsets, since=now)
    if domain.enforcement_plan_changed(before, after):
        extra["enforcement_alert_at"] = domain.next_enforcement_alert_at(after, rules.enforcement_offsets)

    def update(session: Session, order: Order, expected_version: int) -> bool:
        return store.ORDERS.update_if_version(session, order, expected_version, **extra)

    def announce(uow: UnitOfWork, order: Order) -> None:
        uow.emit(subject(order, event), envelope(order, state, event_type(event), members, now))

    store_change(uow, PRESERVATION_ORDER_RULES, before, after, update, announce)
    return state


# ---- expiry warnings (jitlib.alerts) -----------------------------------------------------------------


def scan(rules: Rules, batch: int) -> Scan:
    """The AlertScanner's scan: warnings due now, from an indexed range query on next_alert_at that reads
    three plain columns of each due order (``store.due_for_alert``, ``domain.due_warnings``), then the
    warnings of the end of a non-disclosure order, from another on notice_alert_at (``store.notice_due``,
    ``domain.due_notice_warnings``)."""

    def run(session: Session, now: datetime) -> Sequence[Due]:
        expiries: list[Due] = domain.due_warnings(store.due_for_alert(session, now, batch), rules.offsets, now)
        notices = domain.due_notice_warnings(store.notice_due(session, now, batch), rules.notice_offsets, now)
        enforcing = domain.due_enforcement_warnings(
            store.enforcement_due(session, now, batch), rules.enforcement_offsets, now
        )
        return [*expiries, *notices, *enforcing] if notices or enforcing else expiries

    return run


def emitter(rt: Runtime, rules: Rules) -> Emit:
    """The AlertScanner's emit: runs in the transaction that recorded the alert as sent."""

    def emit(uow: UnitOfWork, alert: Alert) -> None:
        if isinstance(alert.payload, domain.NoticeDue):
            emit_notice(uow, alert.payload)
            return
        if isinstance(alert.payload, domain.EnforcementDue):
            emit_enforcement(uow, alert.payload)
            return
        due = DueWarning(*alert.payload)
        session = uow.session
        order = store.get(session, due.order_id, for_update=True)
        if order is None or not order.clock_runs() or order.expires_at != due.expires_at:
            return  # changed since the scan (extended, lifted, production requested): that reset the schedule
        warning = domain.scheduled_warning(order, rules.offsets, due.offset)
        if warning is None:
            return  # not a warning of this order's schedule (next_alert_at is always one: not reached)
        pending = store.next_alert_of(session, order.id)
        if pending is None or pending > warning.due_at:
            # Already sent by another scan. alerts_sent should have said so, but on PostgreSQL (psycopg 3)
            # the insert's rowcount is -1 whether or not it inserted, so the row lock taken above and the
            # order's own "next warning" pointer are what keep this exactly once.
            return
        now = rt.clock.now()
        members = rt.members_of(order)
        state = order_to_pb(order, now, rules.confirmation_overdue_after)
        if warning.at_expiry:
            expired = domain.apply(
                order,
                "expire",
                TransitionInput(reason="preservation period ended"),
                actor=SYSTEM_ACTOR,
                now=now,
                rule=rules.clock_for(order),
            )
            state = write_change(uow, order, expired, "expired", rules=rules, members=members, now=now)
            order = expired
        else:
            store.set_next_alert(session, order.id, domain.next_alert_at(order, rules.offsets, after=warning.due_at))
        uow.emit(
            subject(order, WARNING_EVENT),
            envelope(order, warning_to_pb(state, warning), WARNING_TYPE, members, now),
        )
        uow.audit(RECORD, order.id, order.workspace_id)

    def emit_notice(uow: UnitOfWork, due: domain.NoticeDue) -> None:
        """A warning of the end of the order's non-disclosure order (PRESERVATION_USER_NOTICE_SUPPRESSION_LAPSES),
        and the order's next one planned."""
        session = uow.session
        order = store.get(session, due.order_id, for_update=True)
        if order is None or domain.suppression_lapses_at(order) != due.until:
            return  # changed since the scan (renewed, notice sent): that planned its warnings again
        warning = domain.notice_warning(order, rules.notice_offsets, due.offset)
        pending = store.notice_alert_of(session, order.id)
        if warning is None or pending is None or pending > warning.due_at:
            return  # not of its schedule, or sent already by another scan (the row lock and pointer, as above)
        store.set_notice_alert(
            session, order.id, domain.next_notice_alert_at(order, rules.notice_offsets, after=warning.due_at)
        )
        now = rt.clock.now()
        state = order_to_pb(order, now, rules.confirmation_overdue_after)
        uow.emit(
            subject(order, WARNING_EVENT),
            envelope(order, warning_to_pb(state, warning), WARNING_TYPE, rt.members_of(order), now),
        )
        uow.audit(RECORD, order.id, order.workspace_id)

    def emit_enforcement(uow: UnitOfWork, due: domain.EnforcementDue) -> None:
        """A warning of the enforcing state's deadline to decide on recognition
        (EPOC_PR_ENFORCEMENT_RECOGNITION_WITHIN_5_WORKING_DAYS), for the order's audience (the enforcing state
        included), and the order's next one planned."""
        session = uow.session
        order = store.get(session, due.order_id, for_update=True)
        if order is None or domain.enforcement_due_at(order) != due.due:
            return  # decided since the scan (recognised, refused, lifted, expired): that ended its warnings
        warning = domain.enforcement_warning(order, rules.enforcement_offsets, due.offset)
        pending = store.enforcement_alert_of(session, order.id)
        if warning is None or pending is None or pending > warning.due_at:
            return  # not of its schedule, or sent already by another scan (the row lock and pointer, as above)
        store.set_enforcement_alert(
            session,
            order.id,
            domain.next_enforcement_alert_at(order, rules.enforcement_offsets, after=warning.due_at),
        )
        now = rt.clock.now()
        state = order_to_pb(order, now, rules.confirmation_overdue_after)
        uow.emit(
            subject(order, WARNING_EVENT),
            envelope(order, warning_to_pb(state, warning), WARNING_TYPE, rt.members_of(order), now),
        )
        uow.audit(RECORD, order.id, order.workspace_id)

    return emit


# ---- consumed: evidence requests ---------------------------------------------------------------------

E = evidence_pb2
#: "ISSUED or later, and not failed": the production request exists and may still produce.
_PRODUCTION_REQUESTED = frozenset(
    {
        E.EVIDENCE_REQUEST_STATE_ISSUED,
        E.EVIDENCE_REQUEST_STATE_ACKNOWLEDGED,
        E.EVIDENCE_REQUEST_STATE_UNDER_REVIEW,
        E.EVIDENCE_REQUEST_STATE_IN_EXECUTION,
        E.EVIDENCE_REQUEST_STATE_PARTIALLY_EXECUTED,
        E.EVIDENCE_REQUEST_STATE_EXECUTED,
        E.EVIDENCE_REQUEST_STATE_CLOSED,
        E.EVIDENCE_REQUEST_STATE_POSTPONED,
        # Transferred to the enforcing state (Reg. (EU) 2023/1543 Art. 16): the production is still sought.
        E.EVIDENCE_REQUEST_STATE_IN_ENFORCEMENT,
    }
)
#: The production request failed: the order it held gets its clock back (PRESERVATION_CLOCK_RESUMES_...).
_FAILED = {
    E.EVIDENCE_REQUEST_STATE_REFUSED: domain.ProductionOutcome.REFUSED,
    E.EVIDENCE_REQUEST_STATE_WITHDRAWN: domain.ProductionOutcome.WITHDRAWN,
    E.EVIDENCE_REQUEST_STATE_NOT_EXECUTED: domain.ProductionOutcome.NOT_EXECUTED,
    # The enforcing state refused to recognise it: the provider will not produce (GUESS: as not executed).
    E.EVIDENCE_REQUEST_STATE_NOT_ENFORCED: domain.ProductionOutcome.NOT_EXECUTED,
}


#: The states in which a linked production request is refused only because the preservation ended.
_HELD_UNTIL_EXPIRY = domain.TRANSITIONS["request_production"].sources | {OrderState.EXPIRED}


def production_steps(
    order: Order, request_state: int, requested_at: datetime | None, rule: domain.ClockRule, now: datetime
) -> list[str]:
    """The transitions an event of the order's linked evidence request (in ``request_state``, issued at
    ``requested_at``) takes the order through, in order: ``resume`` when the request failed; else
    ``request_production`` when the order allows it at the instant the request was issued
    (``domain.production_judged_at``), and ``mark_produced`` once it is executed. A production request the
    order refuses because its preservation had ended is logged, not silently dropped."""
    if request_state in _FAILED:
        return ["resume"]
    steps = []
    judged = domain.production_judged_at(order, requested_at, now)
    refused = domain.refused(order, "request_production", rule, judged)
    if refused is None:
        steps.append("request_production")
    elif order.state in _HELD_UNTIL_EXPIRY:
        log.warning("preservation order %s: a linked production request is not recorded: %s", order.id, refused())
    if request_state == E.EVIDENCE_REQUEST_STATE_EXECUTED and (steps or order.state is OrderState.PRODUCTION_REQUESTED):
        steps.append("mark_produced")
    return steps


def evidence_handler(rt: Runtime, rules: Rules, loop: asyncio.AbstractEventLoop) -> Handler:
    """Handler of jit.evidence.> events (runs in the consumer's transaction, with its inbox insert)."""

    def handle(session: Session, env: Envelope) -> None:
        request = evidence_pb2.EvidenceRequest()
        if not env.state.Unpack(request):
            return  # another aggregate of the evidence domain (items, ...)
        failed = _FAILED.get(request.state)
        if not is_uuid(request.preservation_order_id) or (request.state not in _PRODUCTION_REQUESTED and not failed):
            return
        order = store.get(session, request.preservation_order_id, for_update=True)
        if order is None:
            return  # not an order of this node: nothing to do
        if failed and (order.state is not OrderState.PRODUCTION_REQUESTED or order.follow_up_request_id != request.id):
            return  # not the request the order waits for (or no longer waits): nothing to resume
        problem = domain.link_problem(
            order,
            request_workspace=request.workspace_id,
            request_origin=request.origin_jurisdiction,
            event_workspace=env.workspace_id,
            event_origin=env.origin_jurisdiction,
        )
        if problem:
            # Only the order's issuing side links a production request to it: anything else never moves it.
            raise PoisonMessage(f"evidence request {request.id} may not move preservation order {order.id}: {problem}")
        now = rt.clock.now()
        facts = request_facts(request)
        newer = domain.follow_up_version(order.follow_up_facts) < request.version
        if order.follow_up_request_id == request.id and newer:
            # Who may read the follow-up request (its visibility, its sharing) as of this event.
            store.set_follow_up_facts(session, order.id, request.id, facts)
            order = replace(order, follow_up_facts=facts)
        if not failed and order.follow_up_request_id != request.id:
            basis = evidence_pb2.LegalBasis.Name(request.legal_basis).removeprefix("LEGAL_BASIS_")
            provider = rules.providers.get(order.provider_id)
            why = domain.production_not_counted(order, provider, basis, request.addressee_jurisdiction)
            if why:
                # Not a request for the preserved data: the clock runs on, and the issuer is told once.
                not_counted(session, rt, rules, order, request.id, why, now, facts)
                return
        # Judged when the production request was issued, not when this node consumed its event
        # (PRESERVATION_PRODUCTION_REQUESTED_BEFORE_EXPIRY).
        requested_at = ts_to_dt(request.issued_at, request.HasField("issued_at"))
        steps = production_steps(order, request.state, requested_at, rules.clock_for(order), now)
        if not steps:
            return
        uow = UnitOfWork(session, rt.tables, SYSTEM)
        members = rt.members_of(order)
        for action in steps:
            t = domain.TRANSITIONS[action]
            after = domain.apply(
                order,
                action,
                TransitionInput(follow_up_request_id=request.id, requested_at=requested_at),
                actor=SYSTEM_ACTOR,
                now=now,
                rule=rules.clock_for(order),
            )
            if after.follow_up_request_id == request.id:
                after = replace(after, follow_up_facts=facts)  # recorded with the link (who may read its id)
            state = write_change(uow, order, after, t.event, rules=rules, members=members, now=now)
            order = after
        warning = domain.production_ended_warning(order, request.id, failed, now) if failed else None
        if warning is not None:
            uow.emit(
                subject(order, WARNING_EVENT),
                envelope(order, warning_to_pb(state, warning), WARNING_TYPE, members, now),
            )
        audit.record(session, rt.tables, uow.audits, now)
        loop.call_soon_threadsafe(rt.relay.wake)

    return handle


def request_facts(request: evidence_pb2.EvidenceRequest) -> str:
    """The access facts of the evidence request an event carries, as kept with the order it follows."""
    return domain.follow_up_facts(
        origin=request.origin_jurisdiction,
        addressee_kind=E.AddresseeKind.Name(request.addressee_kind).removeprefix("ADDRESSEE_KIND_"),
        addressee=request.addressee_jurisdiction,
        legal_basis=E.LegalBasis.Name(request.legal_basis).removeprefix("LEGAL_BASIS_"),
        epoc_procedure=E.EpocProcedure.Name(request.epoc_procedure).removeprefix("EPOC_PROCEDURE_"),
        # Need to know by default, as the evidence service reads its requests.
        restricted=request.visibility != common_pb2.VISIBILITY_WORKSPACE,
        shared_with=request.shared_with,
        version=request.version,
    )


def not_counted(
    session: Session,
    rt: Runtime,
    rules: Rules,
    order: Order,
    request_id: str,
    why: str,
    now: datetime,
    facts: str = "",
) -> None:
    """Tell the order's issuer, once per linked request (``alerts_sent``), that evidence request
    ``request_id`` does not count as the order's production request (``why``) and when the preservation
    still ends: a warning of kind PRODUCTION_NOT_COUNTED, first of its expiry (a follow-up task is opened
    for it if none is). An order without a running clock gets the log line only (nothing ends)."""
    log.warning("preservation order %s: linked evidence request %s is not its production request: %s",
                order.id, request_id, why)  # fmt: skip
    warning = domain.not_counted_warning(order, request_id, why, now)
    if warning is None:
        return
    key = f"{order.id}:not-counted:{request_id}"
    if not record_once(session, store.ALERTS, Alert(key, now), now):
        return  # told already (an earlier event of the same request)
    uow = UnitOfWork(session, rt.tables, SYSTEM)
    members = rt.members_of(order)
    state = order_to_pb(order, now, rules.confirmation_overdue_after)
    uow.emit(
        subject(order, WARNING_EVENT), not_counted_envelope(order, warning_to_pb(state, warning), members, now, facts)
    )
    uow.audit(RECORD, order.id, order.workspace_id)
    audit.record(session, rt.tables, uow.audits, now)


def not_counted_envelope(
    order: Order, state: pb.ExpiryWarning, members: frozenset[str], now: datetime, facts: str
) -> Envelope:
    """The PRODUCTION_NOT_COUNTED warning's event (``state``), for the countries entitled to both ``order`` and
    the linked evidence request (its access ``facts``): that a request is linked at all, and its words (the
    request's instrument, where it is addressed), are the request's business. A country that may read the
    order but not the request is not told (the order itself did not change); the owner's consumers read it
    from the owner's stream (the order's issuing jurisdiction issued the request too)."""
    event = envelope(order, state, WARNING_TYPE, members, now, request_facts=facts)
    envelopes.narrow(event, request_audience(order, facts, members))
    return event


def evidence_consumer(rt: Runtime, rules: Rules) -> EventConsumer:
    handler = evidence_handler(rt, rules, asyncio.get_running_loop())
    return rt.consumer("evidence-requests", EVIDENCE_STREAM, "jit.evidence.>", handler)
