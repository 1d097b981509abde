"""What the victims service publishes: one event per change, subject jit.victims.<lead>.<event>, in the
jit.events.v1.Envelope with the pseudonym-level Victim as state: never its identity, nor a notice's note."""

from __future__ import annotations

from datetime import datetime

from jit.events.v1.envelope_pb2 import Envelope
from jit.victims.v1 import victims_pb2
from jitlib import envelopes
from jitlib.bus import stream_for
from services.victims.domain import Victim

STREAM = stream_for("victims")


def subject(victim: Victim, event: str) -> str:
    return f"jit.victims.{victim.origin_jurisdiction}.{event}"


def event_type(event: str) -> str:
    """``notice_recorded`` -> ``jit.victims.v1.VictimNoticeRecorded``."""
    return "jit.victims.v1.Victim" + "".join(part.capitalize() for part in event.split("_"))


def envelope(victim: Victim, state: victims_pb2.Victim, event: str, members: frozenset[str], now: datetime) -> Envelope:
    return envelopes.record_envelope(
        victim, state, aggregate_type="victim", event_type=event_type(event), members=members, now=now
    )
