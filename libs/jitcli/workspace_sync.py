"""Announce workspaces (as held in Keycloak) to every service through NATS."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import nats

from jit.common.v1 import common_pb2
from jitlib import workspaces as ws_events
from jitlib.federation import Federation

ADMIN_ACTOR = common_pb2.Actor(user_id="jit-admin", username="jit admin", jurisdiction="")


def to_pb(ws: Any) -> common_pb2.Workspace:
    return common_pb2.Workspace(
        id=ws.id,
        name=ws.name,
        lead=ws.lead,
        members=sorted(ws.members),
        legal_basis=ws.legal_basis,
        starts_on=ws.starts_on,
        ends_on=ws.ends_on,
        status=common_pb2.WORKSPACE_STATUS_CLOSED if ws.status == "closed" else common_pb2.WORKSPACE_STATUS_OPEN,
        version=int(ws.version),
        closed_at=getattr(ws, "closed_at", None) or "",
    )


async def publish_workspaces(nats_url: str, workspaces: Iterable[Any], federation: Federation | None = None) -> int:
    """Publish each workspace's current version; republishing a version is dropped by the broker. On a
    federation, only the workspaces this node leads are announced (to its peers too); the count says how
    many."""
    nc = await nats.connect(nats_url, connect_timeout=5, max_reconnect_attempts=3)
    count = 0
    try:
        js = nc.jetstream(timeout=5)
        for ws in workspaces:
            count += await ws_events.publish(js, to_pb(ws), ADMIN_ACTOR, federation)
    finally:
        await nc.close()
    return count
