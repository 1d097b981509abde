"""What the messaging service publishes: one event per posted, edited or deleted message, subject
jit.messaging.<sender jurisdiction>.<posted|edited|deleted>, in the jit.events.v1.Envelope with the
message's metadata (never its content) as state. What it consumes is in ``notices``."""

from __future__ import annotations

from datetime import datetime

from jit.events.v1.envelope_pb2 import Envelope
from jitlib import envelopes
from jitlib.bus import stream_for
from services.messaging.domain import Channel, Message
from services.messaging.mapping import message_meta_pb

STREAM = stream_for("messaging")
#: Every post of every replica: what wakes the live streams of each process.
POSTED = "jit.messaging.*.posted"


def subject(message: Message, event: str) -> str:
    return f"jit.messaging.{message.sender.jurisdiction}.{event}"


def envelope(channel: Channel, message: Message, event: str, members: frozenset[str], now: datetime) -> Envelope:
    return envelopes.envelope(
        event_type="jit.messaging.v1.Message" + event.capitalize(),
        state=message_meta_pb(message),
        workspace_id=channel.workspace_id,
        origin=message.sender.jurisdiction,
        audience=envelopes.audience(channel.parties, channel.restricted, members),
        aggregate_type="message",
        aggregate_id=message.id,
        version=message.revision,
        actor=message.sender,
        now=now,
    )
