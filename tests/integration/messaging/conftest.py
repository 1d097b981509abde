"""The messaging service on each database backend, beside the suite's tasks service (same NATS), so the
tasks' events become notices in their threads."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import pytest

from jit.common.v1 import common_pb2
from jitlib import workspaces
from jitlib.clock import OffsetClock
from jitlib.config import CommonSettings
from services.messaging.app import MessagingSettings, spec
from tests.conftest import wait_for_workspace
from tests.harness import RunningService, start_service


def messaging_db(db_url: str, tmp: Path, postgres: Any | None) -> str:
    if db_url.startswith("sqlite"):
        return f"sqlite:///{tmp / 'messaging.db'}"
    assert postgres is not None
    return str(postgres.create_database(f"messaging_{uuid.uuid4().hex[:12]}"))


async def announce_workspace(
    url: str, status: int, version: int, closed_at: str = "", legal_hold: str = "", workspace_id: str = "jit-demo"
) -> None:
    """Publish the demo workspace (or another, ``workspace_id``, of the same members) on the NATS at ``url``
    (a test's own broker), as `jit admin` does."""
    nc = await nats.connect(url)
    ws = common_pb2.Workspace(
        id=workspace_id,
        name="JIT demo" if workspace_id == "jit-demo" else workspace_id,
        lead="NL",
        members=["NL", "DE", "IE", "EUROJUST"],
        status=status,
        version=version,
        closed_at=closed_at,
        legal_hold=legal_hold,
    )
    await workspaces.publish(nc.jetstream(), ws, common_pb2.Actor(username="test"))
    await nc.close()


def start_messaging(nats_url: str, issuer: str, url: str, state: Path, **settings: Any) -> RunningService:
    common = CommonSettings(nats_url=nats_url, oidc_issuer=issuer, state_dir=state)
    cfg = MessagingSettings(
        listen="127.0.0.1:0",
        database_url=url,
        consumer_group=f"msg-{uuid.uuid4().hex[:8]}",
        outbox_poll_seconds=0.2,
        **settings,
    )
    svc = start_service(spec(cfg), cfg, common, clock=OffsetClock())
    return svc


@pytest.fixture(scope="module")
def messaging_svc(
    db_url: str,
    tasks_svc: Any,
    keycloak: Any,
    nats_server: Any,
    demo_workspace_synced: str,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Iterator[RunningService]:
    state = tmp_path_factory.mktemp("messaging")
    pg = None if db_url.startswith("sqlite") else request.getfixturevalue("postgres")
    svc = start_messaging(nats_server.url, keycloak.issuer, messaging_db(db_url, state, pg), state)
    svc.state_dir = state  # type: ignore[attr-defined]
    svc.database_url = svc.app.settings.database_url  # type: ignore[attr-defined]
    wait_for_workspace(svc, demo_workspace_synced)
    yield svc
    svc.stop()


def create_task(tasks_svc: RunningService, tokens: Any, title: str) -> Any:
    """An NL task assigned to DE in the demo workspace, created through the real tasks service (its
    events make the record thread)."""
    from jit.tasks.v1 import tasks_pb2, tasks_pb2_grpc
    from tests.harness import md, rid

    stub = tasks_pb2_grpc.TaskServiceStub(tasks_svc.channel)
    request = tasks_pb2.CreateTaskRequest(
        request_id=rid(),
        workspace_id="jit-demo",
        title=title,
        kind=tasks_pb2.TASK_KIND_OTHER,
        assignee_jurisdiction="DE",
    )
    return stub.CreateTask(request, metadata=md(tokens("nl-prosecutor")), timeout=15).task
