"""Evidence-request and evidence-item rules, pure: the state machine, which side acts, what a valid new
request is, and the deadlines it carries. No I/O; every function takes ``now`` explicitly.

Sides (see proto/jit/evidence/v1/evidence.proto):
- issuer: a prosecutor of the origin jurisdiction;
- executing: the addressed jurisdiction; for a request to a service provider (not a user of the system)
  the issuer records what the provider answered;
- enforcing: for a provider request with notification (EPOC), the provider's establishment jurisdiction,
  which reviews; for a member-state request the executing state decides on refusal itself.

The addressed state need not be a member of the workspace (JIT_INSTRUMENTS_TOWARD_OUTSIDE_STATES): the
instruments are used precisely toward states outside the team. Such a state reads and acts on the requests
addressed to it and nothing else (``EvidenceRequest.access``); a direct exchange inside the JIT
(JIT_DIRECT) is between members only.
"""

from __future__ import annotations

import bisect
import enum
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import NamedTuple

from jitlib import legal, usernotice, validate
from jitlib.actors import SYSTEM, Actor, Versioned, changed, created_record
from jitlib.errors import FailedPrecondition, FieldViolation, InvalidArgument
from jitlib.fields import same_fields
from jitlib.jurisdictions import EU_MEMBER_STATES, is_jurisdiction
from jitlib.policy import (
    EPOC_NOTIFIED_PROCEDURES,
    EVIDENCE_ENFORCEMENT_RULES,
    EVIDENCE_ITEM_RULES,
    EVIDENCE_REQUEST_RULES,
    PRESERVATION_ORDER_RULES,
    AccessParties,
    Decision,
    KeptAnswers,
    Operation,
    RecordAccess,
    RecordRules,
    SensitiveOperation,
    caller_facts,
    decide,
    decide_sensitive,
    evidence_request_addressee,
    former_members,
    permitted,
)
from jitlib.principal import Principal
from services.evidence import custody, deadlines
from services.evidence.deadlines import Clocks, Deadline, DeadlineKind

AUTHORITY_MAX = 300
PROVIDER_MAX = 200
TARGETS_MAX = 50
#: The longest a user notice may be suppressed for in one go (a non-disclosure order is renewed, not open-ended).
MAX_SUPPRESSION = usernotice.MAX_SUPPRESSION
#: How far ahead a notified delay may expect the decision or execution: a year (further is a postponement
#: or a refusal, not a delay).
DELAY_MAX_AHEAD = timedelta(days=365)


class State(enum.StrEnum):
    DRAFT = "DRAFT"
    ISSUED = "ISSUED"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    UNDER_REVIEW = "UNDER_REVIEW"
    IN_EXECUTION = "IN_EXECUTION"
    PARTIALLY_EXECUTED = "PARTIALLY_EXECUTED"
    EXECUTED = "EXECUTED"
    CLOSED = "CLOSED"
    REFUSED = "REFUSED"
    NOT_EXECUTED = "NOT_EXECUTED"
    WITHDRAWN = "WITHDRAWN"
    POSTPONED = "POSTPONED"
    #: An EPOC transferred to the enforcing state, waiting for its recognition decision (EPOC_ENFORCEMENT_*).
    IN_ENFORCEMENT = "IN_ENFORCEMENT"
    NOT_ENFORCED = "NOT_ENFORCED"


LEGAL_BASES = frozenset({"EIO", "MLA", "EPOC", "SAP_ART7", "VOLUNTARY", "JIT_DIRECT"})
#: Instruments addressed to a service provider; the others to a state.
PROVIDER_BASES = frozenset({"EPOC", "SAP_ART7", "VOLUNTARY"})
#: Instruments addressed to a member of the workspace only: a direct exchange inside the JIT. The others may
#: go to a state outside it (JIT_INSTRUMENTS_TOWARD_OUTSIDE_STATES).
MEMBERS_ONLY_BASES = frozenset({"JIT_DIRECT"})
#: EU member states not bound by Directive 2014/41 (recitals 44-45): an EIO neither comes from nor goes to
#: them; MLA does (EIO_ONLY_BETWEEN_BOUND_STATES).
EIO_NOT_BOUND = frozenset({"IE", "DK"})
#: Regulation (EU) 2023/1543 applies from this day (Art. 34(2)): no EPOC is issued before
#: (EPOC_APPLIES_FROM_18_AUGUST_2026). One date for both services: ``jitlib.legal``.
EPOC_APPLIES_FROM = legal.EPOC_APPLIES_FROM
#: EPOC procedures without notification of the enforcing state, and the data categories that need it
#: unless an exemption is recorded (Reg. 2023/1543 Art. 8(1)-(2): traffic data other than for identifying
#: the user, and content data; EPOC_NOTIFICATION_EXEMPTION_NEEDS_REASON).
UNNOTIFIED = frozenset({"STANDARD", "EMERGENCY"})
NOTIFIABLE_DATA = frozenset({"TRAFFIC", "CONTENT"})
EPOC_PROCEDURES = frozenset({"STANDARD", "WITH_NOTIFICATION", "EMERGENCY", "EMERGENCY_WITH_NOTIFICATION"})
NOTIFIED = EPOC_NOTIFIED_PROCEDURES
EMERGENCY = frozenset({"EMERGENCY", "EMERGENCY_WITH_NOTIFICATION"})
DATA_CATEGORIES = frozenset({"SUBSCRIBER", "TRAFFIC", "CONTENT"})
OFFENCES = frozenset(
    {"CYBERSTALKING", "CYBERHARASSMENT", "NON_CONSENSUAL_INTIMATE_IMAGES", "DOXXING", "INCITEMENT", "OTHER"}
)
URGENCIES = frozenset({"NORMAL", "URGENT", "EMERGENCY"})
USER_NOTICE = usernotice.STATUSES
#: The grounds for refusal of each instrument, in the order of their article (``jitlib.legal``, one row each).
REFUSAL_GROUNDS = legal.REFUSAL_GROUNDS
NON_EXECUTION_REASONS = frozenset(
    {
        "INCOMPLETE",
        "MANIFEST_ERRORS",
        "INSUFFICIENT_INFORMATION",
        "DATA_NOT_HELD",
        "DE_FACTO_IMPOSSIBLE",
        "INVALID_ISSUING_AUTHORITY",
        "OFFENCE_NOT_COVERED",
        "SERVICE_NOT_COVERED",
        "IMMUNITIES",
        "CONFLICT_OF_LAW",
        "OTHER",
    }
)
TARGET_TYPES = frozenset({"ACCOUNT_HANDLE", "URL", "PHONE_NUMBER", "EMAIL"})
#: Evidence may be received while the request is being executed, or once executed.
RECEIVING_STATES = frozenset({State.IN_EXECUTION, State.PARTIALLY_EXECUTED, State.EXECUTED})

_HANDLE = re.compile(r"^@?[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_PHONE = re.compile(r"^\+[1-9][0-9]{6,14}$")  # E.164
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
_PLATFORM = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class Target:
    type: str
    value: str
    platform: str = ""


class CategoryState(enum.StrEnum):
    OPEN = "OPEN"
    REFUSED = "REFUSED"
    EXECUTED = "EXECUTED"


@dataclass(frozen=True)
class CategoryOutcome:
    """What became of one requested data category in the current submission."""

    category: str
    state: CategoryState
    #: The ground it was refused on (REFUSED only).
    ground: str = ""
    decided_at: datetime | None = None


@dataclass(frozen=True)
class Refusal:
    """A refusal as recorded: kept through resubmissions, the record's history of refusals."""

    submission: int
    ground: str
    categories: tuple[str, ...]
    refused_at: datetime
    #: It refused the last open categories: the submission ended REFUSED.
    whole: bool


@dataclass(frozen=True)
class Delay:
    """A delay the executing state notified (EIO_DELAY_NOTICE): of which deadline, why, when it expects to
    decide or execute, and when and by whom it said so. The legal deadline itself does not move."""

    deadline: DeadlineKind
    reason: str
    expected_at: datetime
    notified_at: datetime
    notified_by: Actor


@dataclass(frozen=True)
class EvidenceRequest(Versioned, AccessParties):
    id: str
    workspace_id: str
    origin_jurisdiction: str
    issuing_authority: str
    legal_basis: str
    epoc_procedure: str
    addressee_kind: str
    addressee_jurisdiction: str
    provider_name: str
    data_categories: tuple[str, ...]
    targets: tuple[Target, ...]
    offence_category: str
    urgency: str
    title: str
    description: str
    restricted: bool
    shared_with: tuple[str, ...]
    preservation_order_id: str
    user_notice_status: str
    user_notice_suppressed_until: datetime | None
    state: State
    issued_at: datetime | None = None
    received_at: datetime | None = None
    decided_at: datetime | None = None
    state_reason: str = ""
    refusal_ground: str = ""
    non_execution_reason: str = ""
    decision_extended: bool = False
    postponed_until: datetime | None = None
    #: While POSTPONED: the state it resumes to, and since when (EIO_POSTPONEMENT).
    postponed_from: str = ""
    postponed_at: datetime | None = None
    #: How long postponements held the decision and the execution back, in seconds (their deadlines run
    #: that much later).
    decision_suspended_seconds: int = 0
    execution_suspended_seconds: int = 0
    #: The latest delay the executing state notified (EIO_DELAY_NOTICE), if any.
    delay: Delay | None = None
    #: When the enforcing state's objection restricted the items received until then
    #: (EPOC_EMERGENCY_OBJECTION): ``item_restricted``.
    items_restricted_at: datetime | None = None
    deadlines: tuple[Deadline, ...] = ()
    #: The categories decided (refused or executed) in this submission; the others are open.
    decided_categories: tuple[CategoryOutcome, ...] = ()
    refusals: tuple[Refusal, ...] = ()
    #: 1 as first issued; one more per resubmission.
    submission: int = 1
    #: Why an EPOC for traffic or content data is issued without notification of the enforcing state
    #: (Reg. 2023/1543 Art. 8(2)); "" otherwise. Sealed at rest.
    notification_exemption_reason: str = ""
    #: The victims the request concerns, by pseudonym (``validate.VICTIM_REF``), never by words about them.
    victim_refs: tuple[str, ...] = ()
    #: EPOC or EIO: the listed offence the issuer indicated (``legal.LISTED_OFFENCES``: Annex IV, Annex D) and
    #: the maximum custodial sentence for it in the issuing state, in months; "" and 0 when none was.
    listed_offence: str = ""
    max_sentence_months: int = 0
    #: An EPOC transferred for enforcement (EPOC_ENFORCEMENT_TRANSFER): the enforcing state and when it
    #: received the order; its decision, when, and the ground of a refusal ("" when recognised or undecided).
    enforcing_jurisdiction: str = ""
    enforcement_requested_at: datetime | None = None
    enforcement_decided_at: datetime | None = None
    enforcement_refusal_ground: str = ""
    #: The days the enforcing state gave the provider to comply when it recognised the order
    #: (EPOC_ENFORCEMENT_COMPLIANCE_DEADLINE); 0 before, and for a recognition recorded before they were asked.
    compliance_days: int = 0

    @property
    def category_outcomes(self) -> tuple[CategoryOutcome, ...]:
        """Each requested category, in the request's order: decided, or open."""
        decided = {o.category: o for o in self.decided_categories}
        return tuple(decided.get(c) or CategoryOutcome(c, CategoryState.OPEN) for c in self.data_categories)

    @property
    def open_categories(self) -> tuple[str, ...]:
        return tuple(o.category for o in self.category_outcomes if o.state is CategoryState.OPEN)

    @property
    def to_provider(self) -> bool:
        return addressed_to_provider(self.addressee_kind)

    @property
    def notified(self) -> bool:
        """An EPOC whose enforcing state is notified and may raise grounds for refusal."""
        return self.legal_basis == "EPOC" and self.epoc_procedure in NOTIFIED

    @property
    def addressee_party(self) -> str | None:
        """The jurisdiction that sees the request as addressee: the addressed member state, or the provider's
        establishment state when it is notified. An EPOC without notification is not seen by that state."""
        return evidence_request_addressee(
            self.addressee_kind, self.addressee_jurisdiction, self.legal_basis, self.epoc_procedure
        )

    def access(self) -> RecordAccess:
        """The request's access facts (``request_access``), the enforcing state's included once the order was
        transferred to it (EPOC_ENFORCING_STATE_SEES_THE_ORDER)."""
        return request_access(
            self.workspace_id,
            self.origin_jurisdiction,
            self.addressee_kind,
            self.addressee_jurisdiction,
            self.legal_basis,
            self.epoc_procedure,
            self.restricted,
            self.shared_with,
            self.enforcing_jurisdiction,
        )

    def item_access(self) -> RecordAccess:
        """The access facts of the evidence items received against the request: the request's as addressed,
        without an enforcing state that reads the request only because the order was transferred to it
        (EPOC_ENFORCING_STATE_SEES_THE_ORDER: it needs the order, not the data received)."""
        if not self.enforcing_jurisdiction:
            return self.access()
        return request_access(
            self.workspace_id,
            self.origin_jurisdiction,
            self.addressee_kind,
            self.addressee_jurisdiction,
            self.legal_basis,
            self.epoc_procedure,
            self.restricted,
            self.shared_with,
        )

    def clocks(self) -> Clocks:
        return Clocks.of(self)


def addressed_to_provider(addressee_kind: str) -> bool:
    """Whether a request of ``addressee_kind`` is addressed to a service provider (``EvidenceRequest.to_provider``)."""
    return addressee_kind == "SERVICE_PROVIDER"


def request_access(
    workspace_id: str,
    origin: str,
    addressee_kind: str,
    addressee_jurisdiction: str,
    legal_basis: str,
    epoc_procedure: str,
    restricted: bool,
    shared_with: tuple[str, ...],
    enforcing: str = "",
) -> RecordAccess:
    """A request's access facts, from its fields (a list answers a request kept in its answered form from
    its columns). Its addressee (``EvidenceRequest.addressee_party``) reads it whether or not it is a member
    of the workspace (``legal.rule("JIT_INSTRUMENTS_TOWARD_OUTSIDE_STATES")``), except a direct exchange
    inside the JIT, which is between members. ``enforcing``: the state an EPOC was transferred to for
    enforcement, its addressee from then on when it had none (EPOC_ENFORCING_STATE_SEES_THE_ORDER)."""
    addressee = evidence_request_addressee(
        addressee_kind, addressee_jurisdiction, legal_basis, epoc_procedure, enforcing
    )
    return RecordAccess(
        workspace_id=workspace_id,
        origin_jurisdiction=origin,
        addressee_jurisdiction=addressee,
        restricted=restricted,
        shared_with=frozenset(shared_with),
        outside_addressee=legal_basis not in MEMBERS_ONLY_BASES and bool(addressee),
    )


# -- transitions -----------------------------------------------------------------------------------


class Side(enum.StrEnum):
    ISSUER = "issuer"
    #: Whoever carries out the request: the addressed state, or (recorded by the issuer) the provider.
    EXECUTING = "executing"
    #: Whoever may refuse or review: the addressed state, or the notified enforcing state of a provider.
    REVIEWING = "reviewing"
    #: The enforcing state an EPOC was transferred to (EPOC_ENFORCEMENT_*): its prosecutor decides.
    ENFORCING = "enforcing"


@dataclass(frozen=True)
class Transition:
    action: str
    #: Past-tense event name, also the last token of the NATS subject.
    event: str
    side: Side
    sources: frozenset[State]
    target: State
    needs_reason: bool = False


def _t(action: str, event: str, side: Side, sources: set[State], target: State, **kw: bool) -> Transition:
    return Transition(action, event, side, frozenset(sources), target, **kw)


S = State
_BEFORE_EXECUTED = {
    S.DRAFT,
    S.ISSUED,
    S.ACKNOWLEDGED,
    S.UNDER_REVIEW,
    S.IN_EXECUTION,
    S.PARTIALLY_EXECUTED,
    S.POSTPONED,
    S.IN_ENFORCEMENT,
}
TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        _t("issue", "issued", Side.ISSUER, {S.DRAFT}, S.ISSUED),
        _t("acknowledge", "acknowledged", Side.EXECUTING, {S.ISSUED}, S.ACKNOWLEDGED),
        _t("open_review", "review_opened", Side.REVIEWING, {S.ACKNOWLEDGED}, S.UNDER_REVIEW),
        _t("conclude_review", "review_concluded", Side.REVIEWING, {S.UNDER_REVIEW}, S.IN_EXECUTION),
        # From UNDER_REVIEW only where the enforcing state's review does not hold execution back: an
        # emergency, or its 10 days passed without a ground (``refusal``, EPOC_SILENCE_IS_CONSENT).
        _t(
            "start_execution",
            "execution_started",
            Side.EXECUTING,
            {S.ACKNOWLEDGED, S.UNDER_REVIEW},
            S.IN_EXECUTION,
        ),
        _t(
            "partially_execute",
            "partially_executed",
            Side.EXECUTING,
            {S.IN_EXECUTION, S.PARTIALLY_EXECUTED},
            S.PARTIALLY_EXECUTED,
        ),
        _t("complete", "executed", Side.EXECUTING, {S.IN_EXECUTION, S.PARTIALLY_EXECUTED}, S.EXECUTED),
        _t("close", "closed", Side.ISSUER, {S.PARTIALLY_EXECUTED, S.EXECUTED}, S.CLOSED),
        _t(
            "refuse",
            "refused",
            Side.REVIEWING,
            {S.ISSUED, S.ACKNOWLEDGED, S.UNDER_REVIEW},
            S.REFUSED,
            needs_reason=True,
        ),
        _t(
            "report_not_executed",
            "not_executed",
            Side.EXECUTING,
            {S.ISSUED, S.ACKNOWLEDGED, S.IN_EXECUTION},
            S.NOT_EXECUTED,
        ),
        _t("withdraw", "withdrawn", Side.ISSUER, _BEFORE_EXECUTED, S.WITHDRAWN, needs_reason=True),
        _t("postpone", "postponed", Side.EXECUTING, {S.ACKNOWLEDGED, S.IN_EXECUTION}, S.POSTPONED, needs_reason=True),
        # Back to the state it was postponed from (``resumed_state``), IN_EXECUTION or ACKNOWLEDGED.
        _t("resume", "resumed", Side.EXECUTING, {S.POSTPONED}, S.IN_EXECUTION),
        # Not state changes, but changes with their own RPC, event and audit entry.
        _t(
            "extend_decision",
            "decision_deadline_extended",
            Side.EXECUTING,
            {S.ISSUED, S.ACKNOWLEDGED},
            S.ACKNOWLEDGED,
            needs_reason=True,
        ),
        _t("update_user_notice", "user_notice_updated", Side.ISSUER, set(State), S.DRAFT),
        # A refused request, clarified, is submitted again: a new receipt (REQUEST_RESUBMISSION).
        _t("resubmit", "resubmitted", Side.ISSUER, {S.REFUSED}, S.ISSUED, needs_reason=True),
        # EIO only, while the decision or the execution deadline runs (EIO_DELAY_NOTICE).
        _t(
            "notify_delay",
            "delay_notified",
            Side.EXECUTING,
            {S.ISSUED, S.ACKNOWLEDGED, S.IN_EXECUTION, S.PARTIALLY_EXECUTED},
            S.DRAFT,
            needs_reason=True,
        ),
        # Enforcement of an EPOC the provider did not comply with (EPOC_ENFORCEMENT_TRANSFER): from a state
        # before execution ended, once its PRODUCE deadline passed, or from NOT_EXECUTED (``refused``).
        _t(
            "transfer_for_enforcement",
            "enforcement_requested",
            Side.ISSUER,
            {S.ISSUED, S.ACKNOWLEDGED, S.IN_EXECUTION, S.PARTIALLY_EXECUTED, S.NOT_EXECUTED},
            S.IN_ENFORCEMENT,
        ),
        # Back to execution, or to partial execution when a category was executed before (``apply``).
        _t(
            "recognise_enforcement",
            "enforcement_recognised",
            Side.ENFORCING,
            {S.IN_ENFORCEMENT},
            S.IN_EXECUTION,
        ),
        _t(
            "refuse_enforcement",
            "enforcement_refused",
            Side.ENFORCING,
            {S.IN_ENFORCEMENT},
            S.NOT_ENFORCED,
            needs_reason=True,
        ),
    )
}
#: Transitions that keep the current state.
STATE_KEEPING = frozenset({"extend_decision", "update_user_notice", "notify_delay"})
#: After the emergency EPOC with notification was executed, even closed, the enforcing state may still object
#: within 96 hours of receipt (EPOC_EMERGENCY_OBJECTION); the items received are then restricted. So too while
#: the order is transferred for enforcement, and once its recognition was refused: data may have been received
#: before (EPOC_EMERGENCY_OBJECTION_DURING_ENFORCEMENT).
LATE_OBJECTION_STATES = frozenset(
    {S.IN_EXECUTION, S.PARTIALLY_EXECUTED, S.EXECUTED, S.CLOSED, S.IN_ENFORCEMENT, S.NOT_ENFORCED}
)


#: The transitions of the enforcement procedure: a prosecutor's acts on either side, never a police liaison's
#: (``rules_for``).
ENFORCEMENT_ACTIONS = frozenset({"transfer_for_enforcement", "recognise_enforcement", "refuse_enforcement"})


def rules_for(action: str) -> RecordRules:
    """The roles that take ``action`` on each side: the enforcement procedure's are a prosecutor's
    (``EVIDENCE_ENFORCEMENT_RULES``), every other transition's those of ``EVIDENCE_REQUEST_RULES``."""
    return EVIDENCE_ENFORCEMENT_RULES if action in ENFORCEMENT_ACTIONS else EVIDENCE_REQUEST_RULES


def operation_for(t: Transition, req: EvidenceRequest) -> Operation:
    """The policy operation that the acting side needs."""
    return _operation(t, req.to_provider)


def _operation(t: Transition, to_provider: bool) -> Operation:
    """``operation_for`` a request addressed to a provider (``to_provider``) or not."""
    if t.side is Side.ISSUER:
        return Operation.ISSUER_ACT
    if t.side is Side.ENFORCING:
        # The enforcing state is the request's addressee once the order was transferred (``request_access``).
        return Operation.ADDRESSEE_ACT
    if t.side is Side.EXECUTING:
        # A provider is not a user: the issuing authority it answers records its answer.
        return Operation.ISSUER_ACT if to_provider else Operation.ADDRESSEE_ACT
    return Operation.ADDRESSEE_ACT


@dataclass(frozen=True)
class TransitionInput:
    reason: str = ""
    refusal_ground: str = ""
    non_execution_reason: str = ""
    received_at: datetime | None = None
    postponed_until: datetime | None = None
    user_notice_status: str = ""
    user_notice_suppressed_until: datetime | None = None
    #: The categories refused, executed, or (on a resubmission) requested now; empty when not given.
    data_categories: tuple[str, ...] = ()
    #: A resubmission's amended description; None when unchanged.
    description: str | None = None
    expected_at: datetime | None = None
    #: A transfer for enforcement: the enforcing state as given ("" for the addressee's); a refusal of
    #: recognition: its ground (``legal.ENFORCEMENT_REFUSAL_GROUNDS``).
    enforcing_jurisdiction: str = ""
    enforcement_ground: str = ""
    #: A recognition: the days the enforcing state gives the provider to comply (0: not given).
    compliance_days: int = 0
    unknown_enums: tuple[str, ...] = ()


#: The request field that carries the free text of each transition.
REASON_FIELD = {
    "refuse": "detail",
    "report_not_executed": "detail",
    "conclude_review": "note",
    "start_execution": "note",
    "partially_execute": "note",
    "complete": "note",
    "close": "note",
    "resubmit": "clarification",
    "transfer_for_enforcement": "note",
    "recognise_enforcement": "note",
    "refuse_enforcement": "detail",
}


def transition_violations(t: Transition, data: TransitionInput, now: datetime) -> list[FieldViolation]:
    out: list[FieldViolation] = [FieldViolation(n, "has an unknown value") for n in data.unknown_enums]
    name = REASON_FIELD.get(t.action, "reason")
    out += validate.text(name, data.reason, required=t.needs_reason, maximum=validate.REASON_MAX)
    if t.action == "refuse" and not data.refusal_ground and "ground" not in data.unknown_enums:
        out.append(FieldViolation("ground", "is required (a ground for refusal of the request's instrument)"))
    if t.action == "report_not_executed" and not data.non_execution_reason and "reason" not in data.unknown_enums:
        out.append(FieldViolation("reason", "is required (a reason of Reg. (EU) 2023/1543 Annex III)"))
    if t.action == "refuse_enforcement" and not data.enforcement_ground and "ground" not in data.unknown_enums:
        grounds = ", ".join(legal.ENFORCEMENT_REFUSAL_GROUNDS)
        cite = legal.cite("EPOC_ENFORCEMENT_REFUSAL_GROUNDS")
        out.append(FieldViolation("ground", f"is required: one of {grounds} {cite}"))
    if t.action == "recognise_enforcement" and not 1 <= data.compliance_days <= deadlines.COMPLIANCE_DAYS_MAX:
        cite = legal.cite("EPOC_ENFORCEMENT_COMPLIANCE_DEADLINE")
        out.append(
            FieldViolation(
                "compliance_days",
                f"is required: the days the provider has to comply or oppose, 1 to {deadlines.COMPLIANCE_DAYS_MAX} "
                f"{cite}",
            )
        )
    if data.enforcing_jurisdiction and not is_jurisdiction(data.enforcing_jurisdiction):
        out.append(FieldViolation("enforcing_jurisdiction", "must be an ISO 3166-1 alpha-2 code in upper case"))
    # When the addressee received the request: a stated past date (jitlib.validate.past_date); that it is
    # not before the request was issued is checked against the record, in ``apply``.
    out += validate.past_date("received_at", data.received_at, now)
    if data.postponed_until is not None and data.postponed_until <= now:
        out.append(FieldViolation("until", "must be in the future"))
    if t.action == "notify_delay":
        if data.expected_at is None:
            out.append(FieldViolation("expected_at", "is required: when the decision or execution is expected"))
        out += validate.future_date("expected_at", data.expected_at, now, maximum=DELAY_MAX_AHEAD)
    if t.action == "update_user_notice":
        out += usernotice.violations(
            "status", data.user_notice_status, "suppressed_until", data.user_notice_suppressed_until, now
        )
    for i, c in enumerate(data.data_categories):
        if c not in DATA_CATEGORIES and f"data_categories[{i}]" not in data.unknown_enums:
            out.append(FieldViolation(f"data_categories[{i}]", "must be SUBSCRIBER, TRAFFIC or CONTENT"))
    if len(set(data.data_categories)) != len(data.data_categories):
        out.append(FieldViolation("data_categories", "must not repeat a category"))
    if data.description is not None:
        out += validate.text("description", data.description, required=False, maximum=validate.DESCRIPTION_MAX)
    return out


def _illegal(req: EvidenceRequest, action: str, why: str, allowed: frozenset[State]) -> FailedPrecondition:
    return FailedPrecondition(
        "ILLEGAL_TRANSITION",
        f"cannot {action.replace('_', ' ')} a request that is {req.state.value}{why}",
        {"action": action, "state": req.state.value, "allowed_from": ",".join(sorted(s.value for s in allowed))},
    )


def objected_in_emergency(req: EvidenceRequest) -> bool:
    """An emergency EPOC whose notified enforcing state may object within 96 hours, also after execution."""
    return req.notified and req.epoc_procedure == "EMERGENCY_WITH_NOTIFICATION"


def objection_window_end(req: EvidenceRequest) -> datetime | None:
    """When the enforcing state's 96 hours to object to an emergency EPOC end (EPOC_EMERGENCY_OBJECTION)."""
    return deadlines.window_end(req.clocks(), deadlines.DeadlineKind.OBJECTION)


def review_window_end(req: EvidenceRequest) -> datetime | None:
    """When the notified enforcing state's 10 days to raise a ground end (None for a request without such
    a window, or not received yet)."""
    return deadlines.window_end(req.clocks(), deadlines.DeadlineKind.REVIEW)


def _review_holds_execution(req: EvidenceRequest, now: datetime) -> Refused | None:
    """Whether the enforcing state's review still holds back the execution of ``req`` at ``now``: an EPOC
    with notification proceeds once the enforcing state concluded its review without a ground, or once
    its 10 days passed in silence (EPOC_SILENCE_IS_CONSENT); an emergency is executed at once (Art. 10(4));
    nothing else is reviewed."""
    if req.state is not S.UNDER_REVIEW and not (req.notified and req.epoc_procedure == "WITH_NOTIFICATION"):
        return None
    if req.state is S.UNDER_REVIEW and req.epoc_procedure in EMERGENCY:
        return None
    end = review_window_end(req) if req.epoc_procedure == "WITH_NOTIFICATION" else None
    if end is not None and now >= end:
        return None

    def problem() -> FailedPrecondition:
        until = f" or until its 10 days end at {end.isoformat()}" if end is not None else ""
        return FailedPrecondition(
            "REVIEW_REQUIRED",
            "an EPOC with notification waits for the enforcing state: until it concludes its review without a "
            f"ground{until}, when the order proceeds {legal.cite('EPOC_SILENCE_IS_CONSENT')}",
            {"action": "start_execution", **({"window_ends_at": end.isoformat()} if end is not None else {})},
        )

    return problem


#: The transitions of a European Investigation Order only, with the rule each applies.
_EIO_ONLY = {
    "postpone": "EIO_POSTPONEMENT",
    "resume": "EIO_POSTPONEMENT",
    "extend_decision": "EIO_DECISION_EXTENSION",
    "notify_delay": "EIO_DELAY_NOTICE",
}


def delayed_deadline(req: EvidenceRequest) -> Deadline | None:
    """The deadline a delay notified now would be about: the running decision or execution deadline."""
    running = deadlines.compute(req.clocks())
    return next((d for d in running if d.kind in (DeadlineKind.DECIDE, DeadlineKind.EXECUTE)), None)


def resumed_state(req: EvidenceRequest) -> State:
    """Where a postponed EIO resumes (EIO_POSTPONEMENT): the state it was postponed from. A request
    postponed before that was stored resumes in execution when the decision was taken, else before it."""
    if req.postponed_from:
        return State(req.postponed_from)
    return S.IN_EXECUTION if req.decided_at is not None else S.ACKNOWLEDGED


def _sources(req: EvidenceRequest, action: str) -> frozenset[State]:
    """The states ``action`` is taken from, for this request (a late objection widens ``refuse``'s)."""
    sources = TRANSITIONS[action].sources
    if action == "refuse" and objected_in_emergency(req):
        sources = sources | LATE_OBJECTION_STATES
    return sources


#: Why a change is refused, made when asked: a list asks ``allowed_actions`` of every request of a page,
#: and only whether each transition is refused, not the error that ``apply`` raises.
Refused = Callable[[], FailedPrecondition]


def refusal(req: EvidenceRequest, action: str, now: datetime) -> FailedPrecondition | None:
    """Why the request's state, instrument or clocks do not allow ``action`` at ``now`` (None when they
    do): what ``apply`` checks before it changes anything (``refused``, with its error made)."""
    why = refused(req, action, now)
    return why() if why is not None else None


def _window_passed(reason: str, window: str, end: datetime, so: str, action: str) -> Callable[[], FailedPrecondition]:
    """The refusal of ``action`` asked once ``window`` ended at ``end`` (``so``: what follows from that)."""
    return lambda: FailedPrecondition(
        reason, f"{window} ended at {end.isoformat()}: {so}", {"action": action, "window_ended_at": end.isoformat()}
    )


def refused(req: EvidenceRequest, action: str, now: datetime) -> Refused | None:
    """None when the request's state, instrument and clocks allow ``action`` at ``now``; else what makes
    the error saying why (``refusal``). The one rule ``apply`` checks and ``allowed_actions`` asks."""
    sources = _sources(req, action)
    if action == "resubmit" and req.state not in sources:
        why = f": only a refused request is clarified and resubmitted {legal.cite('REQUEST_RESUBMISSION')}"
        return lambda: _illegal(req, action, why, sources)
    if req.state not in sources:
        return lambda: _illegal(req, action, "", sources)
    if action == "issue" and req.legal_basis == "EPOC" and now < EPOC_APPLIES_FROM:
        return lambda: FailedPrecondition(
            "INSTRUMENT_NOT_APPLICABLE_YET",
            "an EPOC is issued from 18 August 2026, when Regulation (EU) 2023/1543 applies "
            + legal.cite("EPOC_APPLIES_FROM_18_AUGUST_2026"),
            {"action": action, "legal_basis": req.legal_basis, "applies_from": EPOC_APPLIES_FROM.date().isoformat()},
        )
    if action in ("open_review", "conclude_review") and not req.notified:
        return lambda: FailedPrecondition(
            "NO_REVIEW",
            "only an EPOC with notification of the enforcing state is reviewed (Reg. (EU) 2023/1543 Art. 8)",
            {"action": action, "legal_basis": req.legal_basis, "epoc_procedure": req.epoc_procedure},
        )
    if action == "start_execution":
        held = _review_holds_execution(req, now)
        if held is not None:
            return held
    if action == "refuse" and req.epoc_procedure == "WITH_NOTIFICATION" and req.notified:
        review_end = review_window_end(req)
        if review_end is not None and now >= review_end:
            return _window_passed(
                "REVIEW_WINDOW_PASSED",
                "the enforcing state's 10 days to raise a ground",
                review_end,
                f"the order proceeds {legal.cite('EPOC_SILENCE_IS_CONSENT')}",
                action,
            )
    if action == "refuse" and objected_in_emergency(req):
        end = objection_window_end(req)
        if end is not None and now >= end:
            return _window_passed(
                "OBJECTION_WINDOW_PASSED",
                "the enforcing state's 96 hours to object to this emergency order",
                end,
                f"a ground raised later is not honoured {legal.cite('EPOC_EMERGENCY_OBJECTION')}",
                action,
            )
    if action == "refuse" and req.to_provider and not req.notified:
        return lambda: FailedPrecondition(
            "NO_REFUSAL_PROCEDURE",
            "a provider without a notified enforcing state does not refuse: record it as not executed",
            {"action": action},
        )
    if action in ENFORCEMENT_ACTIONS:
        held = _enforcement_refused(req, action, now)
        if held is not None:
            return held
    if action in _EIO_ONLY and req.legal_basis != "EIO":
        return lambda: FailedPrecondition(
            "EIO_ONLY",
            f"{action.replace('_', ' ')} exists for a European Investigation Order only "
            f"{legal.cite(_EIO_ONLY[action])}",
            {"action": action, "legal_basis": req.legal_basis},
        )
    if action == "notify_delay" and delayed_deadline(req) is None:
        return lambda: FailedPrecondition(
            "NO_DEADLINE_RUNS",
            f"a delay is notified while the decision or execution deadline runs {legal.cite('EIO_DELAY_NOTICE')}",
            {"action": action, "state": req.state.value},
        )
    if action == "extend_decision" and req.decision_extended:
        return lambda: FailedPrecondition(
            "ALREADY_EXTENDED", "the decision deadline was already extended once", {"action": action}
        )
    if action == "extend_decision":
        # Art. 12(5) extends a running time limit: asked after the 30 days passed, it would turn an overdue
        # decision into a timely one after the fact.
        decide_end = deadlines.window_end(req.clocks(), DeadlineKind.DECIDE)
        if decide_end is not None and now >= decide_end:
            return _window_passed(
                "EXTENSION_TOO_LATE",
                "the recognition decision's 30 days",
                decide_end,
                f"an extension is asked before they end {legal.cite('EIO_DECISION_EXTENSION')}",
                action,
            )
    if action == "update_user_notice":
        if not req.to_provider:
            return lambda: FailedPrecondition(
                "NOT_A_PROVIDER_REQUEST", "user notice is tracked on requests to a provider only", {"action": action}
            )
        if req.state in (S.CLOSED, S.WITHDRAWN):
            return lambda: _illegal(req, action, "", frozenset(set(State) - {S.CLOSED, S.WITHDRAWN}))
    return None


def _enforcement_refused(req: EvidenceRequest, action: str, now: datetime) -> Refused | None:
    """EPOC_ENFORCEMENT_TRANSFER: only a European Production Order to a provider is enforced, and it is
    transferred only once the provider failed to comply: reported not executed, or its PRODUCE deadline
    passed without the data."""
    if req.legal_basis != "EPOC" or not req.to_provider:
        return lambda: FailedPrecondition(
            "EPOC_ONLY",
            f"enforcement by the enforcing state exists for a European Production Order only "
            f"{legal.cite('EPOC_ENFORCEMENT_TRANSFER')}",
            {"action": action, "legal_basis": req.legal_basis},
        )
    if action != "transfer_for_enforcement":
        return None
    clocks = req.clocks()
    if deadlines.superseded(clocks):
        return _recognised_already(req, action)
    if req.state is S.NOT_EXECUTED:
        return None
    end = deadlines.production_end(clocks)
    if end is None or now < end:
        until = f" until {end.isoformat()}" if end is not None else ""
        return lambda: FailedPrecondition(
            "PRODUCTION_DEADLINE_RUNNING",
            f"the provider has{until} to produce the data: the order is transferred for enforcement once it "
            f"failed to (past its deadline, or reported not executed) {legal.cite('EPOC_ENFORCEMENT_TRANSFER')}",
            {"action": action, **({"deadline": end.isoformat()} if end is not None else {})},
        )
    return None


def _recognised_already(req: EvidenceRequest, action: str) -> Refused:
    """EPOC_ENFORCEMENT_NOT_TRANSFERRED_AGAIN: an order the enforcing state recognised since its (last) receipt
    is not transferred again, even once the deadline it set passed or the provider reported it not executed:
    its enforcement goes on in that state, which sanctions a provider that still does not comply."""
    assert req.enforcement_decided_at is not None  # ``deadlines.superseded``
    decided = req.enforcement_decided_at.isoformat()
    return lambda: FailedPrecondition(
        "ENFORCEMENT_ALREADY_RECOGNISED",
        f"{req.enforcing_jurisdiction} recognised this order for enforcement at {decided}: it is not transferred "
        f"again; the enforcing state enforces it until the provider complies "
        f"{legal.cite('EPOC_ENFORCEMENT_NOT_TRANSFERRED_AGAIN')}",
        {"action": action, "enforcing_jurisdiction": req.enforcing_jurisdiction, "recognised_at": decided},
    )


def enforcing_violations(req: EvidenceRequest, given: str) -> list[FieldViolation]:
    """The enforcing state of a transfer (EPOC_ENFORCEMENT_TRANSFER): ``given``, or the request's addressee
    jurisdiction (the provider's establishment) when none is; a member state bound by the Regulation other than
    the issuer's, and for an EPOC with notification the state notified. Never echoes ``given``."""
    name = "enforcing_jurisdiction"
    state = given or req.addressee_jurisdiction
    cite = legal.cite("EPOC_ENFORCEMENT_TRANSFER")
    if given and req.notified and given != req.addressee_jurisdiction:
        notified = req.addressee_jurisdiction
        return [FieldViolation(name, f"must be the enforcing state notified of this order, {notified} {cite}")]
    if state == req.origin_jurisdiction:
        return [FieldViolation(name, f"is the issuing state: the order is enforced by another member state {cite}")]
    if state not in legal.EPOC_BOUND_STATES:
        return [FieldViolation(name, f"must be a member state bound by Reg. (EU) 2023/1543 {cite}")]
    return []


def enforcement_ground_violations(ground: str) -> list[FieldViolation]:
    """A refusal of recognition names a ground of the closed list of Art. 16(4) (EPOC_ENFORCEMENT_REFUSAL_GROUNDS)."""
    if not ground or ground in legal.ENFORCEMENT_REFUSAL_GROUNDS:
        return []
    grounds = ", ".join(legal.ENFORCEMENT_REFUSAL_GROUNDS)
    return [FieldViolation("ground", f"is not a ground of Art. 16(4); its grounds: {grounds}")]


def refusal_grounds(req: EvidenceRequest) -> tuple[str, ...]:
    """The grounds on which ``req`` may be refused: its instrument's (``legal.REFUSAL_GROUNDS``), less
    NO_DOUBLE_CRIMINALITY when its issuer indicated a listed offence punishable by at least three years
    (EPOC_ANNEX_IV_OFFENCE_NOT_REFUSED_FOR_DOUBLE_CRIMINALITY,
    EIO_ANNEX_D_OFFENCE_NOT_REFUSED_FOR_DOUBLE_CRIMINALITY)."""
    return legal.refusal_grounds(req.legal_basis, req.listed_offence, req.max_sentence_months)


def ground_violations(req: EvidenceRequest, ground: str) -> list[FieldViolation]:
    """A ground for refusal belongs to the request's instrument (``legal.REFUSAL_GROUNDS``: EIO Art. 11(1),
    the MLA treaty grounds, EPOC Art. 12(1)); another is named with the instrument's list. NO_DOUBLE_CRIMINALITY
    is not a ground against a listed offence punishable by at least three years (``refusal_grounds``)."""
    if not ground:
        return []
    allowed = ", ".join(refusal_grounds(req))
    exception = legal.double_criminality_exception(req.legal_basis, req.listed_offence, req.max_sentence_months)
    if ground == "NO_DOUBLE_CRIMINALITY" and exception:
        annex = legal.LISTED_OFFENCE_ANNEX[req.legal_basis]
        why = (
            f"is not a ground against this {req.legal_basis}: its issuer indicated an {annex} offence "
            f"({req.listed_offence}) punishable in the issuing state by a maximum of {req.max_sentence_months} "
            f"months, at least three years {legal.cite(exception)}; its grounds: {allowed}"
        )
        return [FieldViolation("ground", why)]
    if legal.refusal_rule(req.legal_basis, ground) is not None:
        return []
    why = f"is not a ground for refusal of an {req.legal_basis} request; its grounds: {allowed}"
    return [FieldViolation("ground", why)]


def apply(req: EvidenceRequest, action: str, data: TransitionInput, *, actor: Actor, now: datetime) -> EvidenceRequest:
    """Apply a transition (input checked by ``transition_violations``, side by the policy before);
    raises FailedPrecondition when the request's state or instrument does not allow it (``refusal``)."""
    problem = refusal(req, action, now)
    if problem is not None:
        raise problem
    changes: dict[str, object] = {}
    target = req.state if action in STATE_KEEPING else TRANSITIONS[action].target
    if action == "issue":
        changes.update(issued_at=now, received_at=now)
    elif action == "acknowledge":
        # The legal clocks run from receipt: never from before the request existed as issued. Without a stated
        # time the receipt stays the one recorded when it was issued (delivered with it): acknowledging late
        # must not give the addressee a new period nor hide a deadline it let pass.
        InvalidArgument.raise_for(validate.past_date("received_at", data.received_at, now, earliest=req.issued_at))
        changes["received_at"] = data.received_at or req.received_at or now
    elif action == "start_execution":
        changes["decided_at"] = now
    elif action == "refuse":
        InvalidArgument.raise_for(ground_violations(req, data.refusal_ground))
        changes.update(refuse_categories(req, data.refusal_ground, data.data_categories, now))
        target = S.REFUSED if changes.get("refusal_ground") else req.state
        if objected_in_emergency(req) and req.state in LATE_OBJECTION_STATES:
            # The data may have been received: what was is kept, as evidence of what arrived, but restricted
            # (Art. 10(4): "deleted or otherwise restricted"), and the request is refused as usual.
            changes["items_restricted_at"] = now
    elif action == "partially_execute":
        changes.update(execute_categories(req, data.data_categories, now, partial=True))
    elif action == "complete":
        changes.update(execute_categories(req, req.open_categories, now, partial=False))
    elif action == "resubmit":
        changes.update(resubmission(req, data, now))
    elif action == "report_not_executed":
        changes["non_execution_reason"] = data.non_execution_reason
    elif action == "transfer_for_enforcement":
        InvalidArgument.raise_for(enforcing_violations(req, data.enforcing_jurisdiction))
        changes.update(
            enforcing_jurisdiction=data.enforcing_jurisdiction or req.addressee_jurisdiction,
            enforcement_requested_at=now,
            enforcement_decided_at=None,
            enforcement_refusal_ground="",
            compliance_days=0,
        )
    elif action == "recognise_enforcement":
        # EPOC_ENFORCEMENT_RECOGNISED: the provider is required to comply; what it delivered before counts.
        executed = any(o.state is CategoryState.EXECUTED for o in req.decided_categories)
        target = S.PARTIALLY_EXECUTED if executed else S.IN_EXECUTION
        changes.update(enforcement_decided_at=now, compliance_days=data.compliance_days)
    elif action == "refuse_enforcement":
        InvalidArgument.raise_for(enforcement_ground_violations(data.enforcement_ground))
        changes.update(enforcement_decided_at=now, enforcement_refusal_ground=data.enforcement_ground)
    elif action == "postpone":
        changes.update(postponed_until=data.postponed_until, postponed_from=req.state.value, postponed_at=now)
    elif action == "resume":
        target = resumed_state(req)
        # The clock that ran when it was postponed was suspended meanwhile: it counts on from here the time
        # that was left then (EIO_POSTPONEMENT).
        held = int((now - req.postponed_at).total_seconds()) if req.postponed_at is not None else 0
        if deadlines.suspended_clock(target.value) is DeadlineKind.DECIDE:
            changes["decision_suspended_seconds"] = req.decision_suspended_seconds + max(held, 0)
        else:
            changes["execution_suspended_seconds"] = req.execution_suspended_seconds + max(held, 0)
        changes.update(postponed_until=None, postponed_from="", postponed_at=None)
    elif action == "notify_delay":
        running = delayed_deadline(req)
        assert running is not None and data.expected_at is not None  # refusal and transition_violations
        changes["delay"] = Delay(running.kind, data.reason, data.expected_at, now, actor)
    elif action == "extend_decision":
        changes["decision_extended"] = True
    elif action == "update_user_notice":
        changes.update(
            user_notice_status=data.user_notice_status, user_notice_suppressed_until=data.user_notice_suppressed_until
        )
    if action not in STATE_KEEPING:
        changes["state_reason"] = data.reason
    updated = changed(req, actor, now, state=target, **changes)
    return replace(updated, deadlines=deadlines.compute(updated.clocks()))


# -- data categories: partial refusal and execution, resubmission --------------------------------------


def event_of(action: str, updated: EvidenceRequest) -> str:
    """The event a transition publishes: its own, except a refusal of some categories only, which leaves the
    request where it was (``partially_refused``; REQUEST_PARTIAL_REFUSAL)."""
    if action == "refuse" and updated.state is not S.REFUSED:
        return "partially_refused"
    return TRANSITIONS[action].event


def _decidable(req: EvidenceRequest, categories: tuple[str, ...], allowed: frozenset[CategoryState]) -> None:
    """``categories`` are the request's (INVALID_ARGUMENT naming the one that is not) and each is in one of the
    ``allowed`` states (FAILED_PRECONDITION CATEGORY_DECIDED otherwise)."""
    InvalidArgument.raise_for(
        FieldViolation(f"data_categories[{i}]", f"is not a category of this request ({', '.join(req.data_categories)})")
        for i, c in enumerate(categories)
        if c not in req.data_categories
    )
    states = {o.category: o.state for o in req.category_outcomes}
    for i, c in enumerate(categories):
        if states[c] not in allowed:
            raise FailedPrecondition(
                "CATEGORY_DECIDED",
                f"data_categories[{i}] ({c}) is already {states[c].value.lower()}; each category is decided once "
                f"{legal.cite('REQUEST_PARTIAL_REFUSAL')}",
                {"field": f"data_categories[{i}]", "state": states[c].value},
            )


def _with_outcomes(req: EvidenceRequest, outcomes: list[CategoryOutcome]) -> tuple[CategoryOutcome, ...]:
    new = {o.category: o for o in outcomes}
    kept = [o for o in req.decided_categories if o.category not in new]
    order = {c: i for i, c in enumerate(req.data_categories)}
    return tuple(sorted(kept + outcomes, key=lambda o: order.get(o.category, len(order))))


def refuse_categories(
    req: EvidenceRequest, ground: str, categories: tuple[str, ...], now: datetime
) -> dict[str, object]:
    """REQUEST_PARTIAL_REFUSAL: refuse ``categories`` (every open one when empty; after an emergency EPOC was
    executed, an objection may refuse executed ones too). The request is refused (``refusal_ground`` set)
    only once no category is left open or executed; the refusal joins ``refusals`` either way."""
    allowed = {CategoryState.OPEN}
    if req.state in LATE_OBJECTION_STATES:
        allowed.add(CategoryState.EXECUTED)
    _decidable(req, categories, frozenset(allowed))
    chosen = categories or tuple(o.category for o in req.category_outcomes if o.state in allowed)
    outcomes = _with_outcomes(req, [CategoryOutcome(c, CategoryState.REFUSED, ground, now) for c in chosen])
    whole = all(o.state is CategoryState.REFUSED for o in outcomes) and len(outcomes) == len(req.data_categories)
    out: dict[str, object] = {
        "decided_categories": outcomes,
        "refusals": (*req.refusals, Refusal(req.submission, ground, chosen, now, whole)),
    }
    if whole:
        out["refusal_ground"] = ground
    return out


def execute_categories(
    req: EvidenceRequest, categories: tuple[str, ...], now: datetime, *, partial: bool
) -> dict[str, object]:
    """REQUEST_PARTIAL_EXECUTION: record ``categories`` (open ones) as executed. A partial execution leaves at
    least one open (executing the last ones completes the request: CompleteExecution)."""
    if not categories:
        return {}
    _decidable(req, categories, frozenset({CategoryState.OPEN}))
    if partial and set(req.open_categories) <= set(categories):
        raise FailedPrecondition(
            "NONE_LEFT_OPEN",
            "these are the request's last open categories: complete the execution instead "
            f"{legal.cite('REQUEST_PARTIAL_EXECUTION')}",
            {"field": "data_categories", "action": "partially_execute"},
        )
    return {
        "decided_categories": _with_outcomes(
            req, [CategoryOutcome(c, CategoryState.EXECUTED, "", now) for c in categories]
        )
    }


def resubmission(req: EvidenceRequest, data: TransitionInput, now: datetime) -> dict[str, object]:
    """REQUEST_RESUBMISSION: the refused request, clarified and perhaps amended, is issued again: a new
    receipt, so its clocks run from now; every category is open again, and its refusals stay."""
    return {
        "submission": req.submission + 1,
        "issued_at": now,
        "received_at": now,
        "decided_at": None,
        "decision_extended": False,
        "postponed_until": None,
        # The clocks restart: nothing of the earlier submission's postponements or delay carries over.
        "postponed_from": "",
        "postponed_at": None,
        "decision_suspended_seconds": 0,
        "execution_suspended_seconds": 0,
        "delay": None,
        "refusal_ground": "",
        "decided_categories": (),
        "data_categories": data.data_categories or req.data_categories,
        "description": req.description if data.description is None else data.description,
    }


#: The actions on a request besides its transitions that the policy decides, by their RPC's name: receiving
#: an evidence item against it (UploadItem).
UPLOAD_ITEM = "upload_item"


def upload_operation(principal: Principal, req: EvidenceRequest) -> Operation:
    """The policy operation (under ``EVIDENCE_ITEM_RULES``) that receiving evidence against ``req`` needs:
    either party's prosecutor or liaison receives evidence, the issuer's as the issuing side."""
    return receive_operation(principal, req.origin_jurisdiction)


def receive_operation(principal: Principal, origin: str) -> Operation:
    """``upload_operation`` of a request issued by ``origin``."""
    return Operation.ISSUER_ACT if principal.jurisdiction == origin else Operation.ADDRESSEE_ACT


def allowed_actions(req: EvidenceRequest, principal: Principal, now: datetime) -> tuple[str, ...]:
    """The actions ``principal`` may take on ``req`` at ``now``: each transition whose acting side the policy
    allows (``operation_for``) and that the request's state, instrument and clocks allow (``refused``: no
    error is made for those they refuse), in the table's order; then ``upload_item`` when the policy lets
    the caller receive evidence against it (``upload_operation``) and the request is receiving
    (``receiving``).

    The policy is asked first, of every transition the state may be taken from (``_ASKED``: the same
    question for every request of a page in that state with the same access facts, so ``permitted``'s kept
    answer), then the state and clocks (``refused``) of only those the policy allows: both must allow an
    action, so the order of the two asks changes nothing but how many transitions the clocks are tested for."""
    return offered(
        req.state,
        req.to_provider,
        req.access(),
        principal,
        lambda action: refused(req, action, now) is None,
        req.item_access(),
    )


def offered(
    state: State,
    to_provider: bool,
    access: RecordAccess,
    principal: Principal,
    clocks_allow: Callable[[str], bool],
    item_access: RecordAccess | None = None,
) -> tuple[str, ...]:
    """``allowed_actions`` of a request in ``state`` (to a provider or not) whose policy facts are ``access``,
    its clocks allowing the transitions ``clocks_allow`` says (``refused`` at a given time, or, for a list
    that answers a request kept in its answered form, its ``clock_schedule`` at that time). Its items' facts
    (``EvidenceRequest.item_access``; ``access`` when not given) decide ``upload_item``: an enforcing state
    that reads the request only for its enforcement receives no evidence against it."""
    asked = permitted(principal, access, _ASKED[state, to_provider])
    actions = tuple(action for action in asked if clocks_allow(action))
    if state in RECEIVING_STATES:
        items = access if item_access is None else item_access
        upload = ((UPLOAD_ITEM, receive_operation(principal, items.origin_jurisdiction), EVIDENCE_ITEM_RULES),)
        actions += permitted(principal, items, upload)
    return actions


def offered_when(
    state: State,
    to_provider: bool,
    access: RecordAccess,
    principal: Principal,
    allowed: frozenset[str],
    item_access: RecordAccess | None = None,
) -> tuple[str, ...]:
    """``offered`` with the clocks allowing the transitions ``allowed`` (a list's request kept in its answered
    form: ``AnsweredRequest.clocks_allow``), kept for what it reads: the caller's policy facts
    (``caller_facts``) and the request's state, side, access facts, its items' and ``allowed``."""
    return _offered.get(
        (caller_facts(principal), state, to_provider, access, item_access, allowed),
        lambda: offered(state, to_provider, access, principal, allowed.__contains__, item_access),
    )


#: ``offered_when``'s answers.
_offered: KeptAnswers[tuple[object, ...], tuple[str, ...]] = KeptAnswers(4096)


def clock_ends(req: EvidenceRequest) -> tuple[datetime, ...]:
    """Every instant at which ``refused(req, action, now)`` may change as ``now`` passes it, whatever the
    action: each time its tests compare ``now`` with (the day the EPOC regulation applies; the ends of the
    review, objection and decision windows), earliest first. Keep in step with ``refused``: a list's view of
    a request's allowed actions (``clock_schedule``) is worked out from these alone."""
    clocks = req.clocks()
    ends = {EPOC_APPLIES_FROM}
    for kind in (DeadlineKind.REVIEW, DeadlineKind.OBJECTION, DeadlineKind.DECIDE):
        end = deadlines.window_end(clocks, kind)
        if end is not None:
            ends.add(end)
    # The provider's deadline, after which the order may be transferred for enforcement; none once the
    # enforcing state recognised it (EPOC_ENFORCEMENT_NOT_TRANSFERRED_AGAIN).
    produce = None if deadlines.superseded(clocks) else deadlines.production_end(clocks)
    if produce is not None:
        ends.add(produce)
    return tuple(sorted(ends))


@dataclass(frozen=True)
class ClockSchedule:
    """Which of the transitions a request's state may be taken from its clocks allow, at any time: before
    ``ends[0]``, ``allowed[0]``; from ``ends[i]`` (and before the next end), ``allowed[i + 1]``."""

    ends: tuple[datetime, ...]
    allowed: tuple[frozenset[str], ...]

    def at(self, now: datetime) -> frozenset[str]:
        return self.allowed[bisect.bisect_right(self.ends, now)]


def clock_schedule(req: EvidenceRequest) -> ClockSchedule:
    """The request's ``ClockSchedule``: ``refused`` asked once for each span between two of its
    ``clock_ends``, of the transitions its state may be taken from (``_TAKEN_FROM``). Every test of ``refused``
    that reads ``now`` compares it with one of those ends, in the form ``now >= end`` (or ``now < end``),
    so the answer is the same everywhere from one end to the next."""
    ends = clock_ends(req)
    actions = [t.action for t in _TAKEN_FROM[req.state]]
    times = (ends[0] - timedelta(microseconds=1), *ends)
    return ClockSchedule(ends, tuple(frozenset(a for a in actions if refused(req, a, t) is None) for t in times))


#: Per state, in the table's order, the transitions some request in it may be taken from (``_sources``:
#: a late objection widens ``refuse``'s): the only ones ``allowed_actions`` asks about.
_TAKEN_FROM = {
    state: tuple(
        t
        for t in TRANSITIONS.values()
        if state in t.sources or (t.action == "refuse" and state in LATE_OBJECTION_STATES)
    )
    for state in State
}
#: What ``allowed_actions`` asks the policy of a request in a state, addressed to a provider or not: each
#: transition of ``_TAKEN_FROM`` with the operation its acting side needs (``operation_for``).
_ASKED = {
    (state, to_provider): tuple((t.action, _operation(t, to_provider), rules_for(t.action)) for t in taken)
    for state, taken in _TAKEN_FROM.items()
    for to_provider in (False, True)
}


# -- creation --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewRequest:
    request_id: str
    workspace_id: str
    legal_basis: str
    epoc_procedure: str
    issuing_authority: str
    addressee_kind: str
    addressee_jurisdiction: str
    provider_name: str
    data_categories: tuple[str, ...]
    targets: tuple[Target, ...]
    offence_category: str
    urgency: str
    title: str
    description: str
    restricted: bool
    shared_with: tuple[str, ...] = ()
    preservation_order_id: str = ""
    user_notice_status: str = ""
    user_notice_suppressed_until: datetime | None = None
    #: Proto enum fields whose value is not one we know (named in the error).
    unknown_enums: tuple[str, ...] = field(default=())
    notification_exemption_reason: str = ""
    victim_refs: tuple[str, ...] = ()
    listed_offence: str = ""
    max_sentence_months: int = 0


def target_violations(i: int, t: Target) -> list[FieldViolation]:
    name = f"targets[{i}]"
    if t.type not in TARGET_TYPES:
        return [FieldViolation(f"{name}.type", "must be ACCOUNT_HANDLE, URL, PHONE_NUMBER or EMAIL")]
    v = t.value
    ok = True
    what = ""
    if t.type == "ACCOUNT_HANDLE":
        ok, what = bool(_HANDLE.fullmatch(v)), "an account handle (letters, digits, . _ -; optional leading @)"
        if t.platform and not _PLATFORM.fullmatch(t.platform):
            return [FieldViolation(f"{name}.platform", "must be a lower-case platform name")]
    elif t.type == "URL":
        bad = validate.http_url(f"{name}.value", v)
        if bad:
            return bad
    elif t.type == "PHONE_NUMBER":
        ok, what = bool(_PHONE.fullmatch(v)), "a phone number in E.164 form, e.g. +31612345678"
    elif t.type == "EMAIL":
        ok, what = len(v) <= 254 and bool(_EMAIL.fullmatch(v)), "an e-mail address"
    out = [] if ok else [FieldViolation(f"{name}.value", f"must be {what}")]
    if t.platform and t.type != "ACCOUNT_HANDLE":
        out.append(FieldViolation(f"{name}.platform", "is only set for account handles"))
    return out


def new_request_violations(cmd: NewRequest, origin: str, now: datetime) -> list[FieldViolation]:
    """Checks that need no database: formats, lengths, the instrument's coherence."""
    out: list[FieldViolation] = [FieldViolation(n, "has an unknown value") for n in cmd.unknown_enums]
    unknown = set(cmd.unknown_enums)
    out += validate.request_id(cmd.request_id)
    out += validate.workspace_id("workspace_id", cmd.workspace_id)
    if cmd.legal_basis not in LEGAL_BASES and "legal_basis" not in unknown:
        out.append(FieldViolation("legal_basis", "is required"))
    if cmd.legal_basis == "EPOC":
        if cmd.epoc_procedure not in EPOC_PROCEDURES and "epoc_procedure" not in unknown:
            out.append(FieldViolation("epoc_procedure", "is required for an EPOC"))
    elif cmd.epoc_procedure:
        out.append(FieldViolation("epoc_procedure", "is only set for an EPOC"))
    out += validate.text("issuing_authority", cmd.issuing_authority, required=True, maximum=AUTHORITY_MAX)
    out += validate.text("title", cmd.title, required=True, maximum=validate.TITLE_MAX)
    out += validate.text("description", cmd.description, required=False, maximum=validate.DESCRIPTION_MAX)
    provider = cmd.addressee_kind == "SERVICE_PROVIDER"
    if cmd.addressee_kind not in ("MEMBER_STATE", "SERVICE_PROVIDER"):
        if "addressee_kind" not in unknown:
            out.append(FieldViolation("addressee_kind", "is required (MEMBER_STATE or SERVICE_PROVIDER)"))
    elif cmd.legal_basis in LEGAL_BASES and provider != (cmd.legal_basis in PROVIDER_BASES):
        want = "a service provider" if cmd.legal_basis in PROVIDER_BASES else "a member state"
        out.append(FieldViolation("addressee_kind", f"a {cmd.legal_basis} request is addressed to {want}"))
    addressee = validate.jurisdiction("addressee_jurisdiction", cmd.addressee_jurisdiction)
    out += addressee
    if not addressee and not provider and cmd.addressee_jurisdiction == origin:
        out.append(FieldViolation("addressee_jurisdiction", "must be another jurisdiction than the issuer's"))
    if provider:
        out += validate.text("provider_name", cmd.provider_name, required=True, maximum=PROVIDER_MAX)
    elif cmd.provider_name:
        out.append(FieldViolation("provider_name", "is only set when the addressee is a service provider"))
    if not cmd.data_categories:
        out.append(FieldViolation("data_categories", "name at least one of SUBSCRIBER, TRAFFIC, CONTENT"))
    for i, c in enumerate(cmd.data_categories):
        if c not in DATA_CATEGORIES and f"data_categories[{i}]" not in unknown:
            out.append(FieldViolation(f"data_categories[{i}]", "must be SUBSCRIBER, TRAFFIC or CONTENT"))
    if len(set(cmd.data_categories)) != len(cmd.data_categories):
        out.append(FieldViolation("data_categories", "must not repeat a category"))
    if not cmd.targets:
        out.append(FieldViolation("targets", "name at least one target identifier"))
    if len(cmd.targets) > TARGETS_MAX:
        out.append(FieldViolation("targets", f"at most {TARGETS_MAX} identifiers"))
    for i, t in enumerate(cmd.targets[:TARGETS_MAX]):
        out += target_violations(i, t)
    if cmd.offence_category not in OFFENCES and "offence_category" not in unknown:
        out.append(FieldViolation("offence_category", "is required"))
    if cmd.urgency and cmd.urgency not in URGENCIES and "urgency" not in unknown:
        out.append(FieldViolation("urgency", "must be NORMAL, URGENT or EMERGENCY"))
    if cmd.legal_basis == "EPOC" and cmd.epoc_procedure in EMERGENCY and cmd.urgency not in ("EMERGENCY", ""):
        out.append(FieldViolation("urgency", "an emergency EPOC has urgency EMERGENCY"))
    out += validate.shared_with(cmd.shared_with, restricted=cmd.restricted, record="request")
    out += validate.uuid("preservation_order_id", cmd.preservation_order_id, required=False)
    out += validate.victim_refs(cmd.victim_refs)
    if provider:
        if "user_notice_status" not in unknown:
            out += usernotice.violations(
                "user_notice_status",
                cmd.user_notice_status or "PENDING",
                "user_notice_suppressed_until",
                cmd.user_notice_suppressed_until,
                now,
            )
    elif cmd.user_notice_status not in ("", "NOT_APPLICABLE") or cmd.user_notice_suppressed_until is not None:
        out.append(FieldViolation("user_notice_status", "is tracked on requests to a service provider only"))
    if "listed_offence" not in unknown:
        out += listed_offence_violations(cmd.legal_basis, cmd.listed_offence, cmd.max_sentence_months)
    return out + instrument_violations(cmd)


def listed_offence_violations(legal_basis: str, listed_offence: str, months: int) -> list[FieldViolation]:
    """The listed-offence indication of a new request (``legal.rule("LISTED_OFFENCE_INDICATION")``): on an
    EPOC (Annex IV) or an EIO (Annex D) only, one of ``legal.LISTED_OFFENCES``, with the maximum custodial
    sentence in the issuing state in months (1 to ``legal.MAX_SENTENCE_MONTHS_MAX``), both or neither."""
    cite = legal.cite("LISTED_OFFENCE_INDICATION")
    if not listed_offence and not months:
        return []
    annex = legal.LISTED_OFFENCE_ANNEX.get(legal_basis)
    if annex is None:
        name = "listed_offence" if listed_offence else "max_sentence_months"
        return [FieldViolation(name, f"is only indicated on an EPOC (Annex IV) or an EIO (Annex D) {cite}")]
    out: list[FieldViolation] = []
    if not listed_offence:
        why = f"is required with max_sentence_months: a category of {annex} {cite}"
        out.append(FieldViolation("listed_offence", why))
    elif listed_offence not in legal.LISTED_OFFENCES:
        out.append(FieldViolation("listed_offence", f"is not a category of {annex} {cite}"))
    if not months:
        why = f"is required with listed_offence: the maximum custodial sentence in the issuing state, in months {cite}"
        out.append(FieldViolation("max_sentence_months", why))
    elif not 1 <= months <= legal.MAX_SENTENCE_MONTHS_MAX:
        out.append(FieldViolation("max_sentence_months", f"must be 1 to {legal.MAX_SENTENCE_MONTHS_MAX} months {cite}"))
    return out


def needs_notification_exemption(legal_basis: str, epoc_procedure: str, categories: tuple[str, ...]) -> bool:
    """Whether a request is an EPOC for traffic or content data without notification of the enforcing
    state, which Reg. 2023/1543 Art. 8(2) allows only on recorded grounds."""
    return legal_basis == "EPOC" and epoc_procedure in UNNOTIFIED and bool(NOTIFIABLE_DATA & set(categories))


def _eio_state_violations(name: str, code: str, side: str) -> list[FieldViolation]:
    """An EIO is not issued by or addressed to ``code`` unless it is an EU member state bound by Directive
    2014/41 (``legal.rule("EIO_ONLY_BETWEEN_BOUND_STATES")``); the violation is on the field ``name``."""
    if not is_jurisdiction(code) or (code in EU_MEMBER_STATES and code not in EIO_NOT_BOUND):
        return []
    why = "is not bound by Directive 2014/41" if code in EIO_NOT_BOUND else "is not an EU member state"
    cite = legal.cite("EIO_ONLY_BETWEEN_BOUND_STATES")
    return [FieldViolation(name, f"an EIO is not {side} {code}, which {why}: use an MLA request instead {cite}")]


def issuer_violations(cmd: NewRequest, origin: str) -> list[FieldViolation]:
    """What of a new request depends on its issuer, checked once the policy let the caller create:

    - an EIO is issued by an EU member state bound by Directive 2014/41, so not by Ireland or Denmark
      (``legal.rule("EIO_ONLY_BETWEEN_BOUND_STATES")``); the violation is on ``legal_basis``;
    - an EPOC is issued by a member state bound by Reg. 2023/1543 (``legal.EPOC_BOUND_STATES``: not Denmark),
      the violation on ``legal_basis``, to a provider established or represented in another one than the
      issuer's (one in the issuer's own state is ordered under national law), the violation on
      ``addressee_jurisdiction`` (``legal.rule("EPOC_ONLY_BETWEEN_BOUND_STATES")``).
    """
    if cmd.legal_basis == "EIO":
        return _eio_state_violations("legal_basis", origin, "issued by")
    if cmd.legal_basis != "EPOC":
        return []
    out: list[FieldViolation] = []
    if why := legal.epoc_issuer_problem("EPOC", origin):
        out.append(FieldViolation("legal_basis", why))
    if why := legal.epoc_provider_problem("EPOC", cmd.addressee_jurisdiction, origin):
        out.append(FieldViolation("addressee_jurisdiction", why))
    return out


def instrument_violations(cmd: NewRequest) -> list[FieldViolation]:
    """Whether the chosen instrument applies to this request, each check a row of ``jitlib.legal``:

    - an EIO is addressed to an EU member state bound by Directive 2014/41, so not to Ireland or Denmark,
      nor a state outside the EU: MLA is the instrument then (``legal.rule("EIO_ONLY_BETWEEN_BOUND_STATES")``;
      its issuer is checked after the policy, ``issuer_violations``);
    - an EPOC is addressed to a provider established or represented in a member state bound by Reg.
      2023/1543, its enforcing state: not Denmark, nor a state outside the EU
      (``legal.rule("EPOC_ONLY_BETWEEN_BOUND_STATES")``; its issuer, and a provider in the issuer's own
      state, are checked after the policy, ``issuer_violations``);
    - an EPOC for traffic or content data without notification of the enforcing state records why none is
      needed, and only then (``legal.rule("EPOC_NOTIFICATION_EXEMPTION_NEEDS_REASON")``);
    - an SAP Art. 7 request is for subscriber information only (``legal.rule("SAP_ART7_SUBSCRIBER_ONLY")``).
    """
    out: list[FieldViolation] = []
    if cmd.legal_basis == "EIO":
        out += _eio_state_violations("addressee_jurisdiction", cmd.addressee_jurisdiction, "addressed to")
    if cmd.legal_basis == "EPOC" and (why := legal.epoc_provider_problem("EPOC", cmd.addressee_jurisdiction)):
        out.append(FieldViolation("addressee_jurisdiction", why))
    reason = cmd.notification_exemption_reason
    if needs_notification_exemption(cmd.legal_basis, cmd.epoc_procedure, cmd.data_categories):
        if not reason.strip():
            out.append(
                FieldViolation(
                    "notification_exemption_reason",
                    "is required: an EPOC for traffic or content data without notification of the enforcing "
                    "state states why none is needed (the offence was, is being or is likely to be committed "
                    "in the issuing state and the person whose data are sought resides there) "
                    + legal.cite("EPOC_NOTIFICATION_EXEMPTION_NEEDS_REASON"),
                )
            )
        else:
            out += validate.text("notification_exemption_reason", reason, required=True, maximum=validate.REASON_MAX)
    elif reason:
        out.append(
            FieldViolation(
                "notification_exemption_reason",
                "is only set for an EPOC for traffic or content data without notification of the enforcing "
                "state " + legal.cite("EPOC_NOTIFICATION_EXEMPTION_NEEDS_REASON"),
            )
        )
    if cmd.legal_basis == "SAP_ART7" and any(c != "SUBSCRIBER" for c in cmd.data_categories):
        out.append(
            FieldViolation(
                "data_categories",
                "an SAP Art. 7 request is for subscriber information only " + legal.cite("SAP_ART7_SUBSCRIBER_ONLY"),
            )
        )
    return out


def membership_violations(cmd: NewRequest, members: frozenset[str], lead: str = "") -> list[FieldViolation]:
    """What of a new request the workspace (its ``members``, its ``lead``) decides: it is shared with
    members only; a direct exchange inside the JIT is addressed to a member; the victims it names are the
    workspace's. An EIO, MLA request or EPOC may be addressed to a state outside the team
    (``legal.rule("JIT_INSTRUMENTS_TOWARD_OUTSIDE_STATES")``)."""
    out: list[FieldViolation] = validate.victim_refs_of_workspace(cmd.victim_refs, lead)
    if cmd.legal_basis in MEMBERS_ONLY_BASES and cmd.addressee_jurisdiction not in members:
        out.append(
            FieldViolation(
                "addressee_jurisdiction",
                f"{cmd.addressee_jurisdiction} is not a member of the workspace: a direct exchange inside the "
                f"JIT is between its members; use an EIO or MLA request toward another state "
                f"{legal.cite('JIT_INSTRUMENTS_TOWARD_OUTSIDE_STATES')}",
            )
        )
    out += validate.members("shared_with", cmd.shared_with, members)
    return out


#: What a new request takes from its command as it was asked (the rest is trimmed or defaulted).
_AS_ASKED = (
    "legal_basis epoc_procedure addressee_kind addressee_jurisdiction targets offence_category description "
    "preservation_order_id user_notice_suppressed_until victim_refs listed_offence max_sentence_months"
)


def create(cmd: NewRequest, *, request_id: str, actor: Actor, now: datetime) -> EvidenceRequest:
    provider = cmd.addressee_kind == "SERVICE_PROVIDER"
    urgency = cmd.urgency
    if cmd.legal_basis == "EPOC" and cmd.epoc_procedure in EMERGENCY:
        urgency = "EMERGENCY"
    return EvidenceRequest(
        **created_record(cmd, record_id=request_id, actor=actor, now=now),
        **same_fields(cmd, _AS_ASKED),
        issuing_authority=cmd.issuing_authority.strip(),
        provider_name=cmd.provider_name.strip(),
        data_categories=tuple(cmd.data_categories),
        urgency=urgency or "NORMAL",
        title=cmd.title.strip(),
        user_notice_status=(cmd.user_notice_status or "PENDING") if provider else "NOT_APPLICABLE",
        state=State.DRAFT,
        notification_exemption_reason=cmd.notification_exemption_reason.strip(),
    )


# -- linked preservation orders -------------------------------------------------------------------


@dataclass(frozen=True)
class OrderReplica:
    """What this service knows of a preservation order, replicated from the preservation service's events:
    its state and expiry, and what the policy needs to decide who may see it and who issued it."""

    id: str
    workspace_id: str
    state: int
    expires_at: datetime | None
    version: int
    follow_up_request_id: str
    origin_jurisdiction: str = ""
    restricted: bool = True
    shared_with: tuple[str, ...] = ()

    def access(self) -> RecordAccess:
        return RecordAccess.of(self)


def may_link_order(principal: Principal, order: OrderReplica | None, workspace_id: str) -> bool:
    """Whether ``principal`` may link a request in ``workspace_id`` to ``order`` (finding #1 of the security
    review): only the order's issuing side (its origin jurisdiction, with a role that acts as issuer on
    orders: ``PRESERVATION_ORDER_RULES``), in the same workspace. A request issued with such a link moves
    the order to PRODUCTION_REQUESTED and on to PRODUCED, which only the order's issuer may cause."""
    if order is None or not order.origin_jurisdiction or order.workspace_id != workspace_id:
        return False
    decision = decide(principal, Operation.ISSUER_ACT, PRESERVATION_ORDER_RULES, record=order.access())
    return decision is Decision.ALLOW


def order_not_linkable() -> FailedPrecondition:
    """The one answer for an order that is unknown here, hidden from the caller, in another workspace or
    of another issuer: it says nothing about whether such an order exists."""
    return FailedPrecondition(
        "PRESERVATION_ORDER_NOT_LINKABLE",
        "preservation_order_id does not name a preservation order issued by your jurisdiction in this "
        "workspace (or the order has not reached the evidence service yet)",
        {"field": "preservation_order_id"},
    )


def order_shown(principal: Principal, req: EvidenceRequest, order: OrderReplica | None) -> bool:
    """Whether a view of ``req`` for ``principal`` shows ``order`` (its id, state and expiry): the order is
    of the request's workspace and issuing jurisdiction (the only links this service makes), and the
    policy lets the caller read it."""
    return order_shown_in(principal, req.workspace_id, req.origin_jurisdiction, order)


class TakenOut(NamedTuple):
    """What a request's reader is shown of its parties taken out of the workspace (derived when read, never
    stored nor in an event)."""

    #: Its issuing state was taken out (REQUEST_ISSUER_TAKEN_OUT).
    issuer: bool
    #: It is a direct exchange inside the JIT whose addressed state was taken out (REQUEST_ADDRESSEE_TAKEN_OUT).
    addressee: bool


NOT_TAKEN_OUT = TakenOut(False, False)


def taken_out(access: RecordAccess, members: Iterable[str]) -> TakenOut:
    """Which of a request's parties (its policy facts ``access``) were taken out of the workspace whose
    ``members`` these are (``policy.Members``; none for a workspace not known here). The addressee counts only
    for a direct exchange inside the JIT (no ``outside_addressee``), which no longer reaches its node: an EIO,
    MLA request or EPOC addressed to a former member still does, and its addressee answers it as a state outside
    the JIT would (JIT_INSTRUMENTS_TOWARD_OUTSIDE_STATES), so it is not flagged."""
    former = former_members(members)
    if not former:
        return NOT_TAKEN_OUT
    addressee = access.addressee_jurisdiction
    return TakenOut(
        access.origin_jurisdiction in former,
        bool(addressee) and not access.outside_addressee and addressee in former,
    )


def order_shown_in(principal: Principal, workspace_id: str, origin: str, order: OrderReplica | None) -> bool:
    """``order_shown`` for a request of ``workspace_id`` issued by ``origin``."""
    if order is None or not order.origin_jurisdiction:
        return False
    if order.workspace_id != workspace_id or order.origin_jurisdiction != origin:
        return False
    return decide(principal, Operation.READ, record=order.access()) is Decision.ALLOW


def order_may_name(order: OrderReplica, req: EvidenceRequest) -> bool:
    """Whether an order that names ``req`` as its follow-up (MarkProductionRequested) may link it: only an
    order of the request's own issuing jurisdiction and workspace."""
    return (
        bool(order.origin_jurisdiction)
        and order.workspace_id == req.workspace_id
        and order.origin_jurisdiction == req.origin_jurisdiction
    )


# -- evidence items --------------------------------------------------------------------------------

CHUNK_MAX = 1024 * 1024
ITEM_MAX_BYTES = 64 * 1024**3
MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
FILENAME_MAX = 255
PURPOSE_MAX = 1_000


#: The consents to other use an item carries at most (at upload and later): each rides in every event of the
#: item, and a state that consents 50 times over has a list, not a consent, to give.
CONSENTS_MAX = 50


@dataclass(frozen=True)
class Consent:
    """The originating state's consent to another use of an item (JIT_OTHER_USE_NEEDS_CONSENT)."""

    purpose: str
    granted_by_jurisdiction: str
    granted_at: datetime | None
    reference: str
    #: Recorded later (``record_consent``): the recording user's id and the client's ``request_id``, which
    #: make a retry find it (``consent_replay``); empty for one given at upload, and in an event's state.
    recorded_by: str = ""
    request_id: str = ""


@dataclass(frozen=True)
class NewItem:
    request_id: str
    evidence_request_id: str
    sha256: str
    size_bytes: int
    media_type: str
    filename: str
    description: str
    origin_jurisdiction: str
    conditions: str
    consents: tuple[Consent, ...] = ()
    #: Received as sensitive (SENSITIVE_ITEM_MARKING).
    sensitive: bool = False


@dataclass(frozen=True)
class EvidenceItem:
    id: str
    workspace_id: str
    evidence_request_id: str
    origin_jurisdiction: str
    media_type: str
    size_bytes: int
    sha256: str
    filename: str
    description: str
    conditions: str
    consents: tuple[Consent, ...]
    received_by: Actor
    received_at: datetime
    blob_key: str
    #: Intimate images and the like: opened with a purpose by named roles only, exported with four eyes
    #: (SENSITIVE_ITEM_MARKING, SENSITIVE_ITEM_OPEN_NEEDS_PURPOSE, SENSITIVE_ITEM_EXPORT_FOUR_EYES).
    sensitive: bool = False


def item_holder(item: EvidenceItem) -> str:
    """On a federation, the node that holds an item's bytes and custody chain: the one it was received
    on, which is the uploader's own country's node."""
    return item.received_by.jurisdiction


@dataclass(frozen=True)
class ItemReplica:
    """Another node's evidence item as this node holds it (``jitlib.replicas``): its metadata and digest,
    never its bytes, at the owner's custody sequence (its version)."""

    item: EvidenceItem
    version: int
    replicated_at: datetime | None = None

    @property
    def id(self) -> str:
        return self.item.id

    @property
    def workspace_id(self) -> str:
        return self.item.workspace_id

    @property
    def origin_jurisdiction(self) -> str:
        """The node that owns the item: where it was received (a user acts on their own node)."""
        return self.item.received_by.jurisdiction


def new_item_violations(cmd: NewItem, now: datetime) -> list[FieldViolation]:
    out: list[FieldViolation] = []
    p = "metadata."
    out += validate.uuid(p + "request_id", cmd.request_id)
    out += validate.uuid(p + "evidence_request_id", cmd.evidence_request_id)
    if not SHA256_HEX.fullmatch(cmd.sha256):
        out.append(FieldViolation(p + "sha256", "must be 64 lower-case hex digits (SHA-256)"))
    if not 0 <= cmd.size_bytes <= ITEM_MAX_BYTES:
        out.append(FieldViolation(p + "size_bytes", f"must be between 0 and {ITEM_MAX_BYTES}"))
    if not MEDIA_TYPE.fullmatch(cmd.media_type):
        out.append(FieldViolation(p + "media_type", "must be a media type such as image/jpeg"))
    out += validate.one_line(p + "filename", cmd.filename, required=False, maximum=FILENAME_MAX)
    if "/" in cmd.filename or "\\" in cmd.filename:
        out.append(FieldViolation(p + "filename", "must be a bare file name"))
    out += validate.text(p + "description", cmd.description, required=False, maximum=validate.DESCRIPTION_MAX)
    out += validate.jurisdiction(p + "origin_jurisdiction", cmd.origin_jurisdiction, required=False)
    out += validate.text(p + "use_conditions.conditions", cmd.conditions, required=False, maximum=validate.REASON_MAX)
    if len(cmd.consents) > CONSENTS_MAX:
        out.append(FieldViolation(p + "use_conditions.consents", f"at most {CONSENTS_MAX} consents"))
    for i, c in enumerate(cmd.consents[:CONSENTS_MAX]):
        q = f"{p}use_conditions.consents[{i}]."
        out += validate.text(q + "purpose", c.purpose, required=True, maximum=validate.REASON_MAX)
        out += validate.jurisdiction(q + "granted_by_jurisdiction", c.granted_by_jurisdiction)
        out += validate.past_date(q + "granted_at", c.granted_at, now)
        out += validate.text(q + "reference", c.reference, required=False, maximum=AUTHORITY_MAX)
    return out


def item_origin(req: EvidenceRequest) -> str:
    """Where an item received against ``req`` arose, the state whose consent its other use needs
    (``legal.rule("ITEM_ORIGIN_OF_PROVIDER_DATA")``, GUESS): for a request to a state (EIO, MLA, direct
    exchange) its addressee, whose authorities executed it; for a request to a service provider (EPOC, SAP
    Art. 7, voluntary disclosure) the issuing state, to whose authority the provider answers directly (the
    provider's state may not even see an EPOC without notification). Never what the uploader says: an issuer
    does not declare evidence "received from" a state of its choosing."""
    return req.origin_jurisdiction if req.to_provider else req.addressee_jurisdiction


def consent_violations(cmd: NewItem, origin: str) -> list[FieldViolation]:
    """Consent for other use is the originating state's to give (FD 2002/465 Art. 1(10))."""
    return [
        FieldViolation(
            f"metadata.use_conditions.consents[{i}].granted_by_jurisdiction",
            f"only the originating state {origin} can consent to other use",
        )
        for i, c in enumerate(cmd.consents)
        if c.granted_by_jurisdiction != origin
    ]


def origin_violations(cmd: NewItem, req: EvidenceRequest, uploader: str) -> list[FieldViolation]:
    """The item's declared origin and consents against the request and the uploader (finding #10 of the
    security review): the origin, when given, is the request's addressee (``item_origin``); a consent to
    other use is recorded only by the originating state itself, on its own behalf (an issuer cannot record
    the executing state's consent), and names that state as its grantor."""
    origin = item_origin(req)
    out: list[FieldViolation] = []
    if cmd.origin_jurisdiction and cmd.origin_jurisdiction != origin:
        out.append(
            FieldViolation(
                "metadata.origin_jurisdiction",
                f"must be {origin}, the state where the item arose (or be left empty): the request's addressee, "
                "or for a request to a service provider its issuing state",
            )
        )
    if cmd.consents and uploader != origin:
        out.append(
            FieldViolation(
                "metadata.use_conditions.consents",
                f"only the originating state {origin} records its consent to other use",
            )
        )
    return out + consent_violations(cmd, origin)


def purpose_violations(purpose: str, field_name: str = "purpose") -> list[FieldViolation]:
    """The purpose of an access, stored in the chain of custody: one line of plain text."""
    return validate.one_line(field_name, purpose, required=True, maximum=PURPOSE_MAX)


# -- consent to other use recorded later (JIT_OTHER_USE_NEEDS_CONSENT) ----------------------------------


def consent_violations_later(request_id: str, item_id: str, purpose: str, reference: str) -> list[FieldViolation]:
    """What a consent recorded on an existing item says (RecordUseConsent): the client's ``request_id``, the
    item, the use consented to (one line: it is the purpose of a custody entry) and the state's reference."""
    out = validate.uuid("request_id", request_id) + validate.uuid("item_id", item_id)
    out += validate.one_line("purpose", purpose, required=True, maximum=PURPOSE_MAX)
    out += validate.one_line("reference", reference, required=False, maximum=AUTHORITY_MAX)
    return out


def consent_replay(item: EvidenceItem, user_id: str, request_id: str, purpose: str, reference: str) -> Consent | None:
    """The consent ``user_id`` recorded on ``item`` with ``request_id`` (a retry), None when there is none;
    FAILED_PRECONDITION ``REQUEST_ID_REUSED`` when that one says something else."""
    for c in item.consents:
        if c.request_id == request_id and c.recorded_by == user_id:
            if (c.purpose, c.reference) != (purpose, reference):
                raise FailedPrecondition(
                    "REQUEST_ID_REUSED",
                    "request_id was already used for a different consent; generate a new one",
                    {"field": "request_id"},
                )
            return c
    return None


def consent_refusal(item: EvidenceItem, req: EvidenceRequest) -> FailedPrecondition | None:
    """Why no consent to other use is recorded on ``item`` now (None when one is): it is restricted by the
    enforcing state's objection (not to be used at all), or it carries ``CONSENTS_MAX`` already."""
    problem = content_refusal(item, req, "used for another purpose")
    if problem is not None:
        return problem
    if len(item.consents) >= CONSENTS_MAX:
        return FailedPrecondition(
            "CONSENTS_FULL",
            f"this item carries {CONSENTS_MAX} consents to other use already, the most it takes",
            {"item_id": item.id},
        )
    return None


def record_consent(
    item: EvidenceItem, actor: Actor, request_id: str, purpose: str, reference: str, now: datetime
) -> EvidenceItem:
    """``item`` with the consent of ``actor``'s jurisdiction (the originating state, which the policy checked)
    to the use ``purpose``, granted now, added after those it carries."""
    consent = Consent(purpose, actor.jurisdiction, now, reference, recorded_by=actor.user_id, request_id=request_id)
    return replace(item, consents=(*item.consents, consent))


def consent_entry_purpose(consent: Consent) -> str:
    """What the CONSENT_RECORDED custody entry says: the state, the use consented to, its reference."""
    ref = f" (reference {consent.reference})" if consent.reference else ""
    return f"consent of {consent.granted_by_jurisdiction} to other use: {consent.purpose}{ref}"


def custody_event_violations(action: custody.Action | None, purpose: str, recipient: str) -> list[FieldViolation]:
    """What a caller records on an item's chain (RecordCustodyEvent): an export, a transfer or a seal."""
    out: list[FieldViolation] = []
    if action not in custody.RECORDABLE:
        out.append(FieldViolation("action", "must be EXPORTED, TRANSFERRED or SEALED"))
    out += purpose_violations(purpose)
    handed_over = action in custody.HANDED_OVER
    if handed_over and not recipient.strip():
        out.append(FieldViolation("recipient", "is required for an export or transfer"))
    else:
        out += validate.one_line("recipient", recipient, required=False, maximum=AUTHORITY_MAX)
    return out


def item_restricted(item: EvidenceItem, req: EvidenceRequest) -> bool:
    """Whether ``item`` is restricted (EPOC_EMERGENCY_OBJECTION): it was received against ``req`` before the
    enforcing state's objection restricted what had been received."""
    return req.items_restricted_at is not None and item.received_at <= req.items_restricted_at


def content_refusal(item: EvidenceItem, req: EvidenceRequest, what: str) -> FailedPrecondition | None:
    """Why ``item``'s content may not be read or handed over (``what``: "downloaded", "exported", ...): it
    is restricted, for everyone. None when it may."""
    if not item_restricted(item, req):
        return None
    at = req.items_restricted_at.isoformat() if req.items_restricted_at is not None else ""
    return FailedPrecondition(
        "ITEM_RESTRICTED",
        f"this item is restricted since {at}: the enforcing state objected to the emergency order within 96 "
        f"hours, so it is kept as evidence of what was received but not {what} "
        f"{legal.cite('EPOC_EMERGENCY_OBJECTION')}",
        {"item_id": item.id, "restricted_at": at},
    )


def restriction_purpose(req: EvidenceRequest) -> str:
    """What the RESTRICTED custody entry says: who objected (the notified enforcing state, the only side that
    refuses: ``Side.REVIEWING``), on which ground, and the rule (one line). From the request alone, so that
    every node holding an item writes the same words."""
    ground = req.refusals[-1].ground if req.refusals else req.refusal_ground
    return (
        f"restricted: {req.addressee_party} objected ({ground}) within 96 hours of receipt of the emergency "
        f"order; kept, not to be downloaded or exported {legal.cite('EPOC_EMERGENCY_OBJECTION')}"
    )


def restriction_entry(item: EvidenceItem, req: EvidenceRequest, now: datetime) -> custody.Entry:
    """The RESTRICTED custody entry an objection writes on an item it restricts (``item_restricted``), by the
    system, at ``now``: when the node holding the item records it (its chain's place and hash are the
    store's)."""
    return custody.Entry(
        item_id=item.id,
        seq=0,
        action=custody.Action.RESTRICTED,
        user_id=SYSTEM.user_id,
        username=SYSTEM.username,
        jurisdiction=SYSTEM.jurisdiction,
        at=now,
        purpose=restriction_purpose(req),
        recipient="",
        sha256=item.sha256,
        prev_hash="",
    )


def receiving(req: EvidenceRequest) -> bool:
    """Whether evidence is received against ``req`` now: its state (``receiving_refusal`` says why not)."""
    return req.state in RECEIVING_STATES


def receiving_refusal(req: EvidenceRequest) -> FailedPrecondition | None:
    """Why no evidence is received against ``req`` now (None when it is: ``receiving``)."""
    if receiving(req):
        return None
    return FailedPrecondition(
        "NOT_RECEIVING",
        f"evidence is received against a request in execution or executed, not {req.state.value}",
        {"state": req.state.value, "allowed_in": ",".join(sorted(s.value for s in RECEIVING_STATES))},
    )


def receiving_check(req: EvidenceRequest) -> None:
    problem = receiving_refusal(req)
    if problem is not None:
        raise problem


def is_overdue(d: Deadline, now: datetime) -> bool:
    return d.due_at < now


def suppression_lapses_at(req: EvidenceRequest) -> datetime | None:
    """When the non-disclosure order recorded on the request ends, from which instant the provider may
    notify the account holder (USER_NOTICE_SUPPRESSION_LAPSES); None when the user notice is not suppressed."""
    return usernotice.lapses_at(req.user_notice_status, req.user_notice_suppressed_until)


def suppression_lapsed(req: EvidenceRequest, now: datetime) -> bool:
    """Whether the user notice is suppressed by an order that has ended at ``now`` (derived when read, never
    stored: the request shows it from that instant on, whatever its state)."""
    return usernotice.lapsed(req.user_notice_status, req.user_notice_suppressed_until, now)


# -- sensitive items (SENSITIVE_ITEM_MARKING, SENSITIVE_ITEM_OPEN_NEEDS_PURPOSE, SENSITIVE_ITEM_EXPORT_FOUR_EYES)

#: How long an approved export of a sensitive item may be carried out (GUESS: a working day).
EXPORT_APPROVAL_VALID = timedelta(hours=24)


def concealed(item: EvidenceItem) -> EvidenceItem:
    """A sensitive item as shown to a caller who may not open it: its metadata (size, digest, media type,
    origin, custody) without what users wrote about its content (file name, description)."""
    return replace(item, filename="", description="")


def sensitivity_violations(reason: str) -> list[FieldViolation]:
    """The reason for marking an item sensitive or lifting that marking: one line, required."""
    return purpose_violations(reason, "reason")


def marking_refusal(item: EvidenceItem, sensitive: bool) -> FailedPrecondition | None:
    """Why ``item`` cannot be marked (``sensitive``) or unmarked now: it already is, or is not."""
    if item.sensitive != sensitive:
        return None
    reason, says = (
        ("ALREADY_SENSITIVE", "is already marked sensitive")
        if sensitive
        else (
            "NOT_SENSITIVE",
            "is not marked sensitive",
        )
    )
    return FailedPrecondition(reason, f"this item {says}", {"item_id": item.id})


def export_request_violations(purpose: str, destination: str) -> list[FieldViolation]:
    return purpose_violations(purpose) + validate.one_line(
        "destination", destination, required=True, maximum=AUTHORITY_MAX
    )


@dataclass(frozen=True)
class ExportClearance:
    """A sensitive item's latest export request not yet used, and its approval if any, read from the chain
    of custody (the chain is the record of the four eyes, so nothing else can drift from it)."""

    request: custody.Entry
    approval: custody.Entry | None = None


def pending_export(entries: list[custody.Entry]) -> ExportClearance | None:
    """Walk the chain: a request replaces any earlier one not yet used; an approval applies to the latest
    request not yet approved; an export or transfer after an approval uses it up."""
    current: ExportClearance | None = None
    for e in entries:
        if e.action is custody.Action.EXPORT_REQUESTED:
            current = ExportClearance(e)
        elif e.action is custody.Action.EXPORT_APPROVED and current is not None and current.approval is None:
            current = replace(current, approval=e)
        elif e.action in custody.HANDED_OVER and current is not None and current.approval is not None:
            current = None
    return current


def approval_refusal(entries: list[custody.Entry], request_seq: int, approver_id: str) -> FailedPrecondition | None:
    """Why the export request ``request_seq`` cannot be approved by ``approver_id`` now (None when it can):
    it is not the item's open request, it is approved already, or the approver asked for it (four eyes)."""
    current = pending_export(entries)
    if current is None or current.request.seq != request_seq:
        return FailedPrecondition(
            "NO_SUCH_EXPORT_REQUEST",
            f"entry {request_seq} is not this item's open export request: approve the latest one",
            {"field": "export_request_seq"},
        )
    if current.approval is not None:
        return FailedPrecondition(
            "EXPORT_ALREADY_APPROVED",
            f"export request {request_seq} is approved already",
            {"field": "export_request_seq"},
        )
    if current.request.user_id == approver_id:
        return FailedPrecondition(
            "SELF_APPROVAL",
            "a sensitive item's export is approved by a second person, not by the one who asked for it "
            f"{legal.cite('SENSITIVE_ITEM_EXPORT_FOUR_EYES')}",
            {"field": "export_request_seq"},
        )
    return None


def export_refusal(
    item: EvidenceItem, entries: list[custody.Entry], user_id: str, recipient: str, now: datetime
) -> FailedPrecondition | None:
    """Why a sensitive ``item`` cannot be exported or transferred by ``user_id`` to ``recipient`` now (None
    when it can, or when it is not sensitive): four eyes, that user's approved request, to its destination,
    once, within EXPORT_APPROVAL_VALID of the approval."""
    if not item.sensitive:
        return None
    return clearance_refusal(item, pending_export(entries), user_id, recipient, now)


def clearance_refusal(
    item: EvidenceItem, current: ExportClearance | None, user_id: str, recipient: str, now: datetime
) -> FailedPrecondition | None:
    """``export_refusal`` on the item's open export request ``current`` (``pending_export``)."""
    cite = legal.cite("SENSITIVE_ITEM_EXPORT_FOUR_EYES")
    if current is None or current.approval is None:
        why = "needs an export request approved by a second person first"
    elif current.request.user_id != user_id:
        why = "is exported by the user whose export request was approved"
    elif current.request.recipient != recipient:
        why = "goes only to the destination that was approved"
    elif now > current.approval.at + EXPORT_APPROVAL_VALID:
        hours = int(EXPORT_APPROVAL_VALID.total_seconds() // 3600)
        why = f"is exported within {hours} hours of the approval; ask again"
    else:
        return None
    return FailedPrecondition("EXPORT_NOT_APPROVED", f"a sensitive item {why} {cite}", {"item_id": item.id})


#: What ``item_allowed_actions`` may list, in this order (``EvidenceItem.allowed_actions``).
ITEM_ACTIONS = (
    "download",
    "mark_sensitive",
    "unmark_sensitive",
    "request_export",
    "approve_export",
    "export",
    "record_use_consent",
)


def item_allowed_actions(
    principal: Principal,
    item: EvidenceItem,
    req: EvidenceRequest,
    pending: ExportClearance | None,
    now: datetime,
) -> tuple[str, ...]:
    """What ``principal``, who reads ``item``, may do with it now, decided as the RPCs decide it
    (``jitlib.policy.decide_sensitive`` and the rules above): the caller's, never stored."""
    access = req.item_access()

    def may(op: SensitiveOperation, jurisdiction: str | None = None) -> bool:
        return decide_sensitive(principal, op, access, jurisdiction=jurisdiction) is Decision.ALLOW

    restricted = item_restricted(item, req)
    out: list[str] = []
    if not restricted and (not item.sensitive or may(SensitiveOperation.OPEN)):
        out.append("download")
    if may(SensitiveOperation.MARK, item_holder(item)):
        out.append("unmark_sensitive" if item.sensitive else "mark_sensitive")
    if item.sensitive and not restricted and may(SensitiveOperation.REQUEST_EXPORT):
        out.append("request_export")
    if item.sensitive and pending is not None and pending.approval is None:
        asked = pending.request
        if asked.user_id != principal.user_id and may(SensitiveOperation.APPROVE_EXPORT, asked.jurisdiction):
            out.append("approve_export")
    if (
        item.sensitive
        and not restricted
        and pending is not None
        and decide(principal, Operation.ANY_PARTY_ACT, EVIDENCE_ITEM_RULES, record=access) is Decision.ALLOW
        and clearance_refusal(item, pending, principal.user_id, pending.request.recipient, now) is None
    ):
        out.append("export")
    if (
        consent_refusal(item, req) is None
        and decide(
            principal,
            Operation.ORIGIN_STATE_ACT,
            EVIDENCE_ITEM_RULES,
            record=access,
            origin_state=item.origin_jurisdiction,
        )
        is Decision.ALLOW
    ):
        out.append("record_use_consent")
    return tuple(out)
