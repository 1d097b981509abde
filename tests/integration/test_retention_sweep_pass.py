"""One pass of a service's retention sweep (``jitlib.retention_sweep``) over several workspaces due at once:
one workspace's failure stops none of the others (tasks, SQLite and PostgreSQL, a NATS of its own)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.js.errors import NotFoundError
from sqlalchemy import select

from jit.common.v1 import common_pb2
from jit.events.v1.envelope_pb2 import Envelope
from jitdev.nats import NatsInstance
from jitdev.procs import free_port
from jitlib import retention, retention_sweep, workspaces
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


def wrapped_key(svc: RunningService, ws: str) -> bytes | None:
    """The workspace's wrapped content key (None once destroyed)."""
    t = svc.rt.content_keys.table
    return svc.loop.run(svc.rt.read(lambda s: s.execute(select(t.c.wrapped).where(t.c.workspace_id == ws)).scalar()))


def certificates(svc: RunningService) -> dict[str, retention.Certificate]:
    """The service's deletion certificates, by workspace."""
    found = svc.loop.run(svc.rt.read(lambda s: retention_sweep.certificates(s, svc.rt.tables)))
    return {c.workspace_id: c for c, _ in found}


@pytest.fixture
def pair() -> tuple[str, str]:
    """The two workspaces due that the service's directory holds (a test of the module names its own: the
    module's tests share a database per backend, ``db_url``)."""
    return FIRST, SECOND


@pytest.fixture
def tasks(keycloak: Any, db_url: str, tmp_path: Path, pair: tuple[str, str]) -> Iterator[RunningService]:
    from services.tasks.app import TasksSettings
    from services.tasks.app import spec as tasks_spec

    own = NatsInstance(free_port(), tmp_path / "nats", tmp_path / "nats.log").start()
    common = CommonSettings(
        nats_url=own.url, oidc_issuer=keycloak.issuer, state_dir=tmp_path, retention_scan_seconds=3600
    )
    cfg = TasksSettings(listen="127.0.0.1:0", database_url=db_url, consumer_group="sweep-pass")
    svc = start_service(tasks_spec(cfg), cfg, common, clock=OffsetClock())
    try:
        # The tests make the passes: the sweep's own (its first at start) would race them for the workspaces.
        svc.loop.run(svc.app.spec.extra["retention_sweep"].stop())
        for ws in pair:
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
        return wrapped_key(svc, ws)

    def certified() -> set[str]:
        return set(certificates(svc))

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


#: A stream of the sweep's own in the test (added to the service's streams), holding copies of both workspaces.
PROBE = "JIT_SWEEP_PROBE"


class RefusesAfterOne:
    """A JetStream context whose deletions fail after the first one (a stream that stops answering midway)."""

    def __init__(self, js: Any) -> None:
        self.js = js
        self.deleted = 0

    async def stream_info(self, stream: str) -> Any:
        return await self.js.stream_info(stream)

    async def get_msg(self, stream: str, seq: int) -> Any:
        return await self.js.get_msg(stream, seq)

    async def delete_msg(self, stream: str, seq: int) -> bool:
        if self.deleted:
            raise RuntimeError("the stream refused the erasure")
        self.deleted += 1
        return bool(await self.js.delete_msg(stream, seq))


@pytest.mark.parametrize("pair", [("jit-sweep-c", "jit-sweep-d")])
def test_a_workspace_whose_stream_erasure_fails_fails_the_pass_and_the_next_pass_erases_and_destroys_it(
    tasks: RunningService, pair: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two workspaces due, three copies of each in a stream of the service; the first one's erasure fails after
    erasing one copy. The other is erased and destroyed in the same pass; the first keeps its key and its
    claim is let go; the pass then fails with the erasure's error. The next pass erases the first's two copies
    left and destroys it, its certificate counting its three copies once; a third pass destroys nothing.
    Before, a failing erasure was logged, its workspace left for the next pass, and the pass reported success."""
    svc = tasks
    sweep: retention_sweep.RetentionSweep = svc.app.spec.extra["retention_sweep"]
    keys = svc.rt.content_keys
    for ws in pair:
        svc.loop.run(svc.rt.db.write(lambda s, ws=ws: keys.key(s, ws, create=True)))
    js = svc.rt.bus.js

    async def fill() -> None:
        await js.add_stream(name=PROBE, subjects=["jit.sweepprobe.>"])
        for i in range(6):
            env = Envelope(id=f"probe-{i}", workspace_id=pair[0] if i < 3 else pair[1])
            await js.publish("jit.sweepprobe.x", env.SerializeToString())

    svc.loop.run(fill())
    monkeypatch.setattr(sweep, "streams", [*sweep.streams, PROBE])

    def copies(ws: str, streams: list[str]) -> int:
        async def count() -> int:
            n = 0
            for stream in streams:
                info = await js.stream_info(stream)
                for seq in range(max(info.state.first_seq, 1), info.state.last_seq + 1):
                    try:
                        msg = await js.get_msg(stream, seq)
                    except NotFoundError:
                        continue
                    n += Envelope.FromString(msg.data or b"").workspace_id == ws
            return n

        return svc.loop.run(count())

    before = {ws: copies(ws, sweep.streams) for ws in pair}
    assert copies(pair[0], [PROBE]) == copies(pair[1], [PROBE]) == 3
    erase = retention_sweep.erase_workspace_messages
    failing: list[str] = []

    async def fail_the_first(js: Any, stream: str, workspace_id: str, **kw: Any) -> int:
        if stream == PROBE and workspace_id in pair and failing in ([], [workspace_id]):
            failing[:] = [workspace_id]
            return await erase(RefusesAfterOne(js), stream, workspace_id, **kw)
        return await erase(js, stream, workspace_id, **kw)

    monkeypatch.setattr(retention_sweep, "erase_workspace_messages", fail_the_first)
    with pytest.raises(RuntimeError, match="the stream refused the erasure"):
        svc.loop.run(sweep.sweep_once())
    [first] = failing
    [other] = set(pair) - {first}
    certs = certificates(svc)
    assert wrapped_key(svc, other) is None and copies(other, sweep.streams) == 0
    assert certs[other].stream_messages_erased == before[other]
    assert wrapped_key(svc, first) is not None and first not in certs
    assert copies(first, [PROBE]) == 2  # one erased before the failure
    assert svc.loop.run(svc.rt.read(keys.claims.claimed)) == []

    monkeypatch.setattr(retention_sweep, "erase_workspace_messages", erase)
    report = svc.loop.run(sweep.sweep_once())
    assert [c.workspace_id for c in report.destroyed] == [first]
    assert wrapped_key(svc, first) is None and copies(first, sweep.streams) == 0
    certs = certificates(svc)
    assert certs[first].stream_messages_erased == before[first]  # the one of the failed pass counted, once
    assert certs[other].stream_messages_erased == before[other]
    assert svc.loop.run(sweep.sweep_once()).destroyed == ()
