"""Removal-request rules, pure: the bases and their response clocks (a table with a source per row), the
state machine of a platform's answers, preserve-before-removing, re-uploads, and what a valid new request is.

No I/O here: the servicer loads and stores, this module decides. Every function takes ``now`` explicitly.
The rows of ``jitlib.legal`` these rest on: REMOVAL_DSA_ART9_CLOCK, REMOVAL_NATIONAL_DEADLINE,
REMOVAL_DSA_ART22_CLOCK, REMOVAL_DSA_ART16_CLOCK (the clocks), REMOVAL_PRESERVE_FIRST,
REMOVAL_PLATFORM_ANSWERS, REMOVAL_REUPLOAD_REOPENS.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from jitlib import durations, legal, validate
from jitlib.actors import Actor, Versioned, changed, created_record
from jitlib.errors import FailedPrecondition, FieldViolation
from jitlib.policy import REMOVAL_REQUEST_RULES, AccessParties, Decision, Operation, RecordAccess, decide, permitted
from jitlib.principal import Principal
from services.preservation.domain import CLOCK_SKEW, Order, OrderState, provider_id_violations

ITEMS_MAX = 50
URL_MAX = 2_048
ITEM_ID_MAX = 256
REUPLOADS_KEPT = 100
BLOCKED_IN_MAX = 50
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_ITEM_ID = re.compile(r"^[^\s]{1,256}$")
_HANDLE = re.compile(r"^@?[A-Za-z0-9_.\-]{1,100}$")


class RemovalState(enum.StrEnum):
    SENT = "SENT"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    REMOVED = "REMOVED"
    GEO_BLOCKED = "GEO_BLOCKED"
    REFUSED = "REFUSED"
    APPEALED = "APPEALED"
    RESTORED = "RESTORED"


#: Waiting for the platform's decision: the clock runs.
PENDING = frozenset({RemovalState.SENT, RemovalState.ACKNOWLEDGED})


class RemovalBasis(enum.StrEnum):
    DSA_ART9_ORDER = "DSA_ART9_ORDER"
    NATIONAL_ORDER = "NATIONAL_ORDER"
    DSA_ART22_TRUSTED_FLAGGER = "DSA_ART22_TRUSTED_FLAGGER"
    DSA_ART16_NOTICE = "DSA_ART16_NOTICE"


REFUSAL_REASONS = frozenset({"NOT_ILLEGAL", "NOT_FOUND", "INSUFFICIENT_INFORMATION", "OUT_OF_SCOPE", "OTHER"})

#: The legal row of each basis's clock.
CLOCK_RULES: dict[RemovalBasis, str] = {
    RemovalBasis.DSA_ART9_ORDER: "REMOVAL_DSA_ART9_CLOCK",
    RemovalBasis.NATIONAL_ORDER: "REMOVAL_NATIONAL_DEADLINE",
    RemovalBasis.DSA_ART22_TRUSTED_FLAGGER: "REMOVAL_DSA_ART22_CLOCK",
    RemovalBasis.DSA_ART16_NOTICE: "REMOVAL_DSA_ART16_CLOCK",
}
#: National deadlines the node knows by default (jurisdiction -> time), each a GUESS of REMOVAL_NATIONAL_DEADLINE.
DEFAULT_NATIONAL_DEADLINES: dict[str, timedelta] = {"DE": timedelta(hours=24)}


@dataclass(frozen=True)
class Clock:
    """How long the platform has to decide, and why (the legal row and its source, in words)."""

    period: timedelta
    rule_id: str
    source: str


@dataclass(frozen=True)
class RemovalRules:
    """The node's configuration of the response clocks (settings)."""

    #: The "without undue delay" / "timely" targets of the DSA bases.
    art9_target: timedelta = timedelta(hours=24)
    art22_target: timedelta = timedelta(hours=24)
    art16_target: timedelta = timedelta(hours=72)
    #: Deadlines national law sets, per jurisdiction.
    national: Mapping[str, timedelta] = field(default_factory=lambda: dict(DEFAULT_NATIONAL_DEADLINES))

    def clock(self, basis: RemovalBasis, national_jurisdiction: str = "") -> Clock:
        """The response clock of a request under ``basis`` (for a national order, the law of
        ``national_jurisdiction``; without a deadline of its own, the Art. 9 target)."""
        rule_id = CLOCK_RULES[basis]
        if basis is RemovalBasis.NATIONAL_ORDER:
            period = self.national.get(national_jurisdiction)
            if period is None:
                art9 = legal.rule("REMOVAL_DSA_ART9_CLOCK")
                return Clock(
                    self.art9_target,
                    rule_id,
                    f"no national deadline configured for {national_jurisdiction}: the Art. 9 target "
                    f"({_hours(self.art9_target)}, {art9.source})",
                )
            return Clock(period, rule_id, f"{national_jurisdiction}: {_hours(period)} ({legal.source(rule_id)})")
        period = {
            RemovalBasis.DSA_ART9_ORDER: self.art9_target,
            RemovalBasis.DSA_ART22_TRUSTED_FLAGGER: self.art22_target,
            RemovalBasis.DSA_ART16_NOTICE: self.art16_target,
        }[basis]
        return Clock(period, rule_id, f"{_hours(period)} ({legal.source(rule_id)})")


def _hours(period: timedelta) -> str:
    hours = period.total_seconds() / 3600
    return f"{hours:g} h"


def parse_national(text: str) -> dict[str, timedelta]:
    """``"DE=24h,FR=1h"`` -> deadlines per jurisdiction (``jitlib.durations`` units); ValueError when malformed."""
    out: dict[str, timedelta] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        code, sep, period = part.partition("=")
        if not sep or validate.jurisdiction("national", code.strip()):
            raise ValueError(f"national removal deadline {part!r}: write CODE=DURATION, e.g. DE=24h")
        out[code.strip()] = durations.parse(period.strip())
    return out


@dataclass(frozen=True)
class ContentItem:
    url: str = ""
    platform_item_id: str = ""
    account: str = ""
    sha256: str = ""

    def identifiers(self) -> set[str]:
        """What a preservation order's target may equal: the URL, the item id, the account (without @,
        case-insensitively for an account)."""
        out = {v.strip() for v in (self.url, self.platform_item_id) if v.strip()}
        if self.account.strip():
            out.add(_account(self.account))
        return out


def _account(value: str) -> str:
    return value.strip().removeprefix("@").lower()


@dataclass(frozen=True)
class Reupload:
    sha256: str
    url: str
    seen_at: datetime
    recorded_by: Actor


@dataclass(frozen=True)
class Removal(Versioned, AccessParties):
    id: str
    workspace_id: str
    origin_jurisdiction: str
    basis: RemovalBasis
    national_jurisdiction: str
    provider_id: str
    items: tuple[ContentItem, ...]
    state: RemovalState
    sent_at: datetime
    due_at: datetime
    clock_seconds: int
    clock_source: str
    #: Always False: every member reads a removal request (REMOVAL_REQUEST_RULES).
    restricted: bool = False
    shared_with: tuple[str, ...] = ()
    acknowledged_at: datetime | None = None
    decided_at: datetime | None = None
    answered_at: datetime | None = None
    removed_at: datetime | None = None
    refusal_reason: str = ""
    state_reason: str = ""
    blocked_in: tuple[str, ...] = ()
    reupload_count: int = 0
    reuploads: tuple[Reupload, ...] = ()
    preservation_order_id: str = ""
    proceed_without_preservation_reason: str = ""
    victim_refs: tuple[str, ...] = ()

    def access(self) -> RecordAccess:
        return RecordAccess.of(self)

    def past_due(self, now: datetime) -> bool:
        """Derived, never stored: the decision came after ``due_at``, or none came and ``due_at`` has passed."""
        if self.decided_at is not None:
            return self.decided_at > self.due_at
        return self.state in PENDING and now > self.due_at


# ---- creation ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewRemoval:
    request_id: str
    workspace_id: str
    basis: str
    national_jurisdiction: str
    provider_id: str
    items: tuple[ContentItem, ...]
    sent_at: datetime | None = None
    preservation_order_id: str = ""
    proceed_without_preservation_reason: str = ""
    victim_refs: tuple[str, ...] = ()
    restricted: bool = False
    shared_with: tuple[str, ...] = ()
    unknown_enums: tuple[str, ...] = ()


def sha256_violations(name: str, value: str, *, required: bool) -> list[FieldViolation]:
    if not value:
        return [FieldViolation(name, "is required")] if required else []
    if not _SHA256.fullmatch(value):
        return [FieldViolation(name, "must be a SHA-256 digest: 64 hexadecimal characters")]
    return []


def url_violations(name: str, value: str, *, required: bool) -> list[FieldViolation]:
    if not value:
        return [FieldViolation(name, "is required")] if required else []
    if len(value) > URL_MAX or not _URL.fullmatch(value):
        return [FieldViolation(name, f"must be an http(s) URL of at most {URL_MAX} characters")]
    return validate.http_url(name, value, maximum=URL_MAX)


def item_violations(items: tuple[ContentItem, ...]) -> list[FieldViolation]:
    if not items:
        return [FieldViolation("items", "at least one item of content is required")]
    out: list[FieldViolation] = []
    if len(items) > ITEMS_MAX:
        out.append(FieldViolation("items", f"at most {ITEMS_MAX} items"))
    for i, item in enumerate(items[:ITEMS_MAX]):
        name = f"items[{i}]"
        if not (item.url or item.platform_item_id):
            out.append(FieldViolation(f"{name}.url", "an item needs its URL or the platform's item id"))
        out += url_violations(f"{name}.url", item.url, required=False)
        if item.platform_item_id and not _ITEM_ID.fullmatch(item.platform_item_id):
            out.append(FieldViolation(f"{name}.platform_item_id", f"at most {ITEM_ID_MAX} characters, no spaces"))
        if item.account and not _HANDLE.fullmatch(item.account):
            out.append(FieldViolation(f"{name}.account", "must be an account handle (letters, digits, _ . -)"))
        out += sha256_violations(f"{name}.sha256", item.sha256, required=False)
    return out


def new_removal_violations(cmd: NewRemoval, providers: Mapping[str, object], now: datetime) -> list[FieldViolation]:
    """Checks that need no database: formats, lengths, enums, the provider register."""
    out: list[FieldViolation] = []
    out += validate.request_id(cmd.request_id)
    out += validate.workspace_id("workspace_id", cmd.workspace_id)
    for name in cmd.unknown_enums:
        out.append(FieldViolation(name, "has an unknown value"))
    if cmd.basis not in RemovalBasis.__members__ and "basis" not in cmd.unknown_enums:
        out.append(
            FieldViolation(
                "basis", "is required: DSA_ART9_ORDER, NATIONAL_ORDER, DSA_ART22_TRUSTED_FLAGGER or DSA_ART16_NOTICE"
            )
        )
    if cmd.national_jurisdiction:
        out += validate.jurisdiction("national_jurisdiction", cmd.national_jurisdiction)
        if cmd.basis != RemovalBasis.NATIONAL_ORDER:
            out.append(FieldViolation("national_jurisdiction", "is set only for a NATIONAL_ORDER"))
    out += provider_id_violations("provider_id", cmd.provider_id, dict(providers), required=True)  # type: ignore[arg-type]
    out += item_violations(cmd.items)
    out += validate.past_date("sent_at", cmd.sent_at, now + CLOCK_SKEW)
    out += validate.uuid("preservation_order_id", cmd.preservation_order_id, required=False)
    out += validate.text(
        "proceed_without_preservation_reason",
        cmd.proceed_without_preservation_reason,
        required=False,
        maximum=validate.REASON_MAX,
    )
    out += validate.victim_refs(cmd.victim_refs)
    return out


#: States of a preservation order in which it still holds (or held to the end) the data: a removal may go on.
LIVE_ORDER_STATES = frozenset(
    {
        OrderState.ISSUED,
        OrderState.CONFIRMED,
        OrderState.EXTENDED,
        OrderState.PRODUCTION_REQUESTED,
        OrderState.PRODUCED,
    }
)


def covers(order: Order, items: Iterable[ContentItem]) -> bool:
    """The order preserves the items' target: one of its targets equals an item's URL, item id or account."""
    wanted: set[str] = set()
    for item in items:
        wanted |= item.identifiers()
    for target in order.targets:
        value = _account(target.value) if target.kind == "ACCOUNT_HANDLE" else target.value.strip()
        if value in wanted:
            return True
    return False


def live_preservation(
    cmd: NewRemoval, orders: Iterable[Order], principal: Principal
) -> tuple[Order | None, FailedPrecondition | None]:
    """The live preservation order a new removal request links to (REMOVAL_PRESERVE_FIRST), from the
    workspace's orders of its provider that the caller may see: the one named, else the first that covers
    an item. Without one, FAILED_PRECONDITION NO_LIVE_PRESERVATION unless the request says why it goes on."""
    seen = [
        o
        for o in orders
        if o.workspace_id == cmd.workspace_id
        and o.provider_id == cmd.provider_id
        and o.state in LIVE_ORDER_STATES
        and decide(principal, Operation.READ, record=o.access()) is Decision.ALLOW
    ]
    if cmd.preservation_order_id:
        named = next((o for o in seen if o.id == cmd.preservation_order_id), None)
        if named is not None:
            return named, None
        return None, FailedPrecondition(
            "NO_LIVE_PRESERVATION",
            "preservation_order_id names no live preservation order of this workspace and platform that you may "
            f"see {legal.cite('REMOVAL_PRESERVE_FIRST')}",
            {"field": "preservation_order_id"},
        )
    found = next((o for o in sorted(seen, key=lambda o: o.id) if covers(o, cmd.items)), None)
    if found is not None or cmd.proceed_without_preservation_reason.strip():
        return found, None
    return None, FailedPrecondition(
        "NO_LIVE_PRESERVATION",
        "no live preservation order of this workspace covers the content on this platform: preserve it first, "
        "or give proceed_without_preservation_reason (recorded) to go on "
        f"{legal.cite('REMOVAL_PRESERVE_FIRST')}",
        {"provider_id": cmd.provider_id},
    )


def order_shown(principal: Principal, removal: Removal, order: Order | None) -> bool:
    """Whether a view of ``removal`` for ``principal`` names its preservation order: the order is the one it
    links, of its workspace, and the policy lets the caller read it. A removal request is open to the
    workspace while its order may be restricted to its parties (the default), so the id would tell every
    member that a hidden order exists (as the evidence service's ``order_shown`` hides a request's link)."""
    if order is None or order.id != removal.preservation_order_id or order.workspace_id != removal.workspace_id:
        return False
    return decide(principal, Operation.READ, record=order.access()) is Decision.ALLOW


def reason_shown(principal: Principal, removal: Removal) -> bool:
    """Whether a view of ``removal`` for ``principal`` carries ``proceed_without_preservation_reason``: to the
    issuing jurisdiction only (its own note), never in an event. The reason exists only when no order was
    linked, so showing it to a member who may not read a linked order would tell that member, by its
    absence, that an order it may not see exists. Every other caller sees a removal without the order's id
    (``order_shown``) exactly as one sent without preservation: no id and no reason."""
    return principal.jurisdiction == removal.origin_jurisdiction


def create(
    cmd: NewRemoval, *, removal_id: str, actor: Actor, now: datetime, rules: RemovalRules, order: Order | None
) -> Removal:
    basis = RemovalBasis(cmd.basis)
    national = (cmd.national_jurisdiction or actor.jurisdiction) if basis is RemovalBasis.NATIONAL_ORDER else ""
    clock = rules.clock(basis, national)
    sent = cmd.sent_at or now
    return Removal(
        **created_record(cmd, record_id=removal_id, actor=actor, now=now),
        basis=basis,
        national_jurisdiction=national,
        provider_id=cmd.provider_id,
        items=tuple(
            ContentItem(i.url.strip(), i.platform_item_id.strip(), i.account.strip(), i.sha256.lower())
            for i in cmd.items
        ),
        state=RemovalState.SENT,
        sent_at=sent,
        due_at=sent + clock.period,
        clock_seconds=int(clock.period.total_seconds()),
        clock_source=clock.source,
        preservation_order_id=order.id if order is not None else "",
        # Recorded only when it was needed: with a live order linked, there is nothing to justify.
        proceed_without_preservation_reason=""
        if order is not None
        else cmd.proceed_without_preservation_reason.strip(),
        victim_refs=cmd.victim_refs,
    )


# ---- transitions -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Transition:
    action: str
    #: Past-tense event name, the subject's last token after ``removal_``.
    event: str
    sources: frozenset[RemovalState]
    target: RemovalState


S = RemovalState
TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        Transition("ack", "acknowledged", frozenset({S.SENT}), S.ACKNOWLEDGED),
        Transition("removed", "removed", frozenset({S.SENT, S.ACKNOWLEDGED, S.APPEALED}), S.REMOVED),
        Transition("geoblocked", "geo_blocked", frozenset({S.SENT, S.ACKNOWLEDGED}), S.GEO_BLOCKED),
        Transition("refused", "refused", frozenset({S.SENT, S.ACKNOWLEDGED}), S.REFUSED),
        Transition("appealed", "appealed", frozenset({S.REMOVED, S.GEO_BLOCKED}), S.APPEALED),
        Transition("restored", "restored", frozenset({S.APPEALED}), S.RESTORED),
        Transition("reupload", "reopened", frozenset({S.REMOVED, S.GEO_BLOCKED}), S.SENT),
    )
}
#: What each transition's operation is: the issuing side records every answer (REMOVAL_PLATFORM_ANSWERS).
OPERATION = Operation.ISSUER_ACT


@dataclass(frozen=True)
class Answer:
    """What a transition request carries."""

    answered_at: datetime | None = None
    reason: str = ""
    details: str = ""
    blocked_in: tuple[str, ...] = ()
    sha256: str = ""
    url: str = ""


def answer_violations(action: str, data: Answer, now: datetime) -> list[FieldViolation]:
    """Input checks that need no database."""
    out: list[FieldViolation] = []
    name = "seen_at" if action == "reupload" else "answered_at"
    out += validate.past_date(name, data.answered_at, now + CLOCK_SKEW)
    out += validate.text("details", data.details, required=False, maximum=validate.REASON_MAX)
    if action == "refused" and data.reason not in REFUSAL_REASONS:
        out.append(FieldViolation("reason", "must be a refusal reason: " + ", ".join(sorted(REFUSAL_REASONS))))
    if action == "geoblocked":
        if not data.blocked_in:
            out.append(FieldViolation("blocked_in", "name at least one jurisdiction where access was disabled"))
        if len(data.blocked_in) > BLOCKED_IN_MAX:
            out.append(FieldViolation("blocked_in", f"at most {BLOCKED_IN_MAX} jurisdictions"))
        for i, code in enumerate(data.blocked_in[:BLOCKED_IN_MAX]):
            out += validate.jurisdiction(f"blocked_in[{i}]", code)
    if action == "reupload":
        out += sha256_violations("sha256", data.sha256, required=True)
        out += url_violations("url", data.url, required=True)
    return out


def refusal(removal: Removal, action: str) -> FailedPrecondition | None:
    t = TRANSITIONS[action]
    if removal.state not in t.sources:
        return FailedPrecondition(
            "ILLEGAL_TRANSITION",
            f"cannot record {t.event.replace('_', ' ')} on a removal request that is {removal.state.value}",
            {
                "action": action,
                "state": removal.state.value,
                "allowed_from": ",".join(sorted(s.value for s in t.sources)),
            },
        )
    return None


def allowed_actions(removal: Removal, principal: Principal) -> tuple[str, ...]:
    candidates = (
        (t.action, OPERATION, REMOVAL_REQUEST_RULES) for t in TRANSITIONS.values() if refusal(removal, t.action) is None
    )
    return permitted(principal, removal.access(), candidates)


def apply(removal: Removal, action: str, data: Answer, *, actor: Actor, now: datetime, rules: RemovalRules) -> Removal:
    """Record the platform's answer (or a re-upload); FAILED_PRECONDITION when the state does not allow it, when
    the answer is dated before the request was sent, or when a re-upload's hash is none of the items'."""
    problem = refusal(removal, action)
    if problem is not None:
        raise problem
    t = TRANSITIONS[action]
    at = data.answered_at or now
    if at < removal.sent_at:
        raise FailedPrecondition(
            "ANSWERED_BEFORE_SENT",
            f"{'seen_at' if action == 'reupload' else 'answered_at'} is before the request was sent",
            {"sent_at": removal.sent_at.isoformat()},
        )
    changes: dict[str, object] = {"answered_at": at}
    if action == "ack":
        changes["acknowledged_at"] = at
    elif action in ("removed", "geoblocked"):
        if removal.state in PENDING:
            changes["decided_at"] = at
        if removal.removed_at is None or removal.state is RemovalState.APPEALED:
            changes["removed_at"] = at
        changes["blocked_in"] = tuple(sorted(set(data.blocked_in))) if action == "geoblocked" else ()
        changes["state_reason"] = ""
    elif action == "refused":
        changes.update(decided_at=at, refusal_reason=data.reason, state_reason=data.details.strip())
    elif action in ("appealed", "restored"):
        changes["state_reason"] = data.details.strip()
    elif action == "reupload":
        digest = data.sha256.lower()
        if digest not in {i.sha256 for i in removal.items if i.sha256}:
            raise FailedPrecondition(
                "UNKNOWN_CONTENT_HASH",
                "sha256 is the hash of none of the request's items: record a new removal request for new content",
                {"field": "sha256"},
            )
        clock = rules.clock(removal.basis, removal.national_jurisdiction)
        kept = (*removal.reuploads, Reupload(digest, data.url.strip(), at, actor))[-REUPLOADS_KEPT:]
        changes.update(
            sent_at=at,
            due_at=at + clock.period,
            clock_seconds=int(clock.period.total_seconds()),
            clock_source=clock.source,
            acknowledged_at=None,
            decided_at=None,
            removed_at=None,
            refusal_reason="",
            state_reason="",
            blocked_in=(),
            reupload_count=removal.reupload_count + 1,
            reuploads=kept,
        )
    return changed(removal, actor, now, state=t.target, **changes)
