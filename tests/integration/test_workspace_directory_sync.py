"""One bad event on the workspaces stream never stops a service's directory: it is set aside (dead
letters) and the events after it still apply (security review: event payloads are trusted)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nats
import pytest
from sqlalchemy import func, select

from jit.common.v1 import common_pb2
from jitlib import db, workspaces
from jitlib.bus import Bus
from services.tasks.app import MIGRATIONS
from services.tasks.store import RUNTIME

pytestmark = pytest.mark.integration


def _ws(ws_id: str) -> common_pb2.Workspace:
    return common_pb2.Workspace(
        id=ws_id, name=ws_id, lead="NL", members=["NL", "DE"], status=common_pb2.WORKSPACE_STATUS_OPEN, version=1
    )


async def _scenario(nats_url: str, url: str) -> tuple[bool, bool, int]:
    suffix = uuid.uuid4().hex[:8]
    poison, after = _ws(f"poison-{suffix}"), _ws(f"after-{suffix}")
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await workspaces.publish(js, _ws(f"before-{suffix}"), common_pb2.Actor(username="admin"))
    bad = workspaces.envelope_for(poison, common_pb2.Actor(username="forger"), datetime.now(UTC))
    bad.occurred_at.seconds = 2**60  # out of any calendar: made the directory fail on it forever
    await js.publish(workspaces.subject_for(poison), bad.SerializeToString(), headers={"Nats-Msg-Id": bad.id})
    await workspaces.publish(js, after, common_pb2.Actor(username="admin"))
    await nc.close()

    database = db.Database(url)
    bus = Bus(nats_url, "directory-test")
    bus.start()
    directory = workspaces.DirectorySync(bus, database, RUNTIME)
    await directory.start()
    try:
        for _ in range(200):
            if directory.get(after.id) is not None:
                break
            await asyncio.sleep(0.05)
        dead = await database.read(
            lambda s: s.scalar(
                select(func.count()).select_from(RUNTIME.dead_letters).where(RUNTIME.dead_letters.c.event_id == bad.id)
            )
        )
        return directory.get(after.id) is not None, directory.get(poison.id) is not None, int(dead or 0)
    finally:
        await directory.stop()
        await bus.close()
        database.dispose()


def test_a_poison_event_is_set_aside_and_the_next_one_applies(nats_server: Any, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'dir.db'}"
    db.migrate(MIGRATIONS, url)
    applied_after, applied_poison, set_aside = asyncio.run(_scenario(nats_server.url, url))
    assert applied_after and not applied_poison
    assert set_aside == 1
