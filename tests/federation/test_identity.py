"""Every node trusts each country's realm for that country only: the issuer, not the token's own claim,
decides the jurisdiction, on every node of the federation."""

from __future__ import annotations

from typing import Any

import grpc
import httpx
import pytest

from jit.tasks.v1 import tasks_pb2, tasks_pb2_grpc
from jitdev.nodes import LocalFederation
from jitdev.realms import realm_name
from tests.federation.conftest import COUNTRIES
from tests.harness import demo_user_claiming, error_reason, md

pytestmark = pytest.mark.integration


def _refusal(federation: LocalFederation, country: str, token: str) -> tuple[grpc.StatusCode, str]:
    with grpc.insecure_channel(federation.nodes[country].address("tasks")) as channel:
        stub = tasks_pb2_grpc.TaskServiceStub(channel)
        with pytest.raises(grpc.RpcError) as info:
            stub.ListTasks(tasks_pb2.ListTasksRequest(), metadata=md(token), timeout=15)
    return info.value.code(), error_reason(info.value)


def _password_token(keycloak: Any, realm: str, username: str) -> str:
    resp = httpx.post(
        f"{keycloak.base_url}/realms/{realm}/protocol/openid-connect/token",
        data={"grant_type": "password", "client_id": "jit-cli", "username": username, "password": "demo"},
        timeout=30,
    )
    resp.raise_for_status()
    return str(resp.json()["access_token"])


def test_a_token_from_des_realm_that_claims_nl_is_refused_by_every_node(
    federation: LocalFederation, keycloak: Any
) -> None:
    username = demo_user_claiming(keycloak, realm_name("DE"), "NL")
    token = _password_token(keycloak, realm_name("DE"), username)
    for country in COUNTRIES:
        assert _refusal(federation, country, token) == (
            grpc.StatusCode.UNAUTHENTICATED,
            "ISSUER_JURISDICTION_MISMATCH",
        ), country


def test_a_token_from_a_realm_no_node_trusts_is_refused_by_every_node(
    federation: LocalFederation, keycloak: Any
) -> None:
    """The one-node demo realm (``jit``) holds every country's users; no node of the federation trusts it."""
    token = _password_token(keycloak, "jit", "nl-prosecutor")
    for country in COUNTRIES:
        assert _refusal(federation, country, token) == (grpc.StatusCode.UNAUTHENTICATED, "WRONG_ISSUER"), country
