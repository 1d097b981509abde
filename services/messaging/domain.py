"""Messaging rules, pure: what channels, messages, revisions and receipts are, what a valid request is,
who may post, edit, delete, rotate a key and see receipts, and the words of a system notice.

No I/O here: the servicer loads and stores, seals and opens; this module decides. Functions that date
something take ``now`` as an argument.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from jitlib import durations, validate
from jitlib.actors import Actor
from jitlib.errors import Aborted, FailedPrecondition, FieldViolation, PermissionDenied
from jitlib.fields import same_fields
from jitlib.ids import is_uuid
from jitlib.jurisdictions import is_jurisdiction
from jitlib.policy import CASE_ROLES, AccessParties, RecordAccess, RecordRules, evidence_request_addressee

BODY_MAX = 20_000
TITLE_MAX = 200
ATTACHMENTS_MAX = 5
ATTACHMENT_MAX_BYTES = 4 * 1024 * 1024
ATTACHMENTS_TOTAL_MAX = 8 * 1024 * 1024
MEMBERS_MAX = 40
MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$")
FILENAME_MAX = 200
SAFE_FILENAME = re.compile(r"[^/\\]{1,200}")

#: Channel kinds: the workspace's own channel (every member), a restricted channel (its opener and the
#: members chosen), the thread of a record (whoever may see the record).
WORKSPACE, RESTRICTED, RECORD = "WORKSPACE", "RESTRICTED", "RECORD"
#: The channels whose title a user wrote (case content: sealed at rest under the channel's key, erased by a
#: shred). A workspace channel's title is the workspace's name (held in clear by every service's workspace
#: directory, so sealing this copy would hide nothing), a thread's names its record ("task <id>"): neither
#: is what a user wrote, and both stay in clear.
SEALED_TITLE_KINDS = (RESTRICTED,)
#: The records that have a thread, by their proto RecordKind name.
THREADED = {"TASK": "task", "EVIDENCE_REQUEST": "evidence_request", "PRESERVATION_ORDER": "preservation_order"}

#: Any case role may post in a channel it can see (the channel's own visibility is checked first).
MESSAGE_RULES = RecordRules(
    kind="message", creator_roles=CASE_ROLES, issuer_roles=frozenset(), addressee_roles=frozenset()
)
#: The sender of system notices.
SYSTEM_SENDER = Actor("system", "jit-system", "SYSTEM")


# -- the records --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Channel(AccessParties):
    id: str
    workspace_id: str
    kind: str
    title: str
    origin_jurisdiction: str
    #: Restricted channels and record threads: the jurisdictions besides the origin that may see it.
    members: tuple[str, ...]
    #: Record threads (and the workspace channel, as ("workspace", id)): what the channel is about.
    record: tuple[str, str] | None
    key_version: int
    next_seq: int
    created_by_id: str
    created_at: datetime
    shredded_at: datetime | None = None
    #: Visible to its parties only. False for the workspace channel and the thread of a record open to
    #: the whole workspace (the record's own visibility).
    restricted: bool = True
    #: A channel of ``SEALED_TITLE_KINDS`` as the store holds it: its title sealed under its key of
    #: ``title_key_version`` (``title`` is then "" until ``content.Content.titled`` opens it). Empty for a
    #: channel whose title is in clear, or opened.
    sealed_title: bytes = b""
    title_key_version: int = 0

    def access(self) -> RecordAccess:
        """A restricted channel is visible to its members: they are its parties (stored as such)."""
        return RecordAccess.of(self, shared_with=self.members)

    @property
    def last_seq(self) -> int:
        return self.next_seq - 1


@dataclass(frozen=True)
class NewAttachment:
    filename: str
    media_type: str
    content: bytes


@dataclass(frozen=True)
class AttachmentMeta:
    """An attachment as a message lists it (sealed at rest, like the body); its content is a sealed file
    named ``blob``."""

    filename: str
    media_type: str
    size: int
    sha256: str
    blob: str
    key_version: int


@dataclass(frozen=True)
class Message:
    """A message as stored: its body sealed under the channel key of ``key_version``, the list of its
    attachments (names, media types, sizes, digests) sealed under the key of ``attachments_key_version``
    (the key it was posted with: an edit re-seals the body, never the attachments)."""

    id: str
    channel_id: str
    seq: int
    sender: Actor
    system: bool
    revision: int
    deleted: bool
    key_version: int
    sealed_body: bytes
    posted_at: datetime
    edited_at: datetime | None = None
    #: b"" when the message has no attachment.
    sealed_attachments: bytes = b""
    attachments_key_version: int = 0
    #: Messages posted before the metadata was sealed keep it in clear here (until their channel is
    #: shredded, which erases it).
    legacy_attachments: tuple[AttachmentMeta, ...] = ()

    @property
    def has_attachments(self) -> bool:
        return bool(self.sealed_attachments or self.legacy_attachments)


@dataclass(frozen=True)
class MessageInChannel:
    """A message with the channel it is in: the channel decides who may see it."""

    message: Message
    channel: Channel

    def access(self) -> RecordAccess:
        return self.channel.access()


#: What a revision keeps of the message it replaced, under the message's own names.
_REVISED = "revision key_version sealed_body deleted"


@dataclass(frozen=True)
class Revision:
    """An earlier revision of a message, kept sealed when an edit or a deletion replaced it."""

    message_id: str
    revision: int
    key_version: int
    sealed_body: bytes
    deleted: bool
    editor: Actor
    at: datetime

    def as_message(self, current: Message) -> Message:
        """The revision as a history entry: who replaced it and when, what it said."""
        kept = same_fields(self, _REVISED)
        return replace(current, **kept, sender=self.editor, posted_at=self.at, edited_at=None)


@dataclass(frozen=True)
class Opened:
    """A message as a reader sees it: the body and the attachment list opened, or ``shredded`` when its
    key is destroyed (a deleted or shredded message lists no attachment)."""

    message: Message
    body: str = ""
    shredded: bool = False
    attachments: tuple[AttachmentMeta, ...] = ()


@dataclass(frozen=True)
class Receipt:
    message_id: str
    reader: Actor
    delivered_at: datetime | None
    read_at: datetime | None


@dataclass(frozen=True)
class RecordReplica(AccessParties):
    """Who may see a record of another service: the access facts of the record's own state, as its
    latest event carried it (never the event's ``audience``), computed as the owning service's policy
    does (``task_replica``, ``evidence_request_replica``, ``preservation_order_replica``). What its
    thread inherits."""

    kind: str
    id: str
    workspace_id: str
    origin_jurisdiction: str
    addressee_jurisdiction: str | None
    restricted: bool
    shared_with: frozenset[str]
    version: int

    def access(self) -> RecordAccess:
        return RecordAccess.of(self, addressee=self.addressee_jurisdiction)


def task_replica(
    *,
    id: str,
    workspace_id: str,
    origin_jurisdiction: str,
    assignee: str,
    restricted: bool,
    shared_with: Iterable[str],
    version: int,
) -> RecordReplica:
    """A task's access facts, as the tasks service's ``Task.access()`` computes them: the assignee is its
    addressee."""
    return RecordReplica(
        "task", id, workspace_id, origin_jurisdiction, assignee or None, restricted, frozenset(shared_with), version
    )


def evidence_request_replica(
    *,
    id: str,
    workspace_id: str,
    origin_jurisdiction: str,
    addressee_kind: str,
    addressee: str,
    legal_basis: str,
    epoc_procedure: str,
    restricted: bool,
    shared_with: Iterable[str],
    version: int,
    enforcing: str = "",
) -> RecordReplica:
    """An evidence request's access facts, by the same rule as the evidence service's
    ``EvidenceRequest.access()`` (``jitlib.policy.evidence_request_addressee``): ``enforcing``, the state an
    EPOC was transferred to for enforcement, is its addressee from then on when it had none
    (EPOC_ENFORCING_STATE_SEES_THE_ORDER), so a party of its thread when it is a member (``thread_members``)."""
    party = evidence_request_addressee(addressee_kind, addressee, legal_basis, epoc_procedure, enforcing)
    return RecordReplica(
        "evidence_request", id, workspace_id, origin_jurisdiction, party, restricted, frozenset(shared_with), version
    )


def preservation_order_replica(
    *, id: str, workspace_id: str, origin_jurisdiction: str, restricted: bool, shared_with: Iterable[str], version: int
) -> RecordReplica:
    """A preservation order's access facts, as the preservation service's ``Order.access()`` computes
    them: it has no addressee jurisdiction (a provider preserves)."""
    return RecordReplica(
        "preservation_order", id, workspace_id, origin_jurisdiction, None, restricted, frozenset(shared_with), version
    )


def replica_problem(seen: RecordReplica) -> str:
    """Why the record a record event carries must be set aside ("" when it may be applied): its ids must be
    well formed and every jurisdiction named must be one. (Its envelope must describe it too:
    ``jitlib.envelopes.description_problem``.)"""
    if not is_uuid(seen.id) or validate.workspace_id("workspace_id", seen.workspace_id):
        return "malformed record or workspace id"
    named = [seen.origin_jurisdiction, *seen.shared_with]
    if seen.addressee_jurisdiction:
        named.append(seen.addressee_jurisdiction)
    if not all(is_jurisdiction(j) for j in named):
        return "a party is not a jurisdiction code"
    return ""


# -- input checks -------------------------------------------------------------------------------------


def channel_violations(request_id: str, workspace_id: str, title: str, members: list[str]) -> list[FieldViolation]:
    out = validate.request_id(request_id)
    out += validate.workspace_id("workspace_id", workspace_id)
    out += validate.text("title", title, required=True, maximum=TITLE_MAX)
    if not members:
        out.append(FieldViolation("members", "name at least one other member jurisdiction"))
    elif len(members) > MEMBERS_MAX:
        out.append(FieldViolation("members", f"at most {MEMBERS_MAX} jurisdictions"))
    for i, j in enumerate(members[:MEMBERS_MAX]):
        out += validate.jurisdiction(f"members[{i}]", j)
    return out


def membership_violations(members: list[str], workspace_members: frozenset[str]) -> list[FieldViolation]:
    return [
        FieldViolation(f"members[{i}]", f"{j} is not a member of the workspace")
        for i, j in enumerate(members)
        if j not in workspace_members
    ]


def message_violations(
    request_id: str, channel_id: str, body: str, attachments: list[NewAttachment]
) -> list[FieldViolation]:
    out = validate.request_id(request_id)
    out += validate.uuid("channel_id", channel_id)
    out += validate.text("body", body, required=not attachments, maximum=BODY_MAX)
    out += attachment_violations(attachments)
    return out


def attachment_violations(attachments: list[NewAttachment]) -> list[FieldViolation]:
    out: list[FieldViolation] = []
    if len(attachments) > ATTACHMENTS_MAX:
        out.append(FieldViolation("attachments", f"at most {ATTACHMENTS_MAX} attachments"))
    total = 0
    for i, a in enumerate(attachments[:ATTACHMENTS_MAX]):
        name = f"attachments[{i}].filename"
        # One line as shown (no control, line-break or bidirectional characters: ``fdp.exe`` must not show
        # as ``exe.pdf``), and a plain name, no path.
        found = validate.one_line(name, a.filename, required=True, maximum=FILENAME_MAX)
        if not found and not SAFE_FILENAME.fullmatch(a.filename):
            found = [FieldViolation(name, "must be a plain file name")]
        out += found
        if not MEDIA_TYPE.fullmatch(a.media_type):
            out.append(FieldViolation(f"attachments[{i}].media_type", "must be a media type such as image/png"))
        if not a.content:
            out.append(FieldViolation(f"attachments[{i}].content", "is empty"))
        if len(a.content) > ATTACHMENT_MAX_BYTES:
            out.append(FieldViolation(f"attachments[{i}].content", f"must be at most {ATTACHMENT_MAX_BYTES} bytes"))
        total += len(a.content)
    if total > ATTACHMENTS_TOTAL_MAX:
        out.append(FieldViolation("attachments", f"must total at most {ATTACHMENTS_TOTAL_MAX} bytes"))
    return out


def edit_violations(message_id: str, body: str, expected_revision: int) -> list[FieldViolation]:
    out = validate.uuid("id", message_id)
    out += validate.text("body", body, required=True, maximum=BODY_MAX)
    if expected_revision < 0:
        out.append(FieldViolation("expected_revision", "must not be negative"))
    return out


def cursor_violations(name: str, value: int, *, minimum: int = 0) -> list[FieldViolation]:
    """A sequence number a client sends (a cursor, a read mark)."""
    if value < minimum:
        return [FieldViolation(name, "must not be negative" if minimum == 0 else f"must be at least {minimum}")]
    return []


# -- channels -----------------------------------------------------------------------------------------


def new_channel(
    *, channel_id: str, workspace_id: str, title: str, opener: Actor, members: list[str], now: datetime
) -> Channel:
    """A restricted channel: the opener's jurisdiction and the members chosen (input checked before)."""
    return Channel(
        id=channel_id,
        workspace_id=workspace_id,
        kind=RESTRICTED,
        title=title.strip(),
        origin_jurisdiction=opener.jurisdiction,
        members=tuple(sorted(set(members) - {opener.jurisdiction})),
        record=None,
        key_version=1,
        next_seq=1,
        created_by_id=opener.user_id,
        created_at=now,
    )


def workspace_channel(*, channel_id: str, workspace_id: str, name: str, lead: str, now: datetime) -> Channel:
    """The channel of every member of a workspace."""
    return Channel(
        id=channel_id,
        workspace_id=workspace_id,
        kind=WORKSPACE,
        title=name,
        origin_jurisdiction=lead,
        members=(),
        record=("workspace", workspace_id),
        key_version=1,
        next_seq=1,
        created_by_id=SYSTEM_SENDER.user_id,
        created_at=now,
        restricted=False,
    )


def record_thread(
    replica: RecordReplica, *, channel_id: str, now: datetime, members: frozenset[str] | None = None
) -> Channel:
    """The thread of a record, with the record's visibility: its parties, or the whole workspace. A thread
    is a channel of the workspace: ``members`` (the workspace's, when known) bounds its parties
    (``thread_members``)."""
    return Channel(
        id=channel_id,
        workspace_id=replica.workspace_id,
        kind=RECORD,
        title=f"{replica.kind.replace('_', ' ')} {replica.id}",
        origin_jurisdiction=replica.origin_jurisdiction,
        members=thread_members(replica, members),
        record=(replica.kind, replica.id),
        key_version=1,
        next_seq=1,
        created_by_id=SYSTEM_SENDER.user_id,
        created_at=now,
        restricted=replica.restricted,
    )


def thread_members(replica: RecordReplica, members: frozenset[str] | None = None) -> tuple[str, ...]:
    """A record thread's members besides its origin: the record's other parties (addressee, shared with)
    that are members of the workspace (``members``; all of them when the workspace is not known here). A
    request's addressee outside the workspace reads the request, never the JIT's channels, its thread
    included, nor receives their events (ADDRESSEE_SEES_ONLY_WHAT_IS_ADDRESSED_TO_IT)."""
    others = replica.parties - {replica.origin_jurisdiction}
    if members is not None:
        others &= members
    return tuple(sorted(others))


def thread_after(thread: Channel, replica: RecordReplica, members: frozenset[str] | None = None) -> Channel | None:
    """The thread once its record changed who may see it; None when nothing changes."""
    parties = thread_members(replica, members)
    if thread.members == parties and thread.restricted == replica.restricted:
        return None
    return replace(thread, members=parties, restricted=replica.restricted)


def withdrawn_replica(
    *, kind: str, id: str, workspace_id: str, origin_jurisdiction: str, version: int
) -> RecordReplica:
    """What a node knows of a record its owner withdrew from the node's country (a restricted task
    reassigned away from it): a restricted record of its origin alone, so its thread has no member here."""
    return RecordReplica(
        kind=kind,
        id=id,
        workspace_id=workspace_id,
        origin_jurisdiction=origin_jurisdiction,
        addressee_jurisdiction=None,
        restricted=True,
        shared_with=frozenset(),
        version=version,
    )


def replica_after(current: RecordReplica | None, seen: RecordReplica) -> RecordReplica:
    """The replica once an event about the record is seen: a newer (or equal) version wins."""
    if current is None or seen.version >= current.version:
        return seen
    return current


def content_destroyed() -> FailedPrecondition:
    """The answer for a channel whose keys were destroyed (its retention ended)."""
    return FailedPrecondition("CHANNEL_SHREDDED", "the channel's content was destroyed")


def check_open(channel: Channel) -> None:
    """A channel takes messages, edits and new keys until its keys are destroyed."""
    if channel.shredded_at is not None:
        raise content_destroyed()


def rotated(channel: Channel, expected_key_version: int = 0) -> Channel:
    """The channel with a new key version, from the version the caller saw (``expected_key_version``, 0: no
    check): two rotations from one version make one. (The retry of the rotation that made the current version,
    its answer lost, is answered before this, as a replay: ``channels.Channels.rotate_key``.)"""
    check_open(channel)
    if expected_key_version and expected_key_version != channel.key_version:
        raise Aborted(
            "KEY_VERSION_MISMATCH",
            f"the channel's key is at version {channel.key_version}, not {expected_key_version}: it was rotated "
            "since; read the channel again before rotating",
            {"current_key_version": str(channel.key_version)},
        )
    return replace(channel, key_version=channel.key_version + 1)


# -- messages -----------------------------------------------------------------------------------------


def describe(files: list[NewAttachment], *, message_id: str, key_version: int) -> tuple[AttachmentMeta, ...]:
    """What a message lists of its attachments; blob ``<message id>-<index>`` holds each one sealed."""
    return tuple(
        AttachmentMeta(
            filename=f.filename,
            media_type=f.media_type,
            size=len(f.content),
            sha256=hashlib.sha256(f.content).hexdigest(),
            blob=f"{message_id}-{i}",
            key_version=key_version,
        )
        for i, f in enumerate(files)
    )


def new_message(
    channel: Channel,
    *,
    message_id: str,
    sender: Actor,
    sealed_body: bytes,
    sealed_attachments: bytes,
    system: bool,
    now: datetime,
) -> Message:
    """The next message of ``channel`` (read under its lock): the next seq, sealed with the current key."""
    check_open(channel)
    return Message(
        id=message_id,
        channel_id=channel.id,
        seq=channel.next_seq,
        sender=sender,
        system=system,
        revision=1,
        deleted=False,
        key_version=channel.key_version,
        sealed_body=sealed_body,
        posted_at=now,
        sealed_attachments=sealed_attachments,
        attachments_key_version=channel.key_version if sealed_attachments else 0,
    )


def check_revision(message: Message, editor: Actor, expected_revision: int) -> None:
    """Only the sender edits or deletes a message, never a deleted one, and never from a stale view."""
    if message.sender.user_id != editor.user_id:
        raise PermissionDenied("NOT_THE_SENDER", "only the sender may edit or delete a message")
    if message.deleted:
        raise FailedPrecondition("MESSAGE_DELETED", "the message was deleted")
    if expected_revision and expected_revision != message.revision:
        raise Aborted(
            "REVISION_MISMATCH",
            f"message is at revision {message.revision}, not {expected_revision}",
            {"current_revision": str(message.revision)},
        )


def may_retry_revision(message: Message, editor: Actor, expected_revision: int, *, deleting: bool) -> bool:
    """Whether an edit (or, ``deleting``, a delete) of ``message`` by ``editor`` asked from
    ``expected_revision`` may be the retry of the one that made its current revision, whose answer was lost:
    by the sender (the only one who revises it), of a message revised since it was posted, asked from the
    revision before the current one or from 0, and a delete of a deleted message or an edit of one that is
    not. An edit is that retry when it asks for the text the message has now (which the caller compares:
    it is sealed); a delete, always (a message is deleted once). Answered as the first call was, nothing
    written, where ``check_revision`` said ABORTED or MESSAGE_DELETED to a user whose change had been made."""
    if message.sender.user_id != editor.user_id or message.revision < 2:
        return False
    return expected_revision in (0, message.revision - 1) and message.deleted == deleting


def revise(
    message: Message, channel: Channel, *, editor: Actor, sealed_body: bytes, deleted: bool, now: datetime
) -> tuple[Message, Revision]:
    """The message's next revision (sealed under the channel's current key) and the revision it keeps."""
    check_open(channel)
    kept = Revision(message_id=message.id, **same_fields(message, _REVISED), editor=editor, at=now)
    updated = replace(
        message,
        revision=message.revision + 1,
        deleted=deleted,
        key_version=channel.key_version,
        sealed_body=sealed_body,
        edited_at=now,
    )
    return updated, kept


def history(current: Message, revisions: list[Revision]) -> list[Message]:
    """What ``GetMessageHistory`` shows: every revision, oldest first, then the message as it is; of a
    deleted message only its tombstone (deleting takes back what it said, in every revision)."""
    if current.deleted:
        return [current]
    return [rev.as_message(current) for rev in revisions] + [current]


# -- retention ----------------------------------------------------------------------------------------


def closures_to_update(directory: dict[str, str], recorded: frozenset[str]) -> tuple[list[str], list[str]]:
    """What the retention clock does after looking at the workspace directory (``directory``: each
    workspace's status, "open" or "closed", as this node's directory holds it; ``recorded``: the
    workspaces whose closure is recorded and not yet shredded). Returns the workspaces whose closure to
    record now (closed in the directory, not recorded yet: the clock starts when this node first sees
    the closure, whatever date an event claims) and those whose closure to forget (reopened, or no
    longer known: an erroneous closure undone stops the clock)."""
    start = sorted(ws for ws, status in directory.items() if status == "closed" and ws not in recorded)
    stop = sorted(ws for ws in recorded if directory.get(ws) != "closed")
    return start, stop


def shred_due_at(seen_closed_at: datetime, retention: timedelta, grace: timedelta) -> datetime:
    """When a closed workspace's content is destroyed: the retention period, then a grace period in which
    an erroneous closure can still be undone, both from when this node first saw it closed."""
    return seen_closed_at + retention + grace


def may_shred(directory_status: str | None, *, recorded_closure: datetime | None, due_closure: datetime) -> bool:
    """Destroying content rests on the directory's confirmed state when it runs: the workspace is still
    closed there, and the closure the alert was computed from is still the one recorded (a reopened and
    closed-again workspace starts a new period)."""
    return directory_status == "closed" and recorded_closure == due_closure


# -- receipts -----------------------------------------------------------------------------------------


def gets_receipt(message_sender_id: str, reader_id: str) -> bool:
    """A reader leaves receipts on other people's messages, not on their own."""
    return message_sender_id != reader_id


def check_may_see_receipts(message: Message, user_id: str) -> None:
    if message.sender.user_id != user_id:
        raise PermissionDenied("NOT_THE_SENDER", "only the sender sees a message's receipts")


def receipt_after(
    current: Receipt | None, message_id: str, reader: Actor, now: datetime, *, read: bool
) -> Receipt | None:
    """The receipt once ``reader`` got (or read) the message; None when nothing changes. Reading implies
    delivery; the first delivery and the first read are kept."""
    if current is None:
        return Receipt(message_id, reader, delivered_at=now, read_at=now if read else None)
    if read and current.read_at is None:
        return replace(current, read_at=now)
    return None


# -- system notices -----------------------------------------------------------------------------------

_RECORD_WORDS = {
    "task": "the task",
    "evidence_request": "the evidence request",
    "preservation_order": "the preservation order",
    "evidence_item": "the evidence item",
}


def notice_text(event_type: str, aggregate_type: str, actor_jurisdiction: str, extra: str = "") -> str:
    """A short, human line for a record's event, e.g. "DE accepted the task"."""
    name = event_type.rsplit(".", 1)[-1]
    for prefix in ("Task", "EvidenceRequest", "EvidenceItem", "PreservationOrder"):
        if name.startswith(prefix):
            name = name[len(prefix) :]
            break
    what = _RECORD_WORDS.get(aggregate_type, f"the {aggregate_type.replace('_', ' ')}")
    if name == "ExpiryWarning":
        return f"{what.capitalize()} expires {extra}".strip() if extra else f"{what.capitalize()} nears expiry"
    verb = re.sub(r"(?<!^)(?=[A-Z])", " ", name).lower() or "changed"
    who = actor_jurisdiction or "The system"
    return f"{who} {verb} {what}"


def suppression_notice_text(offset: timedelta) -> str:
    """The thread's line for a preservation order's warning that the non-disclosure order suppressing the
    provider's notice to the account holder ends in ``offset`` (zero: has ended)."""
    what = "The non-disclosure order on the preservation order's notice to the account holder"
    if offset > timedelta(0):
        return f"{what} ends in {durations.words(offset)}: renew it"
    return f"{what} has ended: the provider may tell the account holder their data were preserved"


def expires_in(offset: timedelta) -> str:
    """ "in 7 days" for an expiry warning due ``offset`` before the expiry ("" for the one at expiry)."""
    return f"in {durations.words(offset)}" if offset > timedelta(0) else ""
