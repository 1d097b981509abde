"""Conversions between the jit.messaging.v1 messages and the domain types."""

from __future__ import annotations

from jit.common.v1 import common_pb2
from jit.messaging.v1 import messaging_pb2 as pb
from jitlib.mapping import actor_pb, dt_to_ts, enum_name
from services.messaging.domain import (
    RECORD,
    THREADED,
    AttachmentMeta,
    Channel,
    Message,
    NewAttachment,
    Opened,
    Receipt,
)


def channel_to_pb(ch: Channel) -> pb.Channel:
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
    )
    if ch.kind == RECORD and ch.record is not None:
        msg.record.CopyFrom(common_pb2.RecordRef(kind="RECORD_KIND_" + ch.record[0].upper(), id=ch.record[1]))
    return msg


def message_meta_pb(m: Message) -> pb.Message:
    """Which message changed, never what it says: the state of the events, so the broker sees no content."""
    return pb.Message(
        id=m.id,
        channel_id=m.channel_id,
        seq=m.seq,
        revision=m.revision,
        deleted=m.deleted,
        system=m.system,
        sender=actor_pb(m.sender),
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
