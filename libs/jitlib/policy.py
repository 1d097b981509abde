"""The one access policy (DOMAIN.md, "Rules that every service enforces the same way").

Every service asks ``decide`` before it shows or changes a record, and builds its list queries from
``visibility_scope``. Order of the checks, and why:

1. Only case roles (prosecutor, police liaison, participant) touch case content. Operators and auditors
   are refused every case operation with PERMISSION_DENIED; the answer is the same for every record, so
   it says nothing about which records exist.
2. A workspace the caller's jurisdiction is not a member of is invisible: NOT_FOUND. That includes a
   jurisdiction the workspace directory says was taken out of it (``in_directory``), whatever its token's
   groups still say (``jitlib.legal`` JIT_MEMBER_TAKEN_OUT).
3. A restricted record is visible only to its parties (issuer, addressee, explicitly shared): NOT_FOUND.
4. Except: a record that may be addressed outside its workspace (an evidence request: EIO, MLA, EPOC to a
   third state or a notified enforcing state outside the JIT) is visible to its addressee whether or not
   it is a member, and that record only (``jitlib.legal`` JIT_INSTRUMENTS_TOWARD_OUTSIDE_STATES,
   ADDRESSEE_SEES_ONLY_WHAT_IS_ADDRESSED_TO_IT).
5. Once the caller may see the record, an action they may not take is PERMISSION_DENIED.
6. Personal data of a record (a victim's identity) is read only with need to know: a need-to-know role of
   the record's addressee jurisdiction (the victim's) who may read the record itself. To everyone else,
   whatever their role, it does not exist: NOT_FOUND (``jitlib.legal`` VICTIM_IDENTITY_NEED_TO_KNOW).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from jitlib.actors import Actor
from jitlib.principal import Principal

T = TypeVar("T")

CASE_ROLES = frozenset({"prosecutor", "police_liaison", "participant"})


class Operation(enum.StrEnum):
    READ = "read"
    #: Create a record in a workspace, as its issuer.
    CREATE = "create"
    #: A transition reserved to the issuing side (assign, verify, reopen, cancel, ...).
    ISSUER_ACT = "issuer_act"
    #: A transition reserved to the addressee (accept, decline, start, complete, ...).
    ADDRESSEE_ACT = "addressee_act"
    #: Read the tamper-evident audit log (never case content).
    READ_AUDIT = "read_audit"
    #: An act either side of a record may take: its issuing (origin) or its addressed jurisdiction.
    PARTY_ACT = "party_act"
    #: Read a record's personal data (a victim's identity): need to know only, NOT_FOUND for anyone else.
    READ_PERSONAL = "read_personal"
    #: An act any jurisdiction party to a record takes (its origin, its addressee or one it is explicitly
    #: shared with), by the kind's ``party_roles``: a chain-of-custody entry on an evidence item.
    ANY_PARTY_ACT = "any_party_act"
    #: An act reserved to the jurisdiction where a record's information became available (``decide``'s
    #: ``origin_state``), by the kind's ``origin_state_roles``: an evidence item's originating state consents
    #: to its use for other purposes (``jitlib.legal`` JIT_OTHER_USE_NEEDS_CONSENT).
    ORIGIN_STATE_ACT = "origin_state_act"


class Decision(enum.Enum):
    ALLOW = "allow"
    NOT_FOUND = "not_found"
    DENY = "deny"


@dataclass(frozen=True)
class RecordRules:
    """Which roles act on each side, for one kind of record."""

    kind: str
    creator_roles: frozenset[str]
    issuer_roles: frozenset[str]
    addressee_roles: frozenset[str]
    #: The roles of the addressee jurisdiction that read the record's personal data (READ_PERSONAL).
    need_to_know_roles: frozenset[str] = frozenset()
    #: The roles of any jurisdiction party to the record that take an ANY_PARTY_ACT (none: nobody does).
    party_roles: frozenset[str] = frozenset()
    #: The roles of the record's originating state that take an ORIGIN_STATE_ACT (none: nobody does).
    origin_state_roles: frozenset[str] = frozenset()


TASK_RULES = RecordRules(
    kind="task",
    creator_roles=frozenset({"prosecutor"}),
    issuer_roles=frozenset({"prosecutor"}),
    addressee_roles=frozenset({"prosecutor", "police_liaison"}),
)

#: Evidence requests (EIO, MLA, EPOC, ...): issued by a prosecutor; the addressed state's prosecutor or
#: police liaison acknowledges, decides and executes.
EVIDENCE_REQUEST_RULES = RecordRules(
    kind="evidence_request",
    creator_roles=frozenset({"prosecutor"}),
    issuer_roles=frozenset({"prosecutor"}),
    addressee_roles=frozenset({"prosecutor", "police_liaison"}),
)

#: The enforcement of a European Production Order (Reg. (EU) 2023/1543 Art. 16): a prosecutor of the issuing
#: state transfers it, a prosecutor of the enforcing state (the request's addressee from then on) recognises
#: it or refuses recognition. A judicial decision: no police liaison takes it (GUESS: Art. 16 names the
#: "enforcing authority", a judicial authority under Art. 3(17), UNVERIFIED).
EVIDENCE_ENFORCEMENT_RULES = RecordRules(
    kind="evidence_request",
    creator_roles=frozenset({"prosecutor"}),
    issuer_roles=frozenset({"prosecutor"}),
    addressee_roles=frozenset({"prosecutor"}),
)

#: Evidence items: received and read by the parties' case roles; a police liaison records evidence received
#: (DOMAIN.md), so both sides' prosecutors and liaisons may upload (ISSUER_ACT or ADDRESSEE_ACT, by side).
#: A custody entry (exported, transferred, sealed, ...) is the act of a jurisdiction party to the item's
#: request, the one it is shared with included, by its prosecutor or police liaison (ANY_PARTY_ACT): a
#: participant (Eurojust, Europol) of a party sees and advises, it does not act on the evidence. The consent
#: to another use of an item is its originating state's, given by that state's prosecutor (ORIGIN_STATE_ACT,
#: GUESS: the judicial authority answers for its state; a liaison passes the question on).
EVIDENCE_ITEM_RULES = RecordRules(
    kind="evidence_item",
    creator_roles=frozenset({"prosecutor", "police_liaison"}),
    issuer_roles=frozenset({"prosecutor", "police_liaison"}),
    addressee_roles=frozenset({"prosecutor", "police_liaison"}),
    party_roles=frozenset({"prosecutor", "police_liaison"}),
    origin_state_roles=frozenset({"prosecutor"}),
)

#: EPOC procedures in which the provider's establishment state is notified (Regulation (EU) 2023/1543,
#: Art. 8): that state may raise grounds for refusal, and so sees the order.
EPOC_NOTIFIED_PROCEDURES = frozenset({"WITH_NOTIFICATION", "EMERGENCY_WITH_NOTIFICATION"})


def evidence_request_addressee(
    addressee_kind: str, addressee: str, legal_basis: str, epoc_procedure: str, enforcing: str = ""
) -> str | None:
    """The jurisdiction that sees an evidence request as its addressee: the addressed member state; for a
    request to a service provider, the provider's establishment state only when it is notified (an EPOC
    with notification). One rule, used by the evidence service and by every copy of the request's access
    facts elsewhere (messaging's record threads). ``enforcing``: the state an EPOC was transferred to for
    enforcement (Reg. (EU) 2023/1543 Art. 16), its addressee from then on when it had none (``jitlib.legal``
    EPOC_ENFORCING_STATE_SEES_THE_ORDER); left out, the request's addressee as addressed, which its evidence
    items keep (``decide_received``)."""
    to_provider = addressee_kind == "SERVICE_PROVIDER"
    notified = legal_basis == "EPOC" and epoc_procedure in EPOC_NOTIFIED_PROCEDURES
    named = addressee if addressee and (not to_provider or notified) else None
    if named is None and enforcing and legal_basis == "EPOC":
        return enforcing
    return named


#: Preservation orders: police liaisons track them with platforms; prosecutors issue them too.
PRESERVATION_ORDER_RULES = RecordRules(
    kind="preservation_order",
    creator_roles=frozenset({"prosecutor", "police_liaison"}),
    issuer_roles=frozenset({"prosecutor", "police_liaison"}),
    addressee_roles=frozenset({"prosecutor", "police_liaison"}),
)

#: The provider's notice to the account holder on a preservation order (``UpdateUserNotice``): a decision of
#: the issuing side's prosecutor (whether to ask for, renew or let lapse a non-disclosure order), as on an
#: evidence request (EVIDENCE_REQUEST_RULES), not of its police liaison (legal
#: PRESERVATION_USER_NOTICE_SUPPRESSION_LAPSES). Read like the order (its own rules).
PRESERVATION_USER_NOTICE_RULES = RecordRules(
    kind="preservation_order",
    creator_roles=frozenset({"prosecutor"}),
    issuer_roles=frozenset({"prosecutor"}),
    addressee_roles=frozenset(),
)

#: The enforcement of a European Preservation Order (Reg. (EU) 2023/1543 Art. 16), as of an EPOC
#: (EVIDENCE_ENFORCEMENT_RULES): a prosecutor of the issuing state transfers it, a prosecutor of the enforcing
#: state (the order's addressee from then on) recognises it or refuses recognition; never a police liaison.
PRESERVATION_ENFORCEMENT_RULES = RecordRules(
    kind="preservation_order",
    creator_roles=frozenset({"prosecutor"}),
    issuer_roles=frozenset({"prosecutor"}),
    addressee_roles=frozenset({"prosecutor"}),
)

#: Removal requests to platforms (issue 18): a prosecutor or police liaison of a member jurisdiction sends
#: one; the issuing side's prosecutor or liaison records each answer of the platform (ISSUER_ACT: the
#: platform is not a user, legal REMOVAL_PLATFORM_ANSWERS); every member of the workspace reads them.
REMOVAL_REQUEST_RULES = RecordRules(
    kind="removal_request",
    creator_roles=frozenset({"prosecutor", "police_liaison"}),
    issuer_roles=frozenset({"prosecutor", "police_liaison"}),
    addressee_roles=frozenset(),
)

#: Victims (issue 16): the pseudonym-level record is open to every member of its workspace. Its origin is
#: the workspace's lead (whose node holds it), its addressee the victim's jurisdiction; a prosecutor or
#: police liaison of either registers the victim and records notices and referrals (PARTY_ACT), and only
#: those of the victim's jurisdiction read the identity (READ_PERSONAL; legal VICTIM_IDENTITY_NEED_TO_KNOW).
VICTIM_RULES = RecordRules(
    kind="victim",
    creator_roles=frozenset({"prosecutor", "police_liaison"}),
    issuer_roles=frozenset({"prosecutor", "police_liaison"}),
    addressee_roles=frozenset({"prosecutor", "police_liaison"}),
    need_to_know_roles=frozenset({"prosecutor", "police_liaison"}),
)

#: Message channels: any case role may read and post where it can see; prosecutors and liaisons open
#: restricted channels. The issuer side (rotate the key, ...) is the jurisdiction that opened it.
CHANNEL_RULES = RecordRules(
    kind="channel",
    creator_roles=frozenset({"prosecutor", "police_liaison"}),
    issuer_roles=frozenset({"prosecutor", "police_liaison"}),
    addressee_roles=frozenset(),
)


class GovernedRecord(Protocol):
    """A domain record the policy decides on."""

    @property
    def workspace_id(self) -> str: ...

    @property
    def origin_jurisdiction(self) -> str: ...

    @property
    def restricted(self) -> bool: ...


class ChangedRecord(GovernedRecord, Protocol):
    """A governed record with an identity and a version, changed by someone (events, stores)."""

    @property
    def id(self) -> str: ...

    @property
    def version(self) -> int: ...

    @property
    def updated_by(self) -> Actor: ...


class StoredRecord(ChangedRecord, Protocol):
    """A changed record with its sharing and its history: what every record service stores
    (``jitlib.db.RecordColumns``) and shows (``jitlib.mapping.record_pb_fields``)."""

    @property
    def shared_with(self) -> tuple[str, ...]: ...

    @property
    def created_by(self) -> Actor: ...

    @property
    def created_at(self) -> datetime: ...

    @property
    def updated_at(self) -> datetime: ...

    @property
    def replicated_at(self) -> datetime | None: ...


@dataclass(frozen=True)
class RecordAccess:
    """What the policy needs to know of a record."""

    workspace_id: str
    origin_jurisdiction: str
    addressee_jurisdiction: str | None
    restricted: bool
    shared_with: frozenset[str] = frozenset()
    #: The addressee reads the record even when it is not a member of the workspace: an instrument
    #: addressed to a state outside the JIT (a third state, a notified enforcing state). It reads that
    #: record only; nothing else of the workspace.
    outside_addressee: bool = False
    #: The facts' hash, worked out once: a record's facts are part of the key of every kept answer of the
    #: policy (``permitted``) and of a page's actions, asked many times for the same facts.
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        facts = (
            self.workspace_id,
            self.origin_jurisdiction,
            self.addressee_jurisdiction,
            self.restricted,
            self.shared_with,
            self.outside_addressee,
        )
        object.__setattr__(self, "_hash", hash(facts))

    def __hash__(self) -> int:
        return self._hash

    @classmethod
    def of(
        cls,
        record: GovernedRecord,
        *,
        addressee: str | None = None,
        shared_with: Iterable[str] | None = None,
        outside_addressee: bool = False,
    ) -> RecordAccess:
        """The access facts of a domain record (its workspace, origin, restriction and, unless given, its
        ``shared_with``), with the jurisdiction it is addressed to, if any, and whether that addressee
        reads it from outside the workspace too (``outside_addressee``)."""
        shared = getattr(record, "shared_with", ()) if shared_with is None else shared_with
        return cls(
            workspace_id=record.workspace_id,
            origin_jurisdiction=record.origin_jurisdiction,
            addressee_jurisdiction=addressee,
            restricted=record.restricted,
            shared_with=frozenset(shared),
            outside_addressee=outside_addressee and bool(addressee),
        )

    @property
    def outside_reader(self) -> str | None:
        """The jurisdiction that reads the record as its addressee whether or not it is a member of the
        workspace (None when the record has none): what a store keeps for the ``addressed_to`` term."""
        return self.addressee_jurisdiction if self.outside_addressee else None

    @property
    def parties(self) -> frozenset[str]:
        parties = {self.origin_jurisdiction, *self.shared_with}
        if self.addressee_jurisdiction:
            parties.add(self.addressee_jurisdiction)
        return frozenset(parties)


class AccessParties:
    """Mixin for a domain record whose ``access()`` gives the policy's facts of it: its ``parties`` (who
    it concerns) are those of its access, so every kind derives them the same way."""

    def access(self) -> RecordAccess:
        """The policy's facts of the record (``RecordAccess.of``); each record kind says its own."""
        raise NotImplementedError

    @property
    def parties(self) -> frozenset[str]:
        """The jurisdictions the record concerns: its origin, those it is shared with, its addressee."""
        return self.access().parties


def decide(
    principal: Principal,
    operation: Operation,
    rules: RecordRules | None = None,
    *,
    record: RecordAccess | None = None,
    workspace_id: str | None = None,
    origin_state: str | None = None,
) -> Decision:
    """Decide one operation. ``record`` for an existing record, ``workspace_id`` for CREATE; ``origin_state``
    for ORIGIN_STATE_ACT: the jurisdiction where the record's information became available (an evidence
    item's origin, which is not its request's issuer when the request executed abroad)."""
    if operation is Operation.READ_AUDIT:
        return Decision.ALLOW if principal.has_role("auditor") else Decision.DENY
    if operation is Operation.READ_PERSONAL:
        if rules is None:
            raise ValueError("reading personal data needs the record kind's rules")
        need_to_know = record is not None and (
            principal.jurisdiction == record.addressee_jurisdiction
            and principal.roles & rules.need_to_know_roles
            and decide(principal, Operation.READ, rules, record=record) is Decision.ALLOW
        )
        return Decision.ALLOW if need_to_know else Decision.NOT_FOUND
    if not principal.roles & CASE_ROLES:
        return Decision.DENY
    scope = visibility_scope(principal)
    if record is not None:
        if not readable(scope, RecordTerms(record)):
            return Decision.NOT_FOUND
    elif workspace_id is None or workspace_id not in scope.workspaces:
        return Decision.NOT_FOUND
    if operation is Operation.READ:
        return Decision.ALLOW
    if rules is None:
        raise ValueError(f"{operation} needs the record kind's rules")
    if operation is Operation.CREATE:
        return Decision.ALLOW if principal.roles & rules.creator_roles else Decision.DENY
    if record is None:
        raise ValueError(f"{operation} needs a record")
    if operation is Operation.ISSUER_ACT:
        ok = principal.jurisdiction == record.origin_jurisdiction and principal.roles & rules.issuer_roles
        return Decision.ALLOW if ok else Decision.DENY
    if operation is Operation.ADDRESSEE_ACT:
        ok = principal.jurisdiction == record.addressee_jurisdiction and principal.roles & rules.addressee_roles
        return Decision.ALLOW if ok else Decision.DENY
    if operation is Operation.PARTY_ACT:
        sides = (Operation.ISSUER_ACT, Operation.ADDRESSEE_ACT)
        either = any(decide(principal, side, rules, record=record) is Decision.ALLOW for side in sides)
        return Decision.ALLOW if either else Decision.DENY
    if operation is Operation.ANY_PARTY_ACT:
        ok = principal.jurisdiction in record.parties and principal.roles & rules.party_roles
        return Decision.ALLOW if ok else Decision.DENY
    if operation is Operation.ORIGIN_STATE_ACT:
        if origin_state is None:
            raise ValueError(f"{operation} needs the record's origin state")
        ok = principal.jurisdiction == origin_state and principal.roles & rules.origin_state_roles
        return Decision.ALLOW if ok else Decision.DENY
    raise ValueError(f"unknown operation {operation}")


def permitted(
    principal: Principal, record: RecordAccess, actions: Iterable[tuple[str, Operation, RecordRules]]
) -> tuple[str, ...]:
    """The names of ``actions`` that ``decide`` lets ``principal`` take on ``record``, in their order. Each
    action is (its name, the operation and the kind's rules its RPC is decided by). A domain's
    ``allowed_actions`` passes the actions its record's state allows now: what a record tells its caller
    they may do, from this one policy, so that no client holds an access rule of its own.

    ``decide`` reads of the caller only its jurisdiction, roles and workspaces, and of the record only its
    access facts, so the answer is kept for those and the actions asked (a page of a list asks the same of
    most of its records; ``KeptAnswers``)."""
    asked = tuple(actions)
    return _permitted.get(
        (caller_facts(principal), record, asked),
        lambda: tuple(
            name for name, op, rules in asked if decide(principal, op, rules, record=record) is Decision.ALLOW
        ),
    )


def caller_facts(principal: Principal) -> tuple[str, frozenset[str], frozenset[str]]:
    """What ``decide`` reads of a caller: its jurisdiction, roles and workspaces. An answer worked out from
    the policy is kept for these, never for the caller's identity (``KeptAnswers``)."""
    return (principal.jurisdiction, principal.roles, principal.workspaces)


K_ = TypeVar("K_")
V_ = TypeVar("V_")


class KeptAnswers(Generic[K_, V_]):
    """Answers kept by the key of all they were worked out from (a page of a list asks the same of most of
    its records, and the next page again): at most ``most``, all dropped when full. No lock: two threads
    may both work out a missing answer, the same one."""

    def __init__(self, most: int) -> None:
        self._most = most
        self._kept: dict[K_, V_] = {}

    def get(self, key: K_, work: Callable[[], V_]) -> V_:
        """The answer kept for ``key``, else ``work()``'s, then kept."""
        found = self._kept.get(key)
        if found is None:
            found = work()
            if len(self._kept) >= self._most:
                self._kept.clear()
            self._kept[key] = found
        return found


class Offerable(Protocol):
    """A transition of a record kind, as ``offers_by_state`` reads it."""

    @property
    def action(self) -> str: ...
    @property
    def operation(self) -> Operation: ...
    @property
    def sources(self) -> frozenset[object]: ...


T_ = TypeVar("T_", bound=Offerable)
S_ = TypeVar("S_")


def offers_by_state(
    transitions: Iterable[T_],
    states: Iterable[S_],
    rules: RecordRules,
    *,
    leave_out: Iterable[str] = (),
    rules_for: Mapping[str, RecordRules] | None = None,
) -> dict[S_, tuple[tuple[T_, tuple[str, Operation, RecordRules]], ...]]:
    """Per state, in the transitions' order, each transition a caller may be offered from it (none named in
    ``leave_out``: those only the system or a clock takes) with what ``permitted`` asks of it (its name, its
    operation, the kind's ``rules``, or for a transition named in ``rules_for`` the rules its RPC is decided
    by): worked out once per kind, not for each record of a list's page."""
    left_out = frozenset(leave_out)
    own = rules_for or {}
    offered = [(t, (t.action, t.operation, own.get(t.action, rules))) for t in transitions if t.action not in left_out]
    return {state: tuple(pair for pair in offered if state in pair[0].sources) for state in states}


#: ``permitted``'s answers (4,096 of a few hundred bytes each at most).
_permitted: KeptAnswers[tuple[object, ...], tuple[str, ...]] = KeptAnswers(4096)


class SensitiveOperation(enum.StrEnum):
    """What may be done with a sensitive evidence item (intimate images and the like) beyond reading its
    metadata, each decided by ``decide_sensitive``."""

    #: Read its content (download), with a stated purpose.
    OPEN = "open_sensitive"
    #: Ask for its export or transfer (the first pair of eyes).
    REQUEST_EXPORT = "request_export"
    #: Approve another user's export request (the second pair of eyes).
    APPROVE_EXPORT = "approve_export"
    #: Mark it sensitive after its receipt, or lift that marking, with a reason.
    MARK = "mark_sensitive"


#: Who may do what with a sensitive evidence item: the one place this is configured (legal rows
#: SENSITIVE_ITEM_OPEN_NEEDS_PURPOSE, SENSITIVE_ITEM_EXPORT_FOUR_EYES, SENSITIVE_ITEM_MARKING). Always a
#: jurisdiction party to the item's request (its issuer, addressee or those it is shared with); participants,
#: operators and auditors never, and a member that merely sees the request does not either.
SENSITIVE_ITEM_ROLES: dict[SensitiveOperation, frozenset[str]] = {
    SensitiveOperation.OPEN: frozenset({"prosecutor", "police_liaison"}),
    SensitiveOperation.REQUEST_EXPORT: frozenset({"prosecutor", "police_liaison"}),
    SensitiveOperation.APPROVE_EXPORT: frozenset({"prosecutor"}),
    SensitiveOperation.MARK: frozenset({"prosecutor"}),
}


#: The roles of the lead jurisdiction that set and release a legal hold (rule LEGAL_HOLD).
HOLD_ROLES = frozenset({"prosecutor"})


def decide_hold(principal: Principal, workspace_id: str, lead: str | None) -> Decision:
    """Set or release a legal hold on a workspace (or one of its records): a prosecutor of the workspace's
    lead jurisdiction, member of it. NOT_FOUND for a workspace the caller is not a member of (or unknown:
    ``lead`` None), DENY for every other case role and for operators and auditors."""
    if not principal.roles & CASE_ROLES:
        return Decision.DENY
    if lead is None or workspace_id not in visibility_scope(principal).workspaces:
        return Decision.NOT_FOUND
    ok = principal.jurisdiction == lead and principal.roles & HOLD_ROLES
    return Decision.ALLOW if ok else Decision.DENY


def decide_received(principal: Principal, items: RecordAccess) -> Decision:
    """Whether ``principal`` learns what an evidence request received: its items (listed, read, their events)
    and how many there are. Decided on the items' facts (the request's as addressed: its addressee by
    ``evidence_request_addressee`` without ``enforcing``), never on the request's own: a state that reads an
    EPOC only because it was transferred to it for enforcement needs the order, not the data, so it learns
    nothing of what was received, its count included (``jitlib.legal`` EPOC_ENFORCING_STATE_SEES_THE_ORDER).
    NOT_FOUND (DENY for operators and auditors) as for a record it may not read."""
    return decide(principal, Operation.READ, EVIDENCE_ITEM_RULES, record=items)


def decide_sensitive(
    principal: Principal, operation: SensitiveOperation, record: RecordAccess, *, jurisdiction: str | None = None
) -> Decision:
    """Decide ``operation`` on a sensitive item of ``record`` (its request's access facts): first as a READ
    (NOT_FOUND for what the caller may not see, DENY for non-case roles), then a party's named role.
    ``jurisdiction``: the operation is that jurisdiction's alone (the approver of an export request is of the
    requester's; the one who marks an item is of the jurisdiction that received it)."""
    seen = decide(principal, Operation.READ, record=record)
    if seen is not Decision.ALLOW:
        return seen
    if principal.jurisdiction not in record.parties:
        return Decision.DENY
    if jurisdiction is not None and principal.jurisdiction != jurisdiction:
        return Decision.DENY
    return Decision.ALLOW if principal.roles & SENSITIVE_ITEM_ROLES[operation] else Decision.DENY


@dataclass(frozen=True)
class VisibilityScope:
    """What of the caller the READ rule looks at."""

    workspaces: frozenset[str]
    jurisdiction: str
    may_read_content: bool


class Members(frozenset[str]):
    """A workspace's member jurisdictions, as its directory holds them, with ``former``: the jurisdictions
    an amendment of the JIT agreement took out of it and that are not members again (``jitlib.legal``
    JIT_MEMBER_TAKEN_OUT). Nothing new of the workspace is for a former member, even a record it is a party
    to (``entitled``); it compares equal to the plain set of members."""

    former: frozenset[str]

    def __new__(cls, members: Iterable[str] = (), former: Iterable[str] = ()) -> Members:
        self = super().__new__(cls, members)
        self.former = frozenset(former) - self
        return self


def former_members(members: Iterable[str]) -> frozenset[str]:
    """The jurisdictions taken out of the workspace whose ``members`` these are (none when ``members`` is
    a plain set: a workspace not known here yet, whose members are then its record's parties)."""
    return members.former if isinstance(members, Members) else frozenset()


def entitled(countries: Iterable[str], members: Iterable[str]) -> set[str]:
    """``countries`` (the parties or the audience of a record) less those taken out of the workspace
    whose ``members`` these are: a record's events never reach a former member, even one that is its
    assignee or addressee (JIT_MEMBER_TAKEN_OUT)."""
    return set(countries) - former_members(members)


def in_directory(principal: Principal, members_of: Callable[[str], Iterable[str] | None]) -> Principal:
    """The caller with only the workspaces its jurisdiction has not been taken out of, as the workspace
    directory (``members_of``: a workspace id's ``Members``, None when unknown here) says: a token issued
    before the amendment, or a node's realm that still lists the country's users, gives no access to a
    workspace its country left (JIT_MEMBER_TAKEN_OUT). A workspace the directory does not know yet is kept
    as the token says."""
    if not principal.workspaces:
        return principal
    left = frozenset(
        ws for ws in principal.workspaces if principal.jurisdiction in former_members(members_of(ws) or ())
    )
    return replace(principal, workspaces=principal.workspaces - left) if left else principal


def visibility_scope(principal: Principal) -> VisibilityScope:
    return VisibilityScope(
        workspaces=principal.workspaces,
        jurisdiction=principal.jurisdiction,
        may_read_content=bool(principal.roles & CASE_ROLES),
    )


# -- the READ rule, written once --------------------------------------------------------------------
#
# Who may see a record is decided in one place, ``readable``, written against a tiny language of terms
# (``Terms``). ``decide`` evaluates it on one record in Python (``RecordTerms``); every store's list
# query renders the same function into SQL (``jitlib.visibility.SqlTerms``); messaging's channel check
# goes through ``decide``. So the rule has one source, and the policy matrix test exercises it.


class Terms(Protocol, Generic[T]):
    """The terms the READ rule is written in, over one record (a Python bool, or a SQL expression)."""

    def false(self) -> T: ...

    def all_of(self, *terms: T) -> T: ...

    def any_of(self, *terms: T) -> T: ...

    def workspace_in(self, workspaces: frozenset[str]) -> T: ...

    def not_restricted(self) -> T: ...

    def has_party(self, jurisdiction: str) -> T: ...

    def addressed_to(self, jurisdiction: str) -> T:
        """True when the record is addressed to ``jurisdiction`` as an instrument that its addressee reads
        from outside the workspace too (``RecordAccess.outside_addressee``)."""
        ...


def readable(scope: VisibilityScope, t: Terms[T]) -> T:
    """The READ rule: a case role, and either a record in one of the caller's workspaces that, when
    restricted, has the caller's jurisdiction among its parties; or a record addressed to the caller's
    jurisdiction as an instrument toward a state outside the JIT, whether or not the caller is a member
    (that record only: JIT_INSTRUMENTS_TOWARD_OUTSIDE_STATES, ADDRESSEE_SEES_ONLY_WHAT_IS_ADDRESSED_TO_IT)."""
    if not scope.may_read_content:
        return t.false()
    addressed = t.addressed_to(scope.jurisdiction)
    if not scope.workspaces:
        return addressed
    member = t.all_of(t.workspace_in(scope.workspaces), t.any_of(t.not_restricted(), t.has_party(scope.jurisdiction)))
    return t.any_of(member, addressed)


@dataclass(frozen=True)
class RecordTerms:
    """``Terms`` evaluated on one record in memory."""

    record: RecordAccess

    def false(self) -> bool:
        return False

    def all_of(self, *terms: bool) -> bool:
        return all(terms)

    def any_of(self, *terms: bool) -> bool:
        return any(terms)

    def workspace_in(self, workspaces: frozenset[str]) -> bool:
        return self.record.workspace_id in workspaces

    def not_restricted(self) -> bool:
        return not self.record.restricted

    def has_party(self, jurisdiction: str) -> bool:
        return jurisdiction in self.record.parties

    def addressed_to(self, jurisdiction: str) -> bool:
        return self.record.outside_reader == jurisdiction


# -- statistics and the JIT's evaluation ----------------------------------------------------------------
#
# Statistics are aggregates of case records, small cells suppressed (``jitlib.stats``); still only the
# members of a workspace count it, and only prosecutors (who evaluate their JIT) and participants (Eurojust,
# Europol: they follow and advise on it). Operators and auditors never read case content, statistics
# included; a police liaison works the case, it does not evaluate it (GUESS: the brief of issue 16).

STATISTICS_ROLES = frozenset({"prosecutor", "participant"})


def statistics_decision(principal: Principal, workspace_id: str, *, evaluation_lead: str | None = None) -> Decision:
    """Whether ``principal`` may count ``workspace_id``: DENY without a statistics role, NOT_FOUND for a
    workspace the caller is not a member of. With ``evaluation_lead`` (the workspace's lead jurisdiction),
    whether they may export the JIT's evaluation: its lead's prosecutors only."""
    if not principal.roles & STATISTICS_ROLES:
        return Decision.DENY
    if workspace_id not in principal.workspaces:
        return Decision.NOT_FOUND
    if evaluation_lead is not None and not (
        "prosecutor" in principal.roles and principal.jurisdiction == evaluation_lead
    ):
        return Decision.DENY
    return Decision.ALLOW


def statistics_workspaces(principal: Principal) -> frozenset[str]:
    """The workspaces a caller's statistics count (none without a statistics role)."""
    return principal.workspaces if principal.roles & STATISTICS_ROLES else frozenset()
