"""A request is decoded only for a caller with a valid token, and only up to the service's size limit
(security review: requests up to 8 MiB were decoded before authentication)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from jitlib.config import CommonSettings
from services.tasks.app import TasksSettings, spec
from tests.harness import RunningService, md, start_service

pytestmark = pytest.mark.integration
METHOD = "/jit.tasks.v1.TaskService/CreateTask"


@pytest.fixture(scope="module")
def tasks(keycloak: Any, nats_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    state: Path = tmp_path_factory.mktemp("limits")
    common = CommonSettings(nats_url=nats_server.url, oidc_issuer=keycloak.issuer, state_dir=state)
    settings = TasksSettings(
        listen="127.0.0.1:0",
        database_url=f"sqlite:///{state / 'tasks.db'}",
        consumer_group=f"limits-{uuid.uuid4().hex[:6]}",
        max_request_bytes=256 * 1024,
    )
    svc = start_service(spec(), settings, common)
    yield svc
    svc.stop()


def _raw(svc: RunningService) -> Any:
    return svc.channel.unary_unary(METHOD, request_serializer=lambda b: b, response_deserializer=lambda b: b)


@pytest.mark.parametrize("metadata", [(), (("authorization", "Bearer not-a-jwt"),)])
def test_bytes_from_a_caller_without_a_valid_token_are_never_decoded(tasks: RunningService, metadata: Any) -> None:
    # Not a protobuf message: decoding it would fail (INTERNAL). The answer is UNAUTHENTICATED, so the
    # token was checked before the request was read.
    with pytest.raises(grpc.RpcError) as info:
        _raw(tasks)(b"\xff\xff\xff\xff not protobuf", metadata=metadata, timeout=10)
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_a_request_over_the_limit_is_refused_before_it_is_read(tasks: RunningService, tokens: Any) -> None:
    with pytest.raises(grpc.RpcError) as info:
        _raw(tasks)(b"\x0a" + b"x" * (512 * 1024), metadata=md(tokens("nl-prosecutor")), timeout=10)
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
