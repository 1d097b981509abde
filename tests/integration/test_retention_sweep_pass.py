"""One pass of a service's retention sweep (``jitlib.retention_sweep``) over several workspaces due at once:
one workspace's failure stops none of the others (tasks, SQLite and PostgreSQL, a NATS of its own)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import pytest
from sqlalchemy import select

from jit.common.v1 import common_pb2
from jitdev.nats import NatsInstance
from jitdev.procs import free_port
from jitlib import retention_sweep, workspaces
from jitlib.clock import OffsetClock
from jitlib.config import CommonSettings
from tests.conftest import wait_for_workspace
from tests.harness import RunningService, start_service

pytestmark = pytest.mark.integration

#: Two workspaces whose agreement ended long ago: due for destruction at the first pass.
FIRST, SECOND = "jit-sweep-a", "jit-sweep-b"


async def announce_closed(url: str, workspace_id: str) -> None:
    nc = await nats.connect(url)
    ws = common_pb2.Workspace(
        id=workspace_id,
        name=workspace_id,
        lead="NL",
        members=["NL", "DE"],
        ends_on="2010-01-31",
        proceedings_closed_on="2010-01-31",
        status=common_pb2.WORKSPACE_STATUS_CLOSED,
        closed_at="2010-01-31T00:00:00+00:00",
        retention_years=1,
        version=1,
    )
    await workspaces.publish(nc.jetstream(), ws, common_pb2.Actor(username="test"))
    await nc.close()


@pytest.fixture
def tasks(keycloak: Any, db_url: str, tmp_path: Path) -> Iterator[RunningService]:
    from services.tasks.app import TasksSettings
    from services.tasks.app import spec as tasks_spec

    own = NatsInstance(free_port(), tmp_path / "nats", tmp_path / "nats.log").start()
    common = CommonSettings(
        nats_url=own.url, oidc_issuer=keycloak.issuer, state_dir=tmp_path, retention_scan_seconds=3600
    )
    cfg = TasksSettings(listen="127.0.0.1:0", database_url=db_url, consumer_group="sweep-pass")
    svc = start_service(tasks_spec(cfg), cfg, common, clock=OffsetClock())
    try:
        for ws in (FIRST, SECOND):
            asyncio.run(announce_closed(own.url, ws))
            wait_for_workspace(svc, ws)
        yield svc
    finally:
        svc.stop()
        own.stop()


def test_a_workspace_whose_destruction_fails_stops_none_of_the_others_in_the_pass(
    tasks: RunningService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two workspaces due, each with its content key; the first one's destroy fails in its transaction. Its
    claim is let go and its key kept; the other is destroyed in the same pass (its key gone, its
    certificate written); the pass then fails with the error, and the next pass destroys the first. Before,
    the failure ended the pass (the other waited), and the failing workspace's claim stayed."""
    svc = tasks
    sweep: retention_sweep.RetentionSweep = svc.app.spec.extra["retention_sweep"]
    keys = svc.rt.content_keys
    for ws in (FIRST, SECOND):
        svc.loop.run(svc.rt.db.write(lambda s, ws=ws: keys.key(s, ws, create=True)))
    due = svc.loop.run(svc.rt.read(sweep.due))
    assert set(due) >= {FIRST, SECOND}
    erase = sweep.hooks.erase
    failing: list[str] = []

    def fail_the_first(session: Any, workspace_id: str) -> dict[str, int]:
        if workspace_id in (FIRST, SECOND) and failing in ([], [workspace_id]):
            failing[:] = [workspace_id]
            raise RuntimeError("the shred failed")
        return erase(session, workspace_id)

    monkeypatch.setattr(sweep.hooks, "erase", fail_the_first)

    def wrapped(ws: str) -> bytes | None:
        t = keys.table
        return svc.loop.run(
            svc.rt.read(lambda s: s.execute(select(t.c.wrapped).where(t.c.workspace_id == ws)).scalar())
        )

    def certified() -> set[str]:
        return {
            c.workspace_id
            for c, _ in svc.loop.run(svc.rt.read(lambda s: retention_sweep.certificates(s, svc.rt.tables)))
        }

    with pytest.raises(RuntimeError, match="the shred failed"):
        svc.loop.run(sweep.sweep_once())
    [first] = failing
    [other] = {FIRST, SECOND} - {first}
    assert wrapped(other) is None and other in certified()
    assert wrapped(first) is not None and first not in certified()
    assert svc.loop.run(svc.rt.read(keys.claims.claimed)) == []
    monkeypatch.setattr(sweep.hooks, "erase", erase)
    report = svc.loop.run(sweep.sweep_once())
    assert [c.workspace_id for c in report.destroyed] == [first]
    assert wrapped(first) is None and certified() >= {FIRST, SECOND}
