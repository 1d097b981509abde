"""Persistence of channels, their keys, messages, revisions, receipts and the record replica."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from jitlib.alerts import alerts_table
from jitlib.db import new_metadata, runtime_tables


class Base(DeclarativeBase):
    metadata = new_metadata()


RUNTIME = runtime_tables(Base.metadata)
ALERTS = alerts_table(Base.metadata)
TS = DateTime(timezone=True)


class ChannelRow(Base):
    __tablename__ = "channels"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # WORKSPACE, RESTRICTED, RECORD
    title: Mapped[str] = mapped_column(String(200))
    origin_jurisdiction: Mapped[str] = mapped_column(String(16))
    members: Mapped[str] = mapped_column(Text)  # comma-separated; empty for the workspace channel
    record_kind: Mapped[str | None] = mapped_column(String(32), nullable=True)
    record_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    key_version: Mapped[int] = mapped_column(Integer)
    next_seq: Mapped[int] = mapped_column(Integer)
    shredded_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    created_by_id: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    created_at: Mapped[datetime] = mapped_column(TS)

    __table_args__ = (
        Index("uq_channels_record", "record_kind", "record_id", unique=True),
        Index("uq_channels_creator_request", "created_by_id", "request_id", unique=True),
        Index("ix_channels_workspace_kind", "workspace_id", "kind"),
    )


class ChannelKey(Base):
    """A channel's data keys, wrapped by the node's KEK. ``wrapped`` is NULL once destroyed."""

    __tablename__ = "channel_keys"

    channel_id: Mapped[str] = mapped_column(String(36), ForeignKey("channels.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    wrapped: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    kek_id: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(TS)
    destroyed_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)


class MessageRow(Base):
    __tablename__ = "messages"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(36), ForeignKey("channels.id"))
    seq: Mapped[int] = mapped_column(Integer)
    sender_id: Mapped[str] = mapped_column(String(64))
    sender_name: Mapped[str] = mapped_column(String(255))
    sender_jurisdiction: Mapped[str] = mapped_column(String(16))
    system: Mapped[bool] = mapped_column(Boolean)
    request_id: Mapped[str] = mapped_column(String(100))
    revision: Mapped[int] = mapped_column(Integer)
    deleted: Mapped[bool] = mapped_column(Boolean)
    key_version: Mapped[int] = mapped_column(Integer)
    body: Mapped[bytes] = mapped_column(LargeBinary)  # sealed: nonce || ciphertext || tag
    attachments: Mapped[str] = mapped_column(Text)  # JSON metadata: filename, media type, size, sha256, blob
    posted_at: Mapped[datetime] = mapped_column(TS)
    edited_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)

    __table_args__ = (
        Index("uq_messages_channel_seq", "channel_id", "seq", unique=True),
        Index("uq_messages_sender_request", "sender_id", "request_id", unique=True),
    )


class RevisionRow(Base):
    """Earlier revisions of a message (an edit or a deletion keeps what was there, sealed)."""

    __tablename__ = "message_revisions"

    message_id: Mapped[str] = mapped_column(String(36), ForeignKey("messages.id"), primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_version: Mapped[int] = mapped_column(Integer)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    deleted: Mapped[bool] = mapped_column(Boolean)
    editor_id: Mapped[str] = mapped_column(String(64))
    editor_name: Mapped[str] = mapped_column(String(255))
    editor_jurisdiction: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(TS)


class ReceiptRow(Base):
    __tablename__ = "receipts"

    message_id: Mapped[str] = mapped_column(String(36), ForeignKey("messages.id"), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(255))
    jurisdiction: Mapped[str] = mapped_column(String(16))
    delivered_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    read_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)


class RecordRow(Base):
    """Who may see each record, as told by its events: the visibility a record thread inherits."""

    __tablename__ = "records"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(64))
    origin_jurisdiction: Mapped[str] = mapped_column(String(16))
    audience: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer)


class WorkspaceClosure(Base):
    """When each closed workspace closed, and when its content was shredded."""

    __tablename__ = "workspace_closures"

    workspace_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    closed_at: Mapped[datetime] = mapped_column(TS)
    shredded_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)


def channel(session: Session, channel_id: str) -> ChannelRow | None:
    return session.scalar(select(ChannelRow).where(ChannelRow.id == channel_id))


def record_thread(session: Session, kind: str, record_id: str) -> ChannelRow | None:
    return session.scalar(select(ChannelRow).where(ChannelRow.record_kind == kind, ChannelRow.record_id == record_id))


def workspace_channel(session: Session, workspace_id: str) -> ChannelRow | None:
    return session.scalar(
        select(ChannelRow).where(ChannelRow.workspace_id == workspace_id, ChannelRow.kind == "WORKSPACE")
    )


def keys(session: Session, channel_id: str) -> dict[int, ChannelKey]:
    return {k.version: k for k in session.scalars(select(ChannelKey).where(ChannelKey.channel_id == channel_id))}


def messages_after(session: Session, channel_id: str, after_seq: int, limit: int) -> list[MessageRow]:
    return list(
        session.scalars(
            select(MessageRow)
            .where(MessageRow.channel_id == channel_id, MessageRow.seq > after_seq)
            .order_by(MessageRow.seq)
            .limit(limit)
        )
    )
