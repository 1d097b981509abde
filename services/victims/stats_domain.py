"""The statistics part of the victims service, pure: how the projection of tasks, evidence requests and
preservation orders follows their events, how a victim's special-category attributes are checked, and
which facts a caller's statistics count. Computing and suppressing is ``jitlib.stats``.

The projection keeps, per record, only codes: its workspace, origin, addressee, instrument, state, offence,
victim pseudonyms, visibility facts, its dates and the legal deadlines it ran. No free text, so nothing in
it is case content to seal; the special-category attributes are sealed (``stats_store``).

Deadline compliance is read from the events: each evidence event carries the request's running deadlines
(jit.evidence.v1.EvidenceRequest.deadlines). A deadline that ran in one event and no longer runs in the
next stopped at that event's time: met when by its due time. While it runs it follows its clock (an
extension, a receipt acknowledged after the issue); once answered, its kind running again is a new one
(a resubmission). A deadline that stops because the request was withdrawn or postponed is not the
addressee's answer: it is not counted (a resumed one runs again). Only the duties of the addressee count
(acknowledge, decide, execute, produce, and the provider's deadline to comply with an EPOC the enforcing state
recognised, which replaces its first one); the enforcing state's windows to review or object are not
deadlines it can miss. The enforcing state's own deadline to decide on recognising an EPOC transferred to it
(ENFORCEMENT, 5 working days) is followed the same way, with the enforcing state it ran for, and counted
apart (``stats.Measure.ENFORCEMENT``), never as the provider's compliance.

An EPOC-PR transferred for enforcement (the preservation service's Art. 16) counts there too: a preservation
event carries no running deadlines, but the order's enforcing state, when it was transferred and when that
state decided, from which its 5 working days are counted as the preservation service counts them
(``jitlib.periods.enforcement_decision_due``): see ``order_enforcement``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from jitlib import legal, stats, validate
from jitlib.errors import FieldViolation
from jitlib.periods import enforcement_decision_due
from jitlib.policy import RecordAccess, RecordTerms, readable, visibility_scope
from jitlib.principal import Principal

#: The deadlines that measure the addressee's compliance; COMPLIANCE is the provider's under an EPOC the
#: enforcing state recognised (Reg. (EU) 2023/1543 Art. 16(3), EPOC_ENFORCEMENT_COMPLIANCE_DEADLINE).
COMPLIANCE_KINDS = frozenset({"ACKNOWLEDGE", "DECIDE", "EXECUTE", "PRODUCE", "COMPLIANCE"})
#: The enforcing state's recognition decision on a transferred EPOC (Reg. (EU) 2023/1543 Art. 16(2)).
ENFORCEMENT = "ENFORCEMENT"
#: The deadlines the projection follows.
TRACKED_KINDS = COMPLIANCE_KINDS | {ENFORCEMENT}
#: A deadline that stops when the request enters one of these is not counted.
NOT_AN_ANSWER = frozenset({"WITHDRAWN", "POSTPONED", "DRAFT"})
#: The states in which a transferred EPOC-PR waits for the enforcing state's decision (the preservation
#: service's ``enforcement_pending``: IN_ENFORCEMENT, or production requested from there).
ORDER_ENFORCEMENT_PENDING = frozenset({"IN_ENFORCEMENT", "PRODUCTION_REQUESTED"})
PURPOSE_MAX = 500
#: A victim's pseudonym (the victims service's V-<lead>-<NNNN>).
VICTIM_REF = re.compile(r"^V-[A-Z]{2,8}-[0-9]{4,}$")
VICTIM_REF_MAX = 32
KINDS = ("request", "order", "task")


@dataclass(frozen=True)
class TrackedDeadline:
    kind: str
    counted_from: datetime
    due_at: datetime
    closed_at: datetime | None = None
    #: False when it stopped for no answer (withdrawn, postponed): not in the compliance figures.
    counted: bool = True
    #: An ENFORCEMENT deadline's enforcing state ("" for the others, the addressee's).
    party: str = ""


@dataclass(frozen=True)
class Counted:
    """One record as the statistics know it (a row of the projection)."""

    id: str
    kind: str
    workspace_id: str
    origin_jurisdiction: str
    version: int
    state: str
    addressee: str = ""
    instrument: str = ""
    offence: str = ""
    victim_refs: tuple[str, ...] = ()
    restricted: bool = False
    shared_with: tuple[str, ...] = ()
    #: The jurisdiction the policy sees as the record's addressee (None for an order to a provider).
    addressee_jurisdiction: str | None = None
    at: datetime | None = None
    received_at: datetime | None = None
    answered_at: datetime | None = None
    produced: bool = False
    deadlines: tuple[TrackedDeadline, ...] = ()

    @property
    def access(self) -> RecordAccess:
        return RecordAccess(
            workspace_id=self.workspace_id,
            origin_jurisdiction=self.origin_jurisdiction,
            addressee_jurisdiction=self.addressee_jurisdiction,
            restricted=self.restricted,
            shared_with=frozenset(self.shared_with),
        )


def track_deadlines(
    before: Sequence[TrackedDeadline],
    running: Iterable[tuple[str, datetime, datetime]],
    at: datetime,
    state: str,
    enforcing: str = "",
) -> tuple[TrackedDeadline, ...]:
    """The deadlines of a request after an event at ``at`` in which ``running`` (kind, counted_from, due_at)
    run and the request is in ``state`` (``enforcing``: its enforcing state, the party of an ENFORCEMENT
    deadline). A kind's open deadline follows its clock when it moves (an extension, receipt acknowledged
    later than the issue); one stopped for no answer (withdrawn, postponed) runs again when its kind does;
    one that was answered stays, and its kind running again is a new deadline (a resubmission, a transfer
    after a refused order was resubmitted)."""
    out = list(before)
    running_kinds: set[str] = set()
    for kind, counted_from, due_at in running:
        if kind not in TRACKED_KINDS:
            continue
        running_kinds.add(kind)
        latest = max((i for i, d in enumerate(out) if d.kind == kind), default=None)
        fresh = TrackedDeadline(kind, counted_from, due_at, party=enforcing if kind == ENFORCEMENT else "")
        if latest is not None and (out[latest].closed_at is None or not out[latest].counted):
            out[latest] = fresh
        else:
            out.append(fresh)
    for i, d in enumerate(out):
        if d.kind not in running_kinds and d.closed_at is None:
            out[i] = replace(d, closed_at=at, counted=state not in NOT_AN_ANSWER)
    return tuple(out)


@dataclass(frozen=True)
class Transfer:
    """An EPOC-PR's transfer for enforcement as its event carries it: the enforcing state, when it received the
    order (its 5 working days run from there) and when it decided (recognised or refused; None: not yet)."""

    enforcing: str
    requested_at: datetime
    decided_at: datetime | None = None


def order_enforcement(
    before: Sequence[TrackedDeadline], state: str, transfer: Transfer | None, at: datetime
) -> tuple[TrackedDeadline, ...]:
    """The enforcing state's deadline to decide on an EPOC-PR, after an event at ``at`` in which the order is
    in ``state`` with ``transfer`` (None: never transferred, nothing to count). Due 5 working days of the
    enforcing state from the transfer; closed at the decision. An order that left the waiting states undecided
    closed it then (``at``, or when a former event did): lifted, it is the issuer's withdrawal and not counted
    (as a withdrawn EPOC's); ended otherwise (expired, produced) before its due time, no decision was owed and it
    is not counted; after it, the enforcing state let its days pass: counted, missed."""
    if transfer is None or not transfer.enforcing:
        return ()
    due = enforcement_decision_due(transfer.requested_at, transfer.enforcing)
    own = TrackedDeadline(ENFORCEMENT, transfer.requested_at, due, party=transfer.enforcing)
    if transfer.decided_at is not None:
        return (replace(own, closed_at=transfer.decided_at),)
    if state in ORDER_ENFORCEMENT_PENDING:
        return (own,)
    closed = next(
        (d.closed_at for d in before if d.kind == ENFORCEMENT and d.counted_from == transfer.requested_at),
        None,
    )
    closed = closed or at
    return (replace(own, closed_at=closed, counted=state != "LIFTED" and closed > due),)


def advance(
    before: Counted | None,
    after: Counted,
    running: Iterable[tuple[str, datetime, datetime]],
    at: datetime,
    enforcing: str = "",
    transfer: Transfer | None = None,
) -> Counted | None:
    """The projection's row once the event at ``at`` carrying ``after`` (and, for a request, its ``running``
    deadlines and its enforcing state; for an order, its ``transfer`` for enforcement) is applied; None when the
    row already holds that version or a newer one (a replay)."""
    if before is not None and before.version >= after.version:
        return None
    if after.kind == "order":
        ran = before.deadlines if before else ()
        return replace(after, deadlines=order_enforcement(ran, after.state, transfer, at))
    if after.kind != "request":
        return after
    answered = before.answered_at if before is not None else None
    if after.state in stats.ANSWERED_STATES:
        answered = answered or at
    elif after.state not in {"CLOSED"}:
        answered = None  # open again (resubmitted, resumed): its next answer counts
    deadlines = track_deadlines(before.deadlines if before else (), running, at, after.state, enforcing)
    return replace(after, answered_at=answered, deadlines=deadlines)


def deadlines_to_json(deadlines: Sequence[TrackedDeadline]) -> str:
    return json.dumps(
        [
            [
                d.kind,
                d.counted_from.isoformat(),
                d.due_at.isoformat(),
                d.closed_at.isoformat() if d.closed_at else None,
                d.counted,
                d.party,
            ]
            for d in deadlines
        ]
    )


def deadlines_from_json(text: str) -> tuple[TrackedDeadline, ...]:
    """The stored deadlines; one stored before they kept a party (five values) has none."""
    return tuple(
        TrackedDeadline(
            k,
            datetime.fromisoformat(f),
            datetime.fromisoformat(d),
            datetime.fromisoformat(c) if c else None,
            n,
            party[0] if party else "",
        )
        for k, f, d, c, n, *party in json.loads(text or "[]")
    )


# -- special-category attributes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SpecialCategories:
    """A victim's attributes as recorded (with consent, for a purpose)."""

    victim_ref: str
    workspace_id: str
    attributes: Mapping[str, str]
    purpose: str
    consent_given_at: datetime
    recorded_by_id: str = ""
    recorded_by_name: str = ""
    recorded_by_jurisdiction: str = ""
    recorded_at: datetime | None = None
    extra: Mapping[str, str] = field(default_factory=dict)


def victim_ref_violations(name: str, value: str) -> list[FieldViolation]:
    if not value:
        return [FieldViolation(name, "is required")]
    if len(value) > VICTIM_REF_MAX or not VICTIM_REF.fullmatch(value):
        return [FieldViolation(name, "must be a victim's pseudonym (V-NL-0007)")]
    return []


def special_category_violations(
    consent_given: bool,
    consent_given_at: datetime | None,
    purpose: str,
    attributes: Mapping[str, str],
    now: datetime,
) -> list[FieldViolation]:
    """What is wrong with a recording of special-category attributes: the victim's consent and a stated
    purpose are required (SPECIAL_CATEGORIES_CONSENT), each attribute one of its values, at least one."""
    out: list[FieldViolation] = []
    if not consent_given:
        out.append(
            FieldViolation(
                "consent_given",
                "the victim's consent is required to record special-category data "
                + legal.cite("SPECIAL_CATEGORIES_CONSENT"),
            )
        )
    if consent_given_at is None:
        out.append(FieldViolation("consent_given_at", "is required"))
    elif consent_given_at > now:
        out.append(FieldViolation("consent_given_at", "must not be in the future"))
    elif consent_given_at < validate.EARLIEST_DATE:
        out.append(FieldViolation("consent_given_at", "is too far in the past"))
    out += validate.text("purpose", purpose, required=True, maximum=PURPOSE_MAX)
    for name, value in attributes.items():
        if value and value not in stats.SPECIAL_CATEGORIES[name]:
            out.append(FieldViolation(f"attributes.{name}", f"one of {', '.join(stats.SPECIAL_CATEGORIES[name])}"))
    if not any(attributes.values()):
        out.append(FieldViolation("attributes", "at least one attribute is required"))
    return out


# -- what a caller counts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class VictimRow:
    """A victim as the statistics know it: pseudonym, workspace, jurisdiction and offences, no identity."""

    ref: str
    workspace_id: str
    jurisdiction: str
    offences: tuple[str, ...] = ()
    registered_at: datetime | None = None


def facts(
    principal: Principal,
    workspaces: frozenset[str],
    records: Iterable[Counted],
    victims: Iterable[VictimRow],
    attributes: Mapping[str, Mapping[str, str]],
) -> stats.Facts:
    """The facts of ``workspaces`` that ``principal`` may read (the one READ rule: a restricted record
    counts for its parties only), with each victim's attributes (none: NOT_RECORDED)."""
    scope = visibility_scope(principal)
    requests, orders, tasks = [], [], []
    for r in records:
        if r.workspace_id not in workspaces or not readable(scope, RecordTerms(r.access)):
            continue
        if r.kind == "request":
            ran = [stats.DeadlineFact(d.kind, d.due_at, d.closed_at, d.party) for d in r.deadlines if d.counted]
            deadlines = tuple(f for f in ran if f.kind in COMPLIANCE_KINDS)
            enforcements = tuple(f for f in ran if f.kind == ENFORCEMENT)
            requests.append(
                stats.Request(
                    r.id, r.workspace_id, r.instrument, r.origin_jurisdiction, r.addressee, r.state, r.offence,
                    r.victim_refs, r.at, r.received_at, r.answered_at, deadlines, enforcements,
                )
            )  # fmt: skip
        elif r.kind == "order":
            enforced = tuple(
                stats.DeadlineFact(d.kind, d.due_at, d.closed_at, d.party)
                for d in r.deadlines
                if d.counted and d.kind == ENFORCEMENT
            )
            orders.append(
                stats.Order(r.id, r.workspace_id, r.instrument, r.origin_jurisdiction, r.addressee, r.state,
                            r.victim_refs, r.at, r.produced, enforced)
            )  # fmt: skip
        else:
            tasks.append(
                stats.Task(r.id, r.workspace_id, r.origin_jurisdiction, r.addressee, r.state, r.victim_refs, r.at)
            )
    counted_victims = [
        stats.Victim(
            v.ref, v.workspace_id, v.jurisdiction, v.offences, dict(attributes.get(v.ref, {})), v.registered_at
        )
        for v in victims
        if v.workspace_id in workspaces
    ]
    return stats.Facts(requests=requests, orders=orders, tasks=tasks, victims=counted_victims)
