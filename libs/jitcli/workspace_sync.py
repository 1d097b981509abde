"""Announce workspaces (as held in Keycloak) to every service through NATS."""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from typing import Any

import nats
import nats.errors

from jit.common.v1 import common_pb2
from jit.events.v1.envelope_pb2 import Envelope
from jitlib import workspaces as ws_events
from jitlib.federation import INBOUND_STREAM, Federation, inbound_filter
from jitlib.natsauth import Credentials, connect_options

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
        legal_hold=getattr(ws, "legal_hold", ""),
        retention_years=int(getattr(ws, "retention_years", 0)),
        proceedings_closed_on=getattr(ws, "proceedings_closed_on", ""),
        former_members=sorted(getattr(ws, "former_members", None) or ()),
    )


def servers(nats_url: str) -> list[str]:
    """The node's NATS servers: one URL, or a cluster's, comma-separated (``JIT_NATS_URL``)."""
    return [u.strip() for u in nats_url.split(",") if u.strip()]


async def publish_workspaces(
    nats_url: str,
    workspaces: Iterable[Any],
    federation: Federation | None = None,
    tls: ssl.SSLContext | None = None,
    credentials: Credentials | None = None,
) -> int:
    """Publish each workspace's current version; republishing a version is dropped by the broker. On a
    federation, only the workspaces this node leads are announced (to its peers too); the count says how
    many. ``credentials``: the node's ``admin`` NATS user (``jitlib.natsauth``)."""
    nc = await nats.connect(
        servers(nats_url), connect_timeout=5, max_reconnect_attempts=3, tls=tls, **connect_options(credentials)
    )
    count = 0
    try:
        js = nc.jetstream(timeout=5)
        for ws in workspaces:
            count += await ws_events.publish(js, to_pb(ws), ADMIN_ACTOR, federation)
    finally:
        await nc.close()
    return count


async def announced_workspace(
    nats_url: str, ws_id: str, tls: ssl.SSLContext | None = None, credentials: Credentials | None = None
) -> Any:
    """On a federation node: the latest state of workspace ``ws_id`` as its lead's node announced it to
    this one (read from ``JIT_IN``), as a ``kcadmin.Workspace``; None when it was never announced here."""
    from jitcli.kcadmin import Workspace

    nc = await nats.connect(
        servers(nats_url), connect_timeout=5, max_reconnect_attempts=3, tls=tls, **connect_options(credentials)
    )
    latest: common_pb2.Workspace | None = None
    try:
        js = nc.jetstream(timeout=5)
        sub = await js.subscribe(inbound_filter("jit.workspaces.>"), stream=INBOUND_STREAM, ordered_consumer=True)
        while True:
            try:
                msg = await sub.next_msg(timeout=1.0)
            except nats.errors.TimeoutError:
                break
            env = Envelope.FromString(msg.data)
            ws = common_pb2.Workspace()
            if env.aggregate_id == ws_id and env.state.Unpack(ws) and (latest is None or ws.version > latest.version):
                latest = ws
        await sub.unsubscribe()
    finally:
        await nc.close()
    if latest is None:
        return None
    return Workspace(
        id=latest.id,
        name=latest.name,
        lead=latest.lead,
        legal_basis=latest.legal_basis,
        starts_on=latest.starts_on,
        ends_on=latest.ends_on,
        status="closed" if latest.status == common_pb2.WORKSPACE_STATUS_CLOSED else "open",
        members=list(latest.members),
        version=latest.version,
        closed_at=latest.closed_at or None,
        legal_hold=latest.legal_hold,
        retention_years=latest.retention_years,
        proceedings_closed_on=latest.proceedings_closed_on,
        former_members=list(latest.former_members),
    )
