"""Identity per country, through a real service and real Keycloak tokens: a node that trusts a realm for
one jurisdiction only refuses that realm's tokens for any other (the first step of per-country nodes)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from jit.tasks.v1 import tasks_pb2, tasks_pb2_grpc
from jitlib.config import CommonSettings
from services.tasks.app import TasksSettings, spec
from tests.harness import RunningService, error_reason, md, start_service

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def de_node(keycloak: Any, nats_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    """A tasks service that trusts the suite's realm as DE's realm, and for DE only."""
    state: Path = tmp_path_factory.mktemp("de-node")
    common = CommonSettings(nats_url=nats_server.url, oidc_issuers=f"DE={keycloak.issuer}", state_dir=state)
    settings = TasksSettings(
        listen="127.0.0.1:0",
        database_url=f"sqlite:///{state / 'tasks.db'}",
        consumer_group=f"de-node-{uuid.uuid4().hex[:6]}",
    )
    svc = start_service(spec(), settings, common)
    yield svc
    svc.stop()


def test_the_realm_trusted_for_de_vouches_for_de_users(de_node: RunningService, tokens: Any) -> None:
    stub = tasks_pb2_grpc.TaskServiceStub(de_node.channel)
    stub.ListTasks(tasks_pb2.ListTasksRequest(), metadata=md(tokens("de-prosecutor")), timeout=15)


@pytest.mark.parametrize("user", ["nl-prosecutor", "ie-liaison", "eurojust-analyst"])
def test_the_same_realm_cannot_vouch_for_another_jurisdiction(de_node: RunningService, tokens: Any, user: str) -> None:
    stub = tasks_pb2_grpc.TaskServiceStub(de_node.channel)
    with pytest.raises(grpc.RpcError) as info:
        stub.ListTasks(tasks_pb2.ListTasksRequest(), metadata=md(tokens(user)), timeout=15)
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error_reason(info.value) == "ISSUER_JURISDICTION_MISMATCH"
