"""The victims of each workspace, by pseudonym, as a service that refers to them knows them: a directory
replicated from the victims service's events (``jit.victims.<lead>.<event>``; on a federation also those
the lead's node sends this one), so that a task, evidence request or preservation order names only a
pseudonym the workspace's victims service gave (rule VICTIM_BY_PSEUDONYM) without calling that service
(the services never call each other).

Only the pseudonym and its workspace are kept: who the victim is never leaves the victims service. A
pseudonym is never given twice, so the directory only grows; a victim registered a moment ago may not be
known here yet (the event is on its way), and a create naming it is refused until it is.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC
from functools import partial

from sqlalchemy import Column, MetaData, PrimaryKeyConstraint, String, Table, insert, select
from sqlalchemy.orm import Session

from jit.events.v1.envelope_pb2 import Envelope
from jit.victims.v1 import victims_pb2
from jitlib import validate
from jitlib.bus import EventConsumer, PoisonMessage, stream_for
from jitlib.db import TS
from jitlib.errors import FieldViolation
from jitlib.runtime import Runtime

VICTIMS_STREAM = stream_for("victims")
SUBJECTS = "jit.victims.>"
AGGREGATE_TYPE = "victim"
VICTIM_STATE = victims_pb2.Victim.DESCRIPTOR.full_name


def pseudonyms_table(metadata: MetaData) -> Table:
    """Declare the directory's table in a service's own metadata (so its migrations own it)."""
    return Table(
        "victim_pseudonyms",
        metadata,
        Column("workspace_id", String(64), nullable=False),
        Column("pseudonym", String(validate.VICTIM_REF_MAX), nullable=False),
        Column("registered_at", TS, nullable=False),
        PrimaryKeyConstraint("workspace_id", "pseudonym"),
    )


def record(table: Table, session: Session, envelope: Envelope) -> None:
    """Learn the pseudonym a victim's event carries (any event of a victim: the first one seen may be a
    later one, after a gap); other events on the victims' subjects are not about a victim's pseudonym."""
    if envelope.aggregate_type != AGGREGATE_TYPE or envelope.state.TypeName() != VICTIM_STATE:
        return
    victim = victims_pb2.Victim()
    if not envelope.state.Unpack(victim):
        raise PoisonMessage(f"victim event {envelope.id} does not carry a Victim")
    if victim.workspace_id != envelope.workspace_id or validate.victim_ref("pseudonym", victim.pseudonym):
        raise PoisonMessage(f"victim event {envelope.id} carries no pseudonym of its workspace")
    key = (table.c.workspace_id == victim.workspace_id, table.c.pseudonym == victim.pseudonym)
    if session.scalar(select(table.c.pseudonym).where(*key)) is None:
        when = victim.created_at if victim.HasField("created_at") else envelope.occurred_at
        session.execute(
            insert(table).values(
                workspace_id=victim.workspace_id,
                pseudonym=victim.pseudonym,
                registered_at=when.ToDatetime(tzinfo=UTC),
            )
        )


def consumers(rt: Runtime, table: Table) -> list[EventConsumer]:
    """The consumers that keep the directory: this node's victims stream and, on a federation, what the
    workspaces' lead nodes send this one."""
    return rt.consumers_here_and_from_peers("victim-pseudonyms", VICTIMS_STREAM, SUBJECTS, partial(record, table))


async def known(rt: Runtime, table: Table, workspace_id: str, refs: Sequence[str]) -> frozenset[str]:
    """Which of ``refs`` the directory knows in ``workspace_id`` (no read when there are none)."""
    if not refs:
        return frozenset()

    def query(session: Session) -> frozenset[str]:
        rows = session.scalars(
            select(table.c.pseudonym).where(table.c.workspace_id == workspace_id, table.c.pseudonym.in_(sorted(refs)))
        )
        return frozenset(rows)

    return await rt.read(query)


def unregistered(
    refs: Sequence[str], known: Collection[str], lead: str, *, name: str = "victim_refs"
) -> list[FieldViolation]:
    """Each pseudonym of ``refs`` under the workspace's ``lead`` (``validate.victim_refs_of_workspace``
    names the others) that is not a victim registered in the workspace (``known``), named by position.
    Ask only once the caller may create in the workspace: the answer tells which pseudonyms it has."""
    return [
        FieldViolation(f"{name}[{i}]", "is not a victim registered in this workspace (yet)")
        for i, ref in enumerate(refs[: validate.VICTIM_REFS_MAX])
        if not validate.victim_ref("", ref) and ref.startswith(f"V-{lead}-") and ref not in known
    ]
