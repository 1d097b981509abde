"""Preservation-order rules, pure: the state machine, the expiry clocks of each legal basis, the warning
schedule, and what a valid new order is.

No I/O here: the servicer loads and stores, this module decides. Every function takes ``now`` explicitly.
Sources of the clocks (DOMAIN.md, "Legal instruments, deadlines and durations"):

- EPOC-PR, Reg. (EU) 2023/1543 Art. 11(1): preserve 60 days from the provider's receipt of the certificate;
  one extension of 30 days where the issuing authority asks within those 60 days; once a production request
  is confirmed, preserve until production (the clock stops). The days are counted as EU law counts periods
  (Reg. (EEC, Euratom) No 1182/71 Art. 3, ``jitlib.periods.period_end``) in the local days of the provider's
  establishment: ``ClockRule.counted_in``, EPOC_PR_PERIOD_COUNTED_AS_EU_LAW_COUNTS. The other bases add
  their period to its start as a duration (N x 24 h).
- Budapest Convention (CETS 185) Art. 29(7): at least 60 days from the request's receipt, continuing while
  the MLA request for production is decided (the clock stops; no extension of the preservation as such).
- Provider voluntary preservation: the provider's period and extension rule from its law-enforcement
  guideline (the provider register, services/preservation/providers.py), from the provider's processing of
  the request (its confirmation); it runs on while a production request is pending.
- National law: configured per node (default after CETS 185 Art. 16(2): up to 90 days, renewable), from
  receipt; it runs on while a production request is pending.

When each clock starts and what a production request does to it are rows of ``jitlib.legal``
(``CLOCK_START``, ``AT_PRODUCTION``); a failed production request brings a stopped clock back with the
time that was left (``resume``, PRESERVATION_CLOCK_RESUMES_AFTER_FAILED_PRODUCTION).

Expiries are stored with their order: a change to how a clock counts its period raises ``COUNTING``, and
the service recounts the stored running clocks once at start (``services.preservation.recount``).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple, Protocol

from jitlib import durations, legal, usernotice, validate
from jitlib.actors import Actor, Versioned, changed, created_record
from jitlib.errors import FailedPrecondition, FieldViolation, InvalidArgument
from jitlib.ids import is_uuid
from jitlib.jurisdictions import is_jurisdiction
from jitlib.periods import enforcement_decision_due, period_end
from jitlib.policy import (
    PRESERVATION_ENFORCEMENT_RULES,
    PRESERVATION_ORDER_RULES,
    PRESERVATION_USER_NOTICE_RULES,
    AccessParties,
    Decision,
    Operation,
    RecordAccess,
    decide,
    evidence_request_addressee,
    former_members,
    offers_by_state,
    permitted,
)
from jitlib.principal import Principal

REFERENCE_MAX = 200
TARGETS_MAX = 50
TARGET_VALUE_MAX = 2_048
#: Provider ids of the register: short, letters, digits, dot, dash, underscore (``socialnet-ie``).
PROVIDER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
#: A stated issue or confirmation time may run this far ahead of the service's clock (clock skew).
CLOCK_SKEW = timedelta(minutes=5)


class OrderState(enum.StrEnum):
    DRAFT = "DRAFT"
    ISSUED = "ISSUED"
    CONFIRMED = "CONFIRMED"
    EXTENDED = "EXTENDED"
    PRODUCTION_REQUESTED = "PRODUCTION_REQUESTED"
    PRODUCED = "PRODUCED"
    EXPIRED = "EXPIRED"
    LIFTED = "LIFTED"
    NOT_EXECUTED = "NOT_EXECUTED"
    #: An EPOC-PR transferred to the enforcing state, waiting for its recognition decision (EPOC_PR_ENFORCEMENT_*).
    IN_ENFORCEMENT = "IN_ENFORCEMENT"
    #: The enforcing state refused to recognise it (Art. 16(4)): the order ends there.
    NOT_ENFORCED = "NOT_ENFORCED"


#: States in which an order's clock may run: it runs while the order has an expiry (``clock_runs``). An
#: EPOC-PR or Budapest Art. 29 order in PRODUCTION_REQUESTED has none (its clock stopped); a voluntary one
#: in ISSUED has none yet (its clock starts at the provider's confirmation).
CLOCK_STATES = frozenset(
    {
        OrderState.ISSUED,
        OrderState.CONFIRMED,
        OrderState.EXTENDED,
        OrderState.PRODUCTION_REQUESTED,
        # An EPOC-PR's 60 days run on while the enforcing state decides (EPOC_PR_CLOCK_RUNS_DURING_ENFORCEMENT).
        OrderState.IN_ENFORCEMENT,
    }
)
#: States in which the order still binds the provider (or is about to).
OPEN_STATES = frozenset(
    {
        OrderState.DRAFT,
        OrderState.ISSUED,
        OrderState.CONFIRMED,
        OrderState.EXTENDED,
        OrderState.PRODUCTION_REQUESTED,
        OrderState.IN_ENFORCEMENT,
    }
)


class LegalBasis(enum.StrEnum):
    EPOC_PR = "EPOC_PR"
    BUDAPEST_ART29 = "BUDAPEST_ART29"
    PROVIDER_VOLUNTARY = "PROVIDER_VOLUNTARY"
    NATIONAL = "NATIONAL"


class ClockStart(enum.StrEnum):
    #: The provider's receipt of the order: the issue time unless a receipt time is recorded.
    RECEIPT = "RECEIPT"
    #: The provider's processing of the request, recorded as its confirmation.
    CONFIRMATION = "CONFIRMATION"


#: When each basis's clock starts, and the legal row it rests on.
CLOCK_START: dict[LegalBasis, tuple[ClockStart, legal.Rule]] = {
    LegalBasis.EPOC_PR: (ClockStart.RECEIPT, legal.rule("EPOC_PR_CLOCK_FROM_RECEIPT")),
    LegalBasis.BUDAPEST_ART29: (ClockStart.RECEIPT, legal.rule("BUDAPEST_ART29_CLOCK_FROM_RECEIPT")),
    LegalBasis.PROVIDER_VOLUNTARY: (
        ClockStart.CONFIRMATION,
        legal.rule("PROVIDER_VOLUNTARY_CLOCK_FROM_PROCESSING"),
    ),
    LegalBasis.NATIONAL: (ClockStart.RECEIPT, legal.rule("NATIONAL_CLOCK_FROM_RECEIPT")),
}
#: Whether a linked production request stops each basis's clock (True) or it runs on (False), and the row.
AT_PRODUCTION: dict[LegalBasis, tuple[bool, legal.Rule]] = {
    LegalBasis.EPOC_PR: (True, legal.rule("EPOC_PR_PRESERVED_UNTIL_PRODUCTION")),
    LegalBasis.BUDAPEST_ART29: (True, legal.rule("BUDAPEST_ART29_PRESERVED_PENDING_DECISION")),
    LegalBasis.PROVIDER_VOLUNTARY: (False, legal.rule("PROVIDER_VOLUNTARY_CLOCK_RUNS_DURING_PRODUCTION")),
    LegalBasis.NATIONAL: (False, legal.rule("NATIONAL_CLOCK_RUNS_DURING_PRODUCTION")),
}
#: Which instruments (evidence requests' legal bases) are a production request of the data an order of each
#: basis preserves; a basis not listed takes any (its clock runs on whatever is requested).
PRODUCTION_INSTRUMENTS: dict[LegalBasis, frozenset[str]] = {
    LegalBasis.EPOC_PR: frozenset({"EPOC", "EIO", "MLA"}),
    LegalBasis.BUDAPEST_ART29: frozenset({"MLA", "EIO"}),
}
#: Only a request for the preserved data counts as the order's production request.
PRODUCTION_FOR_THE_DATA_RULE = legal.rule("PRESERVATION_PRODUCTION_REQUEST_FOR_THE_PRESERVED_DATA")
#: A failed production request: back to the state before, a stopped clock runs again with the time left.
RESUME_RULE = legal.rule("PRESERVATION_CLOCK_RESUMES_AFTER_FAILED_PRODUCTION")
#: A production request counts when it was issued before the expiry, whenever it is recorded.
PRODUCTION_BEFORE_EXPIRY_RULE = legal.rule("PRESERVATION_PRODUCTION_REQUESTED_BEFORE_EXPIRY")


def starts_at_receipt(basis: LegalBasis) -> bool:
    return CLOCK_START[basis][0] is ClockStart.RECEIPT


def stops_at_production(basis: LegalBasis) -> bool:
    return AT_PRODUCTION[basis][0]


class ProductionOutcome(enum.StrEnum):
    """How a linked production request failed (the evidence request's state), or that it is no production
    request of the order's data (``NOT_COUNTED``: another instrument, or addressed elsewhere)."""

    REFUSED = "REFUSED"
    WITHDRAWN = "WITHDRAWN"
    NOT_EXECUTED = "NOT_EXECUTED"
    NOT_COUNTED = "NOT_COUNTED"


def production_not_counted(order: ClockFacts, provider: Provider | None, basis: str, addressee: str) -> str:
    """Why an evidence request under ``basis`` addressed to ``addressee``, linked to ``order`` (whose provider
    is ``provider``), is not a request to produce the data the order preserves ("" when it is): it must be
    addressed where the provider is established, and for an order whose clock stops at production be one of
    the instruments that may follow it (PRESERVATION_PRODUCTION_REQUEST_FOR_THE_PRESERVED_DATA)."""
    allowed = PRODUCTION_INSTRUMENTS.get(order.legal_basis)
    if allowed is not None and basis not in allowed:
        return (
            f"a {basis} request is not a production request that may follow a {order.legal_basis.value} order "
            f"(only {', '.join(sorted(allowed))})"
        )
    if provider is not None and addressee != provider.establishment_jurisdiction:
        return (
            f"it is addressed to {addressee}, and the order's provider {provider.id} is established in "
            f"{provider.establishment_jurisdiction}"
        )
    return ""


class TargetKind(enum.StrEnum):
    ACCOUNT_HANDLE = "ACCOUNT_HANDLE"
    URL = "URL"
    PHONE_NUMBER = "PHONE_NUMBER"
    EMAIL = "EMAIL"


DATA_CATEGORIES = ("SUBSCRIBER", "TRAFFIC", "CONTENT")
#: Reg. (EU) 2023/1543 Annex III.
NOT_EXECUTED_REASONS = frozenset(
    {
        "INCOMPLETE",
        "MANIFEST_ERRORS",
        "INSUFFICIENT_INFORMATION",
        "DATA_NOT_HELD",
        "DE_FACTO_IMPOSSIBLE",
        "INVALID_ISSUING_AUTHORITY",
        "NOT_COVERED",
        "IMMUNITIES",
        "CONFLICT_OF_LAW",
        "OTHER",
    }
)

_HANDLE = re.compile(r"^@?[A-Za-z0-9_.\-]{1,100}$")
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
_PHONE = re.compile(r"^\+[1-9][0-9]{6,14}$")  # E.164
_EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9\-]{1,63})+$")
_TARGET_RULES: dict[TargetKind, tuple[re.Pattern[str], str]] = {
    TargetKind.ACCOUNT_HANDLE: (_HANDLE, "must be an account handle (letters, digits, _ . -; optional @)"),
    TargetKind.URL: (_URL, "must be an http(s) URL"),
    TargetKind.PHONE_NUMBER: (_PHONE, "must be a phone number in E.164 form, e.g. +353861234567"),
    TargetKind.EMAIL: (_EMAIL, "must be an email address"),
}


@dataclass(frozen=True)
class Target:
    kind: str
    value: str


@dataclass(frozen=True)
class Provider:
    """An entry of the provider register."""

    id: str
    name: str
    establishment_jurisdiction: str
    legal_representative: str
    preferred_channel: str
    preservation_period_days: int
    #: Length of one extension; 0 when the provider does not extend.
    extension_days: int
    #: An extension must be asked at least this many days before expiry.
    extension_min_notice_days: int
    #: 0 means no limit.
    max_extensions: int
    source: str


@dataclass(frozen=True)
class NationalRule:
    """The node's national preservation law (settings)."""

    period_days: int = 90
    extension_days: int = 90
    #: 0 means renewable without limit.
    max_extensions: int = 0
    source: str = "national law (configured; default after CETS 185 Art. 16(2): up to 90 days, renewable)"


#: How the clocks count their periods, stored in the database once the running clocks stored there were
#: recounted that way (``services.preservation.recount``, at start): 1, every period start + N x 24 h in UTC;
#: 2, an EPOC-PR's as EU law counts periods (``ClockRule.counted_in``). Raise it with any change that moves
#: an expiry already stored.
COUNTING = 2


@dataclass(frozen=True)
class ClockRule:
    """How long one legal basis keeps data preserved, and how it may be extended."""

    period: timedelta
    #: None: no extension under this basis.
    extension: timedelta | None
    #: How many extensions; 0 means no limit.
    max_extensions: int
    #: The extension must be asked at least this long before the current expiry.
    min_notice: timedelta
    source: str
    #: The jurisdiction in whose local days, weekends and public holidays the period is counted as EU law
    #: counts periods (``jitlib.periods.period_end``: an EPOC-PR's, in the provider's establishment); None:
    #: the period is added to its start as a duration (start + N x 24 h), as the other bases' are.
    counted_in: str | None = None

    def length(self, extension_count: int) -> timedelta:
        """The period with ``extension_count`` extensions granted."""
        return self.period + (self.extension or timedelta(0)) * extension_count

    def expiry(self, start: datetime, extension_count: int) -> datetime:
        """When the period counted from ``start``, with ``extension_count`` extensions granted, has passed
        (exclusive: the data are preserved while ``now < expiry``)."""
        length = self.length(extension_count)
        if self.counted_in is None:
            return start + length
        return period_end(start, length, self.counted_in)


#: An EPOC-PR's period and extension (``epoc_pr_rule`` counts them in the provider's establishment, as
#: EPOC_PR_COUNT_RULE says).
EPOC_PR_RULE = ClockRule(
    period=timedelta(days=60),
    extension=timedelta(days=30),
    max_extensions=1,
    min_notice=timedelta(0),
    source="Reg. (EU) 2023/1543 Art. 11(1): 60 days; one extension of 30 days asked within the 60",
)
EPOC_PR_COUNT_RULE = legal.rule("EPOC_PR_PERIOD_COUNTED_AS_EU_LAW_COUNTS")


@functools.lru_cache(maxsize=64)
def epoc_pr_rule(jurisdiction: str) -> ClockRule:
    """The clock of an EPOC-PR to a provider established in ``jurisdiction`` (its register's entry; "" when
    the register no longer has the provider: days of UTC, weekends only), its days counted there as EU law
    counts periods (EPOC_PR_PERIOD_COUNTED_AS_EU_LAW_COUNTS)."""
    where = jurisdiction or "UTC"
    source = f"{EPOC_PR_RULE.source}, days counted in {where} as Reg. (EEC, Euratom) No 1182/71 Art. 3 counts them"
    return dataclasses.replace(EPOC_PR_RULE, counted_in=jurisdiction, source=source)


BUDAPEST_ART29_RULE = ClockRule(
    period=timedelta(days=60),
    extension=None,
    max_extensions=0,
    min_notice=timedelta(0),
    source="CETS 185 Art. 29(7): at least 60 days, then continues while the MLA request is decided",
)


def clock_rule(basis: LegalBasis, provider: Provider, national: NationalRule) -> ClockRule:
    """The clock of an order under ``basis`` with ``provider`` on this node."""
    if basis is LegalBasis.EPOC_PR:
        return epoc_pr_rule(provider.establishment_jurisdiction)
    if basis is LegalBasis.BUDAPEST_ART29:
        return BUDAPEST_ART29_RULE
    if basis is LegalBasis.PROVIDER_VOLUNTARY:
        return ClockRule(
            period=timedelta(days=provider.preservation_period_days),
            extension=timedelta(days=provider.extension_days) if provider.extension_days > 0 else None,
            max_extensions=provider.max_extensions,
            min_notice=timedelta(days=provider.extension_min_notice_days),
            source=provider.source,
        )
    return ClockRule(
        period=timedelta(days=national.period_days),
        extension=timedelta(days=national.extension_days) if national.extension_days > 0 else None,
        max_extensions=national.max_extensions,
        min_notice=timedelta(0),
        source=national.source,
    )


def extension_deadline(rule: ClockRule, expires_at: datetime, extension_count: int) -> datetime | None:
    """The last instant an extension of the current expiry may be asked; None when none is possible."""
    if rule.extension is None:
        return None
    if rule.max_extensions and extension_count >= rule.max_extensions:
        return None
    return expires_at - rule.min_notice


@dataclass(frozen=True)
class Order(Versioned, AccessParties):
    id: str
    workspace_id: str
    origin_jurisdiction: str
    legal_basis: LegalBasis
    provider_id: str
    targets: tuple[Target, ...]
    data_categories: tuple[str, ...]
    description: str
    restricted: bool
    shared_with: tuple[str, ...]
    state: OrderState
    state_reason: str = ""
    not_executed_reason: str = ""
    provider_reference: str = ""
    follow_up_request_id: str = ""
    #: What the policy needs to know of the follow-up request (``follow_up_facts``), as recorded from its
    #: events when the link was made and kept up to date since; "" when none is known (named by hand with
    #: ``MarkProductionRequested`` before its events came, or on a replica).
    follow_up_facts: str = ""
    issued_at: datetime | None = None
    #: When the provider received the order (default: ``issued_at``); receipt clocks start here.
    received_at: datetime | None = None
    confirmed_at: datetime | None = None
    #: When the current expiry was set (receipt, confirmation, extension or resumption): warnings due before
    #: it are not sent.
    clock_started_at: datetime | None = None
    expires_at: datetime | None = None
    extension_count: int = 0
    extension_deadline: datetime | None = None
    produced_at: datetime | None = None
    #: When production was last requested (the linked evidence request, or ``MarkProductionRequested``):
    #: the platform's time to produce data is counted from here (the scorecard).
    production_requested_at: datetime | None = None
    #: While a production request stops the clock: when it stopped, and the seconds that were left then.
    clock_stopped_at: datetime | None = None
    clock_remaining_seconds: int | None = None
    #: The victims the order concerns, by pseudonym (``validate.VICTIM_REF``), never by words about them.
    victim_refs: tuple[str, ...] = ()
    #: The provider's notice to the account holder (``jitlib.usernotice``: PENDING unless said otherwise),
    #: and while SUPPRESSED when the non-disclosure order ends (PRESERVATION_USER_NOTICE_SUPPRESSION_LAPSES).
    user_notice_status: str = usernotice.PENDING
    user_notice_suppressed_until: datetime | None = None
    #: An EPOC-PR transferred for enforcement (EPOC_PR_ENFORCEMENT_TRANSFER): the enforcing state ("" before)
    #: and when it received the order (its 5 working days run from there); its decision: when, and the ground
    #: of Art. 16(4) when it refused recognition ("" when it recognised the order).
    enforcing_jurisdiction: str = ""
    enforcement_requested_at: datetime | None = None
    enforcement_decided_at: datetime | None = None
    enforcement_refusal_ground: str = ""

    def access(self) -> RecordAccess:
        """The policy's facts: the enforcing state, once the order was transferred to it, is its addressee and
        reads it whether or not it is a member of the workspace (EPOC_PR_ENFORCING_STATE_SEES_THE_ORDER)."""
        return order_access(self)

    def is_confirmation_overdue(self, now: datetime, limit: timedelta) -> bool:
        """Derived, never stored: issued, and the provider has not confirmed for longer than ``limit``."""
        return confirmation_overdue(self.state, self.issued_at, now, limit)

    def clock_runs(self) -> bool:
        """The order has an expiry that the service's clock warns about and expires it at."""
        return clock_runs(self.state, self.expires_at)


def order_access(order: GovernedOrder) -> RecordAccess:
    """``Order.access``, also of a listed row (``store.Listed``): the order's own facts, with the enforcing
    state as its addressee from the transfer on (EPOC_PR_ENFORCING_STATE_SEES_THE_ORDER)."""
    enforcing = order.enforcing_jurisdiction or None
    return RecordAccess.of(order, addressee=enforcing, outside_addressee=enforcing is not None)


class GovernedOrder(Protocol):
    """What ``order_access`` reads of an order."""

    @property
    def workspace_id(self) -> str: ...
    @property
    def origin_jurisdiction(self) -> str: ...
    @property
    def restricted(self) -> bool: ...
    @property
    def shared_with(self) -> tuple[str, ...]: ...
    @property
    def enforcing_jurisdiction(self) -> str: ...


# ---- the follow-up request's access facts ----------------------------------------------------------------

#: Evidence requests between members of the workspace only (the evidence service's ``MEMBERS_ONLY_BASES``): their
#: addressee reads them as a member; every other instrument's addressee reads it from outside the workspace too.
_MEMBERS_ONLY_BASES = frozenset({"JIT_DIRECT"})


def follow_up_facts(
    *,
    origin: str,
    addressee_kind: str,
    addressee: str,
    legal_basis: str,
    epoc_procedure: str,
    restricted: bool,
    shared_with: Iterable[str],
    version: int,
) -> str:
    """The access facts of an evidence request (at ``version``) as kept with the order that it follows: the
    rule of the evidence service's ``EvidenceRequest.access()`` (its addressee by
    ``jitlib.policy.evidence_request_addressee``), as a JSON text. Enum values by their names without prefix."""
    party = evidence_request_addressee(addressee_kind, addressee, legal_basis, epoc_procedure) or ""
    facts = {
        "version": version,
        "origin": origin,
        "addressee": party,
        "outside": legal_basis not in _MEMBERS_ONLY_BASES and bool(party),
        "restricted": restricted,
        "shared_with": sorted(set(shared_with)),
    }
    return json.dumps(facts, sort_keys=True, separators=(",", ":"))


def follow_up_version(facts: str) -> int:
    """The request's version the facts were recorded at (0 when none are)."""
    return int(json.loads(facts)["version"]) if facts else 0


@functools.lru_cache(maxsize=4096)
def follow_up_access(workspace_id: str, order_origin: str, facts: str) -> RecordAccess:
    """The policy's facts of an order's follow-up request (in the order's workspace: a link is made within one).
    Without recorded facts, the request is taken as restricted to the order's issuing jurisdiction: the one
    that named it (``MarkProductionRequested``) or whose node owns the order."""
    if not facts:
        return RecordAccess(workspace_id, order_origin, None, True)
    f = json.loads(facts)
    return RecordAccess(
        workspace_id,
        f["origin"],
        f["addressee"] or None,
        bool(f["restricted"]),
        frozenset(f["shared_with"]),
        outside_addressee=bool(f["outside"]),
    )


class FollowUpFacts(Protocol):
    """What shows an order's follow-up request: an ``Order``, or a row of a list's page (``store.Listed``)."""

    @property
    def workspace_id(self) -> str: ...
    @property
    def origin_jurisdiction(self) -> str: ...
    @property
    def follow_up_request_id(self) -> str: ...
    @property
    def follow_up_facts(self) -> str: ...


def issuer_taken_out(issuer: str, members: Iterable[str]) -> bool:
    """The order's issuing jurisdiction was taken out of the workspace whose ``members`` these are
    (``policy.Members``; rule ORDER_ISSUER_TAKEN_OUT): derived when read, never stored."""
    return issuer in former_members(members)


def follow_up_shown(principal: Principal, order: FollowUpFacts) -> bool:
    """Whether an answer to ``principal`` names the order's follow-up request (``follow_up_request_id``): only
    when the policy lets them read that request (``decide(READ)`` on its facts), so that its id tells nobody
    else that it exists (DOMAIN.md: NOT_FOUND, never a hint)."""
    if not order.follow_up_request_id:
        return False
    access = follow_up_access(order.workspace_id, order.origin_jurisdiction, order.follow_up_facts)
    return decide(principal, Operation.READ, record=access) is Decision.ALLOW


def confirmation_overdue(state: OrderState, issued_at: datetime | None, now: datetime, limit: timedelta) -> bool:
    """An order in ``state``, issued at ``issued_at``, is issued and unconfirmed for longer than ``limit``."""
    return state is OrderState.ISSUED and issued_at is not None and issued_at + limit < now


def clock_runs(state: OrderState, expires_at: datetime | None) -> bool:
    """An order in ``state`` with ``expires_at`` has a clock that warns about and expires it."""
    return state in CLOCK_STATES and expires_at is not None


class BasisFacts(Protocol):
    """What an order's clock rule depends on (``Rules.clock_for``): its basis and its provider."""

    @property
    def legal_basis(self) -> LegalBasis: ...
    @property
    def provider_id(self) -> str: ...


class ClockFacts(Protocol):
    """What the actions an order allows now depend on (``refused``, ``allowed_actions``, ``Rules.clock_for``):
    an ``Order``, or a row of a list's page that holds these columns alone (``store.Listed``)."""

    @property
    def state(self) -> OrderState: ...
    @property
    def legal_basis(self) -> LegalBasis: ...
    @property
    def provider_id(self) -> str: ...
    @property
    def expires_at(self) -> datetime | None: ...
    @property
    def extension_count(self) -> int: ...
    @property
    def issued_at(self) -> datetime | None: ...
    @property
    def enforcing_jurisdiction(self) -> str: ...
    @property
    def enforcement_decided_at(self) -> datetime | None: ...
    def clock_runs(self) -> bool: ...
    def access(self) -> RecordAccess: ...


# ---- the warning schedule ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Warning:
    """One warning of one expiry: ``offset`` before ``expires_at`` (zero: the expiry itself)."""

    offset: timedelta
    due_at: datetime
    expires_at: datetime
    first: bool
    #: Set on the warning that a failed production request sends when it brings the clock back
    #: (``production_ended_warning``): which request, how it failed, and what the issuer is told.
    production_request_id: str = ""
    production_outcome: ProductionOutcome | None = None
    reason: str = ""
    #: A warning of the end of the non-disclosure order suppressing the user notice (``notice_warning``):
    #: ``expires_at`` is that end, ``offset`` zero the warning that it has lapsed.
    notice: bool = False
    #: A warning of the enforcing state's deadline to decide on recognition (``enforcement_warning``):
    #: ``expires_at`` is that deadline, ``offset`` zero the warning that it has passed.
    enforcement: bool = False

    @property
    def at_expiry(self) -> bool:
        return (
            self.offset == timedelta(0) and self.production_outcome is None and not self.notice and not self.enforcement
        )

    def key(self, order_id: str) -> str:
        """Stable and unique per order, offset and expiry (an extension starts a new series)."""
        return warning_key(order_id, int(self.offset.total_seconds()), self.expires_at.isoformat())


def warning_key(order_id: str, offset_seconds: int, expires_iso: str) -> str:
    """The alert key of one warning (``Warning.key``; ``expires_iso``: the expiry's isoformat in UTC). The
    scanner records it in ``alerts_sent``, so it must not change between releases (a warning sent before an
    upgrade would be sent again)."""
    return f"{order_id}:warn:{offset_seconds}:{expires_iso}"


def parse_offsets(text: str) -> tuple[timedelta, ...]:
    """``"14d,7d,48h"`` -> offsets, longest first, each once (``jitlib.durations``: units w, d, h, m, s)."""
    return tuple(sorted(set(durations.parse_list(text)), reverse=True))


@functools.cache
def _longest_first(offsets: tuple[timedelta, ...]) -> tuple[timedelta, ...]:
    return tuple(sorted(set(offsets), reverse=True))


def _dues(order: Order, offsets: tuple[timedelta, ...]) -> list[tuple[timedelta, datetime]]:
    """(offset, due time) of every warning of the order's current expiry, in due order, the one at expiry
    last; see ``warning_schedule``."""
    expires = order.expires_at
    if expires is None or not order.clock_runs():
        return []
    return _series_dues(expires, order.clock_started_at or order.confirmed_at or expires, offsets)


def _series_dues(
    expires: datetime, start: datetime, offsets: tuple[timedelta, ...]
) -> list[tuple[timedelta, datetime]]:
    """(offset, due time) of the warnings of ``expires``, set at ``start``: those not due before it."""
    dues = [(o, expires - o) for o in _longest_first(offsets) if expires - o >= start]
    dues.append((timedelta(0), expires))
    return dues


def _first_due(expires: datetime, start: datetime, offsets: tuple[timedelta, ...]) -> datetime:
    """The first warning of a running clock's expiry ``expires`` set at ``start`` (``next_alert_at``)."""
    return _series_dues(expires, start, offsets)[0][1]


def warning_schedule(order: Order, offsets: tuple[timedelta, ...]) -> list[Warning]:
    """Every warning of the order's current expiry, in due order, the one at expiry last.

    A warning whose due time lies before the expiry was set (a short clock, or an extension granted late)
    is not scheduled: it would announce more time than is left.
    """
    # due + offset: the expiry
    return [Warning(o, d, d + o, first=i == 0) for i, (o, d) in enumerate(_dues(order, offsets))]


def next_alert_at(order: Order, offsets: tuple[timedelta, ...], after: datetime | None = None) -> datetime | None:
    """When the scanner must next look at the order: the first warning due after ``after`` (or at all)."""
    for _, due in _dues(order, offsets):
        if after is None or due > after:
            return due
    return None


@functools.cache
def series_offsets(offsets: tuple[timedelta, ...]) -> tuple[tuple[timedelta, int], ...]:
    """The offsets of one series of warnings in due order, the expiry's (zero) last, each with its whole
    seconds (the key's field): what the scan tests each due order against, built once per configuration."""
    return tuple((o, int(o.total_seconds())) for o in (*_longest_first(offsets), timedelta(0)))


class DueWarning(NamedTuple):
    """A warning the scan found due, as the emitter finds it again: which order, which warning of which
    expiry."""

    order_id: str
    offset: timedelta
    expires_at: datetime


def due_warnings(
    due: Iterable[tuple[str, datetime, timedelta, str]],
    offsets: tuple[timedelta, ...],
    now: datetime,
) -> list[tuple[str, datetime, tuple[str, timedelta, datetime]]]:
    """The warnings due by ``now`` and not sent yet of each order the scan found, given as (order id, expiry,
    lead, the expiry's isoformat) where ``lead`` is the expiry less the order's next_alert_at: the offset of
    its first warning not sent yet. Each as the alert ``jitlib.alerts`` sends: (its alert key, its due time,
    the fields of its ``DueWarning``), plain tuples (a scan makes hundreds; a NamedTuple costs ten times a
    tuple to build; the scanner names the ones it sends). next_alert_at is always one of the order's
    scheduled due times (every write sets it from ``next_alert_at``, NULL when the clock does not run), so
    every offset up to ``lead`` whose time has come is scheduled too: the warnings are found from the expiry
    alone, without the rest of the order. Usually one per order; several when the service was down while
    they fell due, in due order. What the warning says (``first``) the emitter reads from the whole order
    (``scheduled_warning``), once per warning it sends."""
    series = series_offsets(offsets)
    start = _series_start(offsets)
    last = len(series)
    # The warning ``o`` before an expiry is due by now when the expiry is at most now + o.
    horizon = [now + o for o, _ in series]
    out: list[tuple[str, datetime, tuple[str, timedelta, datetime]]] = []
    add = out.append
    for order_id, expires, lead, iso in due:
        i = start.get(lead)
        if i is None:  # not an offset of the series (the configuration changed): the first one after it
            i = next((k for k, (o, _) in enumerate(series) if o <= lead), last)
        while i < last and expires <= horizon[i]:
            offset, seconds = series[i]
            # warning_key's text, written out here (called once per due warning of every scan).
            add((f"{order_id}:warn:{seconds}:{iso}", expires - offset, (order_id, offset, expires)))
            i += 1
    return out


@functools.cache
def _series_start(offsets: tuple[timedelta, ...]) -> dict[timedelta, int]:
    """Where in ``series_offsets`` each of its offsets stands: where an order's warnings not sent yet begin."""
    return {o: i for i, (o, _) in enumerate(series_offsets(offsets))}


def scheduled_warning(order: Order, offsets: tuple[timedelta, ...], offset: timedelta) -> Warning | None:
    """The warning ``offset`` before the order's current expiry, if its schedule has one."""
    return next((w for w in warning_schedule(order, offsets) if w.offset == offset), None)


_OUTCOME_WORDS = {
    ProductionOutcome.REFUSED: "refused",
    ProductionOutcome.WITHDRAWN: "withdrawn",
    ProductionOutcome.NOT_EXECUTED: "not executed",
}


def production_ended_warning(
    order: Order, request_id: str, outcome: ProductionOutcome, now: datetime
) -> Warning | None:
    """The warning to the issuer that ``order``, just resumed (``apply(..., "resume")``), runs again until
    its expiry because its production request failed; None when the order has no expiry to announce (a
    voluntary order the provider has not confirmed yet). The earliest warning of that expiry (``first``):
    the issuer must act now (request production again, extend, or lift)."""
    if order.expires_at is None:
        return None
    until = order.expires_at.strftime("%Y-%m-%d %H:%M UTC")
    if stops_at_production(order.legal_basis):
        told = f"preservation runs again until {until}, the time that was left when production was requested"
        cite = legal.cite(RESUME_RULE.id)
    else:
        told = f"preservation still runs until {until}, the {order.legal_basis.value} period"
        cite = legal.cite(AT_PRODUCTION[order.legal_basis][1].id)
    return Warning(
        offset=max(order.expires_at - now, timedelta(0)),
        due_at=now,
        expires_at=order.expires_at,
        first=True,
        production_request_id=request_id,
        production_outcome=outcome,
        reason=f"the production request was {_OUTCOME_WORDS[outcome]}; {told} {cite}",
    )


def not_counted_warning(order: Order, request_id: str, why: str, now: datetime) -> Warning | None:
    """The warning to the issuer that evidence request ``request_id``, linked to ``order``, is not its
    production request (``why``, ``production_not_counted``): the preservation still ends at its expiry, the
    earliest warning of it (``first``). None when the order has no running clock."""
    if order.expires_at is None or not order.clock_runs():
        return None
    until = order.expires_at.strftime("%Y-%m-%d %H:%M UTC")
    return Warning(
        offset=max(order.expires_at - now, timedelta(0)),
        due_at=now,
        expires_at=order.expires_at,
        first=True,
        production_request_id=request_id,
        production_outcome=ProductionOutcome.NOT_COUNTED,
        reason=(
            f"the linked evidence request does not keep the data preserved: {why}; preservation still ends "
            f"{until} unless production is requested where the data are, or the order is extended "
            f"{legal.cite(PRODUCTION_FOR_THE_DATA_RULE.id)}"
        ),
    )


# ---- the user notice and the end of its suppression (PRESERVATION_USER_NOTICE_SUPPRESSION_LAPSES) ------

NOTICE_RULE = legal.rule("PRESERVATION_USER_NOTICE_SUPPRESSION_LAPSES")
#: The warnings before a non-disclosure order ends, as the evidence service's deadlines warn (48 h, 8 h);
#: one more is sent when it has ended (configured: JIT_PRESERVATION_NOTICE_WARNING_OFFSETS).
NOTICE_OFFSETS = (timedelta(hours=48), timedelta(hours=8))


class NoticeFacts(Protocol):
    """What shows whether an order's user notice suppression has lapsed: an ``Order``, or a row of a list's
    page (``store.Listed``)."""

    @property
    def user_notice_status(self) -> str: ...
    @property
    def user_notice_suppressed_until(self) -> datetime | None: ...


def suppression_lapses_at(order: NoticeFacts) -> datetime | None:
    """When the non-disclosure order recorded on the order ends (``jitlib.usernotice.lapses_at``); None when
    the user notice is not suppressed."""
    return usernotice.lapses_at(order.user_notice_status, order.user_notice_suppressed_until)


def suppression_lapsed(order: NoticeFacts, now: datetime) -> bool:
    """Whether the order's user notice is suppressed by a non-disclosure order that has ended at ``now``
    (derived when read, never stored; whatever the order's state)."""
    return usernotice.lapsed(order.user_notice_status, order.user_notice_suppressed_until, now)


def _notice_dues(order: Order, offsets: tuple[timedelta, ...]) -> list[tuple[timedelta, datetime]]:
    """(offset, due time) of every warning of the end of the order's non-disclosure order, in due order, the
    one at its end last; none while the order is a draft (the provider has not received it) or its notice
    is not suppressed."""
    until = suppression_lapses_at(order)
    if until is None or order.state is OrderState.DRAFT:
        return []
    return [(o, until - o) for o in (*_longest_first(offsets), timedelta(0))]


def next_notice_alert_at(
    order: Order, offsets: tuple[timedelta, ...], *, since: datetime | None = None, after: datetime | None = None
) -> datetime | None:
    """When the scanner must next warn of the end of the order's non-disclosure order: planned ``since`` a
    change (the first warning not due before it: one whose moment passed would announce more time than is
    left; the one at its end always), or the warning due ``after`` the one just sent. None when none is."""
    for offset, due in _notice_dues(order, offsets):
        if after is not None:
            if due > after:
                return due
        elif since is None or due >= since or offset == timedelta(0):
            return due
    return None


def notice_plan_changed(before: Order, after: Order) -> bool:
    """Whether a change moves the warnings of the order's non-disclosure order: its notice or its end
    changed, or the order left DRAFT (from then on the provider has it)."""
    return (before.user_notice_status, before.user_notice_suppressed_until) != (
        after.user_notice_status,
        after.user_notice_suppressed_until,
    ) or (before.state is OrderState.DRAFT) != (after.state is OrderState.DRAFT)


class NoticeDue(NamedTuple):
    """A warning of the end of a non-disclosure order the scan found due (``due_notice_warnings``): which
    order, how long before that end, and the end."""

    order_id: str
    offset: timedelta
    until: datetime


def due_notice_warnings(
    due: Iterable[tuple[str, datetime, datetime]], offsets: tuple[timedelta, ...], now: datetime
) -> list[tuple[str, datetime, NoticeDue]]:
    """The warnings of the end of a non-disclosure order due by ``now`` and not sent yet, of each order the
    scan found, given as (order id, the suppression's end, its next notice warning's due time), each as the
    alert ``jitlib.alerts`` sends: (its key, its due time, its ``NoticeDue``). The key names the order, the
    offset and the end: a renewal (another end) starts a new series, and none is sent twice."""
    out: list[tuple[str, datetime, NoticeDue]] = []
    series = (*_longest_first(offsets), timedelta(0))
    for order_id, until, next_at in due:
        for offset in series:
            at = until - offset
            if next_at <= at <= now:
                key = f"{order_id}:notice:{int(offset.total_seconds())}:{until.isoformat()}"
                out.append((key, at, NoticeDue(order_id, offset, until)))
    return out


def notice_warning(order: Order, offsets: tuple[timedelta, ...], offset: timedelta) -> Warning | None:
    """The warning ``offset`` before the end of the order's non-disclosure order (zero: it has ended), if its
    schedule has one; never ``first`` (it asks for no follow-up of the preservation's expiry)."""
    until = suppression_lapses_at(order)
    due = next((d for o, d in _notice_dues(order, offsets) if o == offset), None)
    if until is None or due is None:
        return None
    when = until.strftime("%Y-%m-%d %H:%M UTC")
    cite = legal.cite(NOTICE_RULE.id)
    if offset:
        reason = (
            f"the non-disclosure order suppressing the provider's notice to the account holder ends in "
            f"{durations.words(offset)} ({when}): renew it, or the provider may tell the account holder that "
            f"their data were preserved {cite}"
        )
    else:
        reason = (
            f"the non-disclosure order suppressing the provider's notice to the account holder ended at {when}: "
            f"the provider may now tell the account holder that their data were preserved; renew it, or record "
            f"the notice {cite}"
        )
    return Warning(offset=offset, due_at=due, expires_at=until, first=False, reason=reason, notice=True)


# ---- the enforcing state's recognition deadline (EPOC_PR_ENFORCEMENT_RECOGNITION_WITHIN_5_WORKING_DAYS) ----

ENFORCEMENT_DEADLINE_RULE = legal.rule("EPOC_PR_ENFORCEMENT_RECOGNITION_WITHIN_5_WORKING_DAYS")
#: The warnings before the enforcing state's deadline, as the evidence service warns of its deadlines (48 h,
#: 8 h); one more when it has passed.
ENFORCEMENT_OFFSETS = (timedelta(hours=48), timedelta(hours=8))


class EnforcementFacts(Protocol):
    """What the enforcing state's deadline is worked out from."""

    @property
    def state(self) -> OrderState: ...
    @property
    def enforcing_jurisdiction(self) -> str: ...
    @property
    def enforcement_requested_at(self) -> datetime | None: ...
    @property
    def enforcement_decided_at(self) -> datetime | None: ...


class PendingFacts(Protocol):
    """What shows whether the enforcing state's decision is pending: an ``Order``, or a listed row."""

    @property
    def state(self) -> OrderState: ...
    @property
    def enforcing_jurisdiction(self) -> str: ...
    @property
    def enforcement_decided_at(self) -> datetime | None: ...


ENFORCEMENT_PENDING_RULE = legal.rule("EPOC_PR_ENFORCEMENT_PENDING_DURING_PRODUCTION")


def enforcement_pending(order: PendingFacts) -> bool:
    """The enforcing state has the order and has not decided yet: IN_ENFORCEMENT, or PRODUCTION_REQUESTED from
    there (EPOC_PR_ENFORCEMENT_PENDING_DURING_PRODUCTION: the decision, its deadline and warnings go on)."""
    return (
        order.state in (OrderState.IN_ENFORCEMENT, OrderState.PRODUCTION_REQUESTED)
        and bool(order.enforcing_jurisdiction)
        and order.enforcement_decided_at is None
    )


def enforcement_due_at(order: EnforcementFacts) -> datetime | None:
    """When the enforcing state's 5 working days to decide on recognising the transferred order end, in its
    calendar (``jitlib.periods.enforcement_decision_due``, the evidence service's count of the same deadline);
    None unless the order waits for that decision (``enforcement_pending``: IN_ENFORCEMENT, or
    PRODUCTION_REQUESTED from there)."""
    received = order.enforcement_requested_at
    if not enforcement_pending(order) or received is None:
        return None
    return enforcement_decision_due(received, order.enforcing_jurisdiction)


def _enforcement_dues(order: Order, offsets: tuple[timedelta, ...]) -> list[tuple[timedelta, datetime]]:
    """(offset, due time) of the warnings of the enforcing state's deadline, in due order, the one at the
    deadline last; a warning due before the transfer is none (it would announce more time than there was)."""
    due = enforcement_due_at(order)
    if due is None:
        return []
    start = order.enforcement_requested_at
    assert start is not None  # enforcement_due_at
    return [(o, due - o) for o in _longest_first(offsets) if due - o > start] + [(timedelta(0), due)]


def next_enforcement_alert_at(
    order: Order, offsets: tuple[timedelta, ...], *, after: datetime | None = None
) -> datetime | None:
    """When the scanner must next warn of the enforcing state's deadline: its first warning, or the one due
    ``after`` the one just sent; None when none is (not in enforcement, or all sent)."""
    return next((due for _, due in _enforcement_dues(order, offsets) if after is None or due > after), None)


def enforcement_plan_changed(before: Order, after: Order) -> bool:
    """Whether a change moves the warnings of the enforcing state's deadline: the deadline began (a transfer)
    or ended (a decision, a lift, an expiry). A production request from IN_ENFORCEMENT, and its failure that
    brings the order back there, keep the deadline and so the warnings planned: none lost, none sent twice
    (EPOC_PR_ENFORCEMENT_PENDING_DURING_PRODUCTION)."""
    return enforcement_due_at(before) != enforcement_due_at(after)


class EnforcementDue(NamedTuple):
    """A warning of the enforcing state's deadline the scan found due (``due_enforcement_warnings``)."""

    order_id: str
    offset: timedelta
    due: datetime


def due_enforcement_warnings(
    due: Iterable[tuple[str, datetime, datetime]], offsets: tuple[timedelta, ...], now: datetime
) -> list[tuple[str, datetime, EnforcementDue]]:
    """The warnings of the enforcing state's deadline due by ``now`` and not sent yet, of each order the scan
    found as (order id, the deadline, its next warning's due time), each as the alert ``jitlib.alerts`` sends:
    (its key, its due time, its ``EnforcementDue``). The key names the order, the offset and the deadline:
    sent once each, across scans, restarts and replicas."""
    out: list[tuple[str, datetime, EnforcementDue]] = []
    series = (*_longest_first(offsets), timedelta(0))
    for order_id, deadline, next_at in due:
        for offset in series:
            at = deadline - offset
            if next_at <= at <= now:
                key = f"{order_id}:enforcement:{int(offset.total_seconds())}:{deadline.isoformat()}"
                out.append((key, at, EnforcementDue(order_id, offset, deadline)))
    return out


def enforcement_warning(order: Order, offsets: tuple[timedelta, ...], offset: timedelta) -> Warning | None:
    """The warning ``offset`` before the enforcing state's deadline to decide (zero: it has passed), if its
    schedule has one; never ``first`` (no follow-up of the preservation's expiry)."""
    due = enforcement_due_at(order)
    at = next((d for o, d in _enforcement_dues(order, offsets) if o == offset), None)
    if due is None or at is None:
        return None
    when = due.strftime("%Y-%m-%d %H:%M UTC")
    state, cite = order.enforcing_jurisdiction, legal.cite(ENFORCEMENT_DEADLINE_RULE.id)
    if offset:
        reason = (
            f"{state} decides on recognising this European Preservation Order within {durations.words(offset)} "
            f"({when}), 5 working days of its own from the transfer {cite}"
        )
    else:
        reason = (
            f"{state}'s 5 working days to decide on recognising this European Preservation Order ended at {when} "
            f"without a decision {cite}"
        )
    return Warning(offset=offset, due_at=at, expires_at=due, first=False, reason=reason, enforcement=True)


# ---- transitions -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Transition:
    action: str
    #: Past-tense event name, also the last token of the NATS subject.
    event: str
    operation: Operation
    sources: frozenset[OrderState]
    target: OrderState


def _t(
    action: str, event: str, sources: set[OrderState], target: OrderState, operation: Operation = Operation.ISSUER_ACT
) -> Transition:
    return Transition(action, event, operation, frozenset(sources), target)


S = OrderState
TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        _t("issue", "issued", {S.DRAFT}, S.ISSUED),
        # An order extended before the provider confirmed it is EXTENDED once confirmed.
        _t("confirm", "confirmed", {S.ISSUED}, S.CONFIRMED),
        # ISSUED, PRODUCTION_REQUESTED and IN_ENFORCEMENT stay where they are (their running clock is extended).
        _t(
            "extend",
            "extended",
            {S.ISSUED, S.CONFIRMED, S.EXTENDED, S.PRODUCTION_REQUESTED, S.IN_ENFORCEMENT},
            S.EXTENDED,
        ),
        # From IN_ENFORCEMENT too: the production request stops an EPOC-PR's clock there as from ISSUED, and a
        # failed one brings the order back there (EPOC_PR_ENFORCEMENT_PENDING_DURING_PRODUCTION).
        _t(
            "request_production",
            "production_requested",
            {S.ISSUED, S.CONFIRMED, S.EXTENDED, S.IN_ENFORCEMENT},
            S.PRODUCTION_REQUESTED,
        ),
        _t("mark_produced", "produced", {S.PRODUCTION_REQUESTED}, S.PRODUCED),
        _t("lift", "lifted", set(OPEN_STATES), S.LIFTED),
        _t("record_not_executed", "not_executed", {S.ISSUED, S.CONFIRMED, S.EXTENDED}, S.NOT_EXECUTED),
        # Taken by the service's clock, never by an RPC.
        _t("expire", "expired", set(CLOCK_STATES), S.EXPIRED),
        # Taken by the evidence consumer when the linked production request is refused, withdrawn or not
        # executed: back to ISSUED, CONFIRMED or EXTENDED (``resumed_state``).
        _t("resume", "resumed", {S.PRODUCTION_REQUESTED}, S.CONFIRMED),
        # Keeps the state (``apply``); decided by PRESERVATION_USER_NOTICE_RULES (``RULES_FOR``): a prosecutor's.
        _t("update_user_notice", "user_notice_updated", set(OrderState), S.DRAFT),
        # Enforcement of an EPOC-PR the provider did not comply with (Reg. (EU) 2023/1543 Art. 16): the issuing
        # side's prosecutor transfers it once the provider is in default (``_enforcement_refused``); the
        # enforcing state's prosecutor, its addressee from then on, recognises it (back to ISSUED: the
        # provider is required to preserve) or refuses recognition (PRESERVATION_ENFORCEMENT_RULES); while a
        # production request made from IN_ENFORCEMENT is pending too (``enforcement_pending``: a recognition
        # leaves the order PRODUCTION_REQUESTED; EPOC_PR_ENFORCEMENT_PENDING_DURING_PRODUCTION).
        _t("transfer_for_enforcement", "enforcement_requested", {S.ISSUED, S.NOT_EXECUTED}, S.IN_ENFORCEMENT),
        _t(
            "recognise_enforcement",
            "enforcement_recognised",
            {S.IN_ENFORCEMENT, S.PRODUCTION_REQUESTED},
            S.ISSUED,
            Operation.ADDRESSEE_ACT,
        ),
        _t(
            "refuse_enforcement",
            "enforcement_refused",
            {S.IN_ENFORCEMENT, S.PRODUCTION_REQUESTED},
            S.NOT_ENFORCED,
            Operation.ADDRESSEE_ACT,
        ),
    )
}
#: The transitions of the enforcement procedure: a prosecutor's acts on either side, never a police liaison's.
ENFORCEMENT_ACTIONS = frozenset({"transfer_for_enforcement", "recognise_enforcement", "refuse_enforcement"})
#: The transitions decided by other rules than the order's (PRESERVATION_ORDER_RULES).
RULES_FOR = {
    "update_user_notice": PRESERVATION_USER_NOTICE_RULES,
    **{action: PRESERVATION_ENFORCEMENT_RULES for action in ENFORCEMENT_ACTIONS},
}
#: Transitions only the service itself takes (its clock, its evidence consumer): no caller may, so no
#: order lists them as allowed.
CLOCK_ONLY = frozenset({"expire", "resume"})


def resumed_state(order: Order) -> OrderState:
    """The state an order returns to when its production request fails: the one before
    PRODUCTION_REQUESTED, read from what the order records: IN_ENFORCEMENT while the enforcing state has not
    decided (EPOC_PR_ENFORCEMENT_PENDING_DURING_PRODUCTION; a transfer is the only way there, and a decision
    is recorded), else by its confirmation and extensions."""
    if enforcement_pending(order):
        return OrderState.IN_ENFORCEMENT
    if order.confirmed_at is None:
        return OrderState.ISSUED
    return OrderState.EXTENDED if order.extension_count else OrderState.CONFIRMED


@dataclass(frozen=True)
class TransitionInput:
    reason: str = ""
    issued_at: datetime | None = None
    not_executed_reason: str = ""
    confirmed_at: datetime | None = None
    #: When the provider received the order (IssueOrder, ConfirmOrder); unset: the issue time.
    received_at: datetime | None = None
    provider_reference: str = ""
    follow_up_request_id: str = ""
    #: When the production request was issued (the evidence consumer: the linked request's ``issued_at``);
    #: unset: now. ``request_production`` is judged and recorded at this instant (``production_judged_at``).
    requested_at: datetime | None = None
    #: UpdateUserNotice: the provider's notice to the account holder, and the end of its suppression.
    user_notice_status: str = ""
    user_notice_suppressed_until: datetime | None = None
    #: TransferForEnforcement: the enforcing state as given ("" for the provider's establishment).
    enforcing_jurisdiction: str = ""
    #: RefuseEnforcement: the ground of Art. 16(4) ("" when none was given; "UNKNOWN" for an unknown value).
    enforcement_ground: str = ""


def notice_unchanged(order: Order, data: TransitionInput) -> bool:
    """Whether ``UpdateUserNotice`` with ``data`` asks for what the order records already (a retry): then
    nothing is written, whatever version the caller saw."""
    return (order.user_notice_status, order.user_notice_suppressed_until) == (
        data.user_notice_status,
        data.user_notice_suppressed_until,
    )


def provider_id_violations(
    name: str, value: str, providers: dict[str, Provider] | None, *, required: bool
) -> list[FieldViolation]:
    """A provider id: well-formed (checked first, so an unbounded value is never looked up or echoed) and,
    when ``providers`` is given, in the register."""
    if not value:
        return [FieldViolation(name, "is required")] if required else []
    if not PROVIDER_ID.fullmatch(value):
        return [FieldViolation(name, "must be a provider id (letters, digits, . _ -; at most 64 characters)")]
    if providers is not None and value not in providers:
        return [FieldViolation(name, "is not in the provider register (jit preservation providers)")]
    return []


def transition_violations(action: str, data: TransitionInput, now: datetime) -> list[FieldViolation]:
    """Input checks that need no database. A stated issue or confirmation time lies in the past (a few
    minutes of clock skew allowed) and within the bound of ``jitlib.validate.past_date``; a confirmation
    before the issue is refused once the order is loaded (``apply``: CONFIRMED_BEFORE_ISSUE)."""
    out: list[FieldViolation] = []
    if action == "lift":
        out += validate.text("reason", data.reason, required=True, maximum=validate.REASON_MAX)
    if action == "record_not_executed":
        if data.not_executed_reason not in NOT_EXECUTED_REASONS:
            out.append(FieldViolation("reason", "must be a non-execution reason of Annex III"))
        out += validate.text("details", data.reason, required=False, maximum=validate.REASON_MAX)
    if action == "issue":
        out += validate.past_date("issued_at", data.issued_at, now + CLOCK_SKEW)
        received = validate.past_date("received_at", data.received_at, now + CLOCK_SKEW)
        out += received
        if not received and data.received_at is not None and data.received_at < (data.issued_at or now):
            out.append(FieldViolation("received_at", "must not be before issued_at (unset: now): it was sent first"))
    if action == "confirm":
        out += validate.text("provider_reference", data.provider_reference, required=False, maximum=REFERENCE_MAX)
        out += validate.past_date("confirmed_at", data.confirmed_at, now + CLOCK_SKEW)
        received = validate.past_date("received_at", data.received_at, now + CLOCK_SKEW)
        out += received
        if not received and data.received_at is not None and data.received_at > (data.confirmed_at or now):
            out.append(
                FieldViolation("received_at", "must not be after confirmed_at (unset: now): it was received first")
            )
    if action == "request_production" and not is_uuid(data.follow_up_request_id):
        out.append(FieldViolation("follow_up_request_id", "must be the evidence request's UUID"))
    if action == "update_user_notice":
        out += usernotice.violations(
            "status", data.user_notice_status, "suppressed_until", data.user_notice_suppressed_until, now
        )
    if action in ("transfer_for_enforcement", "recognise_enforcement"):
        out += validate.text("note", data.reason, required=False, maximum=validate.REASON_MAX)
    given = data.enforcing_jurisdiction
    if action == "transfer_for_enforcement" and given and not is_jurisdiction(given):
        out.append(FieldViolation("enforcing_jurisdiction", "must be an ISO 3166-1 alpha-2 code in upper case"))
    if action == "refuse_enforcement":
        out += enforcement_ground_violations(data.enforcement_ground)
        out += validate.text("detail", data.reason, required=False, maximum=validate.REASON_MAX)
    return out


def enforcement_ground_violations(ground: str) -> list[FieldViolation]:
    """A refusal of recognition names a ground of the closed list of Art. 16(4), the evidence service's
    (``legal.ENFORCEMENT_REFUSAL_GROUNDS``, rule EPOC_ENFORCEMENT_REFUSAL_GROUNDS)."""
    if ground in legal.ENFORCEMENT_REFUSAL_GROUNDS:
        return []
    grounds = ", ".join(legal.ENFORCEMENT_REFUSAL_GROUNDS)
    why = "is required" if not ground else "is not a ground of Art. 16(4)"
    return [FieldViolation("ground", f"{why}: one of {grounds} {legal.cite('EPOC_ENFORCEMENT_REFUSAL_GROUNDS')}")]


def enforcing_state(order: Order, given: str, rule: ClockRule) -> str:
    """The state a transfer names (EPOC_PR_ENFORCEMENT_TRANSFER): ``given``, or the provider's establishment
    as the register has it (an EPOC-PR's clock ``rule`` is counted there: ``ClockRule.counted_in``)."""
    return given or (rule.counted_in or "")


def enforcing_violations(order: Order, state: str) -> list[FieldViolation]:
    """The enforcing state of a transfer: a member state bound by the Regulation other than the issuer's
    (EPOC_PR_ENFORCEMENT_TRANSFER). Never echoes what was given."""
    name, cite = "enforcing_jurisdiction", legal.cite("EPOC_PR_ENFORCEMENT_TRANSFER")
    if not state:
        return [FieldViolation(name, f"is required: the order's provider is no longer in the register {cite}")]
    if state == order.origin_jurisdiction:
        return [FieldViolation(name, f"is the issuing state: the order is enforced by another member state {cite}")]
    if state not in legal.EPOC_BOUND_STATES:
        return [FieldViolation(name, f"must be a member state bound by Reg. (EU) 2023/1543 {cite}")]
    return []


_APPLIES_FROM = legal.EPOC_APPLIES_FROM.date().isoformat()


def issue_violations(order: ClockFacts, data: TransitionInput) -> list[FieldViolation]:
    """What of an issue's stated dates the order's basis refuses, once the order is loaded: an EPOC-PR
    recorded as issued before 18 August 2026, when Reg. 2023/1543 applies, is INVALID_ARGUMENT naming
    ``issued_at`` (``legal.rule("EPOC_PR_APPLIES_FROM_18_AUGUST_2026")``); its receipt is never before its
    issue (``transition_violations``). Issuing one before that day by the service's clock is ``refused``."""
    if order.legal_basis is not LegalBasis.EPOC_PR or data.issued_at is None:
        return []
    if data.issued_at >= legal.EPOC_APPLIES_FROM:
        return []
    return [
        FieldViolation(
            "issued_at",
            f"a European Preservation Order is not issued before {_APPLIES_FROM}, when Reg. (EU) 2023/1543 "
            "applies: one sent earlier was another instrument (BUDAPEST_ART29, NATIONAL) "
            + legal.cite("EPOC_PR_APPLIES_FROM_18_AUGUST_2026"),
        )
    ]


def _illegal(order: ClockFacts, t: Transition) -> FailedPrecondition:
    return FailedPrecondition(
        "ILLEGAL_TRANSITION",
        f"cannot {t.action.replace('_', ' ')} a preservation order that is {order.state.value}",
        {"action": t.action, "state": order.state.value, "allowed_from": ",".join(sorted(s.value for s in t.sources))},
    )


#: What makes the error saying why a transition is refused (``refused``): made only when it is raised.
Refused = Callable[[], FailedPrecondition]


#: An order issued and unconfirmed for longer than this is "confirmation overdue" (the node's setting,
#: ``Rules.confirmation_overdue_after``, JIT_PRESERVATION_CONFIRMATION_OVERDUE_DAYS, by default).
CONFIRMATION_OVERDUE_AFTER = timedelta(days=3)


def refusal(
    order: ClockFacts,
    action: str,
    rule: ClockRule,
    now: datetime,
    *,
    overdue_after: timedelta = CONFIRMATION_OVERDUE_AFTER,
) -> FailedPrecondition | None:
    """Why the order's state, or for an extension its clock ``rule`` at ``now``, does not allow ``action``
    (None when they do): what ``apply`` checks before it changes anything (``refused``, with its error made).
    A confirmation stated before the issue is refused by ``apply`` too: that depends on the input."""
    why = refused(order, action, rule, now, overdue_after=overdue_after)
    return why() if why is not None else None


def refused(
    order: ClockFacts,
    action: str,
    rule: ClockRule,
    now: datetime,
    *,
    overdue_after: timedelta = CONFIRMATION_OVERDUE_AFTER,
) -> Refused | None:
    """None when the order's state, and for an extension or a production request its clock ``rule`` at
    ``now``, allow ``action``; else what makes the error saying why (``refusal``). The one rule ``apply``
    checks and ``allowed_actions`` asks (which makes no error for what it leaves out). ``overdue_after``: when
    an unconfirmed order's provider is in default, for a transfer for enforcement (the node's setting)."""
    t = TRANSITIONS[action]
    if order.state not in t.sources and not _requested_before_it_expired(order, action, now):
        return lambda: _illegal(order, t)
    if action in ENFORCEMENT_ACTIONS:
        return _enforcement_refused(order, action, now, overdue_after)
    if action in ("extend", "expire") and not order.clock_runs():
        return lambda: _no_clock(order, t)
    if action == "extend":
        return _extension_refused(order, rule, now)
    if action == "issue" and order.legal_basis is LegalBasis.EPOC_PR and now < legal.EPOC_APPLIES_FROM:
        return lambda: FailedPrecondition(
            "INSTRUMENT_NOT_APPLICABLE_YET",
            f"a European Preservation Order is issued only from {_APPLIES_FROM}, "
            "when Reg. (EU) 2023/1543 applies: keep it as a draft until then "
            + legal.cite("EPOC_PR_APPLIES_FROM_18_AUGUST_2026"),
            {"action": action, "legal_basis": order.legal_basis.value, "applies_from": _APPLIES_FROM},
        )
    if action == "request_production" and order.clock_runs():
        expires = order.expires_at
        assert expires is not None
        if now >= expires:
            # The service's clock has not expired it yet (between scans, or the node was down): it has ended
            # all the same, and the scan expires it.
            return lambda: FailedPrecondition(
                "PRESERVATION_EXPIRED",
                f"the preservation ended at {expires.isoformat()}, before production was requested: the order "
                f"expires {legal.cite(PRODUCTION_BEFORE_EXPIRY_RULE.id)}",
                {"action": action, "expires_at": expires.isoformat()},
            )
    return None


def _requested_before_it_expired(order: ClockFacts, action: str, now: datetime) -> bool:
    """An EPOC-PR or Budapest Art. 29 order that the clock expired, asked to ``request_production`` at an
    instant before its expiry (a production request issued in time whose event came after the expiry): it
    is preserved until production (PRESERVATION_PRODUCTION_REQUESTED_BEFORE_EXPIRY). Never from an RPC, which
    is judged now, after the expiry."""
    return (
        action == "request_production"
        and order.state is OrderState.EXPIRED
        and stops_at_production(order.legal_basis)
        and order.expires_at is not None
        and now < order.expires_at
    )


def _enforcement_refused(order: ClockFacts, action: str, now: datetime, overdue_after: timedelta) -> Refused | None:
    """EPOC_PR_ENFORCEMENT_TRANSFER: only a European Preservation Order is enforced by the enforcing state, and
    it is transferred only once the provider is in default: it reported the order not executed, or left it
    unconfirmed past ``overdue_after`` from its issue; while its period runs (EPOC_PR_CLOCK_RUNS_DURING_ENFORCEMENT);
    and once only (EPOC_PR_ENFORCEMENT_NOT_TRANSFERRED_AGAIN)."""
    if order.legal_basis is not LegalBasis.EPOC_PR:
        return lambda: FailedPrecondition(
            "EPOC_PR_ONLY",
            f"enforcement by the enforcing state exists for a European Preservation Order only, not a "
            f"{order.legal_basis.value} order {legal.cite('EPOC_PR_ENFORCEMENT_TRANSFER')}",
            {"action": action, "legal_basis": order.legal_basis.value},
        )
    if action != "transfer_for_enforcement":
        if order.state is OrderState.PRODUCTION_REQUESTED and not enforcement_pending(order):
            return lambda: _illegal(order, TRANSITIONS[action])  # not transferred, or decided already
        return None
    decided = order.enforcement_decided_at
    if decided is not None:  # refused, the order is NOT_ENFORCED, not a source: this one recognised it
        return lambda: FailedPrecondition(
            "ENFORCEMENT_ALREADY_RECOGNISED",
            f"{order.enforcing_jurisdiction} recognised this order for enforcement at {decided.isoformat()}: it is "
            f"not transferred again {legal.cite('EPOC_PR_ENFORCEMENT_NOT_TRANSFERRED_AGAIN')}",
            {
                "action": action,
                "enforcing_jurisdiction": order.enforcing_jurisdiction,
                "recognised_at": decided.isoformat(),
            },
        )
    expires = order.expires_at
    if expires is not None and now >= expires:
        return lambda: FailedPrecondition(
            "PRESERVATION_EXPIRED",
            f"the preservation ended at {expires.isoformat()}: there is nothing left to enforce "
            f"{legal.cite('EPOC_PR_CLOCK_RUNS_DURING_ENFORCEMENT')}",
            {"action": action, "expires_at": expires.isoformat()},
        )
    if order.state is OrderState.ISSUED and not confirmation_overdue(order.state, order.issued_at, now, overdue_after):
        due = order.issued_at + overdue_after if order.issued_at is not None else None
        until = f" until {due.isoformat()}" if due is not None else ""
        return lambda: FailedPrecondition(
            "PROVIDER_NOT_IN_DEFAULT",
            f"the provider has{until} to confirm the preservation: the order is transferred for enforcement once "
            f"it failed to (unconfirmed past that, or recorded not executed) "
            f"{legal.cite('EPOC_PR_ENFORCEMENT_TRANSFER')}",
            {"action": action, **({"confirmation_due": due.isoformat()} if due is not None else {})},
        )
    return None


def production_judged_at(order: Order, requested_at: datetime | None, now: datetime) -> datetime:
    """The instant a production request is judged and recorded at: when it was issued (``requested_at``;
    Art. 11(1) asks whether it was confirmed within the 60 days, not when this node heard of it), never
    later than ``now`` and never before the order's clock started; ``now`` when unknown."""
    if requested_at is None:
        return now
    started = order.clock_started_at or order.issued_at
    return min(max(requested_at, started), now) if started is not None else min(requested_at, now)


def _no_clock(order: ClockFacts, t: Transition) -> FailedPrecondition:
    """An order in a state that may have a clock, without one now: stopped by a production request, or
    not started yet (a voluntary order the provider has not confirmed)."""
    if order.state is OrderState.PRODUCTION_REQUESTED:
        why = f"it is preserved until production {legal.cite(AT_PRODUCTION[order.legal_basis][1].id)}"
    else:
        why = f"its clock has not started {legal.cite(CLOCK_START[order.legal_basis][1].id)}"
    return FailedPrecondition(
        "NO_RUNNING_CLOCK",
        f"cannot {t.action} a preservation order that has no expiry: {why}",
        {"action": t.action, "state": order.state.value, "legal_basis": order.legal_basis.value},
    )


def allowed_actions(
    order: ClockFacts,
    principal: Principal,
    rule: ClockRule,
    now: datetime,
    *,
    overdue_after: timedelta = CONFIRMATION_OVERDUE_AFTER,
) -> tuple[str, ...]:
    """The transitions ``principal`` may take on ``order`` now, in the table's order: the policy allows them
    (each is the issuing side's ``operation``, as the servicer asks it) and the order's state and clock
    ``rule`` allow them at ``now`` (``refused``); never one only the clock takes (``CLOCK_ONLY``). Only the
    transitions taken from the order's state are asked (``_OFFERED``: a list asks this of every order of
    its page)."""
    candidates = [
        offer
        for t, offer in _OFFERED[order.state]
        if refused(order, t.action, rule, now, overdue_after=overdue_after) is None
    ]
    return permitted(principal, order.access(), candidates)


#: Per state, in the table's order, the transitions a caller may take from it, each with the operation and
#: rules its RPC is decided by: worked out once, not for each order of a page.
_OFFERED = offers_by_state(
    TRANSITIONS.values(), OrderState, PRESERVATION_ORDER_RULES, leave_out=CLOCK_ONLY, rules_for=RULES_FOR
)


def apply(
    order: Order,
    action: str,
    data: TransitionInput,
    *,
    actor: Actor,
    now: datetime,
    rule: ClockRule,
    overdue_after: timedelta = CONFIRMATION_OVERDUE_AFTER,
) -> Order:
    """Apply a transition; raises FailedPrecondition when the state or the clock rule does not allow it
    (``refusal``).

    Input must have passed ``transition_violations``; who may act is decided by the policy before.
    """
    t = TRANSITIONS[action]
    judged = production_judged_at(order, data.requested_at, now) if action == "request_production" else now
    problem = refusal(order, action, rule, judged, overdue_after=overdue_after)
    if problem is not None:
        raise problem
    changes: dict[str, object] = {}
    target = t.target
    if action == "issue":
        InvalidArgument.raise_for(issue_violations(order, data))
        issued = data.issued_at or now
        received = data.received_at or issued
        changes.update(issued_at=issued, received_at=received)
        if starts_at_receipt(order.legal_basis):
            changes.update(_start_clock(rule, received, 0))
    elif action == "confirm":
        changes.update(_confirm(order, data, rule, now))
        target = OrderState.EXTENDED if order.extension_count else OrderState.CONFIRMED
    elif action == "extend":
        changes.update(_extend(order, rule, now))
        if order.state in (OrderState.ISSUED, OrderState.PRODUCTION_REQUESTED, OrderState.IN_ENFORCEMENT):
            target = order.state  # the clock is extended; the order is where it was
    elif action == "transfer_for_enforcement":
        state = enforcing_state(order, data.enforcing_jurisdiction, rule)
        InvalidArgument.raise_for(enforcing_violations(order, state))
        changes.update(
            enforcing_jurisdiction=state,
            enforcement_requested_at=now,
            enforcement_decided_at=None,
            enforcement_refusal_ground="",
        )
        if order.expires_at is not None:  # recorded not executed cleared it: the clock runs again meanwhile
            changes["extension_deadline"] = extension_deadline(rule, order.expires_at, order.extension_count)
        if data.reason:
            changes["state_reason"] = data.reason
    elif action == "recognise_enforcement":
        # EPOC_PR_ENFORCEMENT_RECOGNISED: the provider is required to preserve; its confirmation is recorded.
        # Recognised while production is requested, the order waits for it (EPOC_PR_ENFORCEMENT_PENDING_...).
        if order.state is OrderState.PRODUCTION_REQUESTED:
            target = order.state
        changes["enforcement_decided_at"] = now
        if data.reason:
            changes["state_reason"] = data.reason
    elif action == "refuse_enforcement":
        changes.update(
            enforcement_decided_at=now,
            enforcement_refusal_ground=data.enforcement_ground,
            state_reason=data.reason,
            extension_deadline=None,
        )
    elif action == "request_production":
        changes.update(follow_up_request_id=data.follow_up_request_id, production_requested_at=judged)
        if data.follow_up_request_id != order.follow_up_request_id:
            changes["follow_up_facts"] = ""  # another request's facts: its own come with its events
        if order.state is OrderState.EXPIRED:
            assert order.expires_at is not None  # _requested_before_it_expired
            changes["state_reason"] = (
                f"production was requested at {judged.isoformat()}, before the preservation ended at "
                f"{order.expires_at.isoformat()}: preserved until production"
            )
        if stops_at_production(order.legal_basis) and order.expires_at is not None:
            # Preserved until production: the clock stops when production was requested; the time left then
            # is kept for a failed request.
            left = max(order.expires_at - judged, timedelta(0))
            changes.update(
                expires_at=None,
                extension_deadline=None,
                clock_stopped_at=judged,
                clock_remaining_seconds=int(left.total_seconds()),
            )
    elif action == "resume":
        target = resumed_state(order)
        expires = _resumed_expiry(order, rule, now)
        if expires is not None:
            changes.update(
                expires_at=expires,
                clock_started_at=now,
                extension_deadline=extension_deadline(rule, expires, order.extension_count),
                clock_stopped_at=None,
                clock_remaining_seconds=None,
            )
    elif action == "mark_produced":
        changes["produced_at"] = now
    elif action in ("lift", "expire"):
        changes.update(state_reason=data.reason, extension_deadline=None)
    elif action == "record_not_executed":
        changes.update(state_reason=data.reason, not_executed_reason=data.not_executed_reason, extension_deadline=None)
    elif action == "update_user_notice":
        target = order.state  # the order is where it was; its notice changes
        changes.update(
            user_notice_status=data.user_notice_status,
            user_notice_suppressed_until=data.user_notice_suppressed_until,
        )
    return changed(order, actor, now, state=target, **changes)


def _resumed_expiry(order: Order, rule: ClockRule, now: datetime) -> datetime | None:
    """The expiry of a stopped clock brought back at ``now``: the time that was left when it stopped. An
    order stopped before that was recorded (stored by an older version) gets the expiry counted from its
    receipt as the law says, and never one before ``now``. None when the clock did not stop (it ran on)."""
    if order.clock_remaining_seconds is not None:
        return now + timedelta(seconds=order.clock_remaining_seconds)
    if order.expires_at is not None or not stops_at_production(order.legal_basis):
        return None
    start = order.received_at or order.issued_at
    if start is None:
        return None
    return max(now, rule.expiry(start, order.extension_count))


def _start_clock(rule: ClockRule, start: datetime, extension_count: int) -> dict[str, object]:
    """The clock of ``rule`` counted from ``start``, with ``extension_count`` extensions already granted."""
    expires = rule.expiry(start, extension_count)
    return {
        "expires_at": expires,
        "clock_started_at": start,
        "extension_deadline": extension_deadline(rule, expires, extension_count),
    }


def _confirm(order: Order, data: TransitionInput, rule: ClockRule, now: datetime) -> dict[str, object]:
    """The changes of a confirmation. A receipt clock (``CLOCK_START``) keeps its expiry unless the
    confirmation states when the order was received (or the order has none yet: one issued before receipt
    clocks existed); a voluntary one starts here, at the provider's processing of the request."""
    confirmed = data.confirmed_at or now
    if order.issued_at is not None and confirmed < order.issued_at:
        raise FailedPrecondition(
            "CONFIRMED_BEFORE_ISSUE",
            "confirmed_at is before the order was issued",
            {"field": "confirmed_at", "issued_at": order.issued_at.isoformat()},
        )
    if data.received_at is not None and order.issued_at is not None and data.received_at < order.issued_at:
        raise FailedPrecondition(
            "RECEIVED_BEFORE_ISSUE",
            "received_at is before the order was issued",
            {"field": "received_at", "issued_at": order.issued_at.isoformat()},
        )
    received = data.received_at or order.received_at or order.issued_at or confirmed
    if confirmed < received:
        raise FailedPrecondition(
            "CONFIRMED_BEFORE_RECEIPT",
            "confirmed_at is before the provider received the order",
            {"field": "confirmed_at", "received_at": received.isoformat()},
        )
    changes: dict[str, object] = {
        "confirmed_at": confirmed,
        "received_at": received,
        "provider_reference": data.provider_reference.strip(),
    }
    if not starts_at_receipt(order.legal_basis):
        changes.update(_start_clock(rule, confirmed, order.extension_count))
    elif data.received_at is not None or order.expires_at is None:
        changes.update(_start_clock(rule, received, order.extension_count))
    return changes


def _extension_refused(order: ClockFacts, rule: ClockRule, now: datetime) -> Refused | None:
    """Why the clock ``rule`` does not let a running order be extended at ``now`` (None when it does)."""
    assert order.expires_at is not None  # refused() checked that the clock runs
    if rule.extension is None:
        return lambda: FailedPrecondition(
            "EXTENSION_NOT_ALLOWED",
            f"a {order.legal_basis.value} preservation cannot be extended ({rule.source})",
            {"legal_basis": order.legal_basis.value},
        )
    if rule.max_extensions and order.extension_count >= rule.max_extensions:
        return lambda: FailedPrecondition(
            "EXTENSION_LIMIT_REACHED",
            f"this order was already extended {order.extension_count} time(s), the most allowed ({rule.source})",
            {"extension_count": str(order.extension_count), "max_extensions": str(rule.max_extensions)},
        )
    deadline = order.expires_at - rule.min_notice
    if now > deadline:
        return lambda: FailedPrecondition(
            "EXTENSION_TOO_LATE",
            f"an extension had to be asked by {deadline.isoformat()} ({rule.source})",
            {"extension_deadline": deadline.isoformat()},
        )
    return None


def _extend(order: Order, rule: ClockRule, now: datetime) -> dict[str, object]:
    """The changes of an extension that ``refusal`` allowed: the period with one more extension, counted as
    the clock was (``counted_from``: from the receipt, as EU law counts an EPOC-PR's days); a clock that runs
    on the time that was left when production was requested (``resume``) gets the extension added."""
    assert order.expires_at is not None and rule.extension is not None
    count = order.extension_count + 1
    start = counted_from(order, rule)
    expires = order.expires_at + rule.extension if start is None else rule.expiry(start, count)
    return {
        "expires_at": expires,
        "clock_started_at": now,
        "extension_count": count,
        "extension_deadline": extension_deadline(rule, expires, count),
    }


class StoredClock(Protocol):
    """What an order's running clock is counted from, and its expiry: an ``Order``, or the columns of a
    stored one (``store.StoredClock``, which the start's recount reads alone)."""

    @property
    def received_at(self) -> datetime | None: ...
    @property
    def confirmed_at(self) -> datetime | None: ...
    @property
    def expires_at(self) -> datetime | None: ...
    @property
    def extension_count(self) -> int: ...


def counted_from(order: StoredClock, rule: ClockRule) -> datetime | None:
    """The instant the order's expiry is ``rule``'s period counted from, with its extensions: its receipt
    (or its confirmation: an order stored before receipt clocks, whose clock started there), whether the
    expiry was counted as ``rule`` counts now or, before ``COUNTING`` 2, as start + N x 24 h. None when it
    is neither (a clock resumed with the time that was left when production was requested, or not running):
    that expiry is no count of the period and stays as it is."""
    expires = order.expires_at
    if expires is None:
        return None
    plain = rule.length(order.extension_count)
    for start in (order.received_at, order.confirmed_at):
        if start is not None and expires in (start + plain, rule.expiry(start, order.extension_count)):
            return start
    return None


def recounted_clock(
    order: StoredClock, rule: ClockRule, offsets: tuple[timedelta, ...], now: datetime
) -> Recount | None:
    """The order's running clock as ``rule`` counts it now, at the start's recount at ``now``, when its stored
    expiry is a count of the period (``counted_from``) that differs from it; None when nothing moves. A moved
    expiry gets its warnings planned as an extension plans them: a new series from ``now`` (the keys name
    the expiry: no warning of it was sent, none is sent twice), the first of them whose moment has not
    passed (``next_alert_at``), and the extension deadline of the new expiry."""
    start = counted_from(order, rule)
    if start is None:
        return None
    expires = rule.expiry(start, order.extension_count)
    if expires == order.expires_at:
        return None
    return Recount(
        expires_at=expires,
        extension_deadline=extension_deadline(rule, expires, order.extension_count),
        clock_started_at=now,
        next_alert_at=_first_due(expires, now, offsets),
    )


class Recount(NamedTuple):
    """A running clock moved by the start's recount (``recounted_clock``): its new expiry, extension
    deadline, when it was set, and its first warning (the recount stores none on a replica, which warns of
    nothing here)."""

    expires_at: datetime
    extension_deadline: datetime | None
    clock_started_at: datetime
    next_alert_at: datetime | None


# ---- links from evidence requests ---------------------------------------------------------------------


def link_problem(
    order: Order, *, request_workspace: str, request_origin: str, event_workspace: str, event_origin: str
) -> str:
    """Why an evidence request (as its event describes it) may not move ``order`` ("" when it may). A
    production request linked to an order moves it to PRODUCTION_REQUESTED and on to PRODUCED, which only
    the order's issuing side may cause (security review, finding #1): the request must be of the order's
    workspace and origin jurisdiction, and its event's envelope must say the same."""
    if request_workspace != order.workspace_id or event_workspace != order.workspace_id:
        return "not of the order's workspace"
    if request_origin != order.origin_jurisdiction or event_origin != order.origin_jurisdiction:
        return "not issued by the order's origin jurisdiction"
    return ""


# ---- creation ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewOrder:
    request_id: str
    workspace_id: str
    legal_basis: str
    provider_id: str
    targets: tuple[Target, ...]
    data_categories: tuple[str, ...]
    description: str
    restricted: bool
    shared_with: tuple[str, ...] = ()
    #: Set when a proto enum value was not one we know (so the field can be named in the error).
    unknown_enums: tuple[str, ...] = field(default=())
    victim_refs: tuple[str, ...] = ()
    #: The provider's notice to the account holder ("" : PENDING) and the end of its suppression.
    user_notice_status: str = ""
    user_notice_suppressed_until: datetime | None = None


def target_violations(targets: tuple[Target, ...]) -> list[FieldViolation]:
    out: list[FieldViolation] = []
    if not targets:
        return [FieldViolation("targets", "at least one target identifier is required")]
    if len(targets) > TARGETS_MAX:
        out.append(FieldViolation("targets", f"at most {TARGETS_MAX} target identifiers"))
    for i, t in enumerate(targets[:TARGETS_MAX]):
        try:
            pattern, hint = _TARGET_RULES[TargetKind(t.kind)]
        except ValueError:
            out.append(FieldViolation(f"targets[{i}].kind", "must be ACCOUNT_HANDLE, URL, PHONE_NUMBER or EMAIL"))
            continue
        value = t.value.strip()
        if len(t.value) > TARGET_VALUE_MAX or not pattern.fullmatch(value):
            out.append(FieldViolation(f"targets[{i}].value", hint))
        elif t.kind == TargetKind.URL:  # a URL holds no control or bidirectional characters, its host parses
            out += validate.http_url(f"targets[{i}].value", value, maximum=TARGET_VALUE_MAX)
    return out


def new_order_violations(cmd: NewOrder, providers: dict[str, Provider]) -> list[FieldViolation]:
    """Checks that need no database: formats, lengths, enums, the provider register."""
    out: list[FieldViolation] = []
    out += validate.request_id(cmd.request_id)
    out += validate.workspace_id("workspace_id", cmd.workspace_id)
    for name in cmd.unknown_enums:
        out.append(FieldViolation(name, "has an unknown value"))
    if cmd.legal_basis not in LegalBasis.__members__ and "legal_basis" not in cmd.unknown_enums:
        out.append(
            FieldViolation("legal_basis", "is required: EPOC_PR, BUDAPEST_ART29, PROVIDER_VOLUNTARY or NATIONAL")
        )
    provider = provider_id_violations("provider_id", cmd.provider_id, providers, required=True)
    out += provider
    state = providers[cmd.provider_id].establishment_jurisdiction if not provider else ""
    if cmd.legal_basis == LegalBasis.EPOC_PR and (why := legal.epoc_provider_problem("EPOC-PR", state)):
        out.append(FieldViolation("provider_id", why))
    out += target_violations(cmd.targets)
    if not cmd.data_categories and "data_categories" not in cmd.unknown_enums:
        out.append(FieldViolation("data_categories", "at least one of SUBSCRIBER, TRAFFIC, CONTENT"))
    out += validate.text("description", cmd.description, required=False, maximum=validate.DESCRIPTION_MAX)
    out += validate.shared_with(cmd.shared_with, restricted=cmd.restricted, record="order")
    out += validate.victim_refs(cmd.victim_refs)
    return out


def new_notice_violations(cmd: NewOrder, now: datetime) -> list[FieldViolation]:
    """A new order's user notice, stated at ``now``: as ``UpdateUserNotice`` takes it (``jitlib.usernotice``:
    SUPPRESSED needs its end, in the future and bounded), unset meaning PENDING."""
    if "user_notice_status" in cmd.unknown_enums:
        return []
    return usernotice.violations(
        "user_notice_status",
        cmd.user_notice_status or usernotice.PENDING,
        "user_notice_suppressed_until",
        cmd.user_notice_suppressed_until,
        now,
    )


def issuer_violations(cmd: NewOrder, origin: str, providers: dict[str, Provider]) -> list[FieldViolation]:
    """What of a new order depends on its issuer ``origin``, checked once the policy let the caller create:
    an EPOC-PR is issued by a member state bound by Reg. 2023/1543 (``legal.EPOC_BOUND_STATES``: not
    Denmark), the violation on ``legal_basis``, to a provider established or represented in another one
    than the issuer's (one in the issuer's own state is preserved under national law: basis NATIONAL), the
    violation on ``provider_id`` (``legal.rule("EPOC_ONLY_BETWEEN_BOUND_STATES")``). The provider's state is
    its ``establishment_jurisdiction`` in the register (where orders reach it, its legal representative's
    where it has one); whether that state is bound is ``new_order_violations``'s check."""
    if cmd.legal_basis != LegalBasis.EPOC_PR:
        return []
    out: list[FieldViolation] = []
    if why := legal.epoc_issuer_problem("EPOC-PR", origin):
        out.append(FieldViolation("legal_basis", why))
    provider = providers.get(cmd.provider_id)
    if provider is not None and provider.establishment_jurisdiction == origin:
        out.append(FieldViolation("provider_id", legal.epoc_provider_problem("EPOC-PR", origin, origin)))
    return out


def membership_violations(cmd: NewOrder, members: frozenset[str], lead: str = "") -> list[FieldViolation]:
    """What the workspace (its ``members``, its ``lead``) refuses of a new order."""
    return validate.members("shared_with", cmd.shared_with, members) + validate.victim_refs_of_workspace(
        cmd.victim_refs, lead
    )


def create(cmd: NewOrder, *, order_id: str, actor: Actor, now: datetime) -> Order:
    return Order(
        **created_record(cmd, record_id=order_id, actor=actor, now=now),
        legal_basis=LegalBasis(cmd.legal_basis),
        provider_id=cmd.provider_id,
        targets=tuple(Target(t.kind, t.value.strip()) for t in cmd.targets),
        data_categories=tuple(c for c in DATA_CATEGORIES if c in set(cmd.data_categories)),
        description=cmd.description,
        state=OrderState.DRAFT,
        victim_refs=cmd.victim_refs,
        user_notice_status=cmd.user_notice_status or usernotice.PENDING,
        user_notice_suppressed_until=cmd.user_notice_suppressed_until,
    )


@dataclass(frozen=True)
class Rules:
    """The node's configuration of the rules: provider register, national law, warning offsets."""

    providers: dict[str, Provider]
    national: NationalRule = NationalRule()
    #: Warning offsets before expiry, longest first.
    offsets: tuple[timedelta, ...] = (timedelta(days=14), timedelta(days=7), timedelta(hours=48))
    #: An issued order unconfirmed for longer than this is "confirmation overdue".
    confirmation_overdue_after: timedelta = CONFIRMATION_OVERDUE_AFTER
    #: Warning offsets before a non-disclosure order suppressing the user notice ends (one more at its end).
    notice_offsets: tuple[timedelta, ...] = NOTICE_OFFSETS
    #: Warning offsets before the enforcing state's deadline to decide on recognition (one more when passed).
    enforcement_offsets: tuple[timedelta, ...] = ENFORCEMENT_OFFSETS

    def clock_for(self, order: BasisFacts) -> ClockRule:
        """The clock rule of ``order`` on this node: its basis's, with its provider's entry of the register."""
        provider = self.providers.get(order.provider_id)
        if provider is None:  # removed from the register since: keep the order's own basis rules
            provider = Provider(order.provider_id, order.provider_id, "", "", "", 90, 0, 0, 0, "unknown provider")
        return clock_rule(order.legal_basis, provider, self.national)
