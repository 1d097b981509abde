"""jit.messaging.v1.MessagingService: validate -> load -> policy -> seal/unseal -> write with event and
audit in one unit of work. Content is sealed before it reaches the database and opened only for a caller
the policy lets see the channel."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from google.protobuf import any_pb2, timestamp_pb2
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from jit.common.v1 import common_pb2
from jit.events.v1.envelope_pb2 import Envelope
from jit.messaging.v1 import messaging_pb2 as pb
from jit.messaging.v1 import messaging_pb2_grpc
from jitlib import auth, crypto
from jitlib.errors import Aborted, FailedPrecondition, FieldViolation, InvalidArgument, NotFound, PermissionDenied
from jitlib.ids import is_uuid, new_id
from jitlib.policy import CHANNEL_RULES, Operation, RecordAccess
from jitlib.runtime import Runtime, UnitOfWork
from services.messaging import domain, store
from services.messaging.keys import ChannelKeys, Shredded

RECORD = "channel"
MESSAGE = "message"
PAGE_DEFAULT, PAGE_MAX = 100, 500
RECORD_KINDS = {"TASK": "task", "EVIDENCE_REQUEST": "evidence_request", "PRESERVATION_ORDER": "preservation_order"}


def ts(dt: datetime | None) -> timestamp_pb2.Timestamp | None:
    if dt is None:
        return None
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(dt)
    return out


def access(ch: store.ChannelRow) -> RecordAccess:
    members = frozenset(m for m in ch.members.split(",") if m)
    return RecordAccess(
        workspace_id=ch.workspace_id,
        origin_jurisdiction=ch.origin_jurisdiction,
        addressee_jurisdiction=None,
        restricted=ch.kind != "WORKSPACE",
        shared_with=members,
    )


def channel_pb(ch: store.ChannelRow) -> pb.Channel:
    msg = pb.Channel(
        id=ch.id,
        workspace_id=ch.workspace_id,
        kind="CHANNEL_KIND_" + ch.kind,
        title=ch.title,
        origin_jurisdiction=ch.origin_jurisdiction,
        members=[m for m in ch.members.split(",") if m],
        key_version=ch.key_version,
        shredded=ch.shredded_at is not None,
        last_seq=ch.next_seq - 1,
    )
    msg.created_at.FromDatetime(ch.created_at)
    if ch.kind == "RECORD" and ch.record_kind and ch.record_id:
        msg.record.CopyFrom(common_pb2.RecordRef(kind="RECORD_KIND_" + ch.record_kind.upper(), id=ch.record_id))
    return msg


def _aad(message_id: str, revision: int) -> bytes:
    return f"{message_id}:{revision}".encode()


@dataclass
class Sender:
    user_id: str
    username: str
    jurisdiction: str


class Messaging:
    """The operations shared by the servicer and the system-notice consumer (synchronous, in a unit)."""

    def __init__(self, rt: Runtime, keys: ChannelKeys, blob_dir: Path) -> None:
        self.rt = rt
        self.keys = keys
        self.blob_dir = blob_dir
        #: Live Subscribe streams of this process, by channel: woken at once by a local post (other
        #: replicas' posts arrive through NATS).
        self.listeners: dict[str, set[asyncio.Event]] = {}
        self.receipts = ReceiptWriter(rt)
        self._feeds: dict[str, ChannelFeed] = {}

    def notify(self, channel_id: str) -> None:
        feed = self._feeds.get(channel_id)
        if feed is not None:
            feed.generation += 1
        for event in self.listeners.get(channel_id, ()):
            event.set()

    def feed(self, ch: store.ChannelRow) -> ChannelFeed:
        feed = self._feeds.get(ch.id)
        if feed is None:
            feed = self._feeds[ch.id] = ChannelFeed(self, ch)
        return feed

    def forget(self, channel_id: str) -> None:
        """Drop what is cached for a channel (its content changed or was shredded)."""
        self._feeds.pop(channel_id, None)

    def new_channel(
        self,
        session: Session,
        *,
        workspace_id: str,
        kind: str,
        title: str,
        origin: str,
        members: list[str],
        created_by: str,
        now: datetime,
        request_id: str | None = None,
        record: tuple[str, str] | None = None,
    ) -> store.ChannelRow:
        ch = store.ChannelRow(
            id=new_id(),
            workspace_id=workspace_id,
            kind=kind,
            title=title,
            origin_jurisdiction=origin,
            members=",".join(sorted(set(members))),
            record_kind=record[0] if record else None,
            record_id=record[1] if record else None,
            key_version=1,
            next_seq=1,
            created_by_id=created_by,
            request_id=request_id,
            created_at=now,
        )
        session.add(ch)
        session.flush()
        self.keys.create(session, ch.id, 1, now)
        session.flush()
        return ch

    def post(
        self,
        uow: UnitOfWork,
        ch: store.ChannelRow,
        sender: Sender,
        body: str,
        request_id: str,
        now: datetime,
        attachments: list[dict[str, Any]] | None = None,
        system: bool = False,
    ) -> store.MessageRow:
        # Lock the channel row: sequence numbers are dense and ordered per channel.
        locked = uow.session.scalar(select(store.ChannelRow).where(store.ChannelRow.id == ch.id).with_for_update())
        assert locked is not None
        if locked.shredded_at is not None:
            raise FailedPrecondition("CHANNEL_SHREDDED", "the channel's content was destroyed; it takes no messages")
        seq = locked.next_seq
        locked.next_seq = seq + 1
        message_id = new_id()
        key = self.keys.get(uow.session, ch.id, locked.key_version)
        row = store.MessageRow(
            id=message_id,
            channel_id=ch.id,
            seq=seq,
            sender_id=sender.user_id,
            sender_name=sender.username,
            sender_jurisdiction=sender.jurisdiction,
            system=system,
            request_id=request_id,
            revision=1,
            deleted=False,
            key_version=locked.key_version,
            body=crypto.seal(key, body.encode(), _aad(message_id, 1)),
            attachments=json.dumps(attachments or []),
            posted_at=now,
        )
        uow.session.add(row)
        uow.session.flush()
        self._emit(uow, locked, row, "posted", now)
        uow.audit(MESSAGE, message_id, ch.workspace_id)
        return row

    def _emit(self, uow: UnitOfWork, ch: store.ChannelRow, row: store.MessageRow, event: str, now: datetime) -> None:
        # The event says which message changed, never what it says: the broker sees no content.
        meta = pb.Message(
            id=row.id,
            channel_id=row.channel_id,
            seq=row.seq,
            revision=row.revision,
            deleted=row.deleted,
            system=row.system,
            sender=common_pb2.Actor(
                user_id=row.sender_id, username=row.sender_name, jurisdiction=row.sender_jurisdiction
            ),
        )
        state = any_pb2.Any()
        state.Pack(meta)
        occurred = timestamp_pb2.Timestamp()
        occurred.FromDatetime(now)
        audience = sorted(access(ch).parties) if ch.kind != "WORKSPACE" else []
        origin = row.sender_jurisdiction if row.sender_jurisdiction.isalpha() else "SYSTEM"
        uow.emit(
            f"jit.messaging.{origin}.{event}",
            Envelope(
                id=new_id(),
                type=f"jit.messaging.v1.Message{event.capitalize()}",
                occurred_at=occurred,
                workspace_id=ch.workspace_id,
                origin_jurisdiction=origin,
                audience=audience,
                aggregate_type="message",
                aggregate_id=row.id,
                aggregate_version=row.revision,
                actor=meta.sender,
                state=state,
            ),
        )

    def message_pb(self, session: Session, ch: store.ChannelRow, row: store.MessageRow) -> pb.Message:
        msg = pb.Message(
            id=row.id,
            channel_id=row.channel_id,
            seq=row.seq,
            revision=row.revision,
            deleted=row.deleted,
            system=row.system,
            sender=common_pb2.Actor(
                user_id=row.sender_id, username=row.sender_name, jurisdiction=row.sender_jurisdiction
            ),
        )
        msg.posted_at.FromDatetime(row.posted_at)
        if row.edited_at:
            msg.edited_at.FromDatetime(row.edited_at)
        if not row.deleted:
            try:
                if ch.shredded_at is not None:
                    raise Shredded(ch.id)
                key = self.keys.get(session, ch.id, row.key_version)
                msg.body = crypto.open_sealed(key, row.body, _aad(row.id, row.revision)).decode()
                for a in json.loads(row.attachments):
                    msg.attachments.append(
                        pb.Attachment(
                            filename=a["filename"], media_type=a["media_type"], size=a["size"], sha256=a["sha256"]
                        )
                    )
            except Shredded:
                msg.shredded = True
        return msg


class MessagingServicer(messaging_pb2_grpc.MessagingServiceServicer):
    def __init__(self, rt: Runtime, messaging: Messaging) -> None:
        self.rt = rt
        self.m = messaging

    # -- channels ---------------------------------------------------------------------------------

    async def _channel(
        self, principal: auth.Principal, channel_id: str, operation: Operation = Operation.READ, action: str = ""
    ) -> store.ChannelRow:
        if not is_uuid(channel_id):
            raise InvalidArgument.one("channel_id", "must be a UUID")
        ch = await self.rt.read(lambda s: store.channel(s, channel_id))
        await self.rt.authorize(
            principal,
            operation,
            CHANNEL_RULES,
            record_type=RECORD,
            record_id=channel_id,
            record=access(ch) if ch is not None else None,
            action=action,
        )
        assert ch is not None
        return ch

    async def CreateChannel(self, request: pb.CreateChannelRequest, context: Any) -> pb.CreateChannelResponse:
        rt, principal = self.rt, auth.current()
        members = sorted(set(request.members) - {principal.jurisdiction})
        violations = domain.channel_violations(
            request.request_id, request.workspace_id, request.title, list(request.members)
        )
        if violations:
            raise InvalidArgument(violations)
        await rt.authorize(
            principal,
            Operation.CREATE,
            CHANNEL_RULES,
            record_type=RECORD,
            record_id="",
            workspace_id=request.workspace_id,
            action="open a channel in",
        )
        ws = rt.open_workspace(request.workspace_id)
        outsiders = [
            FieldViolation(f"members[{i}]", f"{j} is not a member of the workspace")
            for i, j in enumerate(request.members)
            if j not in ws.members
        ]
        if outsiders:
            raise InvalidArgument(outsiders)
        now = rt.clock.now()

        def write(uow: UnitOfWork) -> store.ChannelRow:
            ch = self.m.new_channel(
                uow.session,
                workspace_id=request.workspace_id,
                kind="RESTRICTED",
                title=request.title.strip(),
                origin=principal.jurisdiction,
                members=members,
                created_by=principal.user_id,
                now=now,
                request_id=request.request_id,
            )
            uow.audit(RECORD, ch.id, ch.workspace_id)
            return ch

        try:
            ch = await rt.change(principal, write)
        except IntegrityError:
            found: store.ChannelRow | None = await rt.read(
                lambda s: s.scalar(
                    select(store.ChannelRow).where(
                        store.ChannelRow.created_by_id == principal.user_id,
                        store.ChannelRow.request_id == request.request_id,
                    )
                )
            )
            if found is None:
                raise
            ch = found
        return pb.CreateChannelResponse(channel=channel_pb(ch))

    async def GetChannel(self, request: pb.GetChannelRequest, context: Any) -> pb.GetChannelResponse:
        principal = auth.current()
        ch = await self._channel(principal, request.id)
        await self.rt.change(principal, lambda uow: uow.audit(RECORD, ch.id, ch.workspace_id))
        return pb.GetChannelResponse(channel=channel_pb(ch))

    async def ListChannels(self, request: pb.ListChannelsRequest, context: Any) -> pb.ListChannelsResponse:
        rt, principal = self.rt, auth.current()
        await rt.authorize(
            principal, Operation.READ, None, record_type=RECORD, record_id="", workspace_id=request.workspace_id
        )
        rows = await rt.read(
            lambda s: list(
                s.scalars(
                    select(store.ChannelRow)
                    .where(store.ChannelRow.workspace_id == request.workspace_id)
                    .order_by(store.ChannelRow.id)
                )
            )
        )
        visible = [c for c in rows if c.kind == "WORKSPACE" or principal.jurisdiction in access(c).parties]
        await rt.change(principal, lambda uow: uow.audit(RECORD, "*", request.workspace_id))
        return pb.ListChannelsResponse(channels=[channel_pb(c) for c in visible])

    async def OpenWorkspaceChannel(
        self, request: pb.OpenWorkspaceChannelRequest, context: Any
    ) -> pb.OpenWorkspaceChannelResponse:
        rt, principal = self.rt, auth.current()
        await rt.authorize(
            principal, Operation.READ, None, record_type=RECORD, record_id="", workspace_id=request.workspace_id
        )
        ws = rt.workspaces.get(request.workspace_id)
        now = rt.clock.now()

        def write(uow: UnitOfWork) -> store.ChannelRow:
            ch = store.workspace_channel(uow.session, request.workspace_id)
            if ch is None:
                if ws is None or not ws.is_open:
                    raise FailedPrecondition("WORKSPACE_NOT_OPEN", f"workspace {request.workspace_id} is not open")
                ch = self.m.new_channel(
                    uow.session,
                    workspace_id=request.workspace_id,
                    kind="WORKSPACE",
                    title=f"{ws.name}",
                    origin=ws.lead,
                    members=[],
                    created_by="system",
                    now=now,
                    record=("workspace", request.workspace_id),
                )
            uow.audit(RECORD, ch.id, ch.workspace_id)
            return ch

        try:
            ch = await rt.change(principal, write)
        except IntegrityError:  # opened concurrently
            ch = await rt.change(principal, write)
        return pb.OpenWorkspaceChannelResponse(channel=channel_pb(ch))

    async def OpenRecordThread(self, request: pb.OpenRecordThreadRequest, context: Any) -> pb.OpenRecordThreadResponse:
        rt, principal = self.rt, auth.current()
        kind_name = (
            common_pb2.RecordKind.Name(request.record.kind).removeprefix("RECORD_KIND_")
            if request.record.kind in common_pb2.RecordKind.values()
            else ""
        )
        kind = RECORD_KINDS.get(kind_name)
        violations = []
        if kind is None:
            violations.append(FieldViolation("record.kind", "must be a task, evidence request or preservation order"))
        if not is_uuid(request.record.id):
            violations.append(FieldViolation("record.id", "must be a UUID"))
        if violations:
            raise InvalidArgument(violations)
        assert kind is not None
        rec = await rt.read(lambda s: s.get(store.RecordRow, (kind, request.record.id)))
        record_access = None
        if rec is not None:
            record_access = RecordAccess(
                rec.workspace_id,
                rec.origin_jurisdiction,
                None,
                True,
                frozenset(a for a in rec.audience.split(",") if a),
            )
        # A record this node has not heard of is as invisible as one the caller may not see.
        await rt.authorize(
            principal,
            Operation.READ,
            CHANNEL_RULES,
            record_type=kind,
            record_id=request.record.id,
            record=record_access,
        )
        assert rec is not None
        now = rt.clock.now()

        def write(uow: UnitOfWork) -> store.ChannelRow:
            ch = ensure_record_thread(self.m, uow.session, rec, now)
            uow.audit(RECORD, ch.id, ch.workspace_id)
            return ch

        try:
            ch = await rt.change(principal, write)
        except IntegrityError:
            ch = await rt.change(principal, write)
        return pb.OpenRecordThreadResponse(channel=channel_pb(ch))

    async def RotateChannelKey(self, request: pb.RotateChannelKeyRequest, context: Any) -> pb.RotateChannelKeyResponse:
        rt, principal = self.rt, auth.current()
        ch = await self._channel(principal, request.channel_id)
        if not principal.has_role("prosecutor", "police_liaison"):
            await rt.authorize(
                principal,
                Operation.ISSUER_ACT,
                CHANNEL_RULES,
                record_type=RECORD,
                record_id=ch.id,
                record=access(ch),
                action="rotate the key of",
            )
        now = rt.clock.now()

        def write(uow: UnitOfWork) -> store.ChannelRow:
            locked = uow.session.scalar(select(store.ChannelRow).where(store.ChannelRow.id == ch.id).with_for_update())
            assert locked is not None
            if locked.shredded_at is not None:
                raise FailedPrecondition("CHANNEL_SHREDDED", "the channel's keys were destroyed")
            locked.key_version += 1
            self.m.keys.create(uow.session, ch.id, locked.key_version, now)
            uow.audit(RECORD, ch.id, ch.workspace_id)
            return locked

        return pb.RotateChannelKeyResponse(channel=channel_pb(await rt.change(principal, write)))

    # -- messages ---------------------------------------------------------------------------------

    async def PostMessage(self, request: pb.PostMessageRequest, context: Any) -> pb.PostMessageResponse:
        rt, principal = self.rt, auth.current()
        attachments = [domain.NewAttachment(a.filename, a.media_type, a.content) for a in request.attachments]
        violations = domain.message_violations(request.request_id, request.channel_id, request.body, attachments)
        if violations:
            raise InvalidArgument(violations)
        ch = await self._channel(principal, request.channel_id)
        now = rt.clock.now()
        replay = await rt.read(
            lambda s: s.scalar(
                select(store.MessageRow).where(
                    store.MessageRow.sender_id == principal.user_id, store.MessageRow.request_id == request.request_id
                )
            )
        )
        if replay is None:
            message_id_hint = new_id()
            stored = self._store_attachments(ch, message_id_hint, attachments)
            sender = Sender(principal.user_id, principal.username, principal.jurisdiction)
            try:
                row = await rt.change(
                    principal,
                    lambda uow: self.m.post(uow, ch, sender, request.body, request.request_id, now, attachments=stored),
                )
                self.m.notify(ch.id)
            except IntegrityError:
                self._remove_blobs(stored)
                again: store.MessageRow | None = await rt.read(
                    lambda s: s.scalar(
                        select(store.MessageRow).where(
                            store.MessageRow.sender_id == principal.user_id,
                            store.MessageRow.request_id == request.request_id,
                        )
                    )
                )
                if again is None:
                    raise
                row = again
            except BaseException:
                self._remove_blobs(stored)
                raise
        else:
            row = replay
        msg = await rt.read(lambda s: self.m.message_pb(s, store.channel(s, ch.id) or ch, row))
        return pb.PostMessageResponse(message=msg)

    def _store_attachments(
        self, ch: store.ChannelRow, blob_id: str, attachments: list[domain.NewAttachment]
    ) -> list[dict[str, Any]]:
        """Seal each attachment into the blob folder under the channel's current key."""
        if not attachments:
            return []
        key = self._current_key_sync(ch)
        out = []
        folder = self.m.blob_dir / ch.id
        folder.mkdir(parents=True, exist_ok=True)
        for i, a in enumerate(attachments):
            blob = f"{blob_id}-{i}"
            sealed = crypto.seal(key, a.content, f"{ch.id}:{blob}".encode())
            path = folder / f"{blob}.bin"
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(sealed)
            tmp.replace(path)
            out.append(
                {
                    "filename": a.filename,
                    "media_type": a.media_type,
                    "size": len(a.content),
                    "sha256": hashlib.sha256(a.content).hexdigest(),
                    "blob": blob,
                    "key_version": ch.key_version,
                }
            )
        return out

    def _current_key_sync(self, ch: store.ChannelRow) -> bytes:
        with Session(self.rt.db.engine) as s:
            return self.m.keys.get(s, ch.id, ch.key_version)

    def _remove_blobs(self, stored: list[dict[str, Any]]) -> None:
        for a in stored:
            for p in self.m.blob_dir.glob(f"*/{a['blob']}.bin"):
                p.unlink(missing_ok=True)

    async def _message(self, principal: auth.Principal, message_id: str) -> tuple[store.ChannelRow, store.MessageRow]:
        if not is_uuid(message_id):
            raise InvalidArgument.one("id", "must be a UUID")
        found = await self.rt.read(
            lambda s: (lambda m: (store.channel(s, m.channel_id), m) if m else (None, None))(
                s.get(store.MessageRow, message_id)
            )
        )
        ch, row = found
        await self.rt.authorize(
            principal,
            Operation.READ,
            CHANNEL_RULES,
            record_type=MESSAGE,
            record_id=message_id,
            record=access(ch) if ch is not None else None,
        )
        assert ch is not None and row is not None
        return ch, row

    async def _revise(self, message_id: str, body: str | None, expected: int) -> pb.Message:
        rt, principal = self.rt, auth.current()
        ch, row = await self._message(principal, message_id)
        if row.sender_id != principal.user_id:
            raise PermissionDenied("NOT_THE_SENDER", "only the sender may edit or delete a message")
        if row.deleted:
            raise FailedPrecondition("MESSAGE_DELETED", "the message was deleted")
        if expected and expected != row.revision:
            raise Aborted("REVISION_MISMATCH", f"message is at revision {row.revision}, not {expected}")
        now = rt.clock.now()

        def write(uow: UnitOfWork) -> store.MessageRow:
            current = uow.session.get(store.MessageRow, message_id)
            assert current is not None
            if current.revision != row.revision:
                raise Aborted("CONCURRENT_EDIT", "the message changed meanwhile; re-read it")
            uow.session.add(
                store.RevisionRow(
                    message_id=current.id,
                    revision=current.revision,
                    key_version=current.key_version,
                    body=current.body,
                    deleted=current.deleted,
                    editor_id=principal.user_id,
                    editor_name=principal.username,
                    editor_jurisdiction=principal.jurisdiction,
                    at=now,
                )
            )
            chan = store.channel(uow.session, ch.id)
            assert chan is not None
            if chan.shredded_at is not None:
                raise FailedPrecondition("CHANNEL_SHREDDED", "the channel's content was destroyed")
            current.revision += 1
            current.edited_at = now
            current.key_version = chan.key_version
            key = self.m.keys.get(uow.session, ch.id, chan.key_version)
            if body is None:
                current.deleted = True
                current.body = crypto.seal(key, b"", _aad(current.id, current.revision))
            else:
                current.body = crypto.seal(key, body.encode(), _aad(current.id, current.revision))
            uow.session.flush()
            self.m._emit(uow, chan, current, "deleted" if body is None else "edited", now)
            uow.audit(MESSAGE, current.id, ch.workspace_id)
            return current

        updated = await rt.change(principal, write)
        self.m.forget(ch.id)
        return await rt.read(lambda s: self.m.message_pb(s, ch, updated))

    async def EditMessage(self, request: pb.EditMessageRequest, context: Any) -> pb.EditMessageResponse:
        violations = domain._text("body", request.body, required=True, maximum=domain.BODY_MAX)
        if violations:
            raise InvalidArgument(violations)
        return pb.EditMessageResponse(message=await self._revise(request.id, request.body, request.expected_revision))

    async def DeleteMessage(self, request: pb.DeleteMessageRequest, context: Any) -> pb.DeleteMessageResponse:
        return pb.DeleteMessageResponse(message=await self._revise(request.id, None, 0))

    async def ListMessages(self, request: pb.ListMessagesRequest, context: Any) -> pb.ListMessagesResponse:
        principal = auth.current()
        size = request.page_size or PAGE_DEFAULT
        if not 1 <= size <= PAGE_MAX:
            raise InvalidArgument.one("page_size", f"must be between 1 and {PAGE_MAX}")
        if request.after_seq < 0:
            raise InvalidArgument.one("after_seq", "must not be negative")
        ch = await self._channel(principal, request.channel_id)

        def read(uow: UnitOfWork) -> list[pb.Message]:
            uow.audit(RECORD, ch.id, ch.workspace_id)
            rows = store.messages_after(uow.session, ch.id, request.after_seq, size)
            return [self.m.message_pb(uow.session, ch, r) for r in rows]

        return pb.ListMessagesResponse(messages=await self.rt.change(principal, read))

    async def GetMessageHistory(
        self, request: pb.GetMessageHistoryRequest, context: Any
    ) -> pb.GetMessageHistoryResponse:
        principal = auth.current()
        ch, row = await self._message(principal, request.id)

        def read(uow: UnitOfWork) -> list[pb.Message]:
            uow.audit(MESSAGE, row.id, ch.workspace_id)
            out = []
            for rev in uow.session.scalars(
                select(store.RevisionRow)
                .where(store.RevisionRow.message_id == row.id)
                .order_by(store.RevisionRow.revision)
            ):
                old = store.MessageRow(
                    id=row.id,
                    channel_id=row.channel_id,
                    seq=row.seq,
                    sender_id=rev.editor_id,
                    sender_name=rev.editor_name,
                    sender_jurisdiction=rev.editor_jurisdiction,
                    system=row.system,
                    request_id="",
                    revision=rev.revision,
                    deleted=rev.deleted,
                    key_version=rev.key_version,
                    body=rev.body,
                    attachments=row.attachments,
                    posted_at=rev.at,
                    edited_at=None,
                )
                out.append(self.m.message_pb(uow.session, ch, old))
            out.append(self.m.message_pb(uow.session, ch, row))
            return out

        return pb.GetMessageHistoryResponse(revisions=await self.rt.change(principal, read))

    async def GetAttachment(self, request: pb.GetAttachmentRequest, context: Any) -> pb.GetAttachmentResponse:
        principal = auth.current()
        ch, row = await self._message(principal, request.message_id)
        items = json.loads(row.attachments)
        if row.deleted or not 0 <= request.index < len(items):
            raise NotFound("attachment", f"{request.message_id}/{request.index}")
        meta = items[request.index]

        def read(uow: UnitOfWork) -> bytes:
            uow.audit("attachment", f"{row.id}/{request.index}", ch.workspace_id)
            chan = store.channel(uow.session, ch.id)
            if chan is None or chan.shredded_at is not None:
                raise FailedPrecondition("CHANNEL_SHREDDED", "the channel's content was destroyed")
            key = self.m.keys.get(uow.session, ch.id, meta["key_version"])
            sealed = (self.m.blob_dir / ch.id / f"{meta['blob']}.bin").read_bytes()
            return crypto.open_sealed(key, sealed, f"{ch.id}:{meta['blob']}".encode())

        try:
            content = await self.rt.change(principal, read)
        except Shredded:
            raise FailedPrecondition("CHANNEL_SHREDDED", "the channel's content was destroyed") from None
        return pb.GetAttachmentResponse(
            attachment=pb.Attachment(
                filename=meta["filename"],
                media_type=meta["media_type"],
                size=meta["size"],
                sha256=meta["sha256"],
                content=content,
            )
        )

    # -- live delivery and receipts ---------------------------------------------------------------

    async def Subscribe(self, request: pb.SubscribeRequest, context: Any) -> AsyncIterator[pb.SubscribeResponse]:
        rt, principal = self.rt, auth.current()
        if request.after_seq < 0:
            raise InvalidArgument.one("after_seq", "must not be negative")
        ch = await self._channel(principal, request.channel_id)
        await rt.change(principal, lambda uow: uow.audit(RECORD, ch.id, ch.workspace_id))
        wake = asyncio.Event()
        self.m.listeners.setdefault(ch.id, set()).add(wake)
        sub = None
        # Listen first, then read: a message committed in between is seen by one or the other, and the
        # cursor (last seq sent) drops the overlap. Without NATS, a poll every 2 s keeps delivery going.
        with contextlib.suppress(Exception):

            async def on_event(msg: Any) -> None:
                # Another replica (or this one) posted: wake only for this channel's messages.
                meta = pb.Message()
                with contextlib.suppress(Exception):
                    Envelope.FromString(msg.data).state.Unpack(meta)
                if meta.channel_id == ch.id:
                    self.m.notify(ch.id)

            sub = await rt.bus.nc.subscribe("jit.messaging.*.posted", cb=on_event)
        last = request.after_seq
        try:
            while True:
                batch = await self.m.feed(ch).after(last)
                for msg in batch:
                    yield pb.SubscribeResponse(message=msg)
                    last = msg.seq
                    if msg.sender.user_id != principal.user_id:
                        self.m.receipts.delivered(msg.id, principal)
                if len(batch) == 200:
                    continue
                wake.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(wake.wait(), timeout=2.0)
        finally:
            self.m.listeners.get(ch.id, set()).discard(wake)
            if sub is not None:
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()

    async def MarkRead(self, request: pb.MarkReadRequest, context: Any) -> pb.MarkReadResponse:
        rt, principal = self.rt, auth.current()
        if request.up_to_seq < 1:
            raise InvalidArgument.one("up_to_seq", "must be at least 1")
        ch = await self._channel(principal, request.channel_id)
        now = rt.clock.now()

        def write(uow: UnitOfWork) -> int:
            rows = uow.session.scalars(
                select(store.MessageRow).where(
                    store.MessageRow.channel_id == ch.id,
                    store.MessageRow.seq <= request.up_to_seq,
                    store.MessageRow.sender_id != principal.user_id,
                )
            )
            n = 0
            for r in rows:
                n += record_receipt(uow.session, r.id, principal, now, read=True)
            uow.audit(RECORD, ch.id, ch.workspace_id)
            return n

        return pb.MarkReadResponse(marked=await rt.change(principal, write))

    async def ListReceipts(self, request: pb.ListReceiptsRequest, context: Any) -> pb.ListReceiptsResponse:
        principal = auth.current()
        _ch, row = await self._message(principal, request.message_id)
        if row.sender_id != principal.user_id:
            raise PermissionDenied("NOT_THE_SENDER", "only the sender sees a message's receipts")
        rows = await self.rt.read(
            lambda s: list(
                s.scalars(
                    select(store.ReceiptRow)
                    .where(store.ReceiptRow.message_id == row.id)
                    .order_by(store.ReceiptRow.username)
                )
            )
        )
        out = []
        for r in rows:
            rec = pb.Receipt(
                reader=common_pb2.Actor(user_id=r.user_id, username=r.username, jurisdiction=r.jurisdiction)
            )
            if r.delivered_at:
                rec.delivered_at.FromDatetime(r.delivered_at)
            if r.read_at:
                rec.read_at.FromDatetime(r.read_at)
            out.append(rec)
        return pb.ListReceiptsResponse(receipts=out)


class ChannelFeed:
    """New messages of one channel, read and opened once for all of this process's subscribers: with
    fifty people following a channel, a post costs one database read, not fifty. Entries live a few
    seconds (a message edited or shredded elsewhere is not served stale for longer)."""

    TTL = 5.0

    def __init__(self, m: Messaging, ch: store.ChannelRow) -> None:
        self._m = m
        self._ch = ch
        self._lock = asyncio.Lock()
        self._cache: dict[int, tuple[float, pb.Message]] = {}
        #: Bumped on every known change; a read made at the current generation saw everything committed.
        self.generation = 0
        self._read_at: tuple[int, int, float] = (-1, 0, 0.0)  # generation, last seq, time of the last read

    def _cached(self, after: int, now: float) -> list[pb.Message]:
        out = []
        seq = after + 1
        while (hit := self._cache.get(seq)) is not None and now - hit[0] < self.TTL:
            out.append(hit[1])
            seq += 1
        return out

    async def after(self, after: int) -> list[pb.Message]:
        loop = asyncio.get_running_loop()
        async with self._lock:
            now = loop.time()
            hits = self._cached(after, now)
            start = hits[-1].seq if hits else after
            generation, last_seq, read_time = self._read_at
            if generation == self.generation and start >= last_seq and now - read_time < self.TTL:
                return hits  # nothing was posted since the last read: no need to ask the database
            generation = self.generation

            def fetch(session: Session) -> list[pb.Message]:
                rows = store.messages_after(session, self._ch.id, start, 200)
                chan = store.channel(session, self._ch.id) or self._ch
                return [self._m.message_pb(session, chan, r) for r in rows]

            fresh = await self._m.rt.read(fetch)
            for msg in fresh:
                self._cache[msg.seq] = (now, msg)
            self._read_at = (generation, fresh[-1].seq if fresh else start, now)
            for seq in [k for k, (t, _) in self._cache.items() if now - t >= self.TTL]:
                del self._cache[seq]
            return hits + fresh


class ReceiptWriter:
    """Delivery receipts, written in batches: fifty subscribers receiving one message make one
    transaction, not fifty. A receipt is on disk within ``interval`` seconds of the delivery."""

    def __init__(self, rt: Runtime, interval: float = 0.1) -> None:
        self._rt = rt
        self._interval = interval
        self._pending: dict[tuple[str, str], tuple[auth.Principal, datetime]] = {}
        self._task: asyncio.Task[None] | None = None

    def delivered(self, message_id: str, principal: auth.Principal) -> None:
        self._pending.setdefault((message_id, principal.user_id), (principal, self._rt.clock.now()))

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="receipt-writer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self.flush()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            with contextlib.suppress(Exception):
                await self.flush()

    async def flush(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, {}

        def write(session: Session) -> None:
            for (message_id, _), (principal, at) in batch.items():
                record_receipt(session, message_id, principal, at, read=False)

        await self._rt.db.write(write)


def record_receipt(session: Session, message_id: str, principal: auth.Principal, now: datetime, *, read: bool) -> int:
    row = session.get(store.ReceiptRow, (message_id, principal.user_id))
    if row is None:
        session.add(
            store.ReceiptRow(
                message_id=message_id,
                user_id=principal.user_id,
                username=principal.username,
                jurisdiction=principal.jurisdiction,
                delivered_at=now,
                read_at=now if read else None,
            )
        )
        session.flush()
        return 1
    if read and row.read_at is None:
        row.read_at = now
        return 1
    return 0


def ensure_record_thread(m: Messaging, session: Session, rec: store.RecordRow, now: datetime) -> store.ChannelRow:
    """The record's thread, created on first use, its members kept equal to the record's audience."""
    members = sorted(a for a in rec.audience.split(",") if a)
    ch = store.record_thread(session, rec.kind, rec.id)
    if ch is None:
        ch = m.new_channel(
            session,
            workspace_id=rec.workspace_id,
            kind="RECORD",
            title=f"{rec.kind.replace('_', ' ')} {rec.id}",
            origin=rec.origin_jurisdiction,
            members=members,
            created_by="system",
            now=now,
            record=(rec.kind, rec.id),
        )
    elif ch.members != ",".join(members):
        session.execute(update(store.ChannelRow).where(store.ChannelRow.id == ch.id).values(members=",".join(members)))
        ch.members = ",".join(members)
    return ch
