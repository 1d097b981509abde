"""What the messaging service publishes: one event per posted, edited or deleted message, subject
jit.messaging.<sender jurisdiction>.<posted|edited|deleted>, in the jit.events.v1.Envelope with the
message's metadata (never its content) as state; and one per shredded workspace,
jit.messaging.<lead>.shredded, with the workspace (id and lead) as state, which makes every replica drop
the keys it holds of it; and each warning of a JIT's agreed period, jit.messaging.<lead>.period_warning, with
a jit.common.v1.WorkspacePeriodWarning as state (``period_warnings``). What it consumes is in ``notices``."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.message import Message as ProtoMessage

from jit.common.v1 import common_pb2
from jit.events.v1.envelope_pb2 import Envelope
from jitlib import envelopes
from jitlib.actors import Actor
from jitlib.bus import stream_for
from services.messaging.domain import Channel, Message
from services.messaging.mapping import message_meta_pb

STREAM = stream_for("messaging")
#: Every event of every replica (posts wake the live streams of each process, edits and deletions drop
#: what they cached of a message, shreddings the keys they hold): one subscription per process.
LIVE = "jit.messaging.*.*"
POSTED, EDITED, DELETED, SHREDDED = "posted", "edited", "deleted", "shredded"
SHREDDED_TYPE = "jit.messaging.v1.WorkspaceShredded"
PERIOD_WARNING = "period_warning"
PERIOD_WARNING_TYPE = "jit.messaging.v1.WorkspacePeriodWarning"
#: Who shreds: the retention clock.
RETENTION = Actor("system", "jit-retention", "SYSTEM")
#: Who warns that a JIT's agreed period ends: its clock (``period_warnings``).
PERIOD = Actor("system", "jit-period", "SYSTEM")


def subject(message: Message, event: str) -> str:
    return f"jit.messaging.{message.sender.jurisdiction}.{event}"


def envelope(channel: Channel, message: Message, event: str, members: frozenset[str], now: datetime) -> Envelope:
    return envelopes.envelope(
        event_type="jit.messaging.v1.Message" + event.capitalize(),
        state=message_meta_pb(message),
        workspace_id=channel.workspace_id,
        origin=message.sender.jurisdiction,
        audience=envelopes.access_audience(channel.access(), members),
        aggregate_type="message",
        aggregate_id=message.id,
        version=message.revision,
        actor=message.sender,
        now=now,
    )


def peer_subject(channel: Channel, event: str) -> str:
    """The subject of a message's copy for the nodes entitled to it: ``jit.peers.`` subjects are never
    published on the owner's own broker (``jitlib.outbox``), only on its links."""
    return f"jit.peers.messaging.{channel.origin_jurisdiction}.{event}"


def peer_envelope(
    channel: Channel, message: Message, state: ProtoMessage, event: str, members: frozenset[str], now: datetime
) -> Envelope:
    """A message with its channel and its text (``ReplicatedMessage``), from the channel's owner node."""
    return envelopes.envelope(
        event_type="jit.messaging.v1.MessageReplicated",
        state=state,
        workspace_id=channel.workspace_id,
        origin=channel.origin_jurisdiction,
        audience=envelopes.access_audience(channel.access(), members),
        aggregate_type="message",
        aggregate_id=message.id,
        version=message.revision,
        actor=message.sender,
        now=now,
    )


def period_warning_subject(lead: str) -> str:
    return f"jit.messaging.{lead}.{PERIOD_WARNING}"


def period_warning_envelope(
    state: common_pb2.WorkspacePeriodWarning, members: frozenset[str], version: int, now: datetime
) -> Envelope:
    """A warning of the JIT's agreed period (rule JIT_PERIOD_WARNING), for every member."""
    ws = state.workspace
    return envelopes.envelope(
        event_type=PERIOD_WARNING_TYPE,
        state=state,
        workspace_id=ws.id,
        origin=ws.lead,
        audience=sorted(members),
        aggregate_type="workspace",
        aggregate_id=ws.id,
        version=version,
        actor=PERIOD,
        now=now,
    )


def shredded_subject(lead: str) -> str:
    return f"jit.messaging.{lead}.{SHREDDED}"


def shredded_envelope(workspace_id: str, lead: str, members: frozenset[str], now: datetime) -> Envelope:
    """A workspace's content was destroyed: every replica drops the keys it holds of it."""
    return envelopes.envelope(
        event_type=SHREDDED_TYPE,
        state=common_pb2.Workspace(id=workspace_id, lead=lead, status=common_pb2.WORKSPACE_STATUS_CLOSED),
        workspace_id=workspace_id,
        origin=lead,
        audience=sorted(members),
        aggregate_type="workspace",
        aggregate_id=workspace_id,
        version=0,
        actor=RETENTION,
        now=now,
    )
