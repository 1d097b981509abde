"""jit.messaging.v1.MessagingService: turns RPCs into domain decisions and store calls, in that order:
validate input -> load through the record path (NOT_FOUND when the caller may not see the channel) ->
domain rule -> write the change, its event and its audit entry in one unit of work (``channels``).
Content is sealed before it reaches the database and opened only for a caller the policy lets see the
channel; live delivery is ``live``'s, delivery receipts the ``receipts`` writer's.

A closed workspace takes no change from a user (post, edit, delete, key rotation, a new channel or
thread: FAILED_PRECONDITION ``WORKSPACE_CLOSED``); reading goes on until the content is shredded. A live
stream checks its reader again before each batch and while idle: it ends NOT_FOUND once the reader may
no longer see the channel, UNAUTHENTICATED ``TOKEN_EXPIRED`` once the reader's token has expired."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any, TypeVar

from jit.messaging.v1 import messaging_pb2 as pb
from jit.messaging.v1 import messaging_pb2_grpc
from jitlib import auth, validate
from jitlib.auth import Principal
from jitlib.envelopes import request_digest
from jitlib.errors import FieldViolation, InvalidArgument, NotFound, PermissionDenied, Unauthenticated
from jitlib.forwarding import OwnedElsewhere
from jitlib.ids import new_id
from jitlib.policy import CHANNEL_RULES, Decision, Operation, decide
from jitlib.records import RecordPath
from jitlib.runtime import Runtime, UnitOfWork
from jitlib.workspaces import WorkspaceInfo
from services.messaging import domain, peers, store
from services.messaging.channels import CHANNEL, MESSAGE, Channels, MessagePath
from services.messaging.domain import Channel, MessageInChannel
from services.messaging.live import Live
from services.messaging.mapping import (
    attachment_to_pb,
    attachments_from_pb,
    channel_from_pb,
    channel_to_pb,
    message_to_pb,
    receipt_to_pb,
    threaded_kind,
)
from services.messaging.receipts import ReceiptWriter

PAGE_DEFAULT, PAGE_MAX = 100, 500
READ = Operation.READ


class _Unseen(Exception):
    """A channel the caller may not see (or none), met inside a unit of work: it rolls the unit back."""

    def __init__(self, channel: Channel | None) -> None:
        super().__init__("channel not visible")
        self.channel = channel


R = TypeVar("R", pb.OpenRecordThreadResponse, pb.OpenWorkspaceChannelResponse)


class MessagingServicer(messaging_pb2_grpc.MessagingServiceServicer):
    def __init__(self, rt: Runtime, channels: Channels, live: Live, receipts: ReceiptWriter) -> None:
        self.rt = rt
        self.ops = channels
        self.live = live
        self.receipts = receipts
        # Members keep talking once the JIT's agreed period ended, to wind the case down: a channel is not
        # a case record (rule JIT_PERIOD_ENDED). Channels are read with their titles opened (a restricted
        # channel's is sealed at rest).
        self.channels = RecordPath(
            rt, CHANNEL_RULES, channels.load, Channel.access, channels.find_by_request, case_record=False
        )
        self.messages = MessagePath(rt, domain.MESSAGE_RULES, store.get_message, MessageInChannel.access)

    async def _opened(self, found: MessageInChannel) -> pb.Message:
        content = self.ops.content
        return await self.rt.read(lambda s: message_to_pb(content.open(s, found.channel, found.message)))

    async def _domain_check(
        self, principal: Principal, check: Callable[[], None], *, record_type: str, record_id: str, workspace_id: str
    ) -> None:
        """Run a domain rule that may refuse the caller (PERMISSION_DENIED, e.g. ``NOT_THE_SENDER``); a
        refusal is audited ("denied", in its own transaction) like the policy's."""
        try:
            check()
        except PermissionDenied:
            await self.rt.change(
                principal, lambda uow: uow.audit(record_type, record_id, workspace_id, outcome="denied")
            )
            raise

    # -- channels ---------------------------------------------------------------------------------

    async def CreateChannel(self, request: pb.CreateChannelRequest, context: Any) -> pb.CreateChannelResponse:
        rt, principal = self.rt, auth.current()
        members = list(request.members)
        InvalidArgument.raise_for(
            domain.channel_violations(request.request_id, request.workspace_id, request.title, members)
        )
        now = rt.clock.now()
        digest = request_digest(request)

        def build(workspace: WorkspaceInfo) -> Channel:
            InvalidArgument.raise_for(domain.membership_violations(members, workspace.members))
            return domain.new_channel(
                channel_id=new_id(),
                workspace_id=request.workspace_id,
                title=request.title,
                opener=principal.actor,
                members=members,
                now=now,
            )

        def write(uow: UnitOfWork, ch: Channel, workspace: WorkspaceInfo) -> None:
            self.ops.insert(uow.session, ch, request_id=request.request_id, digest=digest)
            uow.audit(CHANNEL, ch.id, ch.workspace_id)

        created = await self.channels.create(principal, request, digest, build, write, action="open a channel in")
        return pb.CreateChannelResponse(channel=channel_to_pb(created.record))

    async def GetChannel(self, request: pb.GetChannelRequest, context: Any) -> pb.GetChannelResponse:
        return pb.GetChannelResponse(channel=channel_to_pb(await self.channels.get(auth.current(), request.id)))

    async def ListChannels(self, request: pb.ListChannelsRequest, context: Any) -> pb.ListChannelsResponse:
        found = await self.channels.list_in_workspaces(auth.current(), request.workspace_id, self.ops.list_visible)
        return pb.ListChannelsResponse(channels=[channel_to_pb(c) for c in found])

    async def OpenWorkspaceChannel(
        self, request: pb.OpenWorkspaceChannelRequest, context: Any
    ) -> pb.OpenWorkspaceChannelResponse:
        rt, principal = self.rt, auth.current()
        InvalidArgument.raise_for(validate.workspace_id("workspace_id", request.workspace_id))
        await rt.authorize(principal, READ, None, record_type=CHANNEL, record_id="", workspace_id=request.workspace_id)
        now = rt.clock.now()
        fed, workspace = rt.federation, rt.workspaces.get(request.workspace_id)
        if fed is not None and workspace is not None and not fed.is_owner(workspace.lead):
            # The workspace's channel belongs to its lead's node: held here once it sent any of it, else
            # opened there (forwarded) and held from its answer on.
            held = await rt.read(lambda s: store.workspace_channel(s, request.workspace_id))
            if held is None:
                return await self._opened_elsewhere(workspace.lead, request, pb.OpenWorkspaceChannelResponse)
            found: Channel = held
            await rt.change(principal, lambda uow: uow.audit(CHANNEL, found.id, found.workspace_id))
            return pb.OpenWorkspaceChannelResponse(channel=channel_to_pb(found))
        ch = await self.ops.once(
            principal, lambda uow: self.ops.workspace_channel(uow, request.workspace_id, rt.open_workspace, now)
        )
        return pb.OpenWorkspaceChannelResponse(channel=channel_to_pb(ch))

    async def OpenRecordThread(self, request: pb.OpenRecordThreadRequest, context: Any) -> pb.OpenRecordThreadResponse:
        rt, principal = self.rt, auth.current()
        kind = threaded_kind(request.record)
        violations = validate.uuid("record.id", request.record.id)
        if kind is None:
            violations.append(FieldViolation("record.kind", "must be a task, evidence request or preservation order"))
        InvalidArgument.raise_for(violations)
        assert kind is not None
        replica = await rt.read(lambda s: store.get_replica(s, kind, request.record.id))
        if replica is None and rt.federation is not None:
            # Another node's thread may arrive (with its messages) before its record's own event: it
            # carries the record's visibility, so it answers for the record.
            held = await rt.read(lambda s: store.record_thread(s, kind, request.record.id))
            if held is not None and not rt.federation.is_owner(held.origin_jurisdiction):
                found: Channel = held
                await rt.authorize(
                    principal, READ, CHANNEL_RULES, record_type=kind, record_id=request.record.id, record=found.access()
                )
                await rt.change(principal, lambda uow: uow.audit(CHANNEL, found.id, found.workspace_id))
                return pb.OpenRecordThreadResponse(channel=channel_to_pb(found))
        # A record this node has not heard of is as invisible as one the caller may not see.
        await rt.authorize(
            principal,
            READ,
            CHANNEL_RULES,
            record_type=kind,
            record_id=request.record.id,
            record=replica.access() if replica is not None else None,
        )
        assert replica is not None
        now = rt.clock.now()

        def thread(uow: UnitOfWork) -> Channel:
            # An existing thread is read; a new one is not opened in a closed workspace.
            ch = self.ops.record_thread(uow.session, replica, now, may_create=self.channels.members_for_change)
            uow.audit(CHANNEL, ch.id, ch.workspace_id)
            return ch

        try:
            ch = await self.ops.once(principal, thread)
        except OwnedElsewhere as elsewhere:
            # A new thread of another node's record is opened by that node; this node holds it from its
            # answer on, so the caller's next call here (a post, forwarded too) finds it.
            return await self._opened_elsewhere(elsewhere.owner, request, pb.OpenRecordThreadResponse)
        return pb.OpenRecordThreadResponse(channel=channel_to_pb(ch))

    async def _opened_elsewhere(self, owner: str, request: Any, response: type[R]) -> R:
        """A channel another node owns, opened there (the call forwarded with the caller's token) and held
        here from its answer on, so the caller's next call on this node finds it."""
        principal = auth.current()
        answer = response.FromString(await self.rt.forward(owner, request, principal))
        seen = channel_from_pb(answer.channel)  # type: ignore[attr-defined]
        await self.rt.change(principal, lambda uow: peers.hold_channel(self.ops, uow.session, seen))
        return answer

    async def RotateChannelKey(self, request: pb.RotateChannelKeyRequest, context: Any) -> pb.RotateChannelKeyResponse:
        rt, principal = self.rt, auth.current()
        InvalidArgument.raise_for(domain.cursor_violations("expected_key_version", request.expected_key_version))
        # The channel's issuing side only: a prosecutor or police liaison of its origin jurisdiction (the
        # opener of a restricted channel, the record's origin for a thread, the lead for the workspace's).
        ch = await self.channels.load_visible(
            principal, request.channel_id, Operation.ISSUER_ACT, action="rotate the key of", field="channel_id"
        )
        now = rt.clock.now()
        expected = request.expected_key_version
        # The retry of the rotation that made the key version is answered as it was, even once the workspace
        # closed; any other rotation is refused in a closed workspace (WORKSPACE_CLOSED).
        rotated = await rt.change(
            principal,
            lambda uow: self.ops.rotate_key(uow, ch.id, now, expected, may_change=self.channels.members_for_change),
        )
        return pb.RotateChannelKeyResponse(channel=channel_to_pb(rotated))

    # -- messages ---------------------------------------------------------------------------------

    async def PostMessage(self, request: pb.PostMessageRequest, context: Any) -> pb.PostMessageResponse:
        rt, principal = self.rt, auth.current()
        files = attachments_from_pb(request.attachments)
        InvalidArgument.raise_for(
            domain.message_violations(request.request_id, request.channel_id, request.body, files)
        )
        now = rt.clock.now()
        digest = request_digest(request)

        posted: list[pb.Message] = []

        def write(uow: UnitOfWork) -> MessageInChannel:
            # The channel is read by the statement that takes its next seq (and locks it), and checked
            # there: no read transaction before this one. One the caller may not see rolls it back.
            ch = self.ops.take_seq(uow.session, request.channel_id)
            if ch is None or decide(principal, READ, CHANNEL_RULES, record=ch.access()) is not Decision.ALLOW:
                raise _Unseen(ch)
            self.channels.members_for_change(ch)  # WORKSPACE_CLOSED (a genuine replay still gets its message)
            found = self.ops.post_taken(
                uow,
                ch,
                sender=principal.actor,
                text=request.body,
                files=files,
                request_id=request.request_id,
                digest=digest,
                now=now,
            )
            # As readers will see it, for the answer and the live streams, with no read after it: the body
            # as sent (not decrypted back from what was just sealed); attachments opened from their list.
            if files:
                opened = self.ops.content.open(uow.session, found.channel, found.message)
            else:
                opened = domain.Opened(found.message, request.body)
            posted.append(message_to_pb(opened))
            return found

        try:
            created = await self.messages.create_in(
                principal,
                digest=digest,
                find=lambda s: store.find_message_by_request(s, principal.user_id, request.request_id),
                write=write,
            )
        except _Unseen as unseen:
            # NOT_FOUND, audited, as ``load_visible`` refuses it; nothing of the post was written.
            await rt.authorize(
                principal,
                READ,
                CHANNEL_RULES,
                record_type=CHANNEL,
                record_id=request.channel_id,
                record=unseen.channel.access() if unseen.channel is not None else None,
            )
            raise AssertionError("the policy refused this channel inside the post") from unseen
        if created.replayed or not posted:
            return pb.PostMessageResponse(message=await self._opened(created.record))
        if self.live.posted(request.channel_id, posted[-1]):
            # One turn of the loop for the channel's woken streams before the answer: each sends the
            # message (from memory) first, so delivery does not queue behind the poster's answer. Only
            # when a stream follows the channel here: on a busy loop a turn costs tens of milliseconds.
            await asyncio.sleep(0)
        return pb.PostMessageResponse(message=posted[-1])

    async def _revise(self, message_id: str, text: str | None, expected_revision: int) -> pb.Message:
        rt, principal = self.rt, auth.current()
        found = await self.messages.load_visible(principal, message_id, READ)
        if domain.may_retry_revision(found.message, principal.actor, expected_revision, deleting=text is None):
            current = await self._opened(found)
            if text is None or current.body == text:  # the retry of the edit (delete) that made this revision
                ws = found.channel.workspace_id
                await rt.change(principal, lambda uow: uow.audit(MESSAGE, message_id, ws, outcome="replayed"))
                return current
        await self._domain_check(
            principal,
            lambda: domain.check_revision(found.message, principal.actor, expected_revision),
            record_type=MESSAGE,
            record_id=found.message.id,
            workspace_id=found.channel.workspace_id,
        )
        self.messages.members_for_change(found)  # WORKSPACE_CLOSED
        now = rt.clock.now()
        revised = await rt.change(
            principal, lambda uow: self.ops.revise(uow, found, editor=principal.actor, text=text, now=now)
        )
        self.live.forget(found.channel.id)
        return await self._opened(revised)

    async def EditMessage(self, request: pb.EditMessageRequest, context: Any) -> pb.EditMessageResponse:
        InvalidArgument.raise_for(domain.edit_violations(request.id, request.body, request.expected_revision))
        return pb.EditMessageResponse(message=await self._revise(request.id, request.body, request.expected_revision))

    async def DeleteMessage(self, request: pb.DeleteMessageRequest, context: Any) -> pb.DeleteMessageResponse:
        return pb.DeleteMessageResponse(message=await self._revise(request.id, None, 0))

    async def ListMessages(self, request: pb.ListMessagesRequest, context: Any) -> pb.ListMessagesResponse:
        principal = auth.current()
        size, violations = validate.page_size(request.page_size, default=PAGE_DEFAULT, maximum=PAGE_MAX)
        violations += validate.uuid("channel_id", request.channel_id)
        violations += domain.cursor_violations("after_seq", request.after_seq)
        InvalidArgument.raise_for(violations)
        ch = await self.channels.load_visible(principal, request.channel_id, READ, field="channel_id")
        content = self.ops.content

        def read(uow: UnitOfWork) -> list[pb.Message]:
            uow.audit(CHANNEL, ch.id, ch.workspace_id)
            rows = store.messages_after(uow.session, ch.id, request.after_seq, size)
            return [message_to_pb(content.open(uow.session, ch, m)) for m in rows]

        return pb.ListMessagesResponse(messages=await self.rt.change(principal, read))

    async def GetMessageHistory(
        self, request: pb.GetMessageHistoryRequest, context: Any
    ) -> pb.GetMessageHistoryResponse:
        principal = auth.current()
        found = await self.messages.load_visible(principal, request.id, READ)
        current, ch, content = found.message, found.channel, self.ops.content

        def read(uow: UnitOfWork) -> list[pb.Message]:
            uow.audit(MESSAGE, current.id, ch.workspace_id)
            earlier = [] if current.deleted else store.revisions(uow.session, current.id)
            return [message_to_pb(content.open(uow.session, ch, m)) for m in domain.history(current, earlier)]

        return pb.GetMessageHistoryResponse(revisions=await self.rt.change(principal, read))

    async def GetAttachment(self, request: pb.GetAttachmentRequest, context: Any) -> pb.GetAttachmentResponse:
        principal = auth.current()
        violations = validate.uuid("message_id", request.message_id)
        violations += domain.cursor_violations("index", request.index)
        InvalidArgument.raise_for(violations)
        found = await self.messages.load_visible(principal, request.message_id, READ, field="message_id")
        if not found.message.has_attachments or found.message.deleted:
            raise NotFound("attachment", f"{request.message_id}/{request.index}")
        content = self.ops.content

        def read(uow: UnitOfWork) -> pb.Attachment:
            ch = store.get_channel(uow.session, found.channel.id) or found.channel
            items = content.attachments(uow.session, ch, found.message)
            if request.index >= len(items):
                raise NotFound("attachment", f"{request.message_id}/{request.index}")
            uow.audit("attachment", f"{request.message_id}/{request.index}", found.channel.workspace_id)
            meta = items[request.index]
            return attachment_to_pb(meta, content.open_file(uow.session, ch, meta))

        return pb.GetAttachmentResponse(attachment=await self.rt.change(principal, read))

    # -- live delivery and receipts ---------------------------------------------------------------

    async def Subscribe(self, request: pb.SubscribeRequest, context: Any) -> AsyncIterator[pb.SubscribeResponse]:
        principal = auth.current()
        violations = validate.uuid("channel_id", request.channel_id)
        violations += domain.cursor_violations("after_seq", request.after_seq)
        InvalidArgument.raise_for(violations)
        ch = await self.channels.load_visible(principal, request.channel_id, READ, field="channel_id")
        await self.rt.change(principal, lambda uow: uow.audit(CHANNEL, ch.id, ch.workspace_id))
        expires_at = principal.expires_at
        async with contextlib.aclosing(self.live.follow(ch.id, request.after_seq)) as stream:
            async for seen, batch in stream:
                await self._still_following(principal, ch.id, seen, expires_at)
                for delivery in batch:
                    msg = delivery.message
                    try:
                        # The SubscribeResponse as serialized once for every stream of the process.
                        yield delivery.wire  # type: ignore[misc]
                    finally:
                        # Handed to the reader's stream: its delivery receipt, also when the stream ends
                        # right after it (a reader that cancels once it has what it waited for), when this
                        # generator is closed at the yield instead of resumed.
                        if domain.gets_receipt(msg.sender.user_id, principal.user_id):
                            self.receipts.delivered(msg.id, principal.actor)

    async def _still_following(
        self, principal: Principal, channel_id: str, seen: Channel | None, expires_at: datetime | None
    ) -> None:
        """Before each batch of a live stream, and while it is idle: the token has not expired (the
        reader's workspaces come from it), and the policy still lets the reader see the channel as it was
        read with the batch (a thread whose record went to another jurisdiction, say). Otherwise the
        stream ends: UNAUTHENTICATED ``TOKEN_EXPIRED``, or NOT_FOUND as for a channel never visible."""
        if expires_at is not None and self.rt.clock.now() >= expires_at:
            raise Unauthenticated("TOKEN_EXPIRED", "access token has expired")
        await self.rt.authorize(
            principal,
            READ,
            CHANNEL_RULES,
            record_type=CHANNEL,
            record_id=channel_id,
            record=seen.access() if seen is not None else None,
        )

    async def MarkRead(self, request: pb.MarkReadRequest, context: Any) -> pb.MarkReadResponse:
        rt, principal = self.rt, auth.current()
        violations = validate.uuid("channel_id", request.channel_id)
        violations += domain.cursor_violations("up_to_seq", request.up_to_seq, minimum=1)
        InvalidArgument.raise_for(violations)
        ch = await self.channels.load_visible(principal, request.channel_id, READ, field="channel_id")
        now = rt.clock.now()
        marked = await self.ops.once(
            principal, lambda uow: self.ops.mark_read(uow, ch, principal.actor, request.up_to_seq, now)
        )
        return pb.MarkReadResponse(marked=marked)

    async def ListReceipts(self, request: pb.ListReceiptsRequest, context: Any) -> pb.ListReceiptsResponse:
        principal = auth.current()
        found = await self.messages.load_visible(principal, request.message_id, READ, field="message_id")
        await self._domain_check(
            principal,
            lambda: domain.check_may_see_receipts(found.message, principal.user_id),
            record_type=MESSAGE,
            record_id=found.message.id,
            workspace_id=found.channel.workspace_id,
        )
        message_id, workspace_id = found.message.id, found.channel.workspace_id

        def read(uow: UnitOfWork) -> list[pb.Receipt]:
            # Who read what, and when: audited as every read of case content is (ListMessages).
            uow.audit(MESSAGE, message_id, workspace_id)
            return [receipt_to_pb(r) for r in store.receipts(uow.session, message_id)]

        return pb.ListReceiptsResponse(receipts=await self.rt.change(principal, read))
