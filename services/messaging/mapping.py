"""Conversions between the jit.messaging.v1 messages and the domain types."""

from __future__ import annotations

from datetime import UTC
from typing import TypeVar

from google.protobuf.message import Message as ProtoMessage

from jit.common.v1 import common_pb2
from jit.events.v1.envelope_pb2 import Envelope
from jit.evidence.v1 import evidence_pb2
from jit.messaging.v1 import messaging_pb2 as pb
from jit.preservation.v1 import preservation_pb2
from jit.tasks.v1 import tasks_pb2
from jitlib.fields import same_fields
from jitlib.mapping import actor_pb, dt_to_ts, enum_name, record_access_from_pb
from services.messaging import domain
from services.messaging.domain import (
    RECORD,
    RESTRICTED,
    THREADED,
    WORKSPACE,
    AttachmentMeta,
    Channel,
    Message,
    NewAttachment,
    Opened,
    Receipt,
    RecordReplica,
)


def channel_to_pb(ch: Channel) -> pb.Channel:
    """The channel as answered (and as sent to other nodes): its title opened first where it is sealed
    (``content.Content.titled``); a sealed one is a ValueError, never answered as an empty title."""
    if ch.sealed_title:
        raise ValueError(f"channel {ch.id}: its title is sealed; open it (Content.titled) before answering it")
    msg = pb.Channel(
        id=ch.id,
        workspace_id=ch.workspace_id,
        kind="CHANNEL_KIND_" + ch.kind,
        title=ch.title,
        origin_jurisdiction=ch.origin_jurisdiction,
        members=list(ch.members),
        key_version=ch.key_version,
        shredded=ch.shredded_at is not None,
        created_at=dt_to_ts(ch.created_at),
        last_seq=ch.last_seq,
        restricted=ch.restricted,
    )
    if ch.kind == RECORD and ch.record is not None:
        msg.record.CopyFrom(common_pb2.RecordRef(kind="RECORD_KIND_" + ch.record[0].upper(), id=ch.record[1]))
    return msg


def message_meta_pb(m: Message) -> pb.Message:
    """Which message changed, never what it says: the state of the events, so the broker sees no content."""
    return pb.Message(**same_fields(m, "id channel_id seq revision deleted system"), sender=actor_pb(m.sender))


def replicated_message_pb(ch: Channel, m: Message, text: str) -> pb.ReplicatedMessage:
    """A message with its channel and its text, as its owner node sends it to entitled nodes."""
    msg = message_meta_pb(m)
    msg.body = "" if m.deleted else text
    msg.posted_at.CopyFrom(dt_to_ts(m.posted_at))
    if m.edited_at is not None:
        msg.edited_at.CopyFrom(dt_to_ts(m.edited_at))
    return pb.ReplicatedMessage(channel=channel_to_pb(ch), message=msg)


def channel_from_pb(msg: pb.Channel) -> Channel:
    """Another node's channel as this node holds it: its own keys (version 1), its messages at the
    owner's sequence numbers."""
    kind = (enum_name(pb.ChannelKind, msg.kind, "CHANNEL_KIND_") or "").upper()
    if kind not in (WORKSPACE, RESTRICTED, RECORD):
        raise ValueError("channel kind")
    record: tuple[str, str] | None = None
    if kind == RECORD:
        ref_kind = (enum_name(common_pb2.RecordKind, msg.record.kind, "RECORD_KIND_") or "").lower()
        record = (ref_kind, msg.record.id)
    elif kind == WORKSPACE:
        record = ("workspace", msg.workspace_id)
    return Channel(
        id=msg.id,
        workspace_id=msg.workspace_id,
        kind=kind,
        title=msg.title,
        origin_jurisdiction=msg.origin_jurisdiction,
        members=tuple(msg.members),
        record=record,
        key_version=1,
        next_seq=1,
        created_by_id="",
        created_at=msg.created_at.ToDatetime(tzinfo=UTC),
        restricted=msg.restricted,
    )


def attachment_to_pb(a: AttachmentMeta, content: bytes = b"") -> pb.Attachment:
    return pb.Attachment(filename=a.filename, media_type=a.media_type, size=a.size, sha256=a.sha256, content=content)


def message_to_pb(opened: Opened) -> pb.Message:
    m = opened.message
    msg = message_meta_pb(m)
    msg.posted_at.CopyFrom(dt_to_ts(m.posted_at))
    if m.edited_at is not None:
        msg.edited_at.CopyFrom(dt_to_ts(m.edited_at))
    msg.body = opened.body
    msg.shredded = opened.shredded
    msg.attachments.extend(attachment_to_pb(a) for a in opened.attachments)
    return msg


def attachments_from_pb(items: object) -> list[NewAttachment]:
    return [NewAttachment(a.filename, a.media_type, a.content) for a in items]  # type: ignore[attr-defined]


def receipt_to_pb(r: Receipt) -> pb.Receipt:
    out = pb.Receipt(reader=actor_pb(r.reader))
    if r.delivered_at is not None:
        out.delivered_at.CopyFrom(dt_to_ts(r.delivered_at))
    if r.read_at is not None:
        out.read_at.CopyFrom(dt_to_ts(r.read_at))
    return out


def threaded_kind(ref: common_pb2.RecordRef) -> str | None:
    """The record kind of a thread reference ("task", ...); None for a kind that has no thread."""
    name = enum_name(common_pb2.RecordKind, ref.kind, "RECORD_KIND_")
    return THREADED.get(name or "")


# -- the records of other services, from their events ----------------------------------------------


M = TypeVar("M", bound=ProtoMessage)


def _unpack(env: Envelope, record: type[M], wrapper: type[ProtoMessage] | None = None, field: str = "") -> M | None:
    """The record an event carries: as its state, or inside ``wrapper`` (an alert or a warning) as
    ``field``; None when it is neither."""
    found = record()
    if env.state.Unpack(found):
        return found
    if wrapper is None:
        return None
    outer = wrapper()
    if not env.state.Unpack(outer) or not outer.HasField(field):
        return None
    return getattr(outer, field)  # type: ignore[no-any-return]


def _task(env: Envelope) -> RecordReplica | None:
    t = _unpack(env, tasks_pb2.Task)
    if t is None:
        return None
    return domain.task_replica(**record_access_from_pb(t), assignee=t.assignee_jurisdiction)


def _evidence_request(env: Envelope) -> RecordReplica | None:
    r = _unpack(env, evidence_pb2.EvidenceRequest, evidence_pb2.DeadlineAlert, "request")
    if r is None:
        return None
    return domain.evidence_request_replica(
        **record_access_from_pb(r),
        addressee_kind=enum_name(evidence_pb2.AddresseeKind, r.addressee_kind, "ADDRESSEE_KIND_") or "",
        addressee=r.addressee_jurisdiction,
        legal_basis=enum_name(evidence_pb2.LegalBasis, r.legal_basis, "LEGAL_BASIS_") or "",
        epoc_procedure=enum_name(evidence_pb2.EpocProcedure, r.epoc_procedure, "EPOC_PROCEDURE_") or "",
        enforcing=r.enforcing_jurisdiction,
    )


def _preservation_order(env: Envelope) -> RecordReplica | None:
    o = _unpack(env, preservation_pb2.PreservationOrder, preservation_pb2.ExpiryWarning, "order")
    if o is None:
        return None
    return domain.preservation_order_replica(**record_access_from_pb(o))


_READERS = {"task": _task, "evidence_request": _evidence_request, "preservation_order": _preservation_order}


def record_replica(env: Envelope) -> RecordReplica | None:
    """The access facts of the record a task, evidence request or preservation order event carries in its
    state (the record itself, a deadline alert or an expiry warning holding it); None when the state is
    none of these. The envelope's ``audience`` is never read."""
    read = _READERS.get(env.aggregate_type)
    return read(env) if read is not None else None
