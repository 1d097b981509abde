"""The event envelope every service publishes (``jit.events.v1.Envelope``), built in one place."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from google.protobuf import descriptor_pool, message_factory
from google.protobuf.message import Message

from jit.events.v1.envelope_pb2 import Envelope
from jitlib import mapping
from jitlib.actors import Actor
from jitlib.ids import new_id
from jitlib.mapping import actor_fields, ts_fields
from jitlib.policy import AccessParties, ChangedRecord, RecordAccess, entitled


def audience(parties: Iterable[str], restricted: bool, members: Iterable[str], outside: str | None = None) -> list[str]:
    """Who is entitled to an event: the parties of a restricted record, every member and party otherwise;
    never a jurisdiction taken out of the workspace (``members``' former ones, ``policy.entitled``), even a
    party: from the directory's announcement of its leaving on, nothing new of the workspace reaches it.
    Except ``outside`` (``RecordAccess.outside_reader``): the state an instrument is addressed to whether or
    not it is a member (an EIO, MLA request or EPOC), which stays its addressee when it leaves the JIT
    (JIT_INSTRUMENTS_TOWARD_OUTSIDE_STATES, as for a state that never was a member)."""
    members = members if isinstance(members, frozenset) else frozenset(members)
    kept = entitled(parties if restricted else {*parties, *members}, members)
    if outside:
        kept.add(outside)
    return sorted(kept)


def access_audience(access: RecordAccess, members: Iterable[str]) -> list[str]:
    """``audience`` of a record with the policy's facts ``access``."""
    return audience(access.parties, access.restricted, members, access.outside_reader)


def _audience_of(record: EventSource, members: Iterable[str]) -> list[str]:
    """``audience`` of ``record``: from its policy facts, read once, when it gives them (``AccessParties``:
    its outside reader kept too), else from its own parties."""
    if isinstance(record, AccessParties):
        return access_audience(record.access(), members)
    return audience(record.parties, record.restricted, members)


def envelope(
    *,
    event_type: str,
    state: Message,
    workspace_id: str,
    origin: str,
    audience: Iterable[str],
    aggregate_type: str,
    aggregate_id: str,
    version: int,
    actor: Actor,
    now: datetime,
    event_id: str = "",
) -> Envelope:
    """One event: the aggregate's full new ``state`` packed in an ``Any``, with who, when and for whom.

    Made by one constructor call, its timestamp, actor and ``Any`` given as their fields (made in place, not
    made and then copied in): the same message as ``Any.Pack`` and ``Timestamp.FromDatetime`` make, at about
    half the cost, on every change that emits."""
    return Envelope(
        id=event_id or new_id(),
        type=event_type,
        occurred_at=ts_fields(now),
        workspace_id=workspace_id,
        origin_jurisdiction=origin,
        audience=audience,
        aggregate_type=aggregate_type,
        aggregate_id=aggregate_id,
        aggregate_version=version,
        actor=actor_fields(actor),
        state={"type_url": _TYPE_URL + state.DESCRIPTOR.full_name, "value": state.SerializeToString()},
    )


#: What ``Any.Pack`` puts before a message's full name in its ``type_url``.
_TYPE_URL = "type.googleapis.com/"


class EventSource(ChangedRecord, Protocol):
    """A domain record whose changes are published: a changed record that knows its parties."""

    @property
    def parties(self) -> frozenset[str]: ...


def record_envelope(
    record: EventSource,
    state: Message,
    *,
    aggregate_type: str,
    event_type: str,
    members: Iterable[str],
    now: datetime,
    actor: Actor | None = None,
    part: tuple[str, int] | None = None,
    origin: str = "",
    before: EventSource | None = None,
) -> Envelope:
    """The event of a change to ``record``: from its origin, for its parties (and, unless restricted, the
    workspace's ``members``), at its new version, by whoever changed it last (or ``actor``). ``part``
    (id, version) names a part of the record that changed instead (an item of a request), which has the
    record's audience. ``origin``: the node that owns that part when it is not the record's (an item
    received on another node than the request's). ``before``: the record as it was, when the change may
    take countries out of its audience (a task reassigned): those are named in ``withdrawn_from``, and
    their nodes get a withdrawal (``withdrawal``)."""
    aggregate_id, version = part if part is not None else (record.id, record.version)
    members = members if isinstance(members, frozenset) else frozenset(members)
    now_for = _audience_of(record, members)
    event = envelope(
        event_type=event_type,
        state=state,
        workspace_id=record.workspace_id,
        origin=origin or record.origin_jurisdiction,
        audience=now_for,
        aggregate_type=aggregate_type,
        aggregate_id=aggregate_id,
        version=version,
        actor=actor or record.updated_by,
        now=now,
    )
    if before is not None:
        earlier = _audience_of(before, members)
        event.withdrawn_from.extend(sorted(set(earlier) - set(now_for)))
    return event


def withdrawal(event: Envelope, recipient: str) -> Envelope:
    """What the node of ``recipient``, named in ``event.withdrawn_from``, is sent of it: which record, at
    which version, no longer concerns its country; nothing of the record's new state, its audience or who
    changed it (they are none of that country's business any more)."""
    return Envelope(
        id=event.id,
        type=event.type,
        occurred_at=event.occurred_at,
        workspace_id=event.workspace_id,
        origin_jurisdiction=event.origin_jurisdiction,
        aggregate_type=event.aggregate_type,
        aggregate_id=event.aggregate_id,
        aggregate_version=event.aggregate_version,
        withdrawn_from=[recipient],
    )


def limit_field(event: Envelope, path: str, entitled: Iterable[str]) -> None:
    """Say that the part of ``event``'s state at ``path`` (field names joined by dots) is for the countries
    ``entitled`` only, of its audience (``FieldAudience``): the id of another record that has an audience of
    its own. The owner's stream keeps the event whole, for the owner's own consumers; the copy for a peer's
    node leaves the part out unless that peer is entitled (``copy_for``)."""
    event.field_audiences.add(path=path, audience=sorted(set(entitled)))


def narrow(event: Envelope, entitled: Iterable[str]) -> None:
    """Keep in ``event``'s audience only the countries ``entitled``: for an event whose very existence says
    something of another record, which has an audience of its own (a warning that names a linked record and
    what it is). The owner's own stream still carries it to the owner's consumers."""
    kept = [country for country in event.audience if country in set(entitled)]
    del event.audience[:]
    event.audience.extend(kept)


def copy_for(event: Envelope, recipient: str) -> Envelope | None:
    """The copy of ``event`` for the node of ``recipient``: without the parts of its state that country is
    not entitled to, and without the list that says who is (``field_audiences``: what it says of the other
    records is none of the peer's business). None when the event names no such part (the copy is the
    event as published)."""
    if not event.field_audiences:
        return None
    hidden = [f.path for f in event.field_audiences if recipient not in f.audience]
    copy = Envelope()
    copy.CopyFrom(event)
    del copy.field_audiences[:]
    if not hidden:
        return copy
    descriptor = descriptor_pool.Default().FindMessageTypeByName(event.state.TypeName())
    state = message_factory.GetMessageClass(descriptor)()
    event.state.Unpack(state)
    for path in hidden:
        *parents, name = path.split(".")
        part: Message | None = state
        for parent in parents:
            part = getattr(part, parent) if part is not None and part.HasField(parent) else None
        if part is not None:
            part.ClearField(name)
    copy.state.value = state.SerializeToString(deterministic=True)
    return copy


def withdrawn_here(event: Envelope, node: str) -> bool:
    """Whether ``event`` is, for the node of country ``node``, the withdrawal of its copy of the record."""
    return bool(node) and node in event.withdrawn_from and node not in event.audience


def invalid_time(event: Envelope) -> str | None:
    """Where ``event`` holds a Timestamp no datetime can read (``mapping.invalid_time``): the path of the
    first, its own (``occurred_at``) or in the state it carries (``state.created_at``); None when there is
    none. A state of a type this build does not know is not looked into (no consumer here reads it); one
    whose bytes are not its type raises ``DecodeError``."""
    bad = mapping.invalid_time(event)
    if bad is not None:
        return bad
    try:
        descriptor = descriptor_pool.Default().FindMessageTypeByName(event.state.TypeName())
    except KeyError:
        return None
    if not mapping.holds_time(descriptor):
        return None
    state = message_factory.GetMessageClass(descriptor)()
    event.state.Unpack(state)
    bad = mapping.invalid_time(state)
    return f"state.{bad}" if bad is not None else None


@dataclass(frozen=True)
class RecordEvents:
    """How a service names the events of its record: subject ``jit.<domain>.<origin>.<event>``, type
    ``jit.<domain>.v1.<message><Event>`` (``handed_back`` of a ``Task`` is ``jit.tasks.v1.TaskHandedBack``),
    and the envelope of a change (``record_envelope``) with ``aggregate_type``."""

    domain: str
    message: str
    aggregate_type: str

    def subject(self, record: EventSource, event: str) -> str:
        """Where an event of ``record`` is published: under its origin, so permissions cut per country."""
        return f"jit.{self.domain}.{record.origin_jurisdiction}.{event}"

    def event_type(self, event: str) -> str:
        """The envelope's type of ``event`` (snake case) for this record's message."""
        return _event_type(self.domain, self.message, event)

    def envelope(
        self,
        record: EventSource,
        state: Message,
        event: str,
        members: Iterable[str],
        now: datetime,
        before: EventSource | None = None,
    ) -> Envelope:
        """The envelope of ``event`` on ``record``, with its new ``state`` (``record_envelope``; ``before``:
        the record before a change that may take countries out of its audience)."""
        return self.typed_envelope(record, state, self.event_type(event), members, now, before)

    def typed_envelope(
        self,
        record: EventSource,
        state: Message,
        event_type: str,
        members: Iterable[str],
        now: datetime,
        before: EventSource | None = None,
    ) -> Envelope:
        """``envelope`` with the envelope's type given whole (an event whose state is not the record's)."""
        return record_envelope(
            record,
            state,
            aggregate_type=self.aggregate_type,
            event_type=event_type,
            members=members,
            now=now,
            before=before,
        )


@functools.cache
def _event_type(domain: str, message: str, event: str) -> str:
    """``RecordEvents.event_type``, worked out once per event (a service has a dozen)."""
    return f"jit.{domain}.v1.{message}" + "".join(part.capitalize() for part in event.split("_"))


class Aggregate(Protocol):
    """What an event's envelope says of the record its state carries."""

    @property
    def id(self) -> str: ...

    @property
    def workspace_id(self) -> str: ...

    @property
    def origin_jurisdiction(self) -> str: ...

    @property
    def version(self) -> int: ...


def description_problem(envelope: Envelope, record: Aggregate) -> str:
    """Why ``envelope`` does not describe ``record``, the record its state carries ("" when it does): a
    consumer takes nothing from an event whose envelope names another record, workspace, origin or
    version than its state (the audience and the subject were chosen from the envelope)."""
    if (
        record.id != envelope.aggregate_id
        or record.workspace_id != envelope.workspace_id
        or record.origin_jurisdiction != envelope.origin_jurisdiction
    ):
        return "the envelope does not describe the record its state carries"
    if record.version != envelope.aggregate_version:
        return "the envelope's version is not the record's"
    return ""


def request_digest(request: Message) -> str:
    """Fingerprint of a create request, to tell a genuine replay from a reused request_id."""
    return hashlib.sha256(request.SerializeToString(deterministic=True)).hexdigest()
