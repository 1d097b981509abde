"""On a federation of per-country nodes: the channels and messages other nodes own, held here for the
users of this node's country who may read them.

A channel belongs to the node that holds its record (a record's thread) or leads its workspace (the
workspace channel); only that node writes its messages (a post made on another node is forwarded to it).
It sends each message with its channel and its text to the nodes of the countries entitled to it
(``jit.peers.messaging.*``, on the links only); here the text is sealed again under this node's own keys,
at the owner's sequence number, once (inbox) and only forward (a revision never goes back). The records'
events from other nodes update what this service knows of the records, for their threads' visibility,
without posting notices: the owner's node posts them, and they arrive as its messages.

A country that joins a workspace later gets on its node the messages written before, from each channel's
owner (``resends``, ``jitlib.joining``): each message at its current revision (an edited one as it reads
now, a deleted one as its tombstone), with its channel, to the new countries in the channel's audience,
on ``jit.peers.messaging.<owner>.shared``; here it is applied as any copy (``message_handler``). No key
travels: the receiving node seals the text under channel keys of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from jit.events.v1.envelope_pb2 import Envelope
from jit.messaging.v1 import messaging_pb2 as pb
from jitlib import envelopes, joining
from jitlib.bus import EventConsumer, Handler, PoisonMessage
from jitlib.federation import inbound_filter
from jitlib.mapping import actor_from_pb
from jitlib.runtime import Runtime
from services.messaging import events, store
from services.messaging.channels import Channels
from services.messaging.domain import Channel, Message, MessageInChannel
from services.messaging.live import Live
from services.messaging.mapping import channel_from_pb, replicated_message_pb

PEER_MESSAGES = "jit.peers.messaging.>"


def hold_channel(channels: Channels, session: Session, seen: Channel) -> Channel:
    """The channel as this node holds it: created (with this node's own keys) on first sight; its
    visibility kept equal to the owner's."""
    current = store.get_channel(session, seen.id)
    if current is None:
        channels.insert(session, seen)
        return seen
    if current.origin_jurisdiction != seen.origin_jurisdiction:
        raise PoisonMessage("a channel never changes owner")
    if (current.members, current.restricted) != (seen.members, seen.restricted):
        current = replace(current, members=seen.members, restricted=seen.restricted)
        store.set_visibility(session, current)
    return current


def apply_message(channels: Channels, session: Session, ch: Channel, m: pb.Message) -> bool:
    """Store (or move forward) a message of another node's channel, sealed under this node's key.

    Only a message of ``ch`` itself: the sender owns ``ch`` (checked on the way in), not every channel whose
    messages it knows the ids of, so an update naming a message of another channel (this node's own, or a
    third node's) is refused (``PoisonMessage``: recorded as a dead letter, never retried)."""
    if m.channel_id != ch.id:
        raise PoisonMessage("a message of another channel than the one it came with")
    current = store.get_message(session, m.id)
    if current is not None and current.channel.id != ch.id:
        raise PoisonMessage("a message never changes channel")
    edited = m.edited_at.ToDatetime(tzinfo=UTC) if m.HasField("edited_at") else None
    if current is None:
        sealed = channels.content.seal_body(session, ch, m.id, m.revision, m.body)
        msg = Message(
            id=m.id,
            channel_id=ch.id,
            seq=m.seq,
            sender=actor_from_pb(m.sender),
            system=m.system,
            revision=m.revision,
            deleted=m.deleted,
            key_version=ch.key_version,
            sealed_body=sealed,
            posted_at=m.posted_at.ToDatetime(tzinfo=UTC),
            edited_at=edited,
        )
        store.insert_message(session, msg, request_id=m.id, request_digest="")
        if m.seq >= ch.next_seq:
            store.set_counters(session, replace(ch, next_seq=m.seq + 1))
        return True
    if current.message.revision >= m.revision:
        return False  # as new or newer here already
    sealed = channels.content.seal_body(session, ch, m.id, m.revision, m.body)
    after = replace(
        current.message,
        revision=m.revision,
        deleted=m.deleted,
        sealed_body=sealed,
        key_version=ch.key_version,
        edited_at=edited or current.message.edited_at,
    )
    store.update_if_revision(session, after, current.message.revision)
    return True


def given_back(rt: Runtime, session: Session, ch: Channel) -> bool:
    """Whether another node's thread, shredded here, may be held again: its workspace was not shredded,
    and the record as this node last heard of it (a newer event than its withdrawal) names this node's
    country again. A copy sent before the withdrawal and taken in after it does not bring it back."""
    fed = rt.federation
    if fed is None or ch.record is None or ch.origin_jurisdiction == fed.node:
        return False
    if store.workspace_shredded(session, ch.workspace_id):
        return False
    replica = store.get_replica(session, *ch.record)
    if replica is None:
        return False
    return fed.node in envelopes.access_audience(replica.access(), rt.members_of(replica))


def message_handler(rt: Runtime, channels: Channels, live: Live, loop: asyncio.AbstractEventLoop) -> Handler:
    def handle(session: Session, env: Envelope) -> None:
        state = pb.ReplicatedMessage()
        if not env.state.Unpack(state) or not state.message.id or not state.channel.id:
            raise PoisonMessage("a replicated message without its message and channel")
        if (
            state.message.id != env.aggregate_id
            or state.message.channel_id != state.channel.id
            or state.channel.origin_jurisdiction != env.origin_jurisdiction
            or state.channel.workspace_id != env.workspace_id
        ):
            raise PoisonMessage("the envelope does not describe the message it carries")
        try:
            seen = channel_from_pb(state.channel)
        except ValueError as exc:
            raise PoisonMessage(f"a channel that cannot be read: {exc}") from exc
        ch = hold_channel(channels, session, seen)
        if ch.shredded_at is not None:
            if not given_back(rt, session, ch):
                return  # shredded here: its workspace's retention ended, or its record withdrawn from us
            # Its record, withdrawn from this node's country, was given back to it: the thread is held again
            # from its owner's copies (the owner sends its earlier messages too, ``jitlib.joining``).
            store.purge_channel(session, ch.id)
            channels.insert(session, seen)
            ch = seen
        if apply_message(channels, session, ch, state.message):
            loop.call_soon_threadsafe(live.notify, ch.id)

    return handle


def consumers(
    rt: Runtime, channels: Channels, live: Live, record_streams: tuple[str, ...], record_handler: Handler
) -> list[EventConsumer]:
    """On a federation: the messages of other nodes' channels, and other nodes' records (what this
    service knows of them, no notices). None on a single node."""
    fed = rt.federation
    if fed is None or not fed.peers:
        return []
    inbound = fed.inbound_stream()
    loop = asyncio.get_running_loop()
    out = [
        rt.consumer(
            "peer-messages",
            inbound,
            inbound_filter(PEER_MESSAGES),
            message_handler(rt, channels, live, loop),
            inbound=True,
        )
    ]
    out += [
        rt.consumer(f"peer-{name}", inbound, inbound_filter(f"jit.{name}.>"), record_handler, inbound=True)
        for name in record_streams
    ]
    return out


#: The event name of a message sent again to the nodes of countries that joined its workspace.
SHARED = "shared"


def _page(
    session: Session, workspace_id: str, owner: str, after_id: str, changed_since: datetime | None, limit: int
) -> Sequence[MessageInChannel]:
    channel_id, _, seq = after_id.partition("/")
    return store.owned_messages_page(session, workspace_id, owner, (channel_id, int(seq or 0)), changed_since, limit)


def _key(found: MessageInChannel) -> str:
    """The cursor after a message: its channel and its seq (the page's order)."""
    return f"{found.channel.id}/{found.message.seq}"


def resends(rt: Runtime, channels: Channels) -> list[joining.ResendKind[MessageInChannel]]:
    """What this node sends the nodes of countries that joined a workspace: the messages of the channels
    it owns there, each as its copy for peers (``Channels._to_peers``: the message at its current revision
    with its text and its channel, for the channel's audience now), sealed in the outbox as that copy is."""

    def shared(
        session: Session, found: MessageInChannel, members: frozenset[str], now: datetime
    ) -> tuple[str, Envelope]:
        ch, msg = channels.content.titled(session, found.channel), found.message  # its title opened, as a copy's
        text = channels.content.open(session, ch, msg).body  # "" for a deleted message
        state = replicated_message_pb(ch, msg, text)
        return events.peer_subject(ch, SHARED), events.peer_envelope(ch, msg, state, SHARED, members, now)

    return [joining.ResendKind("message", _page, shared, key=_key, sealer=lambda: rt.relay.sealer)]
