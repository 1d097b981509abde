"""Persistence of channels (and their parties and keys), the workspaces' wrapping keys, messages,
revisions, receipts, the replicas of other services' records and workspace closures (SQLAlchemy 2).
Tables and queries; no business rules."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    bindparam,
    delete,
    func,
    insert,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from jitlib.actors import Actor
from jitlib.clock import as_utc, as_utc_or_none
from jitlib.crypto import WrappedKey
from jitlib.db import TS, Fields, Stored, actor_columns
from jitlib.fields import restored
from jitlib.policy import VisibilityScope
from jitlib.sealing import PAYLOAD_TABLES, wrapped_by_kek
from jitlib.sqlexec import CompiledInsert, CompiledSelect, CompiledUpdate
from jitlib.tables import ServiceBase
from jitlib.visibility import PartyIndex, Statements
from services.messaging.domain import (
    WORKSPACE,
    AttachmentMeta,
    Channel,
    Message,
    MessageInChannel,
    Receipt,
    RecordReplica,
    Revision,
)


class Base(ServiceBase, DeclarativeBase, sealed=False, alerts=True):
    """The messaging tables, and jitlib's (``Base.tables``) but ``workspace_keys``: messaging keeps its own
    key tables (WorkspaceKey, ChannelKey below); its alerts on a clock (period warnings, notices) are sent
    once."""


RUNTIME, ALERTS = Base.tables.runtime, Base.tables.alerts
log = logging.getLogger(__name__)


class ChannelRow(Base):
    __tablename__ = "channels"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # WORKSPACE, RESTRICTED, RECORD
    #: In clear for the kinds whose title no user wrote; "" where it is sealed (``sealed_title``), and
    #: ``[content destroyed]`` once its workspace was shredded.
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
    request_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(TS)
    #: False for the workspace channel and the thread of a record open to the whole workspace.
    restricted: Mapped[bool] = mapped_column(Boolean, server_default=true())
    #: The title of a channel of ``domain.SEALED_TITLE_KINDS`` (what its opener wrote), sealed under the
    #: channel's key of ``title_key_version`` (``content``); NULL for the other kinds, and once shredded.
    sealed_title: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    title_key_version: Mapped[int | None] = mapped_column(Integer, nullable=True)

    __table_args__ = (
        Index("uq_channels_record", "record_kind", "record_id", unique=True),
        Index("uq_channels_creator_request", "created_by_id", "request_id", unique=True),
        Index("ix_channels_workspace_kind", "workspace_id", "kind"),
    )


#: One row per jurisdiction party to a channel (its origin and members): the visibility index of restricted ones.
PARTIES = PartyIndex.declare(
    ChannelRow, "channel_parties", key="channel_id", index="ix_channel_parties_jurisdiction_channel"
)


class ChannelKey(Base):
    """A channel's data keys, wrapped by its workspace's key (``wrapping`` "workspace"; keys made before
    workspace keys existed are wrapped by the node's KEK: "kek"). ``wrapped`` is NULL once destroyed."""

    __tablename__ = "channel_keys"

    channel_id: Mapped[str] = mapped_column(String(36), ForeignKey("channels.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    wrapped: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    kek_id: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(TS)
    destroyed_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    wrapping: Mapped[str] = mapped_column(String(16), server_default="kek")


class WorkspaceKey(Base):
    """Each workspace's wrapping key (itself wrapped by the node's KEK): it wraps the keys of every
    channel of the workspace. Shredding deletes the row: every copy of a channel key, wherever it
    lingers, is then useless. A row without a key (``wrapped`` NULL) only carries a claim or a legal
    hold's lock on a workspace that had no key (``keys.ChannelKeys.claims``): its first channel key puts
    the key in it (``fill_workspace_key``)."""

    __tablename__ = "workspace_keys"

    workspace_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    wrapped: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    kek_id: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(TS)
    #: The retention scan's claim on the workspace while it erases the workspace's events from the stream
    #: before destroying its keys (``notices.RetentionScanner``, ``jitlib.sealing.WorkspaceClaims``): a
    #: legal hold is refused meanwhile. The row goes with the shred (and the claim with it).
    shredding_since: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    #: The retention scanner that holds the claim (``RetentionScanner.owner``): it alone lets it go.
    shredding_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


#: The tables holding keys.
KEY_TABLES = (WorkspaceKey.__tablename__, ChannelKey.__tablename__)
#: What a shred frees or overwrites (the keys, the outbox rows and dead letters of the workspace, its
#: restricted channels' titles), and what ``jitlib.sealing.wipe_freed`` pushes out of the files.
SHRED_TABLES = (*KEY_TABLES, *PAYLOAD_TABLES, ChannelRow.__tablename__)


# Both key tables hold keys wrapped by the node's KEK: rewrapped when it is rotated (``jitlib.sealing``).
wrapped_by_kek(Base.metadata, cast(Table, WorkspaceKey.__table__))
wrapped_by_kek(Base.metadata, cast(Table, ChannelKey.__table__), ChannelKey.__table__.c.wrapping == "kek")


class MessageRow(Base):
    __tablename__ = "messages"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(36), ForeignKey("channels.id"))
    seq: Mapped[int] = mapped_column(Integer)
    sender_id, sender_name, sender_jurisdiction = actor_columns()
    system: Mapped[bool] = mapped_column(Boolean)
    request_id: Mapped[str] = mapped_column(String(100))
    request_digest: Mapped[str] = mapped_column(String(64), server_default="")
    revision: Mapped[int] = mapped_column(Integer)
    deleted: Mapped[bool] = mapped_column(Boolean)
    key_version: Mapped[int] = mapped_column(Integer)
    body: Mapped[bytes] = mapped_column(LargeBinary)  # sealed: nonce || ciphertext || tag
    #: Legacy: the attachments' metadata in clear (JSON), from before it was sealed; "[]" since.
    attachments: Mapped[str] = mapped_column(Text)
    posted_at: Mapped[datetime] = mapped_column(TS)
    edited_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    #: The attachments' metadata (JSON: filename, media type, size, sha256, blob), sealed like the body.
    sealed_attachments: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    attachments_key_version: Mapped[int | None] = mapped_column(Integer, nullable=True)

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
    editor_id, editor_name, editor_jurisdiction = actor_columns()
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
    """Who may see each record, from the record's own state in its events: the visibility a record
    thread inherits."""

    __tablename__ = "records"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(64))
    origin_jurisdiction: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    addressee_jurisdiction: Mapped[str | None] = mapped_column(String(16), nullable=True)
    restricted: Mapped[bool] = mapped_column(Boolean, server_default=true())
    shared_with: Mapped[str] = mapped_column(Text, server_default="")  # comma-separated


class WorkspaceClosure(Base):
    """When this node's directory first saw each workspace closed, and when its content was shredded
    (the row then stays: a shredded workspace is never keyed again)."""

    __tablename__ = "workspace_closures"

    workspace_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_closed_at: Mapped[datetime] = mapped_column(TS)
    shredded_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)


def _split(text: str) -> tuple[str, ...]:
    return tuple(j for j in text.split(",") if j)


# -- channels -----------------------------------------------------------------------------------------


#: The fields of a channel kept in columns of the same name.
CHANNEL_FIELDS = Fields(
    same=(
        "id",
        "workspace_id",
        "kind",
        "title",
        "origin_jurisdiction",
        "key_version",
        "next_seq",
        "created_by_id",
        "restricted",
    ),
    times=("created_at", "shredded_at"),
    lists=("members",),
)


def _channel_values(row: Any) -> dict[str, Any]:
    """A channel's fields from its row (an ORM row or one of ``_TAKE_SEQ``), its title still sealed."""
    values = CHANNEL_FIELDS.read(row)
    values["record"] = (row.record_kind, row.record_id) if row.record_kind and row.record_id else None
    values["sealed_title"] = row.sealed_title or b""
    values["title_key_version"] = row.title_key_version or 0
    return values


def to_channel(row: Any) -> Channel:
    """The channel of ``row``: an ORM row, or a named row of a compiled select (``CompiledSelect.named``)."""
    return restored(Channel, _channel_values(row))


def get_channel(session: Session, channel_id: str) -> Channel | None:
    rows = _CHANNEL.named(session, {"channel_id": channel_id})
    return to_channel(rows[0]) if rows else None


def lock_channel(session: Session, channel_id: str) -> Channel | None:
    """The channel, its row locked until the transaction ends (sequence numbers and key versions)."""
    rows = _LOCK_CHANNEL.named(session, {"channel_id": channel_id})
    return to_channel(rows[0]) if rows else None


def find_channel_by_request(session: Session, user_id: str, request_id: str) -> Stored[Channel] | None:
    rows = _CHANNEL_BY_REQUEST.named(session, {"user_id": user_id, "request_id": request_id})
    return Stored(to_channel(rows[0]), rows[0].request_digest or "") if rows else None


def insert_channel(
    session: Session,
    ch: Channel,
    *,
    request_id: str | None = None,
    request_digest: str | None = None,
    title_sealed: bool = False,
) -> None:
    """Insert a new channel. ``title_sealed``: its title is not written (it goes in sealed once the
    channel's key exists, ``seal_title``), so no copy of it in clear ever reaches the table."""
    _INSERT_CHANNEL.execute(
        session,
        {
            **CHANNEL_FIELDS.write(ch),
            **({"title": ""} if title_sealed else {}),
            "sealed_title": None,
            "title_key_version": None,
            "record_kind": ch.record[0] if ch.record else None,
            "record_id": ch.record[1] if ch.record else None,
            "request_id": request_id,
            "request_digest": request_digest,
        },
    )
    PARTIES.write(session, ch.id, ch.parties)


def set_visibility(session: Session, ch: Channel) -> None:
    """Store who may see the channel: its members and restriction, and its parties with them."""
    session.execute(
        update(ChannelRow).where(ChannelRow.id == ch.id).values(members=",".join(ch.members), restricted=ch.restricted)
    )
    PARTIES.write(session, ch.id, ch.parties, replace=True)


_CHANNELS = cast(Table, ChannelRow.__table__)
#: A channel by its id (locked, on PostgreSQL, for a change of its counters), and by the create request that
#: made it, run on the transaction's cursor (``CompiledSelect``): every post, list and live read loads its
#: channel, and a select built at each call and run through the session's execution cost several times the
#: statement (bench/README.md, the mixed load, session 49).
_CHANNEL = CompiledSelect(select(_CHANNELS).where(_CHANNELS.c.id == bindparam("channel_id")))
_LOCK_CHANNEL = CompiledSelect(select(_CHANNELS).where(_CHANNELS.c.id == bindparam("channel_id")).with_for_update())
_CHANNEL_BY_REQUEST = CompiledSelect(
    select(_CHANNELS).where(
        _CHANNELS.c.created_by_id == bindparam("user_id"), _CHANNELS.c.request_id == bindparam("request_id")
    )
)
# The statements of a system notice (a record event's, many per second under load) are built once, their
# values bound at execution, and run below the ORM: no cache key to compute, no entity to load per call.
_INSERT_CHANNEL = CompiledInsert(_CHANNELS)
#: A record's thread, run on the transaction's cursor (``CompiledSelect``): every notice of another service's
#: event reads it, and through the session's execution it cost several times the statement (bench/README.md,
#: Messaging, session 48).
_RECORD_THREAD = CompiledSelect(
    select(_CHANNELS).where(
        _CHANNELS.c.record_kind == bindparam("kind"), _CHANNELS.c.record_id == bindparam("record_id")
    )
)
#: Take the channel's next sequence number: lock the row, move its counter and read it back, one statement,
#: run on the transaction's cursor (every post runs it: through the session's execution it took 107 µs in
#: process, the statement itself 13; bench/README.md, Messaging's fourth round).
_TAKE_SEQ = CompiledSelect(
    update(_CHANNELS)
    .where(_CHANNELS.c.id == bindparam("channel_key"))
    .values(next_seq=_CHANNELS.c.next_seq + 1)
    .returning(*_CHANNELS.c)
)


def take_seq(session: Session, channel_id: str) -> Channel | None:
    """The channel as it was before this call, its row locked until the transaction ends and its
    ``next_seq`` (the returned channel's) taken: one statement (an UPDATE ... RETURNING), where reading the
    channel, locking it and moving the counter took three. None when the channel does not exist."""
    rows = _TAKE_SEQ.named(session, {"channel_key": channel_id})
    if not rows:
        return None
    values = _channel_values(rows[0])
    values["next_seq"] -= 1
    return restored(Channel, values)


def set_counters(session: Session, ch: Channel) -> None:
    """Store the channel's next sequence number and key version (the row is locked by the caller)."""
    session.execute(
        update(ChannelRow).where(ChannelRow.id == ch.id).values(next_seq=ch.next_seq, key_version=ch.key_version)
    )


def seal_title(session: Session, channel_id: str, sealed: bytes, key_version: int) -> None:
    """Store a channel's title sealed under its key of ``key_version``, its clear column emptied."""
    session.execute(
        update(ChannelRow)
        .where(ChannelRow.id == channel_id)
        .values(title="", sealed_title=sealed, title_key_version=key_version)
        .execution_options(synchronize_session=False)
    )


def erase_titles(session: Session, workspace_id: str, kind: str, erased: str) -> None:
    """Replace by ``erased`` the titles of the workspace's channels of ``kind``, and drop their sealed
    form (a shred)."""
    session.execute(
        update(ChannelRow)
        .where(ChannelRow.workspace_id == workspace_id, ChannelRow.kind == kind)
        .values(title=erased, sealed_title=None, title_key_version=None)
        .execution_options(synchronize_session=False)
    )


def erase_title(session: Session, channel_id: str, erased: str) -> None:
    """Replace by ``erased`` one channel's title in clear (a shredded channel's, from before titles were
    sealed)."""
    session.execute(
        update(ChannelRow)
        .where(ChannelRow.id == channel_id)
        .values(title=erased, sealed_title=None, title_key_version=None)
        .execution_options(synchronize_session=False)
    )


def clear_titles(session: Session, kinds: Iterable[str], erased: str, limit: int) -> list[Channel]:
    """Up to ``limit`` channels of ``kinds`` whose title is still in clear (written before titles were
    sealed), but those already erased to ``erased``."""
    rows = session.scalars(
        select(ChannelRow)
        .where(ChannelRow.kind.in_(list(kinds)), ChannelRow.sealed_title.is_(None), ChannelRow.title != erased)
        .order_by(ChannelRow.id)
        .limit(limit)
    )
    return [to_channel(r) for r in rows]


def mark_shredded(session: Session, channel_id: str, now: datetime) -> None:
    session.execute(update(ChannelRow).where(ChannelRow.id == channel_id).values(shredded_at=now))


def workspace_channel(session: Session, workspace_id: str) -> Channel | None:
    row = session.scalar(
        select(ChannelRow).where(ChannelRow.workspace_id == workspace_id, ChannelRow.kind == WORKSPACE)
    )
    return to_channel(row) if row is not None else None


def record_thread(session: Session, kind: str, record_id: str) -> Channel | None:
    rows = _RECORD_THREAD.named(session, {"kind": kind, "record_id": record_id})
    return to_channel(rows[0]) if rows else None


def channel_ids_of_workspace(session: Session, workspace_id: str) -> list[str]:
    return list(session.scalars(select(ChannelRow.id).where(ChannelRow.workspace_id == workspace_id)))


def shredded_among(session: Session, channel_ids: Iterable[str]) -> list[str]:
    """Which of ``channel_ids`` are shredded."""
    ids = sorted(set(channel_ids))
    if not ids:
        return []
    return list(
        session.scalars(select(ChannelRow.id).where(ChannelRow.id.in_(ids), ChannelRow.shredded_at.is_not(None)))
    )


def list_visible(session: Session, scope: VisibilityScope, workspace_ids: frozenset[str]) -> list[Channel]:
    """Channels of ``workspace_ids`` the scope may see (the policy's READ rule as SQL), in id order."""
    return [to_channel(r) for r in _VISIBLE.scalars(session, PARTIES.bound(scope, workspace_ids))]


#: ``list_visible``'s statement of each filter shape, built once.
_VISIBLE = Statements(lambda conditions: select(ChannelRow).where(*conditions).order_by(ChannelRow.id))


# -- keys ---------------------------------------------------------------------------------------------


#: How a channel key is wrapped: by its workspace's key, or (keys made before those existed) the KEK.
BY_WORKSPACE, BY_KEK = "workspace", "kek"


def insert_key(session: Session, channel_id: str, version: int, key: WrappedKey, now: datetime) -> None:
    """A channel key wrapped by its workspace's key."""
    _INSERT_KEY.execute(
        session,
        {
            "destroyed_at": None,
            "channel_id": channel_id,
            "version": version,
            "wrapped": key.wrapped,
            "kek_id": key.kek_id,
            "created_at": now,
            "wrapping": BY_WORKSPACE,
        },
    )


_KEYS = cast(Table, ChannelKey.__table__)
_INSERT_KEY = CompiledInsert(_KEYS)
_LOAD_KEY = CompiledSelect(
    select(_KEYS.c.wrapped, _KEYS.c.kek_id, _KEYS.c.wrapping).where(
        _KEYS.c.channel_id == bindparam("channel_id"), _KEYS.c.version == bindparam("version")
    )
)


def load_key(session: Session, channel_id: str, version: int) -> tuple[WrappedKey, str] | None:
    """A channel key as stored, and how it is wrapped (``BY_WORKSPACE`` or ``BY_KEK``)."""
    rows = _LOAD_KEY.converted(session, {"channel_id": channel_id, "version": version})
    if not rows:
        return None
    wrapped, kek_id, wrapping = rows[0]
    return WrappedKey(wrapped, kek_id), wrapping


def destroy_keys(session: Session, channel_id: str, now: datetime) -> None:
    session.execute(
        update(ChannelKey).where(ChannelKey.channel_id == channel_id).values(wrapped=None, destroyed_at=now)
    )


def _insert_ignoring_duplicate(session: Session, table: Table, values: dict[str, Any], key: str) -> None:
    """INSERT ... ON CONFLICT DO NOTHING: two replicas doing the same at once write it once."""
    stmt: Any
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        stmt = postgresql.insert(table).values(**values).on_conflict_do_nothing(index_elements=[key])
    else:
        stmt = sqlite.insert(table).values(**values).on_conflict_do_nothing(index_elements=[key])
    session.execute(stmt)


def insert_workspace_key(session: Session, workspace_id: str, key: WrappedKey, now: datetime) -> None:
    """Store a workspace's key unless one exists (a concurrent writer's wins; load it after)."""
    values = {"workspace_id": workspace_id, "wrapped": key.wrapped, "kek_id": key.kek_id, "created_at": now}
    _insert_ignoring_duplicate(session, cast(Table, WorkspaceKey.__table__), values, "workspace_id")


_WORKSPACE_KEYS = cast(Table, WorkspaceKey.__table__)
_LOAD_WORKSPACE_KEY = CompiledSelect(
    select(_WORKSPACE_KEYS.c.wrapped, _WORKSPACE_KEYS.c.kek_id).where(
        _WORKSPACE_KEYS.c.workspace_id == bindparam("workspace_id")
    )
)


def fill_workspace_key(session: Session, workspace_id: str, key: WrappedKey) -> None:
    """Put a key in a workspace's row that carries none (a claim's or a hold's lock's; a concurrent
    writer's key wins: load it after)."""
    session.execute(
        update(WorkspaceKey)
        .where(WorkspaceKey.workspace_id == workspace_id, WorkspaceKey.wrapped.is_(None))
        .values(wrapped=key.wrapped, kek_id=key.kek_id)
    )


def load_workspace_key(session: Session, workspace_id: str) -> WrappedKey | None:
    """The workspace's key row: None without one; its ``wrapped`` None when the row only carries a claim."""
    rows = _LOAD_WORKSPACE_KEY.converted(session, {"workspace_id": workspace_id})
    return WrappedKey(*rows[0]) if rows else None


def delete_workspace_key(session: Session, workspace_id: str) -> None:
    """Destroy a workspace's key: a DELETE (on PostgreSQL the old row stays as a dead tuple until VACUUM)."""
    session.execute(delete(WorkspaceKey).where(WorkspaceKey.workspace_id == workspace_id))


# -- messages -----------------------------------------------------------------------------------------


def attachments_to_json(items: tuple[AttachmentMeta, ...]) -> bytes:
    """The attachments' metadata as the JSON that is sealed (``content``)."""
    return json.dumps(
        [
            {
                "filename": a.filename,
                "media_type": a.media_type,
                "size": a.size,
                "sha256": a.sha256,
                "blob": a.blob,
                "key_version": a.key_version,
            }
            for a in items
        ]
    ).encode()


def attachments_from_json(data: str | bytes) -> tuple[AttachmentMeta, ...]:
    return tuple(
        AttachmentMeta(a["filename"], a["media_type"], a["size"], a["sha256"], a["blob"], a["key_version"])
        for a in json.loads(data or "[]")
    )


#: The fields of a message kept in columns of the same name.
MESSAGE_FIELDS = Fields(
    same=("id", "channel_id", "seq", "system", "revision", "deleted", "key_version"),
    times=("posted_at", "edited_at"),
    actors=("sender",),
)


def to_message(row: Any) -> Message:
    """The message of ``row``: an ORM row, or a named row of a compiled select (``CompiledSelect.named``)."""
    return Message(
        **MESSAGE_FIELDS.read(row),
        sealed_body=row.body,
        sealed_attachments=row.sealed_attachments or b"",
        attachments_key_version=row.attachments_key_version or 0,
        legacy_attachments=attachments_from_json(row.attachments),
    )


def get_message(session: Session, message_id: str) -> MessageInChannel | None:
    """The message with its channel (None when either is missing)."""
    row = session.get(MessageRow, message_id)
    if row is None:
        return None
    ch = get_channel(session, row.channel_id)
    return MessageInChannel(to_message(row), ch) if ch is not None else None


def find_message_by_request(session: Session, sender_id: str, request_id: str) -> Stored[MessageInChannel] | None:
    rows = _MESSAGE_BY_REQUEST.named(session, {"sender_id": sender_id, "request_id": request_id})
    if not rows:
        return None
    row = rows[0]
    ch = get_channel(session, row.channel_id)
    assert ch is not None  # a message's channel is never deleted
    return Stored(MessageInChannel(to_message(row), ch), row.request_digest)


def insert_message(session: Session, msg: Message, *, request_id: str, request_digest: str) -> None:
    """Insert a new message; the unique (sender, request_id) index refuses a second one per request
    (``IntegrityError``). On the transaction's cursor, as a create's INSERTs (``jitlib.sqlexec``)."""
    _INSERT_MESSAGE.execute(
        session,
        {
            **MESSAGE_FIELDS.write(msg),
            "request_id": request_id,
            "request_digest": request_digest,
            "body": msg.sealed_body,
            "attachments": "[]",
            "sealed_attachments": msg.sealed_attachments or None,
            "attachments_key_version": msg.attachments_key_version or None,
        },
    )


_INSERT_MESSAGE = CompiledInsert(cast(Table, MessageRow.__table__))


def update_if_revision(session: Session, msg: Message, expected_revision: int) -> bool:
    """Write the message's new revision only if it is still at ``expected_revision``."""
    result = session.execute(
        update(MessageRow)
        .where(MessageRow.id == msg.id, MessageRow.revision == expected_revision)
        .values(
            revision=msg.revision,
            deleted=msg.deleted,
            key_version=msg.key_version,
            body=msg.sealed_body,
            edited_at=msg.edited_at,
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def purge_channel(session: Session, channel_id: str) -> None:
    """Delete a channel held for another node with its messages, their revisions and receipts, and its keys
    (destroyed already): a thread withdrawn from this node's country and given back to it since, held
    again from its owner's copies (``peers.message_handler``)."""
    messages = select(MessageRow.id).where(MessageRow.channel_id == channel_id)
    session.execute(delete(RevisionRow).where(RevisionRow.message_id.in_(messages)))
    session.execute(delete(ReceiptRow).where(ReceiptRow.message_id.in_(messages)))
    session.execute(delete(MessageRow).where(MessageRow.channel_id == channel_id))
    session.execute(delete(ChannelKey).where(ChannelKey.channel_id == channel_id))
    PARTIES.write(session, channel_id, (), replace=True)
    session.execute(delete(ChannelRow).where(ChannelRow.id == channel_id))


def erase_clear_metadata(session: Session, channel_id: str) -> None:
    """Erase what a shredded channel's messages held in clear from before sealing (legacy metadata)."""
    session.execute(
        update(MessageRow)
        .where(MessageRow.channel_id == channel_id, MessageRow.attachments != "[]")
        .values(attachments="[]")
        .execution_options(synchronize_session=False)
    )


_MESSAGES = cast(Table, MessageRow.__table__)
#: A sender's message by the request that posted it (every post looks for it first: a retried post is
#: answered with what the first one posted), run on the transaction's cursor (``CompiledSelect``).
_MESSAGE_BY_REQUEST = CompiledSelect(
    select(_MESSAGES).where(
        _MESSAGES.c.sender_id == bindparam("sender_id"), _MESSAGES.c.request_id == bindparam("request_id")
    )
)
#: A channel's messages after a sequence number, in order: every ``ListMessages`` and every live stream's
#: catch-up reads it. Run on the transaction's cursor (``CompiledSelect``): loading its rows as ORM entities
#: was half of a ``ListMessages`` (bench/README.md, Messaging, session 48).
_MESSAGES_AFTER = CompiledSelect(
    select(_MESSAGES)
    .where(_MESSAGES.c.channel_id == bindparam("channel_id"), _MESSAGES.c.seq > bindparam("after_seq"))
    .order_by(_MESSAGES.c.seq)
    .limit(bindparam("limit", type_=Integer))
)


def messages_after(session: Session, channel_id: str, after_seq: int, limit: int) -> list[Message]:
    rows = _MESSAGES_AFTER.named(session, {"channel_id": channel_id, "after_seq": after_seq, "limit": limit})
    return [to_message(r) for r in rows]


def owned_messages_page(
    session: Session,
    workspace_id: str,
    owner: str,
    after: tuple[str, int],
    changed_since: datetime | None,
    limit: int,
) -> list[MessageInChannel]:
    """The messages of the channels of ``workspace_id`` that ``owner``'s node owns (their origin), not
    shredded, with their channels: in (channel id, seq) order after ``after`` (a channel id and a seq in
    it), at most ``limit``; only those posted or revised at or after ``changed_since`` when given. Channel
    by channel, each read in seq order through the (channel, seq) index."""
    ids = session.scalars(
        select(ChannelRow.id)
        .where(
            ChannelRow.workspace_id == workspace_id,
            ChannelRow.origin_jurisdiction == owner,
            ChannelRow.shredded_at.is_(None),
            ChannelRow.id >= after[0],
        )
        .order_by(ChannelRow.id)
    ).all()
    out: list[MessageInChannel] = []
    for channel_id in ids:
        query = select(MessageRow).where(
            MessageRow.channel_id == channel_id, MessageRow.seq > (after[1] if channel_id == after[0] else 0)
        )
        if changed_since is not None:
            query = query.where((MessageRow.posted_at >= changed_since) | (MessageRow.edited_at >= changed_since))
        rows = session.scalars(query.order_by(MessageRow.seq).limit(limit - len(out))).all()
        if rows:
            ch = get_channel(session, channel_id)
            assert ch is not None  # read just above, in this transaction
            out += [MessageInChannel(to_message(r), ch) for r in rows]
        if len(out) >= limit:
            break
    return out


def message_ids_from_others(session: Session, channel_id: str, up_to_seq: int, reader_id: str) -> list[str]:
    """The ids of a channel's messages up to ``up_to_seq`` that ``reader_id`` did not send."""
    return list(
        session.scalars(
            select(MessageRow.id).where(
                MessageRow.channel_id == channel_id,
                MessageRow.seq <= up_to_seq,
                MessageRow.sender_id != reader_id,
            )
        )
    )


#: The fields of a revision kept in columns of the same name (its sealed body is ``body``).
REVISION_FIELDS = Fields(same=("message_id", "revision", "key_version", "deleted"), times=("at",), actors=("editor",))


def insert_revision(session: Session, rev: Revision) -> None:
    session.execute(insert(RevisionRow), {**REVISION_FIELDS.write(rev), "body": rev.sealed_body})


def revisions(session: Session, message_id: str) -> list[Revision]:
    rows = session.scalars(
        select(RevisionRow).where(RevisionRow.message_id == message_id).order_by(RevisionRow.revision)
    )
    return [Revision(**REVISION_FIELDS.read(r), sealed_body=r.body) for r in rows]


# -- receipts -----------------------------------------------------------------------------------------


def _to_receipt(row: ReceiptRow) -> Receipt:
    return Receipt(
        message_id=row.message_id,
        reader=Actor(row.user_id, row.username, row.jurisdiction),
        delivered_at=as_utc_or_none(row.delivered_at),
        read_at=as_utc_or_none(row.read_at),
    )


def get_receipt(session: Session, message_id: str, user_id: str) -> Receipt | None:
    row = session.get(ReceiptRow, (message_id, user_id))
    return _to_receipt(row) if row is not None else None


def put_receipt(session: Session, receipt: Receipt, *, new: bool) -> None:
    values = {"delivered_at": receipt.delivered_at, "read_at": receipt.read_at}
    if new:
        session.execute(
            insert(ReceiptRow),
            {
                "message_id": receipt.message_id,
                "user_id": receipt.reader.user_id,
                "username": receipt.reader.username,
                "jurisdiction": receipt.reader.jurisdiction,
                **values,
            },
        )
    else:
        session.execute(
            update(ReceiptRow)
            .where(ReceiptRow.message_id == receipt.message_id, ReceiptRow.user_id == receipt.reader.user_id)
            .values(**values)
        )


def receipts(session: Session, message_id: str) -> list[Receipt]:
    rows = session.scalars(select(ReceiptRow).where(ReceiptRow.message_id == message_id).order_by(ReceiptRow.username))
    return [_to_receipt(r) for r in rows]


# -- replicas of other services' records, and workspace closures -------------------------------------


_RECORDS = cast(Table, RecordRow.__table__)
_GET_REPLICA = CompiledSelect(
    select(_RECORDS).where(_RECORDS.c.kind == bindparam("kind"), _RECORDS.c.id == bindparam("record_id"))
)
_INSERT_REPLICA = CompiledInsert(_RECORDS)
#: A replica's change: the record is known by its kind (the guard) and id (the key) together.
_UPDATE_REPLICA = CompiledUpdate(_RECORDS, _RECORDS.c.id, _RECORDS.c.kind)


def get_replica(session: Session, kind: str, record_id: str) -> RecordReplica | None:
    rows = _GET_REPLICA.named(session, {"kind": kind, "record_id": record_id})
    if not rows:
        return None
    row = rows[0]
    return RecordReplica(
        kind=row.kind,
        id=row.id,
        workspace_id=row.workspace_id,
        origin_jurisdiction=row.origin_jurisdiction,
        addressee_jurisdiction=row.addressee_jurisdiction or None,
        restricted=row.restricted,
        shared_with=frozenset(_split(row.shared_with)),
        version=row.version,
    )


def put_replica(session: Session, replica: RecordReplica, *, new: bool) -> None:
    values = {
        "workspace_id": replica.workspace_id,
        "origin_jurisdiction": replica.origin_jurisdiction,
        "addressee_jurisdiction": replica.addressee_jurisdiction,
        "restricted": replica.restricted,
        "shared_with": ",".join(sorted(replica.shared_with)),
        "version": replica.version,
    }
    if new:
        _INSERT_REPLICA.execute(session, {"kind": replica.kind, "id": replica.id, **values})
    else:
        _UPDATE_REPLICA.execute(session, replica.id, values, guard=replica.kind)


def record_closure(session: Session, workspace_id: str, seen_at: datetime) -> None:
    """Remember when this node first saw a workspace closed (nothing when a closure is recorded already)."""
    values = {"workspace_id": workspace_id, "seen_closed_at": seen_at}
    _insert_ignoring_duplicate(session, cast(Table, WorkspaceClosure.__table__), values, "workspace_id")


def forget_closure(session: Session, workspace_id: str) -> None:
    """Forget a closure that was undone (never one whose content is shredded)."""
    session.execute(
        delete(WorkspaceClosure).where(
            WorkspaceClosure.workspace_id == workspace_id, WorkspaceClosure.shredded_at.is_(None)
        )
    )


def pending_closures(session: Session) -> frozenset[str]:
    """The workspaces whose closure is recorded and whose content is not shredded yet."""
    return frozenset(
        session.scalars(select(WorkspaceClosure.workspace_id).where(WorkspaceClosure.shredded_at.is_(None)))
    )


def closure_seen_at(session: Session, workspace_id: str) -> datetime | None:
    """When this node first saw the workspace closed (None when no closure is pending)."""
    row = session.get(WorkspaceClosure, workspace_id)
    return as_utc(row.seen_closed_at) if row is not None and row.shredded_at is None else None


def alerts_sent_among(session: Session, keys: list[str]) -> set[str]:
    """Which of ``keys`` are in ``alerts_sent`` already (one query on its primary key)."""
    if not keys:
        return set()
    return set(session.scalars(select(ALERTS.c.key).where(ALERTS.c.key.in_(keys))))


_CLOSURES = cast(Table, WorkspaceClosure.__table__)
_SHREDDED_AT = CompiledSelect(
    select(_CLOSURES.c.shredded_at).where(_CLOSURES.c.workspace_id == bindparam("workspace_id"))
)


def workspace_shredded(session: Session, workspace_id: str) -> bool:
    rows = _SHREDDED_AT.rows(session, workspace_id=workspace_id)
    return bool(rows) and rows[0][0] is not None


def retention_counts(session: Session, workspace_id: str) -> dict[str, int]:
    """What a workspace's shred destroys, per record kind (its deletion certificate)."""
    channel_ids = channel_ids_of_workspace(session, workspace_id)
    messages = session.scalar(
        select(func.count()).select_from(MessageRow).where(MessageRow.channel_id.in_(channel_ids))
    )
    keys = session.scalar(
        select(func.count())
        .select_from(ChannelKey)
        .where(ChannelKey.channel_id.in_(channel_ids), ChannelKey.wrapped.is_not(None))
    )
    return {"channels": len(channel_ids), "messages": int(messages or 0), "channel_keys": int(keys or 0)}


def live_wrapped_keys(session: Session, workspace_id: str) -> list[bytes]:
    """The wrapped forms of a workspace's keys still alive: its workspace key, then its channels' keys."""
    out: list[bytes] = []
    key = session.get(WorkspaceKey, workspace_id)
    if key is not None and key.wrapped is not None:
        out.append(key.wrapped)
    channel_ids = channel_ids_of_workspace(session, workspace_id)
    out += [
        w
        for w in session.scalars(
            select(ChannelKey.wrapped).where(ChannelKey.channel_id.in_(channel_ids), ChannelKey.wrapped.is_not(None))
        )
        if w is not None
    ]
    return out


def closures_due(session: Session, seen_before: datetime) -> list[tuple[str, datetime]]:
    """Workspaces seen closed before ``seen_before`` whose content is not shredded yet, with that time."""
    rows = session.execute(
        select(WorkspaceClosure.workspace_id, WorkspaceClosure.seen_closed_at).where(
            WorkspaceClosure.shredded_at.is_(None), WorkspaceClosure.seen_closed_at <= seen_before
        )
    )
    return [(ws, as_utc(at)) for ws, at in rows]


def mark_workspace_shredded(session: Session, workspace_id: str, now: datetime) -> None:
    session.execute(
        update(WorkspaceClosure).where(WorkspaceClosure.workspace_id == workspace_id).values(shredded_at=now)
    )
