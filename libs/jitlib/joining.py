"""A country that joins a workspace gets, on its node, what the workspace already holds (a federation).

The audience of a record's event is fixed when the change commits (``envelopes.record_envelope``): a
country added to a workspace later (``jit admin workspace add-member``) would get a record made before it
joined only when that record next changes, and some never change again. So when the workspace directory
(``jitlib.workspaces.DirectorySync``) applies an announcement whose members grew, in the same transaction,
each service that owns records notes the join (``Joins.note``: a row of ``workspace_joins``, per new
member country whose node is a peer of this one). This service's ``Joins`` job then sends, in batches,
each record of that workspace that this node owns and that the new country may see under the access rules
(its audience now: every member for an open record, its parties for a restricted one), at its current
version, to that country's node only: the record's event with ``Envelope.resent_to`` naming the new
countries, type ``...Shared``. The outbox sends it to those nodes alone (``OutboxRelay._send_to_peers``) and
not on this node's own stream. The peer applies it as any replica event (``jitlib.replicas``): a version it
holds already changes nothing.

Durable as every other change: the note commits with the directory's new version (a crash before the
commit replays the announcement, which notes it again), each batch of events commits with the note's
cursor moved on (a crash in between sends that batch again at most: the peer drops what it holds), and the
note is deleted with the last batch.

A change that read the members just before the directory applied the announcement and committed just after
the first pass read the records went out with the former audience. A second pass (``SECOND_PASS``
later) sends again what changed since a little before the first one (``updated_at``), which covers such
a change, however slow, up to that bound.

An event of a part of a record (an evidence item) is a kind of its own; a service says, per kind, how to
read a page of what it owns in a workspace and how to make its event (``ResendKind``).

A peer linked later is sent the same way. The relay sends an event to the peers the node is linked to when
it sends it (``JIT_FEDERATION_PEERS``), so a country already a member of workspaces when its node is linked
(or linked again after its link was taken out) holds none of what this node made meanwhile. Each service
keeps the peers it last started with (``federation_links``); at its start, a peer not among them is noted as
a country joining each workspace the database holds that has it as a member (``link_peers``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Generic, TypeVar

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from jit.events.v1.envelope_pb2 import Envelope
from jitlib import audit, outbox
from jitlib.clock import Clock
from jitlib.db import Database, RuntimeTables, insert_or_nothing
from jitlib.ids import new_id
from jitlib.periodic import Periodic
from jitlib.policy import Members
from jitlib.sealing import certified_destroyed

log = logging.getLogger(__name__)

R = TypeVar("R")

#: How long after the first pass the second one runs (see the module's docstring).
SECOND_PASS = timedelta(seconds=60)
#: The second pass sends what changed since this long before the first pass started.
SECOND_PASS_LOOKBACK = timedelta(seconds=60)
#: Records read and events staged in one transaction.
BATCH = 200
#: How long a join whose batch failed waits before it is tried again.
RETRY_AFTER = timedelta(minutes=5)
#: The audit entry's operation when the records of a workspace were sent to the nodes of new members.
OPERATION = "jit.workspaces/ShareWithJoinedMembers"
#: ``federation_links``' one row from the migration that made the table until the service's first start
#: under it records the peers it is linked to then, and sends them nothing again: they were linked before.
NOT_RECORDED = "--"


@dataclass(frozen=True)
class ResendKind(Generic[R]):
    """How a service sends again, to a country that joined a workspace, one kind of record it owns."""

    #: The envelope's ``aggregate_type`` (``task``), named in the log when a batch of it fails.
    aggregate_type: str
    #: ``(session, workspace_id, owner, after_id, changed_since, limit)``: the records of that kind in the
    #: workspace owned by ``owner`` (this node's country), ids after ``after_id`` in id order, at most
    #: ``limit``; only those changed at or after ``changed_since`` when it is not None (a kind without a
    #: change time may give them all).
    page: Callable[[Session, str, str, str, datetime | None, int], Sequence[R]]
    #: ``(session, record, members, now)``: the record's event at its current version with the audience it
    #: has now, and its subject; the envelope's type is the record's ``Shared`` event.
    event: Callable[[Session, R, frozenset[str], datetime], tuple[str, Envelope]]
    #: The id of a record, for the cursor.
    key: Callable[[R], str] = lambda record: str(record.id)  # type: ignore[attr-defined]
    #: For an event for other nodes only (an ``outbox.PEERS_ONLY`` subject): what seals it in the outbox
    #: (``outbox.stage``'s ``sealer``, e.g. the relay's).
    sealer: Callable[[], outbox.PayloadSealer | None] | None = None


def note(
    session: Session,
    tables: RuntimeTables,
    workspace_id: str,
    countries: Sequence[str],
    now: datetime,
    *,
    again_whole: bool = False,
) -> None:
    """Inside the transaction that applies a workspace's announcement: note that ``countries`` joined it, so
    that the records this node owns in it are sent to their nodes (a first pass at once, a second one
    ``SECOND_PASS`` later, of what changed since a little before the first; of everything with
    ``again_whole``)."""
    joined = ",".join(sorted(set(countries)))
    since = None if again_whole else now - SECOND_PASS_LOOKBACK
    rows = [
        {"id": new_id(), "workspace_id": workspace_id, "countries": joined, "due_at": due, "changed_since": since}
        for due, since in ((now, None), (now + SECOND_PASS, since))
    ]
    session.execute(tables.workspace_joins.insert(), [{**r, "kind": 0, "after_id": "", "sent": 0} for r in rows])


def link_peers(session: Session, tables: RuntimeTables, peers: frozenset[str], now: datetime) -> dict[str, list[str]]:
    """At the start of a service that owns records, in one transaction: the ``peers`` it is linked to now
    against those it last started with (``federation_links``). For each peer linked since, and each
    workspace the database holds that has its country as a member, the join is noted (``note``): the
    ``Joins`` job sends that node what this one owns there and the country may see, as to a country that
    joins. A peer no longer linked is forgotten, so that linked again it is sent everything again (nothing
    reached it meanwhile). At the first start after the table was made (``NOT_RECORDED``) the peers are
    recorded and nothing is noted. The countries noted, per workspace."""
    t = tables.federation_links
    recorded = set(session.execute(select(t.c.country)).scalars())
    first = NOT_RECORDED in recorded
    recorded.discard(NOT_RECORDED)
    forgotten = sorted(recorded - set(peers)) + ([NOT_RECORDED] if first else [])
    if forgotten:
        session.execute(delete(t).where(t.c.country.in_(forgotten)))
    # Each peer recorded by whichever replica of the service starting at the same time writes it first; the
    # others note nothing for it.
    insert = insert_or_nothing(session, t).returning(t.c.country)
    linked = sorted(
        c for c in set(peers) - recorded if session.execute(insert.values(country=c, linked_at=now)).first()
    )
    noted: dict[str, list[str]] = {}
    if first or not linked:
        return noted
    w = tables.workspaces
    for workspace_id, listed in session.execute(select(w.c.id, w.c.members).order_by(w.c.id)):
        members = set(listed.split(","))
        countries = [c for c in linked if c in members]
        if countries:
            note(session, tables, workspace_id, countries, now)
            noted[workspace_id] = countries
    return noted


class Joins(Periodic):
    """The job that sends the records of a workspace to the nodes of the countries that joined it (one per
    service that owns records, on a federation), for the workspace's members as the service's database
    holds them when each batch is made (its ``workspaces`` table, which the join was noted with)."""

    def __init__(
        self,
        db: Database,
        tables: RuntimeTables,
        clock: Clock,
        owner: str,
        peers: frozenset[str],
        kinds: Sequence[ResendKind[Any]],
        committed: Callable[[list[outbox.Staged]], None],
        *,
        interval: float = 30.0,
        batch: int = BATCH,
    ) -> None:
        super().__init__(interval, "workspace-joins")
        self._db = db
        self._tables = tables
        self._clock = clock
        self._owner = owner
        self._peers = peers
        self._kinds = list(kinds)
        self._committed = committed
        self._batch = batch
        #: The join the batch under way is of (what a failure puts off), and the kind it was sending.
        self._current: str | None = None
        self._kind = ""

    def note(self, session: Session, workspace_id: str, countries: Sequence[str], *, again_whole: bool = False) -> bool:
        """``note`` for the countries of ``countries`` whose nodes are this node's peers; whether any was."""
        peers = sorted(set(countries) & self._peers)
        if peers:
            note(session, self._tables, workspace_id, peers, self._clock.now(), again_whole=again_whole)
        return bool(peers)

    async def run_pass(self) -> int:
        """Every batch that is due, until none is; how many events were staged. A join whose batch fails
        (a record its kind cannot make an event of) is logged and put off ``RETRY_AFTER``, and the others go on."""
        staged = 0
        while True:
            self._current = None
            try:
                done = await self._db.write(self._step)
            except Exception:
                if self._current is None:
                    raise
                log.exception(
                    "workspace joins: a batch of join %s failed (its %s records); tried again later",
                    self._current,
                    self._kind,
                )
                await self._db.write(partial(self._put_off, self._current, self._clock.now() + RETRY_AFTER))
                continue
            if done is None:
                return staged
            events, rows = done
            staged += events
            if rows:
                self._committed(rows)

    def _put_off(self, join_id: str, until: datetime, session: Session) -> None:
        t = self._tables.workspace_joins
        session.execute(update(t).where(t.c.id == join_id).values(due_at=until))

    def _step(self, session: Session) -> tuple[int, list[outbox.Staged]] | None:
        """One batch of the earliest join due: its next records' events staged, its cursor moved on (or the
        join deleted once every kind is through). None when no join is due."""
        t = self._tables.workspace_joins
        now = self._clock.now()
        join = session.execute(select(t).where(t.c.due_at <= now).order_by(t.c.due_at, t.c.id).limit(1)).first()
        if join is None:
            return None
        self._current = join.id
        # The members as this database holds them, in this transaction: the process that runs the job may
        # not have applied the announcement yet (another process of the service noted the join).
        w = self._tables.workspaces
        row = session.execute(select(w.c.members, w.c.former_members).where(w.c.id == join.workspace_id)).first()
        if row is None or certified_destroyed(session, self._tables, join.workspace_id):
            session.execute(delete(t).where(t.c.id == join.id))
            return 0, []
        # With those taken out of it, whom no record's event names (``policy.Members``).
        members = Members(
            (m for m in row.members.split(",") if m), (m for m in (row.former_members or "").split(",") if m)
        )
        # A country taken out of the workspace since it joined is sent nothing more.
        countries = frozenset(c for c in join.countries.split(",") if c) & members
        kind_index, after_id, read = join.kind, join.after_id, 0
        staged: list[outbox.Staged] = []
        while kind_index < len(self._kinds) and read < self._batch:
            kind, room = self._kinds[kind_index], self._batch - read
            self._kind = kind.aggregate_type
            records = kind.page(session, join.workspace_id, self._owner, after_id, join.changed_since, room)
            read += len(records)
            for record in records:
                subject, envelope = kind.event(session, record, members, now)
                to = sorted(set(envelope.audience) & countries)
                if to:  # else restricted, and the new countries are none of its parties
                    envelope.resent_to.extend(to)
                    sealer = kind.sealer() if kind.sealer is not None else None
                    staged.append(outbox.stage(session, self._tables, subject, envelope, sealer))
            if len(records) < room:
                kind_index, after_id = kind_index + 1, ""
            else:
                after_id = kind.key(records[-1])
        sent = join.sent + len(staged)
        if kind_index >= len(self._kinds):
            session.execute(delete(t).where(t.c.id == join.id))
            log.info(
                "workspace %s: %d record(s) sent to the node(s) of %s, which joined it",
                join.workspace_id,
                sent,
                join.countries,
            )
            if join.changed_since is None:
                entry = audit.AuditEvent.by_system(OPERATION, "workspace", join.workspace_id, join.workspace_id)
                audit.record(session, self._tables, [entry], now)
        else:
            session.execute(update(t).where(t.c.id == join.id).values(kind=kind_index, after_id=after_id, sent=sent))
        return len(staged), staged


__all__ = ["BATCH", "NOT_RECORDED", "OPERATION", "SECOND_PASS", "Joins", "ResendKind", "link_peers", "note"]
