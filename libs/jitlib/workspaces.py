"""The workspace directory each service keeps: members and status of every JIT workspace, replicated
from ``jit.workspaces.*`` events (published by ``jit admin workspace``), so validating "the assignee must
be a member" needs no call to Keycloak."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import partial
from typing import Any

from google.protobuf import any_pb2, timestamp_pb2
from google.protobuf.message import DecodeError
from nats.js.api import DeliverPolicy
from sqlalchemy import select
from sqlalchemy.orm import Session

from jit.common.v1 import common_pb2
from jit.events.v1.envelope_pb2 import Envelope
from jitlib import audit, period, retention
from jitlib.bus import Bus, PoisonMessage, ensure_stream, stream_for
from jitlib.db import Database, RuntimeTables
from jitlib.federation import INBOUND_STREAM, Federation, inbound_filter, outbound_subject, sender_of
from jitlib.ids import new_id
from jitlib.joining import Joins
from jitlib.jurisdictions import is_jurisdiction
from jitlib.policy import Members
from jitlib.validate import WORKSPACE_ID

log = logging.getLogger(__name__)
WORKSPACE_STREAM = stream_for("workspaces")
EVENT_TYPE = "jit.common.v1.WorkspaceUpdated"


@dataclass(frozen=True)
class WorkspaceInfo:
    id: str
    name: str
    lead: str
    members: frozenset[str]
    status: str
    version: int
    #: The JIT agreement's period, ISO dates (``jitlib.period``); "" when the announcement had none.
    starts_on: str = ""
    ends_on: str = ""
    #: Retention (``jitlib.retention``): a legal hold's reason ("" none), the workspace's years (None: the
    #: node's default), the day its proceedings were recorded closed ("" while they run).
    legal_hold: str = ""
    retention_years: int | None = None
    proceedings_closed_on: str = ""
    #: Jurisdictions an amendment of the agreement took out (``jit admin workspace remove-member``).
    former_members: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        # ``members`` always says who left too, so that every audience computed from it leaves them out
        # (``envelopes.audience``, ``policy.entitled``).
        object.__setattr__(self, "members", Members(self.members, self.former_members))

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    def retention_facts(self) -> retention.Facts:
        """What ``jitlib.retention`` needs of this workspace."""
        return retention.Facts(
            workspace_id=self.id,
            closed=self.status == "closed",
            ends_on=period.last_day(self.ends_on),
            legal_hold=self.legal_hold,
            proceedings_closed_on=period.last_day(self.proceedings_closed_on),
            years=self.retention_years,
        )

    @property
    def last_day(self) -> date | None:
        """The agreed period's last day, or None when the workspace has no end date."""
        return period.last_day(self.ends_on)


def subject_for(ws: common_pb2.Workspace) -> str:
    return f"jit.workspaces.{ws.lead}.updated"


def envelope_for(ws: common_pb2.Workspace, actor: common_pb2.Actor, now: datetime | None = None) -> Envelope:
    """The event announcing a workspace's current state. Its id is derived from (workspace, version) so
    that republishing the same version (``jit admin workspace sync``) is dropped as a duplicate."""
    occurred = timestamp_pb2.Timestamp()
    occurred.FromDatetime(now or datetime.now(UTC))
    state = any_pb2.Any()
    state.Pack(ws)
    return Envelope(
        id=f"ws-{ws.id}-v{ws.version}",
        type=EVENT_TYPE,
        occurred_at=occurred,
        workspace_id=ws.id,
        origin_jurisdiction=ws.lead,
        audience=list(ws.members),
        aggregate_type="workspace",
        aggregate_id=ws.id,
        aggregate_version=ws.version,
        actor=actor,
        state=state,
    )


#: A workspace's version grows by one per change made with ``jit admin workspace``; an event may skip a
#: few (a change whose announcement was lost is covered by the next ``sync``), never more than this. A
#: forged huge version would otherwise pin the directory for good.
MAX_VERSION_STEP = 16
#: Dates a directory event may carry: a timestamp out of this range is refused, never applied.
_EARLIEST, _LATEST = datetime(2000, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC)


def workspace_event_problem(envelope: Envelope, ws: common_pb2.Workspace, current: WorkspaceInfo | None) -> str:
    """Why a directory event must not be applied ("" when it may). Only ``jit admin`` may publish on
    ``jit.workspaces.*`` (``jitlib.natsauth``), and still the event is checked against itself and against
    what we hold (a leaked admin credential, another node's announcement): its
    envelope must describe the workspace it carries, from its lead's subject and with its own event id; a
    version only moves forward, by a bounded step; the lead never changes; the time is plausible."""
    if not WORKSPACE_ID.fullmatch(ws.id) or not is_jurisdiction(ws.lead):
        return "malformed workspace id or lead"
    if envelope.aggregate_id != ws.id or envelope.origin_jurisdiction != ws.lead:
        return "envelope does not describe the workspace it carries"
    if envelope.id != f"ws-{ws.id}-v{ws.version}" or envelope.aggregate_version != ws.version:
        return "event id or version does not match the workspace's version"
    if not all(is_jurisdiction(m) for m in ws.members) or ws.lead not in ws.members:
        return "members must be jurisdiction codes and include the lead"
    if not all(is_jurisdiction(m) for m in ws.former_members) or ws.lead in ws.former_members:
        return "former members must be jurisdiction codes, never the lead"
    starts, ends = period.last_day(ws.starts_on), period.last_day(ws.ends_on)
    if (ws.starts_on and starts is None) or (ws.ends_on and ends is None):
        return "the period's dates must be ISO dates (YYYY-MM-DD)"
    if starts is not None and ends is not None and ends < starts:
        return "the period ends before it starts"
    if ws.proceedings_closed_on and period.last_day(ws.proceedings_closed_on) is None:
        return "the proceedings' close must be an ISO date (YYYY-MM-DD)"
    if ws.retention_years and not retention.valid_years(ws.retention_years):
        return f"retention years must be 1 to {retention.MAX_YEARS}"
    if len(ws.legal_hold) > 1000:
        return "a legal hold's reason is too long"
    try:
        occurred = envelope.occurred_at.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError):
        return "time out of range"
    if not _EARLIEST <= occurred < _LATEST:
        return "time out of range"
    if current is None:
        return "" if 1 <= ws.version <= MAX_VERSION_STEP else "a new workspace starts at a low version"
    if ws.lead != current.lead:
        return f"the lead of workspace {ws.id} cannot change"
    if not current.version < ws.version <= current.version + MAX_VERSION_STEP:
        return "version is not a small step forward"
    return ""


def apply_workspace_event(session: Session, tables: RuntimeTables, envelope: Envelope) -> bool:
    """Consumer handler: upsert the workspace when the event is the next one. Returns True when applied;
    raises ``PoisonMessage`` for an event that must never be applied (the caller sets it aside)."""
    if envelope.type != EVENT_TYPE:
        return False
    ws = common_pb2.Workspace()
    if not envelope.state.Unpack(ws) or not ws.id:
        raise PoisonMessage("workspace event without a Workspace state")
    current = get_workspace(session, tables, ws.id) if WORKSPACE_ID.fullmatch(ws.id) else None
    if current is not None and ws.version <= current.version:
        return False  # a replay of what we hold
    problem = workspace_event_problem(envelope, ws, current)
    if problem:
        raise PoisonMessage(problem)
    t = tables.workspaces
    values = {
        "name": ws.name[:255],
        "lead": ws.lead,
        "members": ",".join(sorted(set(ws.members))),
        "legal_basis": ws.legal_basis,
        "starts_on": ws.starts_on[:10],
        "ends_on": ws.ends_on[:10],
        "status": "closed" if ws.status == common_pb2.WORKSPACE_STATUS_CLOSED else "open",
        "version": ws.version,
        "updated_at": envelope.occurred_at.ToDatetime(tzinfo=UTC),
        "legal_hold": ws.legal_hold[:1000],
        "retention_years": ws.retention_years or None,
        "proceedings_closed_on": ws.proceedings_closed_on[:10],
        # Who was taken out: as announced, and any member the announcement no longer lists (however the
        # directory was edited), until a later announcement lists it as a member again.
        "former_members": ",".join(
            sorted({*ws.former_members, *(_were_in(current) if current else ())} - {*ws.members})
        ),
    }
    if current is None:
        session.execute(t.insert().values(id=ws.id, **values))
        if ws.legal_hold:
            _audit_change(session, tables, envelope, ws.id, HOLD_SET)
    else:
        # Only over the version read: another process of the service (PostgreSQL, no lock taken) may have
        # applied this announcement meanwhile; then this one applies nothing (and audits and notes nothing).
        moved = session.execute(t.update().where(t.c.id == ws.id, t.c.version == current.version).values(**values))
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            return False
        if values["ends_on"] != current.ends_on:
            _audit_change(session, tables, envelope, ws.id, PERIOD_CHANGED)
        if ws.legal_hold != current.legal_hold:
            _audit_change(session, tables, envelope, ws.id, HOLD_SET if ws.legal_hold else HOLD_RELEASED)
        if (values["retention_years"], values["proceedings_closed_on"]) != (
            current.retention_years,
            current.proceedings_closed_on,
        ):
            _audit_change(session, tables, envelope, ws.id, RETENTION_CHANGED)
        for country in sorted(current.members - set(ws.members)):
            # The amendment that took a country out: audited once per country, naming it.
            _audit_change(session, tables, envelope, ws.id, MEMBER_TAKEN_OUT, f"{ws.id}/{country}")
    return True


def _were_in(current: WorkspaceInfo) -> frozenset[str]:
    """Who was in the workspace, or taken out of it before, as the directory holds it."""
    return current.members | current.former_members


#: The audit entry's operation when a workspace's agreed period changes (rule JIT_PERIOD_EXTENSION).
PERIOD_CHANGED = "jit.workspaces/ExtendPeriod"
#: ... when a legal hold is set (or its reason changed) and released (rule LEGAL_HOLD).
HOLD_SET = "jit.workspaces/SetLegalHold"
HOLD_RELEASED = "jit.workspaces/ReleaseLegalHold"
#: ... when its retention years or the proceedings' close change.
RETENTION_CHANGED = "jit.workspaces/SetRetention"
#: ... when a member jurisdiction is taken out of it (rule JIT_MEMBER_TAKEN_OUT); the entry's record is the
#: member's group, ``<workspace>/<jurisdiction>``.
MEMBER_TAKEN_OUT = "jit.workspaces/RemoveMember"


def _audit_change(
    session: Session, tables: RuntimeTables, envelope: Envelope, ws_id: str, operation: str, member: str = ""
) -> None:
    """A change an administrator announced (a new end date, a legal hold, ...) is in every service's audit
    log, under the administrator who announced it, at the time this service applied it. ``member``: the
    member group (``<workspace>/<jurisdiction>``) the change is about, when it is about one."""
    actor = envelope.actor
    entry = audit.AuditEvent(
        operation=operation,
        user_id=actor.user_id or "jit-admin",
        username=actor.username or "jit admin",
        jurisdiction=actor.jurisdiction or envelope.origin_jurisdiction,
        record_type="workspace_member" if member else "workspace",
        record_id=member or ws_id,
        workspace_id=ws_id,
    )
    audit.append(session, tables, [entry], datetime.now(UTC))


def get_workspace(session: Session, tables: RuntimeTables, ws_id: str) -> WorkspaceInfo | None:
    t = tables.workspaces
    row = session.execute(select(t).where(t.c.id == ws_id)).mappings().one_or_none()
    return _info(row) if row is not None else None


def all_workspaces(session: Session, tables: RuntimeTables) -> list[WorkspaceInfo]:
    return [_info(row) for row in session.execute(select(tables.workspaces)).mappings()]


def _info(row: Any) -> WorkspaceInfo:
    return WorkspaceInfo(
        id=row["id"],
        name=row["name"],
        lead=row["lead"],
        members=frozenset(m for m in row["members"].split(",") if m),
        status=row["status"],
        version=row["version"],
        starts_on=row["starts_on"] or "",
        ends_on=row["ends_on"] or "",
        legal_hold=row["legal_hold"] or "",
        retention_years=row["retention_years"],
        proceedings_closed_on=row["proceedings_closed_on"] or "",
        former_members=frozenset(m for m in (row["former_members"] or "").split(",") if m),
    )


__all__ = [
    "EVENT_TYPE",
    "WORKSPACE_STREAM",
    "DirectorySync",
    "WorkspaceInfo",
    "apply_workspace_event",
    "envelope_for",
    "get_workspace",
    "new_id",
    "publish",
    "subject_for",
]


class DirectorySync:
    """Keeps the service's workspace table in step with the workspaces stream.

    It replays the whole (small) stream at every start with an ordered consumer, then follows it. Applying
    an event is idempotent (the version decides), so no durable consumer or inbox is needed, and a service
    with a fresh database catches up by itself.
    """

    def __init__(
        self, bus: Bus, database: Database, tables: RuntimeTables, federation: Federation | None = None
    ) -> None:
        self._bus = bus
        self._db = database
        self._tables = tables
        self._federation = federation
        self._task: asyncio.Task[None] | None = None
        self._inbound: asyncio.Task[None] | None = None
        #: The directory in memory (a handful of rows), so a request needs no query to learn its members.
        self._cache: dict[str, WorkspaceInfo] = {}
        #: On a federation, for a service that owns records: what notes a workspace's new members and sends
        #: them what this node owns in it (``jitlib.joining``).
        self.joins: Joins | None = None

    def get(self, ws_id: str) -> WorkspaceInfo | None:
        return self._cache.get(ws_id)

    def members_of(self, ws_id: str) -> frozenset[str] | None:
        """A workspace's members, which say who was taken out of it (``policy.Members``); None when this
        node has not heard of it."""
        info = self._cache.get(ws_id)
        return info.members if info is not None else None

    async def start(self) -> None:
        """Load what the database holds (so a restart works even while NATS is down), then follow NATS."""
        rows = await self._db.read(lambda session: all_workspaces(session, self._tables))
        self._cache = {w.id: w for w in rows}
        self._task = asyncio.create_task(
            self._follow(WORKSPACE_STREAM.name or "", "jit.workspaces.>"), name="workspace-directory"
        )
        if self._federation is not None and self._federation.peers:
            # What the lead's node announces to this one: the workspaces led elsewhere.
            self._inbound = asyncio.create_task(
                self._follow(INBOUND_STREAM, inbound_filter("jit.workspaces.>")), name="workspace-directory-in"
            )

    def _apply(self, session: Session, envelope: Envelope, announced_by: str | None) -> bool:
        """Apply one announcement; whether countries joined the workspace that this node has records to
        send to (noted in the same transaction)."""
        fed = self._federation
        # On a federation a workspace is announced by its lead's node only: this node's own directory
        # events name this node as lead, and a peer's name that peer.
        if fed is not None and envelope.origin_jurisdiction != (announced_by or fed.node):
            raise PoisonMessage("a workspace is announced by its lead's node only")
        # What this database held before (not this process's memory: another process of the service may
        # have applied announcements this one has not yet), so a join is noted once, by whichever applies it.
        before = get_workspace(session, self._tables, envelope.aggregate_id)
        applied = apply_workspace_event(session, self._tables, envelope)
        info = get_workspace(session, self._tables, envelope.aggregate_id)
        if info is not None:
            self._cache[info.id] = info
        if applied and info is not None and before is not None and self.joins is not None:
            # Countries that joined it: what this node owns in it goes to their nodes (``jitlib.joining``).
            return self.joins.note(session, info.id, sorted(info.members - before.members))
        return False

    async def _handle(self, msg: Any, inbound: bool = False) -> None:
        """Apply one event; one that must not (or cannot) be applied is set aside in ``dead_letters``
        and the next is taken: one bad event never stops the directory."""
        try:
            envelope = Envelope.FromString(msg.data)
        except DecodeError as exc:
            await self._set_aside(msg, None, f"undecodable envelope: {exc}")
            return
        try:
            sender = sender_of(str(msg.subject)) if inbound else None
            if await self._db.write(partial(self._apply, envelope=envelope, announced_by=sender)) and self.joins:
                self.joins.wake()
        except PoisonMessage as exc:
            await self._set_aside(msg, envelope.id, str(exc))
        except (ValueError, OverflowError, ArithmeticError) as exc:
            await self._set_aside(msg, envelope.id, f"{type(exc).__name__}: {exc}")

    async def _set_aside(self, msg: Any, event_id: str | None, error: str) -> None:
        log.error("workspace directory: event %s set aside: %s", (event_id or "?")[:80], error)
        values = {
            "consumer": "workspace-directory",
            "event_id": (event_id or "")[:64] or None,
            "subject": str(msg.subject)[:255],
            "payload": bytes(msg.data),
            "error": error[:1000],
            "deliveries": 1,
            "recorded_at": datetime.now(UTC),
        }
        with contextlib.suppress(Exception):
            await self._db.write(lambda s: s.execute(self._tables.dead_letters.insert().values(**values)))

    async def stop(self) -> None:
        for task in (self._task, self._inbound):
            if task is not None:
                task.cancel()
                # Bounded: a cancelled iteration over an ordered consumer has been seen to linger.
                with contextlib.suppress(asyncio.CancelledError, asyncio.TimeoutError, Exception):
                    await asyncio.wait_for(task, timeout=5.0)

    async def _follow(self, stream: str, subjects: str) -> None:
        inbound = stream == INBOUND_STREAM
        while True:
            sub = None
            try:
                await self._bus.wait_ready()
                if not inbound:
                    await ensure_stream(self._bus.js, WORKSPACE_STREAM)
                sub = await self._bus.js.subscribe(
                    subjects, stream=stream, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL
                )
                async for msg in sub.messages:
                    await self._handle(msg, inbound)
            except asyncio.CancelledError:
                if sub is not None:
                    with contextlib.suppress(Exception):
                        await sub.unsubscribe()
                raise
            except Exception as exc:
                log.warning("workspace directory sync interrupted (%s); resubscribing", exc)
                await asyncio.sleep(1.0)


async def publish(
    js: object, ws: common_pb2.Workspace, actor: common_pb2.Actor, federation: Federation | None = None
) -> bool:
    """Announce a workspace's state on JetStream (``jit admin workspace`` and its ``sync``). On a
    federation, the lead's node also announces it to each member's node, and no other node does: False
    when this node is not the workspace's lead's. The node of a country taken out of it is still told (its
    ``former_members``): its directory then knows its users no longer have access, and it sends nothing
    new of the workspace to it."""
    env = envelope_for(ws, actor)
    payload = env.SerializeToString(deterministic=True)
    if federation is not None and ws.lead != federation.node:
        return False  # a workspace led elsewhere reaches this node from its lead's node
    await ensure_stream(js, WORKSPACE_STREAM)  # type: ignore[arg-type]
    await js.publish(subject_for(ws), payload, headers={"Nats-Msg-Id": env.id})  # type: ignore[attr-defined]
    for peer in federation.recipients({*ws.members, *ws.former_members}) if federation is not None else ():
        await js.publish(  # type: ignore[attr-defined]
            outbound_subject(peer, subject_for(ws)), payload, headers={"Nats-Msg-Id": f"{env.id}.{peer}"}
        )
    return True
