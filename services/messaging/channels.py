"""The writes on channels and messages, each a synchronous step inside one unit of work: shared by the
servicer (a user's call) and the consumers (a system notice, the retention shredder). Rules come from
``domain``, rows from ``store``, sealing from ``content``; each change writes its event and its audit
entry in the same transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from jitlib import changes, outbox, sealing
from jitlib.actors import Actor
from jitlib.auth import Principal
from jitlib.errors import Aborted, FailedPrecondition, NotFound
from jitlib.ids import new_id
from jitlib.policy import VisibilityScope
from jitlib.records import Created, RecordPath, Stored
from jitlib.runtime import Runtime, UnitOfWork
from jitlib.workspaces import WorkspaceInfo
from services.messaging import domain, events, mapping, store
from services.messaging.content import Content, seal_title
from services.messaging.domain import Channel, Message, MessageInChannel, NewAttachment, RecordReplica

CHANNEL = "channel"
MESSAGE = "message"
#: The record type under which a channel's last key rotation by a caller is remembered (``jitlib.changes``):
#: its key version, apart from the channel's own record type, which no versioned change uses.
CHANNEL_KEY = "channel_key"
T = TypeVar("T")


class MessagePath(RecordPath[MessageInChannel]):
    """The record path of messages. A message is created inside a channel the caller was shown (its
    visibility checked by the channel's path); ``write`` refuses a closed workspace (FAILED_PRECONDITION
    ``WORKSPACE_CLOSED``, see ``members_for_change``), and the replay rule holds: the same request
    returns the stored message (even once the workspace closed), the same ``request_id`` with other
    content (another body, another channel) is FAILED_PRECONDITION ``REQUEST_ID_REUSED``."""

    async def create_in(
        self,
        principal: Principal,
        *,
        digest: str,
        find: Callable[[Session], Stored[MessageInChannel] | None],
        write: Callable[[UnitOfWork], MessageInChannel],
    ) -> Created[MessageInChannel]:
        try:
            return Created(await self.rt.change(principal, write), replayed=False)
        except (IntegrityError, FailedPrecondition):
            # IntegrityError: the unique (sender, request_id) index refused the insert, a retry or a
            # concurrent duplicate. FailedPrecondition (the workspace closed or the channel shredded
            # since): a genuine replay still gets what the first call stored.
            replay = await self.rt.read(find)
            if replay is None:
                raise
            return self.replayed(replay, digest)


class Channels:
    def __init__(self, rt: Runtime, content: Content) -> None:
        self.rt = rt
        self.content = content

    async def once(self, principal: Principal, fn: Callable[[UnitOfWork], T]) -> T:
        """Run a find-or-create unit; when a concurrent call created the same row first (its unique index
        refused this insert: the same channel, a receipt another process wrote), run it again to find it."""
        try:
            return await self.rt.change(principal, fn)
        except IntegrityError:
            return await self.rt.change(principal, fn)

    # -- channels ---------------------------------------------------------------------------------

    def insert(
        self, session: Session, ch: Channel, *, request_id: str | None = None, digest: str | None = None
    ) -> None:
        """Store a new channel (a user's, or another node's as this node holds it) with its first key; the
        title of a restricted one (``domain.SEALED_TITLE_KINDS``) sealed under that key, never in clear."""
        sealed = ch.kind in domain.SEALED_TITLE_KINDS
        store.insert_channel(session, ch, request_id=request_id, request_digest=digest, title_sealed=sealed)
        key = self.content.keys.create(session, ch, ch.key_version, ch.created_at)
        if sealed:
            store.seal_title(session, ch.id, seal_title(key, ch), ch.key_version)

    # What a caller is shown of channels: their titles opened (``Content.titled``). The servicer's reads.

    def load(self, session: Session, channel_id: str) -> Channel | None:
        """The channel, its title opened (None when there is none)."""
        ch = store.get_channel(session, channel_id)
        return self.content.titled(session, ch) if ch is not None else None

    def find_by_request(self, session: Session, user_id: str, request_id: str) -> Stored[Channel] | None:
        """The channel a user's create request made, its title opened (a replay's answer)."""
        found = store.find_channel_by_request(session, user_id, request_id)
        return replace(found, record=self.content.titled(session, found.record)) if found is not None else None

    def list_visible(self, session: Session, scope: VisibilityScope, workspace_ids: frozenset[str]) -> list[Channel]:
        """``store.list_visible``, the titles opened."""
        return [self.content.titled(session, ch) for ch in store.list_visible(session, scope, workspace_ids)]

    def workspace_channel(
        self, uow: UnitOfWork, workspace_id: str, open_workspace: Callable[[str], WorkspaceInfo], now: datetime
    ) -> Channel:
        """The workspace's channel, created on first use while the workspace is open."""
        ch = store.workspace_channel(uow.session, workspace_id)
        if ch is None:
            ws = open_workspace(workspace_id)
            ch = domain.workspace_channel(channel_id=new_id(), workspace_id=ws.id, name=ws.name, lead=ws.lead, now=now)
            self.insert(uow.session, ch)
        uow.audit(CHANNEL, ch.id, ch.workspace_id)
        return ch

    def record_thread(
        self,
        session: Session,
        replica: RecordReplica,
        now: datetime,
        *,
        may_create: Callable[[Channel], object] | None = None,
    ) -> Channel:
        """The record's thread, created on first use (after ``may_create`` had its say on the new
        channel), its parties kept equal to the record's that are members of its workspace (when this node
        knows the workspace): a request's addressee outside the JIT never gets into the JIT's channels."""
        workspace = self.rt.workspaces.get(replica.workspace_id)
        members = workspace.members if workspace is not None else None
        ch = store.record_thread(session, replica.kind, replica.id)
        if ch is None:
            ch = domain.record_thread(replica, channel_id=new_id(), now=now, members=members)
            if may_create is not None:
                may_create(ch)
            self.insert(session, ch)
        elif (changed := domain.thread_after(ch, replica, members)) is not None:
            ch = changed
            store.set_visibility(session, ch)
        return ch

    def withdraw_thread(self, uow: UnitOfWork, withdrawn: RecordReplica, now: datetime) -> Channel | None:
        """The owner withdrew a record from this node's country: its thread, if held here, takes the
        record's visibility (its origin alone) and is shredded here (its keys destroyed, as a workspace's
        shred does), so no one on this node reads it again. The thread, when there was one."""
        ch = store.record_thread(uow.session, withdrawn.kind, withdrawn.id)
        if ch is None:
            return None
        if (changed := domain.thread_after(ch, withdrawn)) is not None:
            ch = changed
            store.set_visibility(uow.session, ch)
        if ch.shredded_at is None:
            store.destroy_keys(uow.session, ch.id, now)
            store.mark_shredded(uow.session, ch.id, now)
            store.erase_clear_metadata(uow.session, ch.id)
            ch = replace(ch, shredded_at=now)
            uow.audit(CHANNEL, ch.id, ch.workspace_id)
        return ch

    def rotate_key(
        self,
        uow: UnitOfWork,
        channel_id: str,
        now: datetime,
        expected_key_version: int = 0,
        may_change: Callable[[Channel], object] | None = None,
    ) -> Channel:
        """A new key version for the channel's new messages, from ``expected_key_version`` (checked under the
        channel's lock: two rotations from one version make one); the channel, its title opened (the answer).
        ``may_change`` refuses the rotation (a closed workspace) after the retry check and before the rotation.

        The retry of the call that made the channel's current key version (its answer lost; the same caller and
        request, ``jitlib.changes``), asked from the version before it or from 0 while nothing rotated since,
        rotates nothing: it is answered with the channel as it is, its audit entry outcome ``replayed``. Under
        the channel's lock, so a retry racing its own first call waits for it and then replays it. The call
        that rotates remembers itself under ``CHANNEL_KEY`` (the channel's own record type keeps none)."""
        ch = self._locked(uow.session, channel_id)
        if self._replays_rotation(uow, ch, expected_key_version):
            uow.audit(CHANNEL, ch.id, ch.workspace_id, outcome="replayed")
            return self.content.titled(uow.session, ch)
        if may_change is not None:
            may_change(ch)
        ch = domain.rotated(ch, expected_key_version)
        store.set_counters(uow.session, ch)
        self.content.keys.create(uow.session, ch, ch.key_version, now)
        changes.remember(uow, CHANNEL_KEY, ch.id, ch.workspace_id, ch.key_version)
        uow.audit(CHANNEL, ch.id, ch.workspace_id)
        return self.content.titled(uow.session, ch)

    @staticmethod
    def _replays_rotation(uow: UnitOfWork, ch: Channel, expected_key_version: int) -> bool:
        """Whether the rotation being served, from ``expected_key_version``, is the retry of the call that made
        the channel's key version (``changes.replayed_in``); its last rotation is read only when it may be
        (asked from 0 or one version behind, the channel's content not destroyed)."""
        if ch.shredded_at is not None:
            return False
        return changes.replayed_in(uow, CHANNEL_KEY, ch.id, ch.key_version, expected_key_version)

    def shred_workspace(
        self, uow: UnitOfWork, workspace_id: str, now: datetime, counts: dict[str, int] | None = None
    ) -> list[str]:
        """Crypto-shred a workspace: destroy its key (and so every copy of its channels' keys), null the
        channel keys, erase what its messages held in clear from before sealing and the titles of its
        restricted channels (what their openers wrote, ``domain.SEALED_TITLE_KINDS``: sealed under keys now
        destroyed, their ciphertext dropped too), delete its outbox rows
        and dead letters (sealed by the KEK alone: its messages' text for other nodes, the record events
        a notice consumer refused), and say so in an event every replica's live listener turns into
        forgetting its cached keys. The ciphertext of the messages stays (the blob files go after the
        commit, and what the database freed is wiped: ``notices.RetentionScanner``)."""
        session = uow.session
        shredded = store.channel_ids_of_workspace(session, workspace_id)
        self.content.keys.destroy_workspace(session, workspace_id, shredded, now)
        for channel_id in shredded:
            store.mark_shredded(session, channel_id, now)
            store.erase_clear_metadata(session, channel_id)
            uow.audit(CHANNEL, channel_id, workspace_id)
        for kind in domain.SEALED_TITLE_KINDS:
            store.erase_titles(session, workspace_id, kind, sealing.DESTROYED)
        store.mark_workspace_shredded(session, workspace_id, now)
        # Before the shred's own event is staged; what was never published counted in ``counts`` (the
        # certificate's).
        sealing.destroy_payloads(session, uow.tables, workspace_id, counts)
        workspace = self.rt.workspaces.get(workspace_id)
        lead = workspace.lead if workspace is not None else "SYSTEM"
        members = workspace.members if workspace is not None else frozenset()
        uow.emit(events.shredded_subject(lead), events.shredded_envelope(workspace_id, lead, members, now))
        return shredded

    def _locked(self, session: Session, channel_id: str) -> Channel:
        ch = store.lock_channel(session, channel_id)
        if ch is None:
            raise NotFound(CHANNEL, channel_id)
        return ch

    # -- messages ---------------------------------------------------------------------------------

    def post(
        self,
        uow: UnitOfWork,
        channel_id: str,
        *,
        sender: Actor,
        text: str,
        files: list[NewAttachment],
        request_id: str,
        digest: str,
        now: datetime,
        system: bool = False,
    ) -> MessageInChannel:
        """The channel's next message, sealed under its current key, with its event and audit entry.
        The channel row is locked: sequence numbers are dense and in commit order per channel."""
        ch = self.take_seq(uow.session, channel_id)
        if ch is None:
            raise NotFound(CHANNEL, channel_id)
        return self.post_taken(
            uow, ch, sender=sender, text=text, files=files, request_id=request_id, digest=digest, now=now, system=system
        )

    def take_seq(self, session: Session, channel_id: str) -> Channel | None:
        """The channel (None when missing) with its next sequence number taken for a post in this unit of
        work (``post_taken``); its row stays locked until the unit ends."""
        return store.take_seq(session, channel_id)

    def post_taken(
        self,
        uow: UnitOfWork,
        ch: Channel,
        *,
        sender: Actor,
        text: str,
        files: list[NewAttachment],
        request_id: str,
        digest: str,
        now: datetime,
        system: bool = False,
    ) -> MessageInChannel:
        """``post`` in a channel whose sequence number this unit of work took (``take_seq``): a caller that
        checks the channel before posting reads it with the same statement that locks it."""
        session = uow.session
        domain.check_open(ch)
        message_id = new_id()
        metas = domain.describe(files, message_id=message_id, key_version=ch.key_version)
        sealed = self.content.seal_body(session, ch, message_id, 1, text)
        sealed_metas = self.content.seal_attachments(session, ch, message_id, metas)
        msg = domain.new_message(
            ch,
            message_id=message_id,
            sender=sender,
            sealed_body=sealed,
            sealed_attachments=sealed_metas,
            system=system,
            now=now,
        )
        store.insert_message(session, msg, request_id=request_id, request_digest=digest)
        ch = replace(ch, next_seq=ch.next_seq + 1)  # as ``take_seq`` left it
        try:
            self.content.seal_files(session, ch, metas, files)
        except BaseException:
            self.content.remove_files(ch.id, metas)
            raise
        uow.emit(events.subject(msg, "posted"), events.envelope(ch, msg, "posted", self.rt.members_of(ch), now))
        self._to_peers(uow, ch, msg, text, "posted", now)
        uow.audit(MESSAGE, msg.id, ch.workspace_id)
        return MessageInChannel(msg, ch)

    def revise(
        self, uow: UnitOfWork, current: MessageInChannel, *, editor: Actor, text: str | None, now: datetime
    ) -> MessageInChannel:
        """A new revision of a message (``text`` None deletes it); the replaced one is kept sealed."""
        session = uow.session
        ch = self._locked(session, current.channel.id)
        domain.check_open(ch)
        before = current.message
        sealed = self.content.seal_body(session, ch, before.id, before.revision + 1, text or "")
        after, kept = domain.revise(before, ch, editor=editor, sealed_body=sealed, deleted=text is None, now=now)
        if not store.update_if_revision(session, after, before.revision):
            raise Aborted("CONCURRENT_EDIT", "the message changed meanwhile; re-read it")
        store.insert_revision(session, kept)
        event = "deleted" if after.deleted else "edited"
        uow.emit(events.subject(after, event), events.envelope(ch, after, event, self.rt.members_of(ch), now))
        self._to_peers(uow, ch, after, text or "", event, now)
        uow.audit(MESSAGE, after.id, ch.workspace_id)
        return MessageInChannel(after, ch)

    def _to_peers(self, uow: UnitOfWork, ch: Channel, msg: Message, text: str, event: str, now: datetime) -> None:
        """On a federation, the channel's owner node sends the message with its text to the nodes of the
        countries entitled to it (the outbox sends it on the links only), where it is sealed again."""
        fed = self.rt.federation
        if fed is None or not fed.is_owner(ch.origin_jurisdiction) or not fed.recipients(self.rt.members_of(ch)):
            return
        ch = self.content.titled(uow.session, ch)  # the channel goes with its title, sealed again there
        state = mapping.replicated_message_pb(ch, msg, text)
        envelope = events.peer_envelope(ch, msg, state, event, self.rt.members_of(ch), now)
        # The text stays sealed in the outbox until the relay sends it on the links.
        outbox.stage(uow.session, uow.tables, events.peer_subject(ch, event), envelope, sealer=self.rt.relay.sealer)
        uow.emitted += 1

    # -- receipts ---------------------------------------------------------------------------------

    def receipt(self, session: Session, message_id: str, reader: Actor, now: datetime, *, read: bool) -> int:
        """Record that ``reader`` got (or read) a message; 1 when that changed a receipt."""
        current = store.get_receipt(session, message_id, reader.user_id)
        after = domain.receipt_after(current, message_id, reader, now, read=read)
        if after is None:
            return 0
        store.put_receipt(session, after, new=current is None)
        return 1

    def mark_read(self, uow: UnitOfWork, channel: Channel, reader: Actor, up_to_seq: int, now: datetime) -> int:
        """Read receipts for every message up to ``up_to_seq`` that someone else sent."""
        ids = store.message_ids_from_others(uow.session, channel.id, up_to_seq, reader.user_id)
        marked = sum(self.receipt(uow.session, i, reader, now, read=True) for i in ids)
        uow.audit(CHANNEL, channel.id, channel.workspace_id)
        return marked
