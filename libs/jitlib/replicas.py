"""Read-only replicas of the records other countries' nodes own (a federation of per-country nodes).

A peer's node sends this one the events of the records this node's country is entitled to (see
``jitlib.federation``); each carries the record's full new state. A service declares, per kind of record,
how to read that state and write it, and gets a durable consumer of ``JIT_IN`` that applies each event
once (the inbox), at the owner's version: an older or repeated version changes nothing, and a record
never changes owner. The owner alone changes a record (``Runtime.require_owner``).

An event whose state this node cannot read (sent by a peer on a newer build: a kind of deadline this one
does not know) is set aside (``dead_letters``); at each start the replicas' consumers handle what they set
aside again before they read their stream (``EventConsumer.retry_dead_letters``), so a node upgraded after
its peers takes in what it could not read, at the version each event carries: an older one changes nothing.

When a change takes this node's country out of a record's audience (a restricted task reassigned from DE
to IE), the owner sends DE's node a withdrawal instead (``envelopes.withdrawal``: the record's id and
version, no state): the replica is dropped (``ReplicaKind.withdraw``), and DE's users get NOT_FOUND.
What is withdrawn leaves a tombstone (``replica_tombstones``: the record's kind, id, owner and the
withdrawal's version), kept even when no copy was held (the withdrawal overtook the record's events): an
older event of the record delivered after it (a redelivery, a link resuming out of order) is below it and
writes nothing back; a newer one (the country was given the record again) passes it and lifts it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, Generic, TypeVar

from google.protobuf.message import Message
from sqlalchemy import Column, Integer, MetaData, PrimaryKeyConstraint, String, Table, delete, insert, select, update
from sqlalchemy.orm import Session

from jit.events.v1.envelope_pb2 import Envelope
from jitlib import envelopes
from jitlib.bus import EventConsumer, PoisonMessage
from jitlib.clock import Clock
from jitlib.db import TS
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
    #: Where what was withdrawn is remembered (``tombstones_table``, the store's ``withdrawals=True``
    #: tables): required with ``withdraw``.
    tombstones: Table | None = None

    def __post_init__(self) -> None:
        if self.withdraw is not None and self.tombstones is None:
            raise TypeError(f"replicas of {self.aggregate_type}: a kind that is withdrawn keeps tombstones")


def tombstones_table(metadata: MetaData) -> Table:
    """``replica_tombstones``: each record withdrawn from this node's country (its kind and id), its owner
    and the version of the withdrawal, that an older event of the record cannot pass. Ids and a version
    only: nothing of the record."""
    return Table(
        "replica_tombstones",
        metadata,
        Column("aggregate_type", String(64), nullable=False),
        Column("aggregate_id", String(64), nullable=False),
        Column("origin_jurisdiction", String(16), nullable=False),
        Column("version", Integer, nullable=False),
        Column("withdrawn_at", TS, nullable=False),
        PrimaryKeyConstraint("aggregate_type", "aggregate_id"),
    )


def apply(kind: ReplicaKind[R], clock: Clock, session: Session, envelope: Envelope, node: str = "") -> bool:
    """Apply one event of a peer's record on the node of country ``node``; True when it changed the
    replica (a withdrawal of the record from ``node``: dropped it)."""
    if envelope.aggregate_type != kind.aggregate_type:
        return False
    if envelopes.withdrawn_here(envelope, node):
        return withdraw(kind, clock, session, envelope)
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
    elif kind.tombstones is not None:
        tombstone = _Tombstone(kind.tombstones, kind.aggregate_type, record.id)
        withdrawn = tombstone.read(session)
        if withdrawn is not None:
            if withdrawn[0] != record.origin_jurisdiction:
                raise PoisonMessage("a record never changes owner")
            if withdrawn[1] >= record.version:
                return False  # withdrawn from this country since: an older event does not bring it back
            tombstone.lift(session)  # given to this country again
    kind.write(session, replace(record, replicated_at=clock.now()), current is not None)  # type: ignore[type-var]
    return True


def withdraw(kind: ReplicaKind[R], clock: Clock, session: Session, envelope: Envelope) -> bool:
    """The owner's withdrawal of a record from this node's country: drop the replica, unless what is held
    is newer (the country was given the record again since), and leave its tombstone at the withdrawal's
    version (also when no copy is held yet: the withdrawal overtook the record's events). True when it
    dropped a copy."""
    if kind.withdraw is None or kind.tombstones is None:
        raise PoisonMessage(f"a {kind.aggregate_type} is never withdrawn from a country")
    current = kind.get(session, envelope.aggregate_id)
    if current is not None:
        if current.origin_jurisdiction != envelope.origin_jurisdiction:
            raise PoisonMessage("a record is withdrawn by its owner only")
        if current.version >= envelope.aggregate_version:
            return False
        kind.withdraw(session, current.id)
    _Tombstone(kind.tombstones, kind.aggregate_type, envelope.aggregate_id).raise_to(session, envelope, clock)
    return current is not None


@dataclass(frozen=True)
class _Tombstone:
    """The tombstone of one record (``tombstones_table``)."""

    table: Table
    aggregate_type: str
    aggregate_id: str

    def _key(self) -> tuple[Any, ...]:
        c = self.table.c
        return (c.aggregate_type == self.aggregate_type, c.aggregate_id == self.aggregate_id)

    def read(self, session: Session) -> tuple[str, int] | None:
        """The record's owner and the version it was withdrawn at; None when it never was here."""
        c = self.table.c
        row = session.execute(select(c.origin_jurisdiction, c.version).where(*self._key())).first()
        return (row[0], row[1]) if row is not None else None

    def raise_to(self, session: Session, envelope: Envelope, clock: Clock) -> None:
        """Leave the tombstone at the version of the withdrawal ``envelope`` (or raise it there)."""
        withdrawn = self.read(session)
        if withdrawn is None:
            session.execute(
                insert(self.table).values(
                    aggregate_type=self.aggregate_type,
                    aggregate_id=self.aggregate_id,
                    origin_jurisdiction=envelope.origin_jurisdiction,
                    version=envelope.aggregate_version,
                    withdrawn_at=clock.now(),
                )
            )
            return
        if withdrawn[0] != envelope.origin_jurisdiction:
            raise PoisonMessage("a record is withdrawn by its owner only")
        if withdrawn[1] < envelope.aggregate_version:
            session.execute(
                update(self.table)
                .where(*self._key())
                .values(version=envelope.aggregate_version, withdrawn_at=clock.now())
            )

    def lift(self, session: Session) -> None:
        """The record was given to this node's country again."""
        session.execute(delete(self.table).where(*self._key()))


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
            # An event set aside (a state this build could not read: a newer peer's) is applied at the next
            # start: at its version, so an older one changes nothing (``apply``).
            retries_dead_letters=True,
        )
        for subjects, group in groups.items()
    ]


__all__ = ["ReplicaKind", "apply", "consumers", "tombstones_table", "withdraw"]
