"""Victim rules, pure: the pseudonym, what a valid registration, notice and referral are, and how each
changes the victim's record.

No I/O here: the servicer loads and stores, this module decides. Every function takes ``now`` explicitly.
The rules rest on the Victims' Rights Directive (``jitlib.legal``'s VICTIM_* rows): the victim is known by
a pseudonym (VICTIM_PSEUDONYM), its identity is read with need to know only (the policy's READ_PERSONAL,
VICTIM_IDENTITY_NEED_TO_KNOW), what it was told is recorded (VICTIM_INFORMATION_RIGHTS), and a referral to
support needs its consent (VICTIM_SUPPORT_REFERRAL).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import date, datetime

from jitlib import legal, stats, validate
from jitlib.actors import Actor, Versioned, changed, created
from jitlib.errors import FieldViolation
from jitlib.policy import VICTIM_RULES, AccessParties, Operation, RecordAccess, permitted
from jitlib.principal import Principal

#: The pseudonym's form (legal VICTIM_PSEUDONYM): the lead's jurisdiction code and a 4+ digit sequence.
PSEUDONYM = re.compile(r"^V-[A-Z]{2,8}-[0-9]{4,}$")

NAME_MAX = 200
CONTACT_MAX = 1_000
NEEDS_MAX = 2_000
NOTE_MAX = 2_000
SERVICE_NAME_MAX = 200
PURPOSE_MAX = 500
LANGUAGES_MAX = 10
#: A language tag: BCP 47's primary language and optional subtags (nl, pt-BR, sr-Latn).
LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$")
#: A victim's date of birth lies after this; an earlier one is a typing error.
EARLIEST_BIRTH = date(1900, 1, 1)


class NoticeStep(enum.StrEnum):
    """The key steps of the case a victim has the right to be told about (legal VICTIM_INFORMATION_RIGHTS)."""

    RIGHTS_EXPLAINED = "RIGHTS_EXPLAINED"
    COMPLAINT_ACKNOWLEDGED = "COMPLAINT_ACKNOWLEDGED"
    DECISION_NOT_TO_PROSECUTE = "DECISION_NOT_TO_PROSECUTE"
    TRIAL_TIME_AND_PLACE = "TRIAL_TIME_AND_PLACE"
    RELEASE_OR_ESCAPE = "RELEASE_OR_ESCAPE"
    STATE_OF_PROCEEDINGS = "STATE_OF_PROCEEDINGS"
    FINAL_JUDGMENT = "FINAL_JUDGMENT"
    #: Recorded by the system from a removal request's event (legal REMOVAL_VICTIM_NOTICE).
    CONTENT_REMOVED = "CONTENT_REMOVED"
    CONTENT_RESTORED = "CONTENT_RESTORED"


class NoticeChannel(enum.StrEnum):
    IN_PERSON = "IN_PERSON"
    LETTER = "LETTER"
    EMAIL = "EMAIL"
    PHONE = "PHONE"
    REPRESENTATIVE = "REPRESENTATIVE"
    #: Recorded by the system, never by a user: the victim is still to be told.
    SYSTEM = "SYSTEM"


def pseudonym(lead: str, sequence: int) -> str:
    """``V-NL-0007``: the lead's code and the sequence, at least 4 digits."""
    return f"V-{lead}-{sequence:04d}"


@dataclass(frozen=True)
class Identity:
    """Who the victim is: sealed at rest, read with need to know only, never in an event."""

    full_name: str
    date_of_birth: str = ""
    contact: str = ""
    languages: tuple[str, ...] = ()
    needs: str = ""


@dataclass(frozen=True)
class Referral:
    id: str
    service_name: str
    #: ISO date (YYYY-MM-DD).
    referred_on: str
    consent: bool
    referred_by: Actor
    recorded_at: datetime
    #: The request that recorded it and its digest (idempotency); not shown, not replicated.
    request_id: str = ""
    request_digest: str = ""


@dataclass(frozen=True)
class Victim(Versioned, AccessParties):
    """A victim as every member sees it: the pseudonym, the workspace, the victim's jurisdiction."""

    id: str
    workspace_id: str
    pseudonym: str
    #: The workspace's lead, whose node holds the record (legal VICTIM_HELD_BY_LEAD).
    origin_jurisdiction: str
    victim_jurisdiction: str
    notices_count: int = 0
    referrals: tuple[Referral, ...] = ()
    #: The offences the victim suffered (Directive (EU) 2024/1385 categories, ``jitlib.stats.OFFENCES``).
    offences: tuple[str, ...] = ()
    #: Open to every member of the workspace: the pseudonym is how members refer to the victim.
    restricted: bool = False
    shared_with: tuple[str, ...] = ()

    def access(self) -> RecordAccess:
        return RecordAccess.of(self, addressee=self.victim_jurisdiction)

    @property
    def registered_by(self) -> Actor:
        return self.created_by


@dataclass(frozen=True)
class Notice:
    id: str
    victim_id: str
    workspace_id: str
    step: NoticeStep
    told_at: datetime
    told_by: Actor
    language: str
    channel: NoticeChannel
    note: str
    recorded_at: datetime


# -- registration ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewVictim:
    request_id: str
    workspace_id: str
    victim_jurisdiction: str
    identity: Identity
    offences: tuple[str, ...] = ()


def identity_violations(identity: Identity, today: date) -> list[FieldViolation]:
    p = "identity."
    out: list[FieldViolation] = []
    out += validate.text(p + "full_name", identity.full_name, required=True, maximum=NAME_MAX)
    out += birth_date_violations(p + "date_of_birth", identity.date_of_birth, today)
    out += validate.text(p + "contact", identity.contact, required=False, maximum=CONTACT_MAX)
    out += validate.text(p + "needs", identity.needs, required=False, maximum=NEEDS_MAX)
    if len(identity.languages) > LANGUAGES_MAX:
        out.append(FieldViolation(p + "languages", f"at most {LANGUAGES_MAX} languages"))
    for i, tag in enumerate(identity.languages[:LANGUAGES_MAX]):
        if not LANGUAGE.fullmatch(tag):
            out.append(FieldViolation(f"{p}languages[{i}]", "must be a language tag such as nl or pt-BR"))
    return out


def birth_date_violations(name: str, value: str, today: date) -> list[FieldViolation]:
    if not value:
        return []
    day = iso_date(value)
    if day is None:
        return [FieldViolation(name, "must be a date YYYY-MM-DD")]
    if day > today or day < EARLIEST_BIRTH:
        return [FieldViolation(name, f"must lie between {EARLIEST_BIRTH.isoformat()} and today")]
    return []


def iso_date(value: str) -> date | None:
    if len(value) != 10:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def new_victim_violations(cmd: NewVictim, now: datetime) -> list[FieldViolation]:
    """Checks that need no database: formats, lengths, ranges."""
    out: list[FieldViolation] = []
    out += validate.request_id(cmd.request_id)
    out += validate.workspace_id("workspace_id", cmd.workspace_id)
    out += validate.jurisdiction("victim_jurisdiction", cmd.victim_jurisdiction)
    out += identity_violations(cmd.identity, now.date())
    out += offence_violations(cmd.offences)
    return out


def offence_violations(offences: tuple[str, ...]) -> list[FieldViolation]:
    """Each offence one of Directive (EU) 2024/1385's categories (``stats.OFFENCES``), named once
    (VICTIM_OFFENCES)."""
    if len(offences) > len(stats.OFFENCES):
        return [FieldViolation("offences", f"at most {len(stats.OFFENCES)}, each once")]
    out: list[FieldViolation] = []
    for i, offence in enumerate(offences):
        if offence not in stats.OFFENCES:
            out.append(FieldViolation(f"offences[{i}]", f"one of {', '.join(stats.OFFENCES)}"))
        elif offence in offences[:i]:
            out.append(FieldViolation(f"offences[{i}]", "named twice"))
    return out


def membership_violations(cmd: NewVictim, members: frozenset[str]) -> list[FieldViolation]:
    if cmd.victim_jurisdiction in members:
        return []
    return [FieldViolation("victim_jurisdiction", f"{cmd.victim_jurisdiction} is not a member of the workspace")]


def prospective_access(cmd: NewVictim, lead: str) -> RecordAccess:
    """The access facts the victim will have once registered: who may register it is decided on them
    (``Operation.PARTY_ACT``: the lead or the victim's jurisdiction)."""
    return RecordAccess(
        workspace_id=cmd.workspace_id,
        origin_jurisdiction=lead,
        addressee_jurisdiction=cmd.victim_jurisdiction,
        restricted=False,
    )


def register(cmd: NewVictim, *, victim_id: str, lead: str, sequence: int, actor: Actor, now: datetime) -> Victim:
    """The new victim, held by the lead's node, with the pseudonym of the lead's ``sequence``-th victim on
    this node (legal VICTIM_PSEUDONYM, VICTIM_HELD_BY_LEAD)."""
    return Victim(
        **created(actor, now),
        id=victim_id,
        workspace_id=cmd.workspace_id,
        pseudonym=pseudonym(lead, sequence),
        origin_jurisdiction=lead,
        victim_jurisdiction=cmd.victim_jurisdiction,
        offences=cmd.offences,
    )


# -- notices (what the victim was told) and referrals ---------------------------------------------------


@dataclass(frozen=True)
class NewNotice:
    request_id: str
    victim_id: str
    expected_version: int
    step: NoticeStep | None
    told_at: datetime | None
    language: str
    channel: NoticeChannel | None
    note: str
    #: Proto enum fields whose value this build does not know.
    unknown_enums: tuple[str, ...] = ()


def notice_violations(cmd: NewNotice, now: datetime) -> list[FieldViolation]:
    out: list[FieldViolation] = []
    out += validate.request_id(cmd.request_id)
    out += validate.uuid("victim_id", cmd.victim_id)
    out += validate.expected_version(cmd.expected_version)
    for name in cmd.unknown_enums:
        out.append(FieldViolation(name, "has an unknown value"))
    if cmd.step is None and "step" not in cmd.unknown_enums:
        out.append(FieldViolation("step", "is required: the key step the victim was told about"))
    if cmd.channel is None and "channel" not in cmd.unknown_enums:
        out.append(FieldViolation("channel", "is required: how the victim was told"))
    if cmd.channel is NoticeChannel.SYSTEM:
        out.append(FieldViolation("channel", "SYSTEM is recorded by the system only: say how the victim was told"))
    if not cmd.language:
        out.append(FieldViolation("language", "is required: the language the victim was told in"))
    elif not LANGUAGE.fullmatch(cmd.language):
        out.append(FieldViolation("language", "must be a language tag such as nl or pt-BR"))
    out += validate.past_date("told_at", cmd.told_at, now)
    out += validate.text("note", cmd.note, required=False, maximum=NOTE_MAX)
    return out


def record_notice(
    victim: Victim, cmd: NewNotice, *, notice_id: str, actor: Actor, now: datetime
) -> tuple[Victim, Notice]:
    """The victim's next version, with one more notice, and the notice (legal VICTIM_INFORMATION_RIGHTS).
    Input must have passed ``notice_violations``."""
    assert cmd.step is not None and cmd.channel is not None
    notice = Notice(
        id=notice_id,
        victim_id=victim.id,
        workspace_id=victim.workspace_id,
        step=cmd.step,
        told_at=cmd.told_at or now,
        told_by=actor,
        language=cmd.language,
        channel=cmd.channel,
        note=cmd.note,
        recorded_at=now,
    )
    return changed(victim, actor, now, notices_count=victim.notices_count + 1), notice


#: What a removal request's event tells a victim (legal REMOVAL_VICTIM_NOTICE), by its event type.
REMOVAL_NOTICE_STEPS = {
    "jit.preservation.v1.RemovalRequestRemoved": NoticeStep.CONTENT_REMOVED,
    "jit.preservation.v1.RemovalRequestGeoBlocked": NoticeStep.CONTENT_REMOVED,
    "jit.preservation.v1.RemovalRequestRestored": NoticeStep.CONTENT_RESTORED,
}


def removal_notice(
    victim: Victim, step: NoticeStep, *, notice_id: str, told_at: datetime, note: str, actor: Actor, now: datetime
) -> tuple[Victim, Notice]:
    """The notice the system records on ``victim`` when content of a removal request naming the victim is
    removed (or blocked) or restored (legal REMOVAL_VICTIM_NOTICE): channel SYSTEM, no language (the liaison
    supporting the victim tells them), ``told_at`` the platform's answer."""
    notice = Notice(
        id=notice_id,
        victim_id=victim.id,
        workspace_id=victim.workspace_id,
        step=step,
        told_at=told_at,
        told_by=actor,
        language="",
        channel=NoticeChannel.SYSTEM,
        note=note,
        recorded_at=now,
    )
    return changed(victim, actor, now, notices_count=victim.notices_count + 1), notice


@dataclass(frozen=True)
class NewReferral:
    request_id: str
    victim_id: str
    expected_version: int
    service_name: str
    referred_on: str
    consent: bool


def referral_violations(cmd: NewReferral, now: datetime) -> list[FieldViolation]:
    out: list[FieldViolation] = []
    out += validate.request_id(cmd.request_id)
    out += validate.uuid("victim_id", cmd.victim_id)
    out += validate.expected_version(cmd.expected_version)
    out += validate.text("service_name", cmd.service_name, required=True, maximum=SERVICE_NAME_MAX)
    if "\n" in cmd.service_name or "\r" in cmd.service_name:
        out.append(FieldViolation("service_name", "must be one line"))
    if cmd.referred_on:
        day = iso_date(cmd.referred_on)
        if day is None:
            out.append(FieldViolation("referred_on", "must be a date YYYY-MM-DD"))
        else:
            out += validate.past_date("referred_on", datetime(day.year, day.month, day.day, tzinfo=now.tzinfo), now)
    if not cmd.consent:
        # Art. 8(2): the victim is referred to support services with its consent, never without.
        why = "a victim is referred to support only with its consent"
        out.append(FieldViolation("consent", f"{why} {legal.cite('VICTIM_SUPPORT_REFERRAL')}"))
    return out


def record_referral(
    victim: Victim, cmd: NewReferral, *, referral_id: str, digest: str, actor: Actor, now: datetime
) -> tuple[Victim, Referral]:
    """The victim's next version with the referral added (legal VICTIM_SUPPORT_REFERRAL)."""
    referral = Referral(
        id=referral_id,
        service_name=cmd.service_name.strip(),
        referred_on=cmd.referred_on or now.date().isoformat(),
        consent=cmd.consent,
        referred_by=actor,
        recorded_at=now,
        request_id=cmd.request_id,
        request_digest=digest,
    )
    return changed(victim, actor, now, referrals=(*victim.referrals, referral)), referral


def referral_by_request(victim: Victim, user_id: str, request_id: str) -> Referral | None:
    """The referral ``user_id`` recorded with ``request_id`` (a replay), if any."""
    for r in victim.referrals:
        if r.request_id == request_id and r.referred_by.user_id == user_id:
            return r
    return None


def purpose_violations(purpose: str) -> list[FieldViolation]:
    """Why the caller reads an identity: one line, required, bounded."""
    out = validate.text("purpose", purpose, required=True, maximum=PURPOSE_MAX)
    if not out and ("\n" in purpose or "\r" in purpose):
        out.append(FieldViolation("purpose", "must be one line"))
    return out


# -- what the caller may do ------------------------------------------------------------------------------

#: The actions a victim's message lists, each with the operation the servicer asks the policy.
ACTIONS: tuple[tuple[str, Operation], ...] = (
    ("identity", Operation.READ_PERSONAL),
    ("notice", Operation.PARTY_ACT),
    ("refer", Operation.PARTY_ACT),
)


def allowed_actions(victim: Victim, principal: Principal) -> tuple[str, ...]:
    """What ``principal`` may do on ``victim`` now, from the one policy: read its identity (need to know),
    record a notice or a referral."""
    return permitted(principal, victim.access(), ((name, op, VICTIM_RULES) for name, op in ACTIONS))
