"""Legal deadlines of evidence requests, pure: from the instrument, the state and the moments of receipt
and decision (UTC) to the list of deadlines that currently run.

Every rule names its legal source. All periods below are calendar periods, counted as EU law counts
periods (Reg. (EEC, Euratom) No 1182/71 Art. 3, ``period_end``: ``jitlib.periods``, which the preservation
service's EPOC-PR clock counts with too) in the local time of the jurisdiction that must act (the
addressee: the executing or enforcing state, or the provider's establishment): a period in days ends at
the end of its last day, moved to the next working day when that is a Saturday, Sunday or public holiday
there (``jitlib.jurisdictions``). One period counts working days (``period_end``'s ``working_days``: the
same calendars): the enforcing state's recognition decision on a transferred EPOC, 5 working days of the
enforcing state (``enforcement``; Reg. (EU) 2023/1543 Art. 16(2)). Once it recognised the order, the
provider's deadline is the one the enforcing state set (``compliance``, in its calendar, Art. 16(3)), in
place of the instrument's PRODUCE.

Deadlines are stored with their request (``store.DeadlineRow``): a change to how a period is counted raises
``COUNTING``, and the service recounts the stored deadlines once at start (``services.evidence.recount``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from jitlib import durations, legal

# Re-exported: ``deadlines.period_end`` is where the evidence service's callers and tests have found it.
from jitlib.periods import ENFORCEMENT_DECISION, enforcement_decision_due
from jitlib.periods import period_end as period_end


class DeadlineKind(enum.StrEnum):
    ACKNOWLEDGE = "ACKNOWLEDGE"
    DECIDE = "DECIDE"
    EXECUTE = "EXECUTE"
    PRODUCE = "PRODUCE"
    REVIEW = "REVIEW"
    OBJECTION = "OBJECTION"
    #: The issuer's: the end of the non-disclosure order that suppresses the provider's notice to the user
    #: (``non_disclosure``), not a period of the instrument.
    NON_DISCLOSURE = "NON_DISCLOSURE"
    #: The enforcing state's recognition decision on a transferred EPOC (``enforcement``).
    ENFORCEMENT = "ENFORCEMENT"
    #: The provider's deadline to comply with an EPOC the enforcing state recognised (``compliance``).
    COMPLIANCE = "COMPLIANCE"


@dataclass(frozen=True)
class Deadline:
    kind: DeadlineKind
    due_at: datetime
    source: str
    counted_from: datetime
    working_days: bool = False

    @property
    def span(self) -> timedelta:
        return self.due_at - self.counted_from


#: How this module counts periods, stored in the database once the deadlines stored there were recounted
#: that way (``services.evidence.recount``, at start): 1, receipt + N x 24 h in UTC (before Reg. 1182/71 was
#: followed, 7420056); 2, ``period_end``; 3, with the end of a non-disclosure order (``non_disclosure``), so
#: that a suppression stored before warns too; 4, an EPOC the enforcing state recognised no longer counts the
#: provider's first PRODUCE deadline (``superseded``) and an emergency one keeps its OBJECTION window while
#: IN_ENFORCEMENT or NOT_ENFORCED. Raise it with any change that moves a deadline already stored.
COUNTING = 4


@dataclass(frozen=True)
class Period:
    kind: DeadlineKind
    length: timedelta
    source: str
    #: What the period is counted from: "received" (receipt by the addressee) or "decided".
    anchor: str
    #: States (names of EvidenceRequestState) in which the period runs.
    states: frozenset[str]
    working_days: bool = False
    #: The law states the period in hours (8 h, 96 h), not days: counted from the next full hour.
    in_hours: bool = False


_BEFORE_DECISION = frozenset({"ISSUED", "ACKNOWLEDGED"})
_OPEN = frozenset({"ISSUED", "ACKNOWLEDGED", "UNDER_REVIEW", "IN_EXECUTION", "PARTIALLY_EXECUTED"})
_EXECUTING = frozenset({"IN_EXECUTION", "PARTIALLY_EXECUTED"})
#: Where an emergency EPOC's transfer for enforcement leads: the 96 hours to object run on there
#: (EPOC_EMERGENCY_OBJECTION_DURING_ENFORCEMENT).
_ENFORCEMENT = frozenset({"IN_ENFORCEMENT", "NOT_ENFORCED"})
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)

EIO = "Directive 2014/41/EU"
EPOC = "Reg. (EU) 2023/1543"

#: The table, per instrument (legal basis, or "EPOC/<procedure>"). Each row: kind, period, source, anchor,
#: states in which it runs.
PERIODS: dict[str, tuple[Period, ...]] = {
    "EIO": (
        # Annex B is sent "without delay, and in any event within a week of receipt".
        Period(DeadlineKind.ACKNOWLEDGE, 7 * DAY, f"{EIO} Art. 16(1)", "received", frozenset({"ISSUED"})),
        # Recognition decision within 30 days of receipt (Art. 12(3)); +30 days when justified (Art. 12(5)),
        # applied through the decision_extended flag.
        Period(DeadlineKind.DECIDE, 30 * DAY, f"{EIO} Art. 12(3)", "received", _BEFORE_DECISION),
        # Execution within 90 days of the decision (Art. 12(4)).
        Period(DeadlineKind.EXECUTE, 90 * DAY, f"{EIO} Art. 12(4)", "decided", _EXECUTING),
    ),
    "EPOC/STANDARD": (Period(DeadlineKind.PRODUCE, 10 * DAY, f"{EPOC} Art. 10(3)", "received", _OPEN),),
    "EPOC/WITH_NOTIFICATION": (
        # The enforcing authority has 10 days from receipt of the notification to raise grounds for refusal
        # (Art. 10(2), Art. 8, Art. 12(1)); the notification goes out with the order, so received = issued
        # unless acknowledged otherwise.
        Period(
            DeadlineKind.REVIEW,
            10 * DAY,
            f"{EPOC} Art. 10(2), 8",
            "received",
            frozenset({"ISSUED", "ACKNOWLEDGED", "UNDER_REVIEW"}),
        ),
        # Data at the end of that window at the latest, unless a ground is raised (Art. 10(2)).
        Period(DeadlineKind.PRODUCE, 10 * DAY, f"{EPOC} Art. 10(2)", "received", _OPEN),
    ),
    "EPOC/EMERGENCY": (Period(DeadlineKind.PRODUCE, 8 * HOUR, f"{EPOC} Art. 10(4)", "received", _OPEN, in_hours=True),),
    "EPOC/EMERGENCY_WITH_NOTIFICATION": (
        Period(DeadlineKind.PRODUCE, 8 * HOUR, f"{EPOC} Art. 10(4)", "received", _OPEN, in_hours=True),
        # The enforcing authority may object within 96 hours; data already sent must then be deleted or
        # restricted (Art. 10(4), 12(1)). Runs after execution and after closing too (EPOC_EMERGENCY_OBJECTION),
        # and while the order is enforced or its recognition was refused (EPOC_EMERGENCY_OBJECTION_DURING_ENFORCEMENT).
        Period(
            DeadlineKind.OBJECTION,
            96 * HOUR,
            f"{EPOC} Art. 10(4), 12(1)",
            "received",
            _OPEN | {"EXECUTED", "CLOSED"} | _ENFORCEMENT,
            in_hours=True,
        ),
    ),
    # UNVERIFIED (DOMAIN.md): "provider answers within 30 days — check CETS 224". Kept as a tracked
    # deadline until the text of the Second Additional Protocol Art. 7 is checked.
    "SAP_ART7": (Period(DeadlineKind.PRODUCE, 30 * DAY, "CETS 224 Art. 7 (UNVERIFIED)", "received", _OPEN),),
    # No deadline in law for these (DOMAIN.md names none): the request is tracked without a clock.
    "MLA": (),
    "VOLUNTARY": (),
    "JIT_DIRECT": (),
}

EIO_DECISION_EXTENSION = 30 * DAY
EIO_EXTENSION_SOURCE = legal.source("EIO_DECISION_EXTENSION")
EIO_POSTPONEMENT_SOURCE = legal.source("EIO_POSTPONEMENT")


def instrument(legal_basis: str, epoc_procedure: str) -> str:
    return f"EPOC/{epoc_procedure}" if legal_basis == "EPOC" else legal_basis


class StoredClocks(Protocol):
    """What a request stores that its deadlines are counted from, under the names it has on the request and
    in its row (``Clocks.of``)."""

    @property
    def legal_basis(self) -> str: ...
    @property
    def epoc_procedure(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def received_at(self) -> datetime | None: ...
    @property
    def decided_at(self) -> datetime | None: ...
    @property
    def decision_extended(self) -> bool: ...
    @property
    def decision_suspended_seconds(self) -> int: ...
    @property
    def execution_suspended_seconds(self) -> int: ...
    @property
    def addressee_jurisdiction(self) -> str: ...
    @property
    def user_notice_status(self) -> str: ...
    @property
    def user_notice_suppressed_until(self) -> datetime | None: ...
    @property
    def enforcing_jurisdiction(self) -> str: ...
    @property
    def enforcement_requested_at(self) -> datetime | None: ...
    @property
    def enforcement_decided_at(self) -> datetime | None: ...
    @property
    def compliance_days(self) -> int: ...


@dataclass(frozen=True)
class Clocks:
    """What deadlines are counted from, as stored on the request."""

    legal_basis: str
    epoc_procedure: str
    state: str
    received_at: datetime | None
    decided_at: datetime | None
    decision_extended: bool = False
    #: How long postponements (EIO, Directive 2014/41 Art. 15) held the recognition decision and the
    #: execution back: their deadline runs that much later (EIO_POSTPONEMENT).
    decision_suspended: timedelta = timedelta(0)
    execution_suspended: timedelta = timedelta(0)
    #: The jurisdiction that must act (the addressee): its local days and public holidays count the periods.
    jurisdiction: str = ""
    #: When the non-disclosure order that suppresses the user notice ends (the user notice SUPPRESSED), else
    #: None.
    non_disclosure_until: datetime | None = None
    #: An EPOC transferred for enforcement: the enforcing state (whose calendar counts its decision's working
    #: days) and when it received the order; "" and None before a transfer.
    enforcing_jurisdiction: str = ""
    enforcement_requested_at: datetime | None = None
    #: When the enforcing state decided on it (None before), and the days it gave the provider to comply when
    #: it recognised it (0 otherwise, and for a recognition recorded before they were asked).
    enforcement_decided_at: datetime | None = None
    compliance_days: int = 0

    @classmethod
    def of(cls, r: StoredClocks) -> Clocks:
        """The clocks of a request, or of its stored columns (the start's recount reads those alone)."""
        return cls(
            r.legal_basis,
            r.epoc_procedure,
            str(r.state),
            r.received_at,
            r.decided_at,
            r.decision_extended,
            timedelta(seconds=r.decision_suspended_seconds),
            timedelta(seconds=r.execution_suspended_seconds),
            r.addressee_jurisdiction,
            r.user_notice_suppressed_until if r.user_notice_status == "SUPPRESSED" else None,
            r.enforcing_jurisdiction,
            r.enforcement_requested_at,
            r.enforcement_decided_at,
            r.compliance_days,
        )


def _suspension(c: Clocks, kind: DeadlineKind) -> timedelta:
    """How long a postponement suspended the clock of ``kind``: a postponed EIO's decision or execution
    deadline counts, from the resumption, the time that was left when it was postponed."""
    if kind is DeadlineKind.DECIDE:
        return c.decision_suspended
    if kind is DeadlineKind.EXECUTE:
        return c.execution_suspended
    return timedelta(0)


def suspended_clock(state: str) -> DeadlineKind | None:
    """The clock a postponement from ``state`` suspends: before the recognition decision, the decision's;
    in execution, the execution's (Directive 2014/41 Art. 15 postpones recognition or execution)."""
    return {"ACKNOWLEDGED": DeadlineKind.DECIDE, "IN_EXECUTION": DeadlineKind.EXECUTE}.get(state)


def _end(c: Clocks, p: Period, anchor: datetime, length: timedelta) -> datetime:
    """When period ``p`` of ``length`` from ``anchor`` ends. A postponement's suspension counts as if the
    event had come that much later, so the period still ends at the end of a working day (``period_end``)."""
    start = anchor + _suspension(c, p.kind)
    return period_end(start, length, c.jurisdiction, in_hours=p.in_hours, working_days=p.working_days)


def compute(c: Clocks) -> tuple[Deadline, ...]:
    """The deadlines running in the request's current state, earliest first."""
    out = []
    for p in PERIODS.get(instrument(c.legal_basis, c.epoc_procedure), ()):
        if c.state not in p.states or (p.kind is DeadlineKind.PRODUCE and superseded(c)):
            continue
        anchor = c.received_at if p.anchor == "received" else c.decided_at
        if anchor is None:
            continue
        length = p.length
        source = p.source
        if p.kind is DeadlineKind.DECIDE and c.decision_extended:
            length += EIO_DECISION_EXTENSION
            source = f"{source}, extended under {EIO_EXTENSION_SOURCE}"
        suspended = _suspension(c, p.kind)
        if suspended > timedelta(0):
            source = f"{source}, suspended {durations.compact(suspended)} while postponed ({EIO_POSTPONEMENT_SOURCE})"
        out.append(Deadline(p.kind, _end(c, p, anchor, length), source, anchor, p.working_days))
    suppression = non_disclosure(c)
    if suppression is not None:
        out.append(suppression)
    recognition = enforcement(c)
    if recognition is not None:
        out.append(recognition)
    comply = compliance(c)
    if comply is not None:
        out.append(comply)
    return tuple(sorted(out, key=lambda d: (d.due_at, d.kind.value)))


#: The states in which the end of a non-disclosure order is watched: sent to the provider, and the issuer may
#: still record the user notice (``UpdateUserNotice`` is refused once the request is closed or withdrawn).
NON_DISCLOSURE_STATES = frozenset(
    {
        "ISSUED",
        "ACKNOWLEDGED",
        "UNDER_REVIEW",
        "IN_EXECUTION",
        "PARTIALLY_EXECUTED",
        "EXECUTED",
        "POSTPONED",
        "REFUSED",
        "NOT_EXECUTED",
        "IN_ENFORCEMENT",
        "NOT_ENFORCED",
    }
)
NON_DISCLOSURE_SOURCE = legal.source("USER_NOTICE_SUPPRESSION_LAPSES")


def non_disclosure(c: Clocks) -> Deadline | None:
    """The end of the non-disclosure order that suppresses the provider's notice to the user, as a deadline
    of the issuer (USER_NOTICE_SUPPRESSION_LAPSES): due when the suppression ends (from then on the provider
    may notify the account holder), counted from receipt, while the request was sent and may still be
    changed; None when the notice is not suppressed. Its alerts are the deadlines' (warnings before, then
    "passed" when it has lapsed)."""
    if c.non_disclosure_until is None or c.received_at is None or c.state not in NON_DISCLOSURE_STATES:
        return None
    return Deadline(DeadlineKind.NON_DISCLOSURE, c.non_disclosure_until, NON_DISCLOSURE_SOURCE, c.received_at)


#: The enforcing state's recognition decision: 5 working days from receipt of the transferred order, in the
#: enforcing state's calendar (EPOC_ENFORCEMENT_RECOGNITION_WITHIN_5_WORKING_DAYS).
ENFORCEMENT_PERIOD = ENFORCEMENT_DECISION
ENFORCEMENT_SOURCE = legal.source("EPOC_ENFORCEMENT_RECOGNITION_WITHIN_5_WORKING_DAYS")


def enforcement(c: Clocks) -> Deadline | None:
    """The enforcing state's deadline for its recognition decision on a transferred EPOC: 5 working days of
    the enforcing state (its weekends and public holidays not counted, ``period_end``) from its receipt of the
    order, while it waits for that decision (IN_ENFORCEMENT); None otherwise."""
    if c.state != "IN_ENFORCEMENT" or c.enforcement_requested_at is None or not c.enforcing_jurisdiction:
        return None
    due = enforcement_decision_due(c.enforcement_requested_at, c.enforcing_jurisdiction)
    return Deadline(DeadlineKind.ENFORCEMENT, due, ENFORCEMENT_SOURCE, c.enforcement_requested_at, working_days=True)


def superseded(c: Clocks) -> bool:
    """Whether the enforcing state recognised the order since its (last) receipt, so that the provider's
    deadline is the one it set (``compliance``), not the instrument's PRODUCE: decided after the receipt (a
    resubmission is a new receipt) and not refused (a refusal of recognition leaves it NOT_ENFORCED, where
    no PRODUCE runs) (EPOC_ENFORCEMENT_COMPLIANCE_DEADLINE)."""
    return (
        c.enforcement_decided_at is not None
        and c.received_at is not None
        and c.enforcement_decided_at >= c.received_at
        and c.state != "NOT_ENFORCED"
    )


#: The longest deadline the enforcing state may set the provider, in days: a bound of this system on what is
#: typed, not of the law (EPOC_ENFORCEMENT_COMPLIANCE_DEADLINE).
COMPLIANCE_DAYS_MAX = 90
COMPLIANCE_SOURCE = legal.source("EPOC_ENFORCEMENT_COMPLIANCE_DEADLINE")


def compliance(c: Clocks) -> Deadline | None:
    """The provider's deadline to comply with (or oppose) an order the enforcing state recognised: the days it
    set from its recognition, counted as the other periods (``period_end``) in the enforcing state's calendar,
    while the request is in execution; None otherwise, and for a recognition recorded without them."""
    if c.state not in _EXECUTING or not superseded(c) or c.compliance_days <= 0 or not c.enforcing_jurisdiction:
        return None
    assert c.enforcement_decided_at is not None  # ``superseded``
    due = period_end(c.enforcement_decided_at, c.compliance_days * DAY, c.enforcing_jurisdiction)
    return Deadline(DeadlineKind.COMPLIANCE, due, COMPLIANCE_SOURCE, c.enforcement_decided_at)


def production_end(c: Clocks) -> datetime | None:
    """When the provider's deadline to produce ends, whatever state the request is in now: the one the
    enforcing state set once it recognised the order (``compliance``), else the instrument's PRODUCE
    (``window_end``); None when there is none."""
    if superseded(c) and c.compliance_days > 0 and c.enforcing_jurisdiction:
        assert c.enforcement_decided_at is not None
        return period_end(c.enforcement_decided_at, c.compliance_days * DAY, c.enforcing_jurisdiction)
    return window_end(c, DeadlineKind.PRODUCE)


def window_end(c: Clocks, kind: DeadlineKind) -> datetime | None:
    """When the period ``kind`` of the request's instrument ends, whatever state the request is in now
    (so that a rule can ask whether a window has passed once its deadline no longer runs); None when the
    instrument has no such period or its anchor is not set yet."""
    for p in PERIODS.get(instrument(c.legal_basis, c.epoc_procedure), ()):
        if p.kind is kind:
            anchor = c.received_at if p.anchor == "received" else c.decided_at
            return None if anchor is None else _end(c, p, anchor, p.length)
    return None


#: Spans up to this length use the short warning offsets (an 8-hour emergency gets "2 h before", not "48 h").
SHORT_SPAN = timedelta(hours=24)


def alert_times(
    d: Deadline,
    long_offsets: tuple[timedelta, ...],
    short_offsets: tuple[timedelta, ...],
    since: datetime | None = None,
) -> list[tuple[str, timedelta, datetime]]:
    """The alerts of one deadline: ("approaching", offset, at) for each offset that falls after the moment
    the deadline started to run and not before ``since`` (when it was (re)computed: a deadline moved by a
    resumption or a stated receipt does not announce "48 h before" when less is left), then ("passed", 0,
    due_at), which is always kept. In time order."""
    offsets = short_offsets if d.span <= SHORT_SPAN else long_offsets
    out: list[tuple[str, timedelta, datetime]] = []
    for off in sorted(set(offsets), reverse=True):
        at = d.due_at - off
        if off > timedelta(0) and at > d.counted_from and (since is None or at >= since):
            out.append(("approaching", off, at))
    out.append(("passed", timedelta(0), d.due_at))
    return out
