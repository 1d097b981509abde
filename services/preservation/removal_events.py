"""What the preservation service publishes about removal requests: one event per change on
jit.preservation.<origin>.removal_<event> in the jit.events.v1.Envelope, with the full RemovalRequest as
state, type jit.preservation.v1.RemovalRequest<Event> (RemovalRequestRemoved, ...), aggregate type
``removal_request``; written with its audit entry in the change's transaction (the outbox relays it)."""

from __future__ import annotations

from datetime import datetime

from google.protobuf import message

from jit.events.v1.envelope_pb2 import Envelope
from jitlib import envelopes
from jitlib.policy import REMOVAL_REQUEST_RULES
from jitlib.records import store_change
from jitlib.runtime import UnitOfWork
from services.preservation import store
from services.preservation.removal_domain import Removal
from services.preservation.removal_mapping import removal_to_pb

RECORD = "removal_request"


def subject(removal: Removal, event: str) -> str:
    return f"jit.preservation.{removal.origin_jurisdiction}.removal_{event}"


def event_type(event: str) -> str:
    return "jit.preservation.v1.RemovalRequest" + "".join(p.capitalize() for p in event.split("_"))


def envelope(removal: Removal, state: message.Message, event: str, members: frozenset[str], now: datetime) -> Envelope:
    return envelopes.record_envelope(
        removal, state, aggregate_type=RECORD, event_type=event_type(event), members=members, now=now
    )


def announce(uow: UnitOfWork, removal: Removal, event: str, members: frozenset[str], now: datetime) -> None:
    uow.emit(subject(removal, event), envelope(removal, removal_to_pb(removal, now), event, members, now))


def write_change(
    uow: UnitOfWork, before: Removal, after: Removal, event: str, *, members: frozenset[str], now: datetime
) -> None:
    """Store a transition (version-checked), its event and its audit entry, in the caller's transaction."""
    store_change(
        uow,
        REMOVAL_REQUEST_RULES,
        before,
        after,
        store.REMOVALS.update_if_version,
        lambda uow, removal: announce(uow, removal, event, members, now),
    )
