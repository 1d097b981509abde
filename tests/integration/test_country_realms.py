"""One realm per country in one Keycloak (the local shape of per-country nodes), and a node that trusts
each realm for its own country only: a realm cannot vouch for another country's user, a realm the node
does not trust is refused, and each realm holds only its own country's demo users."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from keycloak import KeycloakAdmin

from jit.tasks.v1 import tasks_pb2, tasks_pb2_grpc
from jitcli import kcadmin
from jitdev.realms import realm_name
from jitlib.config import CommonSettings
from services.tasks.app import TasksSettings, spec
from tests.harness import RunningService, demo_user_claiming, error_reason, md, start_service

pytestmark = pytest.mark.integration
COUNTRIES = ("NL", "DE", "IE")


def _issuer(keycloak: Any, country: str) -> str:
    return f"{keycloak.base_url}/realms/{realm_name(country)}"


def _token(keycloak: Any, country: str, username: str, password: str = "demo") -> httpx.Response:
    return httpx.post(
        f"{_issuer(keycloak, country)}/protocol/openid-connect/token",
        data={"grant_type": "password", "client_id": "jit-cli", "username": username, "password": password},
        timeout=30,
    )


@pytest.fixture(scope="module")
def realms(keycloak: Any, country_realms: tuple[str, ...]) -> KeycloakAdmin:
    assert set(COUNTRIES) <= set(country_realms)
    return kcadmin.connect(keycloak.base_url, keycloak.admin_user, keycloak.admin_password)


@pytest.fixture(scope="module")
def nl_de_node(
    realms: KeycloakAdmin, keycloak: Any, nats_server: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningService]:
    """A node that trusts NL's realm for NL and DE's realm for DE (not IE's)."""
    state: Path = tmp_path_factory.mktemp("nl-de-node")
    issuers = f"NL={_issuer(keycloak, 'NL')},DE={_issuer(keycloak, 'DE')}"
    common = CommonSettings(nats_url=nats_server.url, oidc_issuers=issuers, state_dir=state)
    settings = TasksSettings(
        listen="127.0.0.1:0",
        database_url=f"sqlite:///{state / 'tasks.db'}",
        consumer_group=f"cr-{uuid.uuid4().hex[:6]}",
    )
    svc = start_service(spec(), settings, common)
    yield svc
    svc.stop()


def _list(node: RunningService, token: str) -> Any:
    stub = tasks_pb2_grpc.TaskServiceStub(node.channel)
    return stub.ListTasks(tasks_pb2.ListTasksRequest(), metadata=md(token), timeout=15)


def test_each_realm_holds_only_its_countrys_demo_users(realms: KeycloakAdmin, keycloak: Any) -> None:
    assert _token(keycloak, "NL", "nl-prosecutor").status_code == 200
    assert _token(keycloak, "DE", "de-liaison").status_code == 200
    refused = _token(keycloak, "DE", "nl-prosecutor")
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(("country", "user"), [("NL", "nl-prosecutor"), ("DE", "de-prosecutor")])
def test_a_countrys_realm_vouches_for_its_own_users(
    nl_de_node: RunningService, keycloak: Any, country: str, user: str
) -> None:
    _list(nl_de_node, _token(keycloak, country, user).json()["access_token"])


def test_a_realm_the_node_does_not_trust_is_refused(nl_de_node: RunningService, keycloak: Any) -> None:
    with pytest.raises(grpc.RpcError) as info:
        _list(nl_de_node, _token(keycloak, "IE", "ie-prosecutor").json()["access_token"])
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED and error_reason(info.value) == "WRONG_ISSUER"


def test_des_realm_cannot_vouch_for_an_nl_user(
    realms: KeycloakAdmin, nl_de_node: RunningService, keycloak: Any
) -> None:
    """An administrator of DE's realm makes a user who claims to act for NL: every node refuses the token,
    because the issuer, not the token's own claim, decides the jurisdiction."""
    username = demo_user_claiming(keycloak, realm_name("DE"), "NL")
    token = _token(keycloak, "DE", username)
    assert token.status_code == 200, token.text
    with pytest.raises(grpc.RpcError) as info:
        _list(nl_de_node, token.json()["access_token"])
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error_reason(info.value) == "ISSUER_JURISDICTION_MISMATCH"
