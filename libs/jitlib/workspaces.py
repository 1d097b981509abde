"""The workspace directory each service keeps: members and status of every JIT workspace, replicated
from ``jit.workspaces.*`` events (published by ``jit admin workspace``), so validating "the assignee must
be a member" needs no call to Keycloak."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from google.protobuf import any_pb2, timestamp_pb2
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from jit.common.v1 import common_pb2
from jit.events.v1.envelope_pb2 import Envelope
from jitlib.bus import PoisonMessage, stream_for
from jitlib.db import RuntimeTables
from jitlib.ids import new_id

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

    @property
    def is_open(self) -> bool:
        return self.status == "open"


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


async def apply_workspace_event(session: AsyncSession, tables: RuntimeTables, envelope: Envelope) -> None:
    """Consumer handler: upsert the workspace when the event is newer than what we hold."""
    if envelope.type != EVENT_TYPE:
        return
    ws = common_pb2.Workspace()
    if not envelope.state.Unpack(ws) or not ws.id:
        raise PoisonMessage("workspace event without a Workspace state")
    t = tables.workspaces
    current = await session.scalar(select(t.c.version).where(t.c.id == ws.id))
    values = {
        "name": ws.name,
        "lead": ws.lead,
        "members": ",".join(sorted(ws.members)),
        "legal_basis": ws.legal_basis,
        "starts_on": ws.starts_on,
        "ends_on": ws.ends_on,
        "status": "closed" if ws.status == common_pb2.WORKSPACE_STATUS_CLOSED else "open",
        "version": ws.version,
        "updated_at": envelope.occurred_at.ToDatetime(tzinfo=UTC),
    }
    if current is None:
        await session.execute(t.insert().values(id=ws.id, **values))
    elif ws.version > current:
        await session.execute(t.update().where(t.c.id == ws.id).values(**values))


async def get_workspace(session: AsyncSession, tables: RuntimeTables, ws_id: str) -> WorkspaceInfo | None:
    t = tables.workspaces
    row = (await session.execute(select(t).where(t.c.id == ws_id))).mappings().one_or_none()
    if row is None:
        return None
    return WorkspaceInfo(
        id=row["id"],
        name=row["name"],
        lead=row["lead"],
        members=frozenset(m for m in row["members"].split(",") if m),
        status=row["status"],
        version=row["version"],
    )


__all__ = [
    "publish",
    "EVENT_TYPE",
    "WORKSPACE_STREAM",
    "WorkspaceInfo",
    "apply_workspace_event",
    "envelope_for",
    "get_workspace",
    "new_id",
    "subject_for",
]


async def publish(js: object, ws: common_pb2.Workspace, actor: common_pb2.Actor) -> None:
    """Announce a workspace's state on JetStream (``jit admin workspace`` and its ``sync``)."""
    from jitlib.bus import ensure_stream

    await ensure_stream(js, WORKSPACE_STREAM)  # type: ignore[arg-type]
    env = envelope_for(ws, actor)
    await js.publish(  # type: ignore[attr-defined]
        subject_for(ws), env.SerializeToString(deterministic=True), headers={"Nats-Msg-Id": env.id}
    )
