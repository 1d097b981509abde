"""The event envelope every service publishes (``jit.events.v1.Envelope``), built in one place."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime

from google.protobuf import any_pb2, timestamp_pb2
from google.protobuf.message import Message

from jit.events.v1.envelope_pb2 import Envelope
from jitlib.actors import Actor
from jitlib.ids import new_id
from jitlib.mapping import actor_pb


def audience(parties: Iterable[str], restricted: bool, members: Iterable[str]) -> list[str]:
    """Who is entitled to an event: the parties of a restricted record, every member and party otherwise."""
    entitled = set(parties)
    if not restricted:
        entitled |= set(members)
    return sorted(entitled)


def envelope(
    *,
    event_type: str,
    state: Message,
    workspace_id: str,
    origin: str,
    audience: Iterable[str],
    aggregate_type: str,
    aggregate_id: str,
    version: int,
    actor: Actor,
    now: datetime,
    event_id: str = "",
) -> Envelope:
    """One event: the aggregate's full new ``state`` packed in an ``Any``, with who, when and for whom."""
    occurred = timestamp_pb2.Timestamp()
    occurred.FromDatetime(now)
    packed = any_pb2.Any()
    packed.Pack(state)
    return Envelope(
        id=event_id or new_id(),
        type=event_type,
        occurred_at=occurred,
        workspace_id=workspace_id,
        origin_jurisdiction=origin,
        audience=list(audience),
        aggregate_type=aggregate_type,
        aggregate_id=aggregate_id,
        aggregate_version=version,
        actor=actor_pb(actor),
        state=packed,
    )


def request_digest(request: Message) -> str:
    """Fingerprint of a create request, to tell a genuine replay from a reused request_id."""
    return hashlib.sha256(request.SerializeToString(deterministic=True)).hexdigest()
