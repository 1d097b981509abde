"""Read-only replicas of the records other countries' nodes own (a federation of per-country nodes).

A peer's node sends this one the events of the records this node's country is entitled to (see
``jitlib.federation``); each carries the record's full new state. A service declares, per kind of record,
how to read that state and write it, and gets a durable consumer of ``JIT_IN`` that applies each event
once (the inbox), at the owner's version: an older or repeated version changes nothing, and a record
never changes owner. The owner alone changes a record (``Runtime.require_owner``).

When a change takes this node's country out of a record's audience (a restricted task reassigned from DE
to IE), the owner sends DE's node a withdrawal instead (``envelopes.withdrawal``: the record's id and
version, no state): the replica is dropped (``ReplicaKind.withdraw``), and DE's users get NOT_FOUND.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, Generic, TypeVar

from google.protobuf.message import Message
from sqlalchemy.orm import Session

from jit.events.v1.envelope_pb2 import Envelope
from jitlib import envelopes
from jitlib.bus import EventConsumer, PoisonMessage
from jitlib.clock import Clock
from jitlib.federation import inbound_filter
from jitlib.runtime import Runtime

#: A replicated record: what an event's envelope says of it (its id, workspace, origin and version).
R = TypeVar("R", bound=envelopes.Aggregate)


@dataclass(frozen=True)
class ReplicaKind(Generic[R]):
    """How a service keeps replicas of one kind of record."""

    #: The envelope's ``aggregate_type`` (``task``).
    aggregate_type: str
    #: The local subjects of its events (``jit.tasks.>``).
    subjects: str
    #: The state's message class (``tasks_pb2.Task``) and its reading into the domain record.
    state: type[Message]
    from_pb: Callable[[Any], R]
    #: The stored record, if any.
    get: Callable[[Session, str], R | None]
    #: Write the record (``exists``: update the stored row rather than insert one).
    write: Callable[[Session, R, bool], None]
    #: Drop the record (its owner withdrew it from this node's country); None for a kind whose audience
    #: never shrinks (a withdrawal of it is refused).
    withdraw: Callable[[Session, str], None] | None = None


def apply(kind: ReplicaKind[R], clock: Clock, session: Session, envelope: Envelope, node: str = "") -> bool:
    """Apply one event of a peer's record on the node of country ``node``; True when it changed the
    replica (a withdrawal of the record from ``node``: dropped it)."""
    if envelope.aggregate_type != kind.aggregate_type:
        return False
    if envelopes.withdrawn_here(envelope, node):
        return withdraw(kind, session, envelope)
    if envelope.state.TypeName() != kind.state.DESCRIPTOR.full_name:
        # An event about the record that carries something else (an owner's deadline alert or expiry
        # warning): the owner's node warns of its own records, this one keeps the record only.
        return False
    state = kind.state()
    if not envelope.state.Unpack(state):
        raise PoisonMessage(f"a {kind.aggregate_type} event without its state")
    try:
        record = kind.from_pb(state)
    except (ValueError, KeyError) as exc:
        raise PoisonMessage(f"a {kind.aggregate_type} state that cannot be read: {type(exc).__name__}") from exc
    problem = envelopes.description_problem(envelope, record)
    if problem:
        raise PoisonMessage(problem)
    current = kind.get(session, record.id)
    if current is not None:
        if current.origin_jurisdiction != record.origin_jurisdiction:
            raise PoisonMessage("a record never changes owner")
        if current.version >= record.version:
            return False  # what we hold is as new or newer: a replay, or an event overtaken
    kind.write(session, replace(record, replicated_at=clock.now()), current is not None)  # type: ignore[type-var]
    return True


def withdraw(kind: ReplicaKind[R], session: Session, envelope: Envelope) -> bool:
    """The owner's withdrawal of a record from this node's country: drop the replica, unless what is held
    is newer (the country was given the record again since). True when it dropped it."""
    if kind.withdraw is None:
        raise PoisonMessage(f"a {kind.aggregate_type} is never withdrawn from a country")
    current = kind.get(session, envelope.aggregate_id)
    if current is None:
        return False
    if current.origin_jurisdiction != envelope.origin_jurisdiction:
        raise PoisonMessage("a record is withdrawn by its owner only")
    if current.version >= envelope.aggregate_version:
        return False
    kind.withdraw(session, current.id)
    return True


def consumers(rt: Runtime, *kinds: ReplicaKind[Any]) -> list[EventConsumer]:
    """The consumers of ``JIT_IN`` that keep ``kinds``: one per subject pattern, so that kinds sharing
    their subjects (a request and its items) are applied in the order the owner sent them, each event by
    the kind of its aggregate. Only one owner's order: a part sent by another node than its record's (an
    item received on another node than the request's) may come first, and its kind's ``write`` must wait
    for the record (evidence's ``app._write_item``). None on a node that is not part of a federation."""
    fed = rt.federation
    if fed is None or not fed.peers:
        return []
    inbound = fed.inbound_stream()
    groups: dict[str, list[ReplicaKind[Any]]] = {}
    for kind in kinds:
        groups.setdefault(kind.subjects, []).append(kind)

    def handler(group: list[ReplicaKind[Any]], session: Session, envelope: Envelope) -> None:
        for kind in group:
            if kind.aggregate_type == envelope.aggregate_type:
                apply(kind, rt.clock, session, envelope, fed.node)
                return

    return [
        rt.consumer(
            f"replica-{group[0].aggregate_type}",
            inbound,
            inbound_filter(subjects),
            partial(handler, group),
            inbound=True,
        )
        for subjects, group in groups.items()
    ]


__all__ = ["ReplicaKind", "apply", "consumers", "withdraw"]
